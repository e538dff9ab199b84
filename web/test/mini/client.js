// A minimal Greenroom media client, written from docs/protocol.md alone
// (not from web/), for the browser tests: it joins a session over HTTP,
// keeps the session's state over the WebSocket (state.get after every
// event), publishes a camera and a microphone while the state lets it
// (on stage in the main room; in an open breakout room, up to the stage
// limits), and negotiates with the SFU worker as the protocol says:
// it offers first, is the impolite peer, answers the worker's offers with
// their negotiationId, ignores offers voided by an answer's negotiationId
// or crossing its own, and starts a new RTCPeerConnection on
// media.reconnect or a new socket.
//
// Unlike the web client it republishes by removing its tracks (removeTrack)
// and adding new ones (new getUserMedia tracks, addTrack), and it renders
// every remote stream in its own <video data-stream=userId>.
//
// The tests drive it through window.mini (start, dropSocket) and read
// window.mini.videoStats(), frames() and errors.
(() => {
  const log = [];
  const note = (...a) => { log.push(`${(performance.now() / 1000).toFixed(2)} ${a.join(' ')}`); if (log.length > 200) log.shift(); };
  const mini = {
    userId: null, state: null, ws: null, pc: null, errors: [], log, generation: 0,
    publishing: null, // MediaStream while publishing
    senders: [],
    voidUpTo: 0, makingOffer: false, offerAgain: false,
    chain: Promise.resolve(), seq: 0, waiting: new Map(), closed: false,
  };
  window.mini = mini;
  const fail = (what, err) => { const e = `${what}: ${err?.message || err}`; mini.errors.push(e); note('error', e); console.warn(`mini: ${e}`); };
  // serial runs negotiation steps one at a time.
  const serial = (fn) => { const p = mini.chain.then(fn, fn); mini.chain = p.catch((e) => fail('step', e)); return p; };

  async function api(method, path, token, body) {
    const res = await fetch(path, {
      method, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${data?.error?.code}`);
    return data;
  }

  // send sends a client message and resolves with its reply (ack, state
  // or error).
  function send(type, body = {}) {
    const ws = mini.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve({ type: 'error', code: 'network' });
    const id = `m${++mini.seq}`;
    return new Promise((resolve) => {
      mini.waiting.set(id, resolve);
      setTimeout(() => { if (mini.waiting.delete(id)) resolve({ type: 'error', code: 'timeout' }); }, 15000);
      ws.send(JSON.stringify({ ...body, type, id }));
    });
  }

  mini.start = async ({ token, sessionId, audio = true }) => {
    mini.token = token;
    mini.audio = audio;
    mini.sessionId = sessionId;
    await connect();
  };

  async function connect() {
    if (mini.closed) return;
    const j = await api('POST', `/v1/sessions/${encodeURIComponent(mini.sessionId)}/join`, mini.token, { device: 'web' });
    mini.userId = j.userId;
    mini.iceServers = j.iceServers || [];
    const ws = new WebSocket(`${j.wsUrl}${j.wsUrl.includes('?') ? '&' : '?'}token=${encodeURIComponent(j.joinToken)}`);
    mini.ws = ws;
    ws.onmessage = (m) => frame(JSON.parse(m.data));
    ws.onopen = () => {
      note('socket open');
      // A new socket: the worker dropped our media with the old one.
      serial(() => freshPC());
      refresh();
    };
    ws.onclose = () => {
      if (mini.ws !== ws || mini.closed) return;
      note('socket closed');
      for (const [, r] of mini.waiting) r({ type: 'error', code: 'network' });
      mini.waiting.clear();
      setTimeout(() => connect().catch((e) => fail('reconnect', e)), 500);
    };
  }

  // dropSocket closes the socket as a network would; the client joins
  // again and starts its media afresh.
  mini.dropSocket = () => mini.ws?.close();

  async function refresh() {
    const st = await send('state.get');
    if (st.type === 'state') {
      mini.state = st;
      serial(() => follow());
    }
  }

  function frame(f) {
    if ((f.type === 'ack' || f.type === 'state' || f.type === 'error') && f.id != null && mini.waiting.has(f.id)) {
      const r = mini.waiting.get(f.id);
      mini.waiting.delete(f.id);
      r(f);
      return;
    }
    switch (f.type) {
      case 'event':
        if (f.event === 'media.reconnect') serial(() => freshPC());
        refresh();
        return;
      case 'media.answer': serial(() => onAnswer(f)); return;
      case 'media.offer': serial(() => onOffer(f)); return;
      case 'media.candidate':
        if (mini.pc && f.candidate) mini.pc.addIceCandidate(f.candidate).catch(() => {});
        return;
      default:
    }
  }

  // mayPublish applies docs/protocol.md: on stage in the main room; in an
  // open breakout room, the room's members up to the stage limits.
  function mayPublish() {
    const st = mini.state;
    if (!st) return false;
    const me = st.members.find((m) => m.userId === mini.userId);
    if (!me) return false;
    if (st.breakout?.status === 'open' && me.room != null) {
      const limit = st.stage.maxSpeakers + st.stage.maxParticipants;
      const inRoom = st.members.filter((m) => m.room === me.room && m.connected !== false);
      return inRoom.findIndex((m) => m.userId === me.userId) < limit;
    }
    return !!me.onStage;
  }

  async function freshPC() {
    if (mini.pc) { mini.pc.close(); }
    for (const v of document.querySelectorAll('video[data-stream]')) v.remove();
    const pc = new RTCPeerConnection({ iceServers: mini.iceServers, bundlePolicy: 'max-bundle' });
    mini.pc = pc;
    mini.generation++;
    mini.voidUpTo = 0;
    mini.senders = [];
    pc.onicecandidate = (e) => { if (e.candidate && pc === mini.pc) send('media.candidate', { candidate: e.candidate.toJSON() }); };
    pc.ontrack = (e) => show(e.streams[0]);
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    if (mini.publishing) { stopTracks(); }
    await follow(true);
  }

  // follow publishes or stops as the state says, and offers when that
  // changed (or when force is set).
  async function follow(force = false) {
    const pc = mini.pc;
    if (!pc) return;
    let changed = force;
    if (mayPublish() && !mini.publishing) {
      // New tracks every time: the old ones were removed.
      const s = await navigator.mediaDevices.getUserMedia({ audio: mini.audio, video: { width: 160, height: 120, frameRate: 10 } });
      mini.publishing = s;
      mini.senders = s.getTracks().map((t) => pc.addTrack(t, s));
      send('devices.set', { mic: true, cam: true });
      changed = true;
    } else if (!mayPublish() && mini.publishing) {
      for (const s of mini.senders) { try { pc.removeTrack(s); } catch { /* closed */ } }
      stopTracks();
      changed = true;
    }
    if (changed) await offer();
  }

  function stopTracks() {
    for (const t of mini.publishing?.getTracks() || []) t.stop();
    mini.publishing = null;
    mini.senders = [];
  }

  async function offer() {
    const pc = mini.pc;
    if (pc.signalingState !== 'stable') { mini.offerAgain = true; return; }
    mini.makingOffer = true;
    mini.offerAgain = false;
    try {
      await pc.setLocalDescription(await pc.createOffer());
      const r = await send('media.offer', { sdp: pc.localDescription.sdp });
      if (r.type === 'error') fail('media.offer refused', r.code);
    } finally {
      mini.makingOffer = false;
    }
  }

  async function onAnswer(f) {
    const pc = mini.pc;
    if (typeof f.negotiationId === 'number') mini.voidUpTo = Math.max(mini.voidUpTo, f.negotiationId);
    if (!pc || pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription({ type: 'answer', sdp: f.sdp });
    if (mini.offerAgain) await offer();
  }

  async function onOffer(f) {
    const pc = mini.pc;
    if (!pc) return;
    if (f.negotiationId <= mini.voidUpTo || mini.makingOffer || pc.signalingState !== 'stable') {
      note('ignored offer', f.negotiationId);
      return;
    }
    await pc.setRemoteDescription({ type: 'offer', sdp: f.sdp });
    await pc.setLocalDescription();
    const r = await send('media.answer', { sdp: pc.localDescription.sdp, negotiationId: f.negotiationId });
    if (r.type === 'error' && r.code !== 'conflict') fail('media.answer refused', r.code);
    if (mini.offerAgain) await offer();
  }

  function show(stream) {
    if (!stream) return;
    let v = document.querySelector(`video[data-stream="${stream.id}"]`);
    if (!v) {
      v = document.createElement('video');
      v.dataset.stream = stream.id;
      v.autoplay = true;
      v.muted = true;
      v.playsInline = true;
      document.body.append(v);
      stream.addEventListener('removetrack', () => { if (stream.getTracks().length === 0) v.remove(); });
    }
    if (v.srcObject !== stream) v.srcObject = stream;
  }

  // videoStats: framesDecoded of each remote stream's video (per
  // receiver's stats).
  mini.videoStats = async () => {
    const out = {};
    if (!mini.pc) return out;
    // By track object: two receivers' tracks may share an id (a browser
    // names one after the first msid it saw there).
    const owner = new Map();
    for (const v of document.querySelectorAll('video[data-stream]')) for (const t of v.srcObject?.getVideoTracks() || []) owner.set(t, v.dataset.stream);
    for (const r of mini.pc.getReceivers()) {
      const id = owner.get(r.track);
      if (!id) continue;
      (await r.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') out[id] = (out[id] || 0) + (s.framesDecoded || 0);
      });
    }
    return out;
  };
  // frames: frames each <video> element has shown.
  mini.frames = () => {
    const out = {};
    for (const v of document.querySelectorAll('video[data-stream]')) out[v.dataset.stream] = v.getVideoPlaybackQuality().totalVideoFrames;
    return out;
  };
})();
