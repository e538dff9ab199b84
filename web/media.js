// Media in the browser: ONE RTCPeerConnection to the session's SFU worker,
// signaled over the session's WebSocket (media.offer / media.answer /
// media.candidate; docs/protocol.md, "Media").
//
// Perfect negotiation, the browser being the impolite peer:
// - Every member offers first: on stage with camera and microphone
//   (sendrecv, the video with simulcast rids q, h, f), watching with one
//   receive-only audio and video transceiver. The worker answers before
//   the ack; its answer's negotiationId voids every worker offer up to it.
// - The worker offers when what we should receive changes
//   ({"type":"media.offer","sdp","negotiationId"}); we answer with the
//   same negotiationId. A worker offer that arrives while ours is in
//   flight, or that an answer has voided, is ignored: the worker drops it
//   when ours reaches it and offers again.
// - The worker may send on any transceiver we receive on, and a track may
//   move to another one: every transceiver the worker sends on is made to
//   receive. Remote streams carry the publisher's user id as their id.
// - Leaving the stage takes the tracks off our senders (replaceTrack
//   null) without renegotiating; going live again puts them back
//   (replaceTrack): the worker forwards by what the session allows, and
//   the SSRCs it knows go on.
//
// Recovery, without the user: a worker offer we cannot apply is rolled
// back and answered by an offer of ours; an offer of ours that fails is
// rolled back and tried again after a backoff; ICE failure is an ICE
// restart; repeated failures, a failed connection, a media.reconnect
// event or a new WebSocket are a fresh RTCPeerConnection. People see a
// sentence ("Reconnecting video…"); the detail goes to the console.

export const CONFIG = {
  // Simulcast layers of the published video, lowest first.
  simulcast: [
    { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
    { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
    { rid: 'f', maxBitrate: 1_500_000 },
  ],
  video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
  audio: { echoCancellation: true, noiseSuppression: true },
  // How long ICE may stay "disconnected" before an ICE restart, and how
  // long an ICE restart may take before a fresh connection.
  disconnectedGraceMs: 4000,
  iceRestartGraceMs: 10_000,
  // How long our offer waits for the worker's answer.
  answerTimeoutMs: 8000,
  // Backoff after a failed negotiation: 0.5 s, doubling, at most 15 s.
  retryMs: 500,
  retryMaxMs: 15_000,
  // Failures in a row after which the connection starts afresh.
  freshAfter: 3,
  // Speaking: audio level (0..1) of a remote track above which its
  // publisher counts as speaking, when the server sends no active.speaker.
  speakingLevel: 0.02,
  levelsEveryMs: 700,
  speakingHoldMs: 1500,
};

// A page may set globalThis.greenroomMediaConfig before this module loads
// to override CONFIG (the browser tests send small video).
Object.assign(CONFIG, globalThis.greenroomMediaConfig || {});

// The sentences people read about media; the detail goes to the console.
const WORDS = {
  recovering: 'Reconnecting video…',
};

// directions of the m-sections of an SDP, by mid.
function directions(sdp) {
  const out = new Map();
  let mid = null;
  let dir = 'sendrecv';
  const flush = () => { if (mid != null) out.set(mid, dir); };
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) { flush(); mid = null; dir = 'sendrecv'; } else if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
    else if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line.trim())) dir = line.trim().slice(2);
  }
  flush();
  return out;
}

const describe = (err) => `${err?.name || 'Error'}: ${err?.message || err}`;

export class Media extends EventTarget {
  // signal(type, body) sends a message and returns a promise (Live.send).
  constructor({ signal, iceServers = [], selfId }) {
    super();
    this.signal = signal;
    this.iceServers = iceServers;
    this.selfId = selfId;
    this.pc = null;
    this.generation = 0;      // grows with every new PeerConnection
    this.local = null;        // MediaStream of camera + microphone
    this.localError = null;
    this.publishing = false;  // our tracks are on the send transceivers
    this.want = { publish: false, mic: true, cam: true };
    this.enabled = false;     // update was called: the member is in the room
    this.senders = { audio: null, video: null }; // transceivers we send on
    this.remote = new Map();  // userId (or userId~screen, a share) -> MediaStream
    this.share = null;        // MediaStream of my screen share
    this.shareT = null;       // the transceiver it goes out on
    this.shareMids = new Set(); // mids that carried a share: msid track id "screen"
    this.pendingCandidates = [];
    this.makingOffer = false;
    this.needOffer = false;   // an offer is due once the state is stable
    this.voidUpTo = 0;        // worker offers up to this id are void
    this.failures = 0;        // failed negotiations in a row
    this.retryTimer = null;
    this.iceTimer = null;
    this.status = 'idle';     // idle | connecting | connected | recovering | unavailable
    this.statusText = '';
    this.notice = null;       // the worker's last media.publishing frame
    this.levelsTimer = null;
    this.speaking = null;     // loudest remote publisher, from audio levels
    this.chain = Promise.resolve();
    this.closed = false;
    this.trail = [];          // the last signaling steps, for debugging
    this.errors = [];         // negotiation errors, for the tests and the console
  }

  #log(...what) {
    this.trail.push(`${(performance.now() / 1000).toFixed(2)} ${what.join(' ')}`);
    if (this.trail.length > 120) this.trail.shift();
  }

  // #problem notes a negotiation problem for developers (console, trail)
  // and never shows it to people.
  #problem(what, err) {
    const line = `${what}: ${describe(err)}`;
    this.#log('problem', line);
    this.errors.push({ at: Date.now(), what, error: describe(err) });
    if (this.errors.length > 50) this.errors.shift();
    console.warn(`greenroom media: ${line}`);
  }

  #setStatus(status, text = '') {
    if (this.status === status && this.statusText === text) return;
    this.status = status;
    this.statusText = text;
    this.dispatchEvent(new CustomEvent('status', { detail: { status, text } }));
  }

  // #serial runs fn after everything queued before it: negotiation steps
  // never interleave.
  #serial(fn) {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch((err) => this.#problem('negotiation step', err));
    return p;
  }

  #ensurePC() {
    if (this.pc) return this.pc;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    this.generation++;
    this.senders = { audio: null, video: null };
    this.publishing = false;
    this.voidUpTo = 0;
    this.makingOffer = false;
    this.needOffer = false;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate && pc === this.pc) {
        this.#send('media.candidate', { candidate: candidate.toJSON() }).catch(() => {});
      }
    };
    pc.ontrack = (ev) => this.#track(ev);
    pc.oniceconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const s = pc.iceConnectionState;
      this.#log('ice', s);
      if (s === 'connected' || s === 'completed') {
        clearTimeout(this.iceTimer);
        this.iceTimer = null;
        if (!this.retryTimer) this.#setStatus('connected');
      } else if (s === 'failed') {
        this.#iceTrouble(0);
      } else if (s === 'disconnected') {
        this.#iceTrouble(CONFIG.disconnectedGraceMs);
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      this.#log('connection', pc.connectionState);
      if (pc.connectionState === 'failed') this.#iceTrouble(0);
    };
    clearInterval(this.levelsTimer);
    this.levelsTimer = setInterval(() => this.#levels(), CONFIG.levelsEveryMs);
    this.#setStatus('connecting');
    return pc;
  }

  // #iceTrouble restarts ICE after a grace, and starts afresh when the
  // restart does not bring the connection back.
  #iceTrouble(graceMs) {
    if (this.iceTimer) return;
    const pc = this.pc;
    this.iceTimer = setTimeout(() => {
      this.iceTimer = null;
      if (pc !== this.pc || this.closed) return;
      if (['connected', 'completed'].includes(pc.iceConnectionState)) return;
      this.#setStatus('recovering', WORDS.recovering);
      this.#log('ice restart');
      this.#serial(() => this.#offer({ iceRestart: true }));
      this.iceTimer = setTimeout(() => {
        this.iceTimer = null;
        if (pc !== this.pc || this.closed) return;
        if (!['connected', 'completed'].includes(pc.iceConnectionState)) this.#fresh('ICE did not come back after a restart');
      }, CONFIG.iceRestartGraceMs);
    }, graceMs);
  }

  #send(type, body) {
    if ((type === 'media.offer' || type === 'media.answer') && body.sdp) body = { ...body, sdp: this.#markShare(body.sdp) };
    if (type !== 'media.candidate') this.#log('send', type, body.negotiationId ?? '');
    return this.signal(type, body).catch((err) => {
      this.#log('refused', type, err.code, err.message);
      if (err.code === 'conflict' && /media/i.test(err.message || '')) {
        this.#setStatus('unavailable', 'Live video is not available right now. Chat and Q&A still work.');
      }
      throw err;
    });
  }

  // camera opens the camera and microphone once (the preview uses it too).
  async camera() {
    if (this.local) return this.local;
    if (!this.cameraP) {
      this.cameraP = navigator.mediaDevices.getUserMedia({ audio: CONFIG.audio, video: CONFIG.video }).then((s) => {
        if (this.closed) { for (const t of s.getTracks()) t.stop(); throw new Error('closed'); }
        this.local = s;
        this.localError = null;
        this.#applyDevices();
        this.dispatchEvent(new CustomEvent('local', { detail: s }));
        return s;
      }, (err) => {
        this.localError = err;
        this.cameraP = null;
        console.warn(`greenroom media: camera or microphone: ${describe(err)}`);
        this.dispatchEvent(new CustomEvent('error', { detail: { code: 'devices', message: 'Your camera or microphone is not available. Check that no other app uses them and that this site may use them.' } }));
        throw err;
      });
    }
    return this.cameraP;
  }

  #applyDevices() {
    if (!this.local) return;
    for (const t of this.local.getAudioTracks()) t.enabled = !!this.want.mic;
    for (const t of this.local.getVideoTracks()) t.enabled = !!this.want.cam;
  }

  // update brings media in line with the member's state: in the room (it
  // joins the SFU), publishing when it may (on stage, or in an open
  // breakout room), mic and cam as toggled.
  // startShare asks the browser for a screen, window or tab and publishes
  // it as a second video track; it resolves once the capture runs. The
  // browser's own "Stop sharing" ends it like stopShare.
  async startShare() {
    if (this.share) return this.share;
    if (!navigator.mediaDevices?.getDisplayMedia) {
      throw Object.assign(new Error('getDisplayMedia is not available'), { code: 'share_unsupported' });
    }
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    if (this.closed) { for (const t of stream.getTracks()) t.stop(); return null; }
    const [track] = stream.getVideoTracks();
    if ('contentHint' in track) track.contentHint = 'detail';
    track.addEventListener('ended', () => this.stopShare());
    this.share = stream;
    this.#log('share start');
    this.dispatchEvent(new CustomEvent('share', { detail: stream }));
    this.#serial(() => this.#sync());
    return stream;
  }

  // stopShare ends my screen share, if any.
  stopShare() {
    const stream = this.share;
    if (!stream) return;
    this.share = null;
    for (const t of stream.getTracks()) t.stop();
    this.#log('share stop');
    this.dispatchEvent(new CustomEvent('share', { detail: null }));
    if (!this.closed) this.#serial(() => this.#sync());
  }

  // #markShare names the share's track "screen" in a description sent to
  // the worker: the browser gives tracks random ids, and the worker tells
  // a share by its msid track id. Only the text sent changes.
  #markShare(sdp) {
    if (this.shareT?.mid) this.shareMids.add(this.shareT.mid);
    if (!this.shareMids.size || !sdp) return sdp;
    const parts = sdp.split(/(?=\r?\nm=)/);
    return parts.map((sec) => {
      const mid = /\r?\na=mid:(\S+)/.exec(sec)?.[1];
      if (!mid || !this.shareMids.has(mid)) return sec;
      const id = /\r?\na=msid:\S+ (\S+)/.exec(sec)?.[1];
      return id ? sec.split(id).join('screen') : sec;
    }).join('');
  }

  update({ publish, mic, cam }) {
    const want = { publish: !!publish, mic: !!mic, cam: !!cam };
    const changed = !this.enabled || want.publish !== this.want.publish;
    this.want = want;
    this.enabled = true;
    this.#applyDevices();
    if (this.closed || !changed) return Promise.resolve();
    return this.#serial(() => this.#sync());
  }

  // #sync makes the connection match this.want; it runs serially.
  async #sync() {
    if (this.closed || !this.enabled) return;
    const gen = this.generation;
    let stream = null;
    if (this.want.publish) {
      try { stream = await this.camera(); } catch { stream = null; }
      if (this.closed || gen !== this.generation) return;
    }
    const pc = this.#ensurePC();
    let dirty = false;
    if (this.want.publish && stream && !this.publishing) {
      for (const kind of ['audio', 'video']) {
        const [track] = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
        if (!track) continue;
        let t = this.senders[kind];
        if (t && !t.stopped && t.currentDirection !== 'stopped') {
          // Going live again: the same sender, its track back
          // (replaceTrack, no renegotiation unless the direction moved).
          await t.sender.replaceTrack(track);
          if (t.direction !== 'sendrecv') { t.direction = 'sendrecv'; dirty = true; }
        } else {
          // A transceiver the worker made (recvonly) cannot take
          // simulcast: send on a new one.
          t = pc.addTransceiver(track, {
            direction: 'sendrecv', streams: [stream],
            sendEncodings: kind === 'video' && CONFIG.simulcast?.length ? CONFIG.simulcast.map((e) => ({ ...e })) : undefined,
          });
          this.senders[kind] = t;
          dirty = true;
        }
      }
      this.publishing = true;
    } else if (!this.want.publish && this.publishing) {
      // Leaving the stage: the senders stop (replaceTrack null) and keep
      // their direction and SSRCs, so going live again needs no
      // renegotiation. (The worker stops forwarding as soon as the
      // session says so; a simulcast sender that renegotiated its send
      // direction away and back would keep its SSRCs without the RID
      // header extension the worker needs to know its layers again.)
      for (const t of Object.values(this.senders)) {
        if (!t || t.stopped) continue;
        await t.sender.replaceTrack(null).catch(() => {});
      }
      this.publishing = false;
    }
    // The screen share: its own transceiver, no simulcast, while I may
    // publish; stopping sets it inactive (the worker drops the track) and
    // a new share takes a new one (docs/protocol.md, "Screen share").
    const [shareTrack] = this.share ? this.share.getVideoTracks() : [];
    if (this.want.publish && shareTrack && !this.shareT) {
      this.shareT = pc.addTransceiver(shareTrack, { direction: 'sendonly', streams: [this.share] });
      dirty = true;
    } else if ((!this.want.publish || !shareTrack) && this.shareT) {
      const t = this.shareT;
      this.shareT = null;
      if (!t.stopped && t.currentDirection !== 'stopped') {
        await t.sender.replaceTrack(null).catch(() => {});
        t.direction = 'inactive';
        dirty = true;
      }
    }
    if (pc.getTransceivers().length === 0) {
      // Watching: one receive-only pair to start with; the worker adds
      // what the stage needs.
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      dirty = true;
    }
    if (dirty || !pc.localDescription) await this.#offer();
  }

  // #offer sends our offer and applies the worker's answer (which comes as
  // a media.answer frame before the ack). It runs serially.
  async #offer(opts = {}) {
    const pc = this.pc;
    if (!pc || this.closed) return;
    if (pc.signalingState !== 'stable') { this.needOffer = true; return; }
    this.makingOffer = true;
    this.needOffer = false;
    let ok = false;
    try {
      const offer = await pc.createOffer(opts);
      if (pc !== this.pc || pc.signalingState !== 'stable') { this.needOffer = true; return; }
      await pc.setLocalDescription(offer);
      this.answerWait = new Promise((resolve) => { this.answered = resolve; });
      await this.#send('media.offer', { sdp: pc.localDescription.sdp });
      // The answer frame is posted before the ack; give it a moment anyway.
      await Promise.race([this.answerWait, new Promise((r) => setTimeout(r, CONFIG.answerTimeoutMs))]);
      if (pc !== this.pc) return;
      if (pc.signalingState === 'have-local-offer') throw Object.assign(new Error('the worker did not answer our offer'), { code: 'timeout' });
      ok = true;
    } catch (err) {
      if (pc !== this.pc || this.closed) return;
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      if (this.status === 'unavailable') return; // no media for this session: the status says so
      if (err?.code === 'network') {
        // The socket is down; a new one brings a new connection.
        this.#problem('offer not sent', err);
        return;
      }
      this.needOffer = true;
      this.#failed(`our offer${opts.iceRestart ? ' (ICE restart)' : ''}`, err, err?.code === 'invalid');
    } finally {
      this.makingOffer = false;
      this.answered = null;
    }
    if (ok) this.#succeeded();
    if (ok && this.needOffer && pc === this.pc && pc.signalingState === 'stable') await this.#offer();
  }

  // #succeeded ends a run of failures.
  #succeeded() {
    this.failures = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const s = this.pc?.iceConnectionState;
    if (s === 'connected' || s === 'completed') this.#setStatus('connected');
  }

  // #failed counts a failed negotiation: after a backoff it offers again
  // (rolled back, the worker's pending offer retires when ours arrives),
  // and after several in a row, or when the worker cannot use our
  // connection (fresh), it starts with a new RTCPeerConnection.
  #failed(what, err, fresh = false) {
    this.#problem(what, err);
    this.failures++;
    this.#setStatus('recovering', WORDS.recovering);
    if (fresh || this.failures >= CONFIG.freshAfter) {
      this.#fresh(`${this.failures} failed negotiations; last: ${what}`);
      return;
    }
    this.#retry();
  }

  #retry() {
    clearTimeout(this.retryTimer);
    const delay = Math.min(CONFIG.retryMaxMs, CONFIG.retryMs * 2 ** Math.max(0, this.failures - 1));
    const gen = this.generation;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed || gen !== this.generation) return;
      this.#serial(() => {
        if (!this.pc) return this.#sync();
        if (this.needOffer) return this.#offer();
        return undefined;
      });
    }, delay);
  }

  // #fresh drops the connection and starts a new one (after a backoff
  // when failures pile up).
  #fresh(why) {
    if (this.closed) return;
    this.#log('fresh connection', why);
    console.warn(`greenroom media: starting a new connection (${why})`);
    this.#setStatus('recovering', WORDS.recovering);
    clearTimeout(this.retryTimer);
    const delay = this.failures > CONFIG.freshAfter ? Math.min(CONFIG.retryMaxMs, CONFIG.retryMs * 2 ** (this.failures - CONFIG.freshAfter)) : 0;
    const gen = this.generation;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed || gen !== this.generation) return;
      this.reconnect();
    }, delay);
  }

  // handle takes the worker's frames: media.offer, media.answer,
  // media.candidate (the type already mapped back by live.js) and
  // media.publishing.
  handle(frame) {
    if (this.closed) return Promise.resolve();
    if (frame.type !== 'media.candidate') this.#log('got', frame.type, frame.negotiationId ?? '', this.pc?.signalingState);
    switch (frame.type) {
      case 'media.candidate': return this.#candidate(frame.candidate);
      case 'media.answer': return this.#answer(frame);
      case 'media.offer':
        // A worker offer that crosses ours is ignored when its turn comes
        // (our answer voids it); otherwise it is applied in order.
        return this.#serial(() => this.#remoteOffer(frame));
      case 'media.publishing':
        this.notice = { state: frame.state, audio: !!frame.audio, video: !!frame.video };
        this.dispatchEvent(new CustomEvent('publishing', { detail: this.notice }));
        return Promise.resolve();
      default:
        return Promise.resolve();
    }
  }

  async #answer(frame) {
    const pc = this.pc;
    if (typeof frame.negotiationId === 'number') this.voidUpTo = Math.max(this.voidUpTo, frame.negotiationId);
    if (!pc || pc.signalingState !== 'have-local-offer') {
      this.#log('stale answer ignored');
      this.answered?.();
      return;
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: frame.sdp });
      await this.#flushCandidates();
    } catch (err) {
      // #offer sees have-local-offer, rolls back and counts the failure.
      this.#problem('the worker\'s answer', err);
    } finally {
      this.answered?.();
    }
  }

  async #remoteOffer(frame) {
    const pc = this.pc;
    if (!pc || this.closed) return; // the worker only offers to a connection we opened
    const id = typeof frame.negotiationId === 'number' ? frame.negotiationId : null;
    if (id != null && id <= this.voidUpTo) { this.#log('void offer ignored', id); return; }
    if (this.makingOffer || pc.signalingState !== 'stable') { this.#log('crossing offer ignored', id ?? ''); return; }
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
      // Receive on whatever the worker sends on.
      const dirs = directions(frame.sdp);
      for (const t of pc.getTransceivers()) {
        const d = dirs.get(t.mid);
        if (!d || t.stopped || t.currentDirection === 'stopped') continue;
        const workerSends = d === 'sendrecv' || d === 'sendonly';
        if (workerSends && t.direction === 'sendonly') t.direction = 'sendrecv';
        if (workerSends && t.direction === 'inactive') t.direction = 'recvonly';
      }
      await this.#flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
    } catch (err) {
      if (pc !== this.pc) return;
      if (pc.signalingState === 'have-remote-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      // Not answering retires the worker's offer; our own offer retires it
      // at once and the worker offers again.
      this.needOffer = true;
      this.#failed(`the worker's offer ${id ?? ''}`, err);
      return;
    }
    const body = { sdp: pc.localDescription.sdp };
    if (id != null) body.negotiationId = id;
    this.#send('media.answer', body).then(() => this.#succeeded(), (err) => {
      if (pc !== this.pc) return;
      if (err.code === 'conflict') { this.#log('answer was stale', id ?? ''); return; } // the worker offers again
      if (err.code === 'invalid') { this.#failed('our answer', err, true); return; }
      if (err.code !== 'network') this.#problem('our answer', err);
    });
    if (this.needOffer && pc.signalingState === 'stable') await this.#offer();
  }

  async #candidate(c) {
    if (!c) return;
    if (typeof c === 'string') c = { candidate: c, sdpMid: '0', sdpMLineIndex: 0 };
    if (!this.pc || !this.pc.remoteDescription) { this.pendingCandidates.push(c); return; }
    try { await this.pc.addIceCandidate(c); } catch { /* a candidate of an older description */ }
  }

  async #flushCandidates() {
    const list = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of list) {
      try { await this.pc.addIceCandidate(c); } catch { /* stale candidate */ }
    }
  }

  #track(ev) {
    const stream = ev.streams[0];
    if (!stream) return;
    const id = stream.id;
    const pc = this.pc;
    if (this.remote.get(id) !== stream) {
      this.remote.set(id, stream);
      stream.onremovetrack = () => {
        if (stream.getTracks().length === 0 && this.remote.get(id) === stream) {
          this.remote.delete(id);
          this.#streams();
        }
      };
    }
    ev.track.onunmute = () => { if (pc === this.pc) this.#streams(); };
    ev.track.onmute = () => { if (pc === this.pc) this.#streams(); };
    this.#streams();
  }

  #streams() {
    this.dispatchEvent(new CustomEvent('streams', { detail: this.remote }));
  }

  // #levels finds the loudest remote publisher from the received audio
  // (a fallback for active.speaker): the audioLevel of each audio
  // receiver's inbound stream (per receiver, which is far cheaper than the
  // whole connection's stats), held for a moment so syllables do not
  // flicker.
  async #levels() {
    const pc = this.pc;
    if (!pc || this.levelsBusy) return;
    this.levelsBusy = true;
    try {
      const owner = new Map();
      for (const [id, stream] of this.remote) for (const t of stream.getAudioTracks()) owner.set(t, id);
      const now = performance.now();
      this.loud ||= new Map();
      for (const r of pc.getReceivers()) {
        const id = owner.get(r.track);
        if (!id) continue;
        (await r.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && (s.audioLevel || 0) > CONFIG.speakingLevel) this.loud.set(id, { at: now, level: s.audioLevel });
        });
      }
      let best = null;
      let level = 0;
      for (const [id, l] of this.loud) {
        if (now - l.at > CONFIG.speakingHoldMs || !this.remote.has(id)) { this.loud.delete(id); continue; }
        if (l.level > level) { best = id; level = l.level; }
      }
      if (pc === this.pc && best !== this.speaking) {
        this.speaking = best;
        this.dispatchEvent(new CustomEvent('speaking', { detail: best }));
      }
    } catch { /* closed meanwhile */ } finally {
      this.levelsBusy = false;
    }
  }

  // restartIce renegotiates with an ICE restart.
  restartIce() {
    if (!this.pc || this.closed) return;
    this.#serial(() => this.#offer({ iceRestart: true }));
  }

  // reconnect drops the peer connection and builds a new one: the session
  // moved to another worker (media.reconnect), a new socket replaced the
  // one the worker knew, or negotiation kept failing.
  reconnect() {
    if (this.closed) return Promise.resolve();
    return this.#serial(async () => {
      this.#closePC();
      this.remote.clear();
      this.#streams();
      if (this.enabled) await this.#sync();
    });
  }

  // videoStats returns, per remote stream (publisher id), the frames its
  // video decoded so far (framesDecoded of the inbound video of its
  // tracks, from each receiver's stats). The tests read it.
  async videoStats() {
    const out = {};
    const pc = this.pc;
    if (!pc) return out;
    // By track object, not id: a browser names a receiver's track after
    // the first msid it saw, so two receivers may share an id.
    const owner = new Map();
    for (const [id, stream] of this.remote) for (const t of stream.getVideoTracks()) owner.set(t, id);
    for (const r of pc.getReceivers()) {
      const id = owner.get(r.track);
      if (!id) continue;
      (await r.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') out[id] = (out[id] || 0) + (s.framesDecoded || 0);
      });
    }
    return out;
  }

  // decodedFrames sums what the remote video of a publisher (or all)
  // decoded.
  async decodedFrames(from) {
    const s = await this.videoStats();
    if (from) return s[from] || 0;
    return Object.values(s).reduce((a, b) => a + b, 0);
  }

  #closePC() {
    clearTimeout(this.iceTimer);
    clearTimeout(this.retryTimer);
    this.iceTimer = this.retryTimer = null;
    clearInterval(this.levelsTimer);
    if (this.pc) {
      const pc = this.pc;
      pc.onicecandidate = pc.ontrack = pc.oniceconnectionstatechange = pc.onconnectionstatechange = null;
      pc.close();
    }
    this.answered?.();
    this.pc = null;
    this.senders = { audio: null, video: null };
    this.shareT = null;
    this.shareMids.clear();
    this.publishing = false;
    this.pendingCandidates = [];
    this.needOffer = false;
    this.makingOffer = false;
    if (this.speaking) { this.speaking = null; this.dispatchEvent(new CustomEvent('speaking', { detail: null })); }
  }

  close() {
    this.closed = true;
    if (this.share) for (const t of this.share.getTracks()) t.stop();
    this.share = null;
    this.#closePC();
    if (this.local) for (const t of this.local.getTracks()) t.stop();
    this.local = null;
    this.remote.clear();
    this.#setStatus('idle');
  }
}
