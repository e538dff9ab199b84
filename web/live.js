// The live session over the WebSocket (PROTOCOL.md, "WebSocket signaling"):
// join, connect, keep the state by applying events, resync with state.get
// when a version is missed or after a reconnect, reconnect with backoff.

import { api, ApiError } from './api.js';

const MEDIA_TYPES = new Set(['media.offer', 'media.answer', 'media.candidate', 'media.publishing']);
// Events that do not grow the session's version.
const UNVERSIONED = new Set(['chat.message', 'active.speaker', 'breakout.broadcast', 'breakout.closing']);
// Join failures that retrying does not fix.
const FATAL = new Set(['not_registered', 'session_full', 'session_ended', 'session_expired', 'forbidden', 'not_found', 'unauthenticated', 'invalid']);

export class SocketError extends Error {
  constructor(code, message, fields) {
    super(message || code);
    this.code = code;
    this.fields = fields || null;
  }
}

export class Live extends EventTarget {
  constructor({ sessionId, token, device }) {
    super();
    this.sessionId = sessionId;
    this.token = token;
    this.device = device;
    this.state = null;
    this.version = 0;     // the newest version applied
    this.snapshot = 0;    // the version of the last full state
    this.userId = null;
    this.join = null;
    this.ws = null;
    this.closed = false;
    this.connection = 'connecting';
    this.attempt = 0;
    this.seq = 0;
    this.pending = new Map();
    this.clockOffset = 0; // server time minus local time, ms
    this.speaker = null;
    this.resyncing = false;
    this.resyncAgain = false;
    this.reconnectTimer = null;
    this.keepalive = null;
  }

  // start joins (POST /join) and opens the socket. A join refusal is thrown.
  async start() {
    await this.#join();
    this.#open();
  }

  async #join() {
    const j = await api.join(this.token, this.sessionId, this.device);
    this.join = j;
    this.userId = j.userId;
    this.dispatchEvent(new CustomEvent('joined', { detail: j }));
  }

  #open() {
    if (this.closed) return;
    const sep = this.join.wsUrl.includes('?') ? '&' : '?';
    const ws = new WebSocket(`${this.join.wsUrl}${sep}token=${encodeURIComponent(this.join.joinToken)}`);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.#setConnection('open');
      this.resync();
      clearInterval(this.keepalive);
      this.keepalive = setInterval(() => this.resync(), 4 * 60 * 1000);
    };
    ws.onmessage = (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch { this.#error(new SocketError('invalid', 'the server sent a frame that is not JSON')); return; }
      this.#frame(f);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      clearInterval(this.keepalive);
      for (const [, p] of this.pending) p.reject(new SocketError('network', 'the connection dropped before the server answered'));
      this.pending.clear();
      if (this.closed) return;
      if (this.state && ['ended', 'expired'].includes(this.state.status)) { this.close(); return; }
      this.#setConnection('reconnecting');
      this.#reconnect(!opened);
    };
  }

  #reconnect() {
    clearTimeout(this.reconnectTimer);
    const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt++;
    this.reconnectTimer = setTimeout(async () => {
      if (this.closed) return;
      try {
        await this.#join(); // a fresh join token
      } catch (err) {
        if (err instanceof ApiError && FATAL.has(err.code)) {
          this.#error(err);
          this.close();
          return;
        }
        this.#reconnect();
        return;
      }
      this.#open();
    }, delay);
  }

  #setConnection(c) {
    this.connection = c;
    this.dispatchEvent(new CustomEvent('connection', { detail: c }));
    this.#changed();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepalive);
    this.connection = 'closed';
    try { this.ws?.close(1000, 'bye'); } catch { /* already closed */ }
    this.dispatchEvent(new CustomEvent('connection', { detail: 'closed' }));
    this.#changed();
  }

  // send sends one message and resolves on its ack (or its state), or
  // rejects with a SocketError carrying the contract's code.
  send(type, body = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new SocketError('network', 'not connected; reconnecting'));
    }
    const id = `c${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SocketError('timeout', 'the server did not answer in time'));
      }, 15000);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.ws.send(JSON.stringify({ ...body, type, id }));
    });
  }

  // resync asks for a fresh state; concurrent calls fold into one more.
  async resync() {
    if (this.resyncing) { this.resyncAgain = true; return; }
    this.resyncing = true;
    try {
      await this.send('state.get');
    } catch (err) {
      if (err.code !== 'network') this.#error(err);
    } finally {
      this.resyncing = false;
      if (this.resyncAgain) { this.resyncAgain = false; this.resync(); }
    }
  }

  serverNow() { return Date.now() + this.clockOffset; }

  #frame(f) {
    switch (f.type) {
      case 'state': {
        this.state = f;
        this.state.chat = f.chat || [];
        this.version = this.snapshot = f.version;
        this.clockOffset = Date.parse(f.serverTime) - Date.now();
        if (f.status === 'ended' || f.status === 'expired') this.#ended(f.status);
        this.#settle(f.id, f);
        this.#changed();
        return;
      }
      case 'ack':
        this.#settle(f.id, f);
        return;
      case 'error': {
        const e = new SocketError(f.code, f.message, f.fields);
        if (f.id != null && this.pending.has(f.id)) {
          const p = this.pending.get(f.id);
          this.pending.delete(f.id);
          p.reject(e);
        } else {
          this.#error(e);
        }
        return;
      }
      case 'event':
        this.#event(f);
        return;
    }
    // An offer or answer whose "type" is the SDP's ("offer", "answer"):
    // a sender that put the description's own type last.
    if ((f.type === 'offer' || f.type === 'answer') && typeof f.sdp === 'string') {
      this.dispatchEvent(new CustomEvent('media', { detail: { ...f, type: `media.${f.type}` } }));
      return;
    }
    if (MEDIA_TYPES.has(f.type)) {
      this.dispatchEvent(new CustomEvent('media', { detail: f }));
      return;
    }
    // The SFU worker names the loudest speaker of the member's room.
    if (f.type === 'active.speaker') {
      this.#event({ type: 'event', event: 'active.speaker', userId: f.userId });
      return;
    }
    // A newer server may send frames this client does not know: they are
    // noted for developers, not shown to people as their mistake.
    console.warn(`greenroom: ignoring an unknown frame "${f.type}"`);
  }

  #settle(id, value) {
    if (id == null) return;
    const p = this.pending.get(id);
    if (p) { this.pending.delete(id); p.resolve(value); }
  }

  #error(err) {
    this.dispatchEvent(new CustomEvent('error', { detail: err }));
  }

  #changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }

  #ended(status) {
    this.dispatchEvent(new CustomEvent('ended', { detail: status }));
    this.close();
  }

  #event(e) {
    const name = e.event;
    this.dispatchEvent(new CustomEvent('event', { detail: e }));
    if (!this.state) return; // the state.get reply carries it
    const versioned = !UNVERSIONED.has(name) && typeof e.version === 'number';
    if (versioned && e.version <= this.snapshot) return; // already in the snapshot
    let handled = apply(this.state, e, this.userId);
    if (name === 'active.speaker') {
      // It changes up to twice a second while two people talk, and only
      // the stage shows it: views listen for 'speaker', not 'change'.
      this.speaker = e.userId || null;
      this.dispatchEvent(new CustomEvent('speaker'));
      return;
    }
    if (versioned) {
      if (e.version > this.version + 1) handled = false; // missed something
      this.version = Math.max(this.version, e.version);
    }
    if (!handled) this.resync();
    if (name === 'member.removed' && e.userId === this.userId) {
      this.dispatchEvent(new CustomEvent('removed'));
      this.close();
    }
    if (name === 'session.ended' || name === 'session.expired') this.#ended(e.status || name.split('.')[1]);
    this.#changed();
  }

  // Helpers for views.
  member(id) { return this.state?.members.find((m) => m.userId === id) || null; }
  get self() { return this.member(this.userId) || this.state?.self || null; }
  get moderates() { const r = this.self?.role; return r === 'host' || r === 'speaker'; }
}

function upsert(st, m, self) {
  if (!m) return;
  const i = st.members.findIndex((x) => x.userId === m.userId);
  if (i >= 0) st.members[i] = { ...st.members[i], ...m }; else st.members.push(m);
  if (m.userId === self) st.self = { ...st.self, ...m };
}

function patchMember(st, id, fields, self) {
  const m = st.members.find((x) => x.userId === id);
  if (m) Object.assign(m, fields);
  if (id === self) Object.assign(st.self, fields);
}

function sortQuestions(st) {
  st.questions.sort((a, b) => (b.votes - a.votes) || (Date.parse(a.askedAt) - Date.parse(b.askedAt)));
}

// apply applies one event to the state; false means "ask for the state".
export function apply(st, e, self) {
  switch (e.event) {
    case 'member.joined':
      if (!e.member) return false;
      upsert(st, e.member, self);
      return true;
    case 'devices.changed':
      if (e.member) upsert(st, e.member, self); else patchMember(st, e.userId, { mic: e.mic, cam: e.cam }, self);
      return true;
    case 'presenter.assigned':
    case 'stage.changed':
    case 'hand.approved':
      if (e.member) upsert(st, e.member, self);
      if ('presenterId' in e) st.presenterId = e.presenterId;
      if (Array.isArray(e.onStageIds)) {
        st.stage.onStage = e.onStageIds;
        for (const m of st.members) m.onStage = e.onStageIds.includes(m.userId);
        if (st.self) st.self.onStage = e.onStageIds.includes(st.self.userId);
      }
      if (e.event === 'hand.approved') {
        st.hands = st.hands.filter((id) => id !== e.userId);
        patchMember(st, e.userId, { handRaisedAt: null }, self);
      }
      return true;
    case 'hand.raised':
    case 'hand.lowered':
    case 'hand.declined':
      if (Array.isArray(e.hands)) st.hands = e.hands;
      patchMember(st, e.userId, { handRaisedAt: e.event === 'hand.raised' ? (e.handRaisedAt || new Date().toISOString()) : null }, self);
      return true;
    case 'member.left':
      patchMember(st, e.userId, { connected: false }, self);
      return false; // a drop may also lower a hand or free a seat
    case 'member.removed':
      st.members = st.members.filter((m) => m.userId !== e.userId);
      st.hands = st.hands.filter((id) => id !== e.userId);
      st.stage.onStage = st.stage.onStage.filter((id) => id !== e.userId);
      return true;
    case 'session.ended':
    case 'session.expired':
      st.status = e.status || e.event.split('.')[1];
      return true;
    case 'session.started':
    case 'session.startable':
      if (e.status) st.status = e.status;
      return false; // the stage is set at start: take the whole state
    case 'chat.message':
      st.chat.push({ id: e.id, userId: e.userId, name: e.name, text: e.text, at: e.at, room: e.room ?? null });
      if (st.chat.length > 200) st.chat.splice(0, st.chat.length - 200);
      return true;
    case 'qa.asked':
      if (!st.questions.some((q) => q.id === e.questionId)) {
        st.questions.push({ id: e.questionId, userId: e.userId, name: e.name, text: e.text, votes: e.votes || 0, voted: false, status: 'open', askedAt: e.askedAt || new Date().toISOString() });
      }
      sortQuestions(st);
      return true;
    case 'qa.voted': {
      const q = st.questions.find((x) => x.id === e.questionId);
      if (!q) return false;
      q.votes = e.votes;
      if (e.userId === self) q.voted = true;
      sortQuestions(st);
      return true;
    }
    case 'qa.answered':
    case 'qa.dismissed': {
      const q = st.questions.find((x) => x.id === e.questionId);
      if (!q) return false;
      q.status = e.event.split('.')[1];
      return true;
    }
    case 'active.speaker':
    case 'breakout.broadcast':
    case 'breakout.closing':
      return true;
    default:
      // breakout.* and anything new: the state says it exactly.
      return false;
  }
}
