// Media in the browser: ONE RTCPeerConnection to the session's SFU worker,
// signaled over the session's WebSocket (media.offer / media.answer /
// media.candidate; docs/protocol.md).
//
// How the worker (sfuworker/sfu) negotiates, and what this file does about it:
// - It keeps one PeerConnection per member and only offers once it has
//   answered the member's first offer. So every member offers first: on
//   stage with camera and microphone (sendrecv, the video with simulcast
//   rids q, h, f), watching with one receive-only audio and video
//   transceiver.
// - It renegotiates by itself when the tracks a member should receive
//   change: {"type":"media.offer","sdp","type":"offer","negotiationId"}. The
//   frame repeats "type", so JSON.parse keeps the last one: "offer" (live.js
//   maps it back). The answer echoes negotiationId.
// - The worker is the polite peer: it keeps its own offer uncommitted
//   until answered, so when ours crosses it, it drops its offer, answers
//   ours and offers again. The browser therefore ignores a server offer
//   that arrives while its own is pending.
// - It may put a subscription on any of our transceivers, also the ones we
//   send on: every transceiver the server sends on is made to receive too.
// - Remote streams carry the publisher's user id as their stream id.
// - Recovery: ICE failure is an ICE restart; a media.reconnect event (the
//   session moved to another worker) or a new WebSocket connection (the
//   worker dropped our connection with the old socket) is a new
//   PeerConnection.

export const CONFIG = {
  // Simulcast layers of the published video, lowest first.
  simulcast: [
    { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
    { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
    { rid: 'f', maxBitrate: 1_500_000 },
  ],
  video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
  audio: { echoCancellation: true, noiseSuppression: true },
  // How long ICE may stay "disconnected" before an ICE restart.
  disconnectedGraceMs: 4000,
  // How long a failed offer waits before it is tried again.
  retryMs: 2000,
  // Speaking: audio level (0..1) of a remote track above which its
  // publisher counts as speaking, when the server sends no active.speaker.
  speakingLevel: 0.02,
  levelsEveryMs: 700,
  speakingHoldMs: 1500,
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
    this.remote = new Map();  // userId -> MediaStream
    this.pendingCandidates = [];
    this.offering = false;
    this.renegotiate = false;
    this.failures = 0;
    this.retryTimer = null;
    this.status = 'idle';     // idle | connecting | connected | unavailable | failed
    this.statusText = '';
    this.discTimer = null;
    this.levelsTimer = null;
    this.speaking = null;     // loudest remote publisher, from audio levels
    this.chain = Promise.resolve();
    this.closed = false;
    this.trail = [];          // the last signaling steps, for debugging
  }

  #log(...what) {
    this.trail.push(`${(performance.now() / 1000).toFixed(2)} ${what.join(' ')}`);
    if (this.trail.length > 80) this.trail.shift();
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
    this.chain = p.catch(() => {});
    return p;
  }

  #ensurePC() {
    if (this.pc) return this.pc;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    this.generation++;
    this.senders = { audio: null, video: null };
    this.publishing = false;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate && pc === this.pc) {
        this.#send('media.candidate', { candidate: candidate.toJSON() }).catch(() => {});
      }
    };
    pc.ontrack = (ev) => this.#track(ev);
    pc.oniceconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const s = pc.iceConnectionState;
      clearTimeout(this.discTimer);
      if (s === 'connected' || s === 'completed') this.#setStatus('connected');
      else if (s === 'failed') { this.#setStatus('failed'); this.restartIce(); } else if (s === 'disconnected') this.discTimer = setTimeout(() => this.restartIce(), CONFIG.disconnectedGraceMs);
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.pc && pc.connectionState === 'failed') this.#setStatus('failed');
    };
    clearInterval(this.levelsTimer);
    this.levelsTimer = setInterval(() => this.#levels(), CONFIG.levelsEveryMs);
    this.#setStatus('connecting');
    return pc;
  }

  #send(type, body) {
    if (type !== 'media.candidate') this.#log('send', type);
    return this.signal(type, body).catch((err) => {
      this.#log('send failed', type, err.code, err.message);
      if (err.code === 'conflict' && /media/i.test(err.message || '')) {
        this.#setStatus('unavailable', err.message || 'media is not available for this session');
      }
      // Other failures are the caller's: it retries.
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
        this.dispatchEvent(new CustomEvent('error', { detail: { code: 'devices', message: `camera or microphone unavailable (${err.name})` } }));
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
        if (t && !t.stopped) {
          await t.sender.replaceTrack(track);
          t.sender.setStreams?.(stream);
          if (t.direction !== 'sendrecv') t.direction = 'sendrecv';
        } else {
          // A transceiver the server left idle (recvonly with nothing
          // received) cannot take simulcast: send on a new one.
          t = pc.addTransceiver(track, {
            direction: 'sendrecv', streams: [stream],
            sendEncodings: kind === 'video' ? CONFIG.simulcast.map((e) => ({ ...e })) : undefined,
          });
          this.senders[kind] = t;
        }
      }
      this.publishing = true;
      dirty = true;
    } else if (!this.want.publish && this.publishing) {
      for (const t of Object.values(this.senders)) {
        if (!t || t.stopped) continue;
        await t.sender.replaceTrack(null).catch(() => {});
        // Keep receiving on it: the server may send a subscription there.
        if (t.direction !== 'recvonly') t.direction = 'recvonly';
      }
      this.publishing = false;
      dirty = true;
    }
    if (pc.getTransceivers().length === 0) {
      // Watching: one receive-only pair to start with; the server adds
      // what the stage needs.
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      dirty = true;
    }
    if (dirty || !pc.localDescription) await this.#offer();
  }

  // #offer sends our offer and applies the server's answer (which comes
  // as a media.answer frame before the ack). It runs serially.
  async #offer(opts = {}) {
    const pc = this.pc;
    if (!pc || this.closed) return;
    if (pc.signalingState !== 'stable') { this.renegotiate = true; return; }
    this.offering = true;
    this.renegotiate = false;
    clearTimeout(this.retryTimer);
    let failed = false;
    try {
      const offer = await pc.createOffer(opts);
      if (pc !== this.pc || pc.signalingState !== 'stable') { this.renegotiate = true; return; }
      await pc.setLocalDescription(offer);
      this.answerWait = new Promise((resolve) => { this.answered = resolve; });
      await this.#send('media.offer', { sdp: pc.localDescription.sdp });
      // The answer frame is posted before the ack; give it a moment anyway.
      await Promise.race([this.answerWait, new Promise((r) => setTimeout(r, 5000))]);
      if (pc === this.pc && pc.signalingState === 'have-local-offer') throw Object.assign(new Error('the server did not answer'), { code: 'timeout' });
      this.failures = 0;
    } catch (err) {
      failed = true;
      if (pc !== this.pc || this.closed) return;
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      if (this.status === 'unavailable') return; // no media for this session: the status says so
      if (!['network', 'timeout', 'conflict', 'invalid', 'internal'].includes(err?.code)) {
        this.dispatchEvent(new CustomEvent('error', { detail: { code: 'media', message: `could not start video (${err?.message || err})` } }));
      }
      // network: the socket is down, and a new one brings a new connection.
      // Otherwise offer again once a crossing server offer was answered,
      // or after a while.
      if (err?.code !== 'network') { this.renegotiate = true; this.#retry(); }
    } finally {
      this.offering = false;
      this.answered = null;
    }
    if (!failed && this.renegotiate && pc === this.pc && pc.signalingState === 'stable') await this.#offer();
  }

  #retry() {
    clearTimeout(this.retryTimer);
    // 2 s, 4 s, 8 s … up to 30 s; a successful answer starts over.
    const delay = Math.min(30_000, CONFIG.retryMs * 2 ** Math.min(this.failures++, 4));
    this.retryTimer = setTimeout(() => {
      this.#serial(() => {
        if (!this.pc) return this.#sync();
        if (this.renegotiate) return this.#offer();
        return undefined;
      });
    }, delay);
  }

  // handle takes the SFU's frames: media.offer, media.answer (both with the
  // type already mapped back by live.js) and media.candidate.
  handle(frame) {
    if (this.closed) return Promise.resolve();
    if (frame.type !== 'media.candidate') this.#log('got', frame.type, frame.negotiationId ?? '', this.pc?.signalingState);
    if (frame.type === 'media.candidate') return this.#candidate(frame.candidate);
    if (frame.type === 'media.answer') return this.#answer(frame);
    if (frame.type === 'media.offer') {
      // Glare: ours wins; the worker drops its offer and sends another
      // after answering ours.
      return this.#serial(() => this.#remoteOffer(frame));
    }
    return Promise.resolve();
  }

  async #answer(frame) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== 'have-local-offer') return; // stale
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: frame.sdp });
      await this.#flushCandidates();
    } catch (err) {
      this.dispatchEvent(new CustomEvent('error', { detail: { code: 'media', message: `video negotiation failed (${err?.message || err})` } }));
    } finally {
      this.answered?.();
    }
  }

  async #remoteOffer(frame) {
    const pc = this.pc;
    if (!pc || this.closed) return; // the server only offers to a connection we opened
    try {
      if (pc.signalingState === 'have-local-offer') {
        this.#log('ignoring a crossing server offer', frame.negotiationId ?? '');
        return;
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
      // Receive on whatever the server sends on.
      const dirs = directions(frame.sdp);
      for (const t of pc.getTransceivers()) {
        const d = dirs.get(t.mid);
        if (!d || t.stopped) continue;
        const serverSends = d === 'sendrecv' || d === 'sendonly';
        if (serverSends && t.direction === 'sendonly') t.direction = 'sendrecv';
        if (serverSends && t.direction === 'inactive') t.direction = 'recvonly';
      }
      await this.#flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
      const body = { sdp: pc.localDescription.sdp };
      if (frame.negotiationId != null) body.negotiationId = frame.negotiationId;
      await this.#send('media.answer', body).catch(() => {});
    } catch (err) {
      if (pc.signalingState === 'have-remote-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      this.dispatchEvent(new CustomEvent('error', { detail: { code: 'media', message: `video negotiation failed (${err?.message || err})` } }));
      return;
    }
    if (this.renegotiate && pc.signalingState === 'stable') await this.#offer();
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
  // (a fallback for active.speaker): getStats' audioLevel of each inbound
  // audio track, held for a moment so syllables do not flicker.
  async #levels() {
    const pc = this.pc;
    if (!pc || this.levelsBusy) return;
    this.levelsBusy = true;
    try {
      const owner = new Map();
      for (const [id, stream] of this.remote) for (const t of stream.getAudioTracks()) owner.set(t.id, id);
      const now = performance.now();
      this.loud ||= new Map();
      (await pc.getStats()).forEach((r) => {
        if (r.type !== 'inbound-rtp' || r.kind !== 'audio') return;
        const id = owner.get(r.trackIdentifier);
        if (id && (r.audioLevel || 0) > CONFIG.speakingLevel) this.loud.set(id, { at: now, level: r.audioLevel });
      });
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

  // restartIce renegotiates with an ICE restart (ICE failed).
  restartIce() {
    if (!this.pc || this.closed) return;
    this.#serial(() => this.#offer({ iceRestart: true }));
  }

  // reconnect drops the peer connection and builds a new one: the session
  // moved to another worker (media.reconnect), or a new socket replaced the
  // one the worker knew.
  reconnect() {
    if (this.closed) return Promise.resolve();
    return this.#serial(async () => {
      this.#closePC();
      this.remote.clear();
      this.#streams();
      if (this.enabled) await this.#sync();
    });
  }

  // decodedFrames sums what the remote video decoded (the tests read it).
  async decodedFrames(from) {
    if (!this.pc) return 0;
    let n = 0;
    const tracks = from ? new Set((this.remote.get(from)?.getVideoTracks() || []).map((t) => t.id)) : null;
    (await this.pc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
      if (tracks && !tracks.has(r.trackIdentifier)) return;
      n += r.framesDecoded || 0;
    });
    return n;
  }

  #closePC() {
    clearTimeout(this.discTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.levelsTimer);
    if (this.pc) {
      const pc = this.pc;
      pc.onicecandidate = pc.ontrack = pc.oniceconnectionstatechange = pc.onconnectionstatechange = null;
      pc.close();
    }
    this.answered?.();
    this.pc = null;
    this.senders = { audio: null, video: null };
    this.publishing = false;
    this.pendingCandidates = [];
    this.renegotiate = false;
    if (this.speaking) { this.speaking = null; this.dispatchEvent(new CustomEvent('speaking', { detail: null })); }
  }

  close() {
    this.closed = true;
    this.#closePC();
    if (this.local) for (const t of this.local.getTracks()) t.stop();
    this.local = null;
    this.remote.clear();
    this.#setStatus('idle');
  }
}
