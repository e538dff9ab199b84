// Media in the browser: ONE RTCPeerConnection to the session's SFU,
// signaled over the session's WebSocket (media.offer / media.answer /
// media.candidate). On stage it publishes camera and microphone, the video
// with simulcast (rids q, h, f); watching, it answers the SFU's offers.
// Remote streams are keyed by their stream id, which the SFU sets to the
// publisher's user id. Recovery: ICE failure or a media.reconnect event
// renegotiates (an ICE restart, or a fresh connection).
//
// Everything SFU-specific is in CONFIG and in this file, so it can be
// adjusted when the SFU lands.

export const CONFIG = {
  // Simulcast layers of the published video, lowest first.
  simulcast: [
    { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
    { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
    { rid: 'f', maxBitrate: 1_500_000 },
  ],
  video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
  audio: { echoCancellation: true, noiseSuppression: true },
  // Watching only: 'server' waits for the SFU's offer; 'recvonly' sends an
  // offer with one receive-only audio and video transceiver.
  watch: 'server',
  // How long ICE may stay "disconnected" before an ICE restart.
  disconnectedGraceMs: 4000,
};

export class Media extends EventTarget {
  // signal(type, body) sends a message and returns a promise (Live.send).
  constructor({ signal, iceServers = [], selfId }) {
    super();
    this.signal = signal;
    this.iceServers = iceServers;
    this.selfId = selfId;
    this.pc = null;
    this.local = null;        // MediaStream of camera + microphone
    this.localError = null;
    this.publishing = false;
    this.want = { publish: false, mic: true, cam: true };
    this.senders = { audio: null, video: null };
    this.remote = new Map();  // userId -> MediaStream
    this.pendingCandidates = [];
    this.makingOffer = false;
    this.negotiating = false;
    this.renegotiate = false;
    this.status = 'idle';     // idle | connecting | connected | unavailable | failed
    this.statusText = '';
    this.discTimer = null;
    this.closed = false;
  }

  #setStatus(status, text = '') {
    this.status = status;
    this.statusText = text;
    this.dispatchEvent(new CustomEvent('status', { detail: { status, text } }));
  }

  #ensurePC() {
    if (this.pc) return this.pc;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    this.senders = { audio: null, video: null };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && pc === this.pc) this.#send('media.candidate', { candidate: candidate.toJSON() }).catch(() => {});
    };
    pc.ontrack = (ev) => this.#track(ev);
    pc.onnegotiationneeded = () => this.#offer();
    pc.oniceconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const s = pc.iceConnectionState;
      clearTimeout(this.discTimer);
      if (s === 'connected' || s === 'completed') this.#setStatus('connected');
      else if (s === 'failed') this.restartIce();
      else if (s === 'disconnected') this.discTimer = setTimeout(() => this.restartIce(), CONFIG.disconnectedGraceMs);
    };
    this.#setStatus('connecting');
    return pc;
  }

  #send(type, body) {
    return this.signal(type, body).catch((err) => {
      if (err.code === 'conflict') {
        this.#setStatus('unavailable', err.message || 'media is not available for this session');
      } else if (err.code !== 'network') {
        this.dispatchEvent(new CustomEvent('error', { detail: err }));
      }
      throw err;
    });
  }

  // camera opens the camera and microphone once (the preview uses it too).
  async camera() {
    if (this.local) return this.local;
    try {
      this.local = await navigator.mediaDevices.getUserMedia({ audio: CONFIG.audio, video: CONFIG.video });
      this.localError = null;
    } catch (err) {
      this.localError = err;
      this.dispatchEvent(new CustomEvent('error', { detail: { code: 'devices', message: `camera or microphone unavailable (${err.name})` } }));
      throw err;
    }
    this.#applyDevices();
    this.dispatchEvent(new CustomEvent('local', { detail: this.local }));
    return this.local;
  }

  #applyDevices() {
    if (!this.local) return;
    for (const t of this.local.getAudioTracks()) t.enabled = !!this.want.mic;
    for (const t of this.local.getVideoTracks()) t.enabled = !!this.want.cam;
  }

  // update brings media in line with the member's state: publish when on
  // stage, mic and cam as toggled.
  async update({ publish, mic, cam }) {
    this.want = { publish: !!publish, mic: !!mic, cam: !!cam };
    this.#applyDevices();
    if (this.closed) return;
    if (publish && !this.publishing) await this.#startPublishing();
    else if (!publish && this.publishing) this.#stopPublishing();
    else if (!publish && !this.pc && CONFIG.watch === 'recvonly') this.#watch();
  }

  async #startPublishing() {
    this.publishing = true;
    let stream;
    try { stream = await this.camera(); } catch { this.publishing = false; return; }
    if (!this.publishing || this.closed) return;
    const pc = this.#ensurePC();
    const [audio] = stream.getAudioTracks();
    const [video] = stream.getVideoTracks();
    if (audio) {
      if (this.senders.audio) await this.senders.audio.sender.replaceTrack(audio);
      else this.senders.audio = pc.addTransceiver(audio, { direction: 'sendonly', streams: [stream] });
      this.senders.audio.direction = 'sendonly';
    }
    if (video) {
      if (this.senders.video) await this.senders.video.sender.replaceTrack(video);
      else {
        this.senders.video = pc.addTransceiver(video, {
          direction: 'sendonly', streams: [stream], sendEncodings: CONFIG.simulcast.map((e) => ({ ...e })),
        });
      }
      this.senders.video.direction = 'sendonly';
    }
    // negotiationneeded fires on its own; an explicit offer covers the case
    // where only the direction changed back.
    this.#offer();
  }

  #stopPublishing() {
    this.publishing = false;
    for (const t of Object.values(this.senders)) {
      if (!t) continue;
      t.sender.replaceTrack(null).catch(() => {});
      try { t.direction = 'inactive'; } catch { /* closed */ }
    }
    if (this.pc) this.#offer();
  }

  #watch() {
    const pc = this.#ensurePC();
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }

  async #offer(opts = {}) {
    const pc = this.pc;
    if (!pc || this.closed) return;
    if (this.makingOffer || pc.signalingState !== 'stable') { this.renegotiate = true; return; }
    this.makingOffer = true;
    try {
      const offer = await pc.createOffer(opts);
      if (pc.signalingState !== 'stable') { this.renegotiate = true; return; }
      await pc.setLocalDescription(offer);
      await this.#send('media.offer', { sdp: pc.localDescription.sdp });
    } catch (err) {
      if (err?.code === 'conflict') return; // no media for this session: the status says so
      if (err?.code !== 'network') this.dispatchEvent(new CustomEvent('error', { detail: { code: 'media', message: `could not start video (${err?.message || err})` } }));
    } finally {
      this.makingOffer = false;
    }
  }

  // handle takes the SFU's frames: {type:"media.offer"|"media.answer"|"media.candidate", …}.
  async handle(frame) {
    if (this.closed) return;
    try {
      if (frame.type === 'media.offer') {
        const pc = this.#ensurePC();
        // The browser is the polite peer: the SFU's offer wins a glare.
        if (pc.signalingState !== 'stable') await pc.setLocalDescription({ type: 'rollback' });
        await pc.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
        await this.#flushCandidates();
        await pc.setLocalDescription(await pc.createAnswer());
        await this.#send('media.answer', { sdp: pc.localDescription.sdp }).catch(() => {});
        this.#afterStable();
      } else if (frame.type === 'media.answer') {
        const pc = this.pc;
        if (!pc || pc.signalingState !== 'have-local-offer') return;
        await pc.setRemoteDescription({ type: 'answer', sdp: frame.sdp });
        await this.#flushCandidates();
        this.#afterStable();
      } else if (frame.type === 'media.candidate') {
        const c = frame.candidate;
        if (!c) return;
        if (!this.pc || !this.pc.remoteDescription) this.pendingCandidates.push(c);
        else await this.pc.addIceCandidate(c);
      }
    } catch (err) {
      this.dispatchEvent(new CustomEvent('error', { detail: { code: 'media', message: `video negotiation failed (${err?.message || err})` } }));
    }
  }

  async #flushCandidates() {
    const list = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of list) {
      try { await this.pc.addIceCandidate(c); } catch { /* stale candidate */ }
    }
  }

  #afterStable() {
    if (this.renegotiate && this.pc?.signalingState === 'stable') {
      this.renegotiate = false;
      this.#offer();
    }
  }

  #track(ev) {
    const stream = ev.streams[0];
    if (!stream) return;
    const id = stream.id;
    if (this.remote.get(id) !== stream) {
      this.remote.set(id, stream);
      stream.onremovetrack = () => {
        if (stream.getTracks().length === 0 && this.remote.get(id) === stream) {
          this.remote.delete(id);
          this.#streams();
        }
      };
    }
    ev.track.onunmute = () => this.#streams();
    this.#streams();
  }

  #streams() {
    this.dispatchEvent(new CustomEvent('streams', { detail: this.remote }));
  }

  // restartIce renegotiates with an ICE restart (ICE failed or the socket
  // came back).
  restartIce() {
    if (!this.pc || this.closed) return;
    if (this.pc.restartIce) this.pc.restartIce();
    this.#offer({ iceRestart: true });
  }

  // reconnect drops the peer connection and builds a new one (the SFU
  // moved: a media.reconnect event).
  async reconnect() {
    if (this.closed) return;
    this.#closePC();
    this.remote.clear();
    this.#streams();
    const was = this.publishing;
    this.publishing = false;
    if (was || this.want.publish) await this.#startPublishing();
    else if (CONFIG.watch === 'recvonly') this.#watch();
  }

  // stats sums what the remote video decoded (the tests read it).
  async decodedFrames() {
    if (!this.pc) return 0;
    let n = 0;
    (await this.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0;
    });
    return n;
  }

  #closePC() {
    clearTimeout(this.discTimer);
    if (this.pc) {
      this.pc.onicecandidate = this.pc.ontrack = this.pc.onnegotiationneeded = this.pc.oniceconnectionstatechange = null;
      this.pc.close();
    }
    this.pc = null;
    this.senders = { audio: null, video: null };
    this.pendingCandidates = [];
    this.makingOffer = false;
    this.renegotiate = false;
  }

  close() {
    this.closed = true;
    this.#closePC();
    if (this.local) for (const t of this.local.getTracks()) t.stop();
    this.local = null;
    this.remote.clear();
  }
}
