// The live room: waiting room, stage, hands, chat, Q&A and breakout rooms.

import { explain } from './api.js';
import { Live } from './live.js';
import { Media } from './media.js';
import { h, replace, toast, showError, busy, copy, fmtDuration, initials, field, icon, ask } from './ui.js';

const MAX_ROOMS = 10;
const ROOM_NAME_MAX = 30;

export async function enterRoom(app, { sessionId, token, device, session }) {
  const live = new Live({ sessionId, token, device });
  await live.start(); // join refusals are thrown to the join screen
  const media = new Media({ signal: (t, b) => live.send(t, b), iceServers: live.join.iceServers || [], selfId: live.userId });
  window.greenroom = { live, media };

  const ui = {};
  const tiles = new Map(); // userId -> {el, video, stream}
  let tab = 'people';
  let timer = null;
  let lastErr = { text: '', at: 0 };
  let opens = 0;
  let ended = false;
  let wasPublishing = false;
  // turningOn is the devices.set of going live until its ack.
  let turningOn = null;
  let mediaEpoch = null;
  let wasOnStage = false;
  let leftStage = 0;       // when I ended my own live video
  let lastApproved = null; // {userId, at}: the newest hand.approved of another member
  let genericExitAt = 0; // When an exit notice without its reason was shown.

  const err = (e) => {
    const text = explain(e);
    if (text === lastErr.text && Date.now() - lastErr.at < 8000) return;
    lastErr = { text, at: Date.now() };
    showError(e);
  };
  const send = (btn, type, body) => busy(btn, () => live.send(type, body));

  // ---- layout, built once
  ui.title = h('h1.room-title', session.title);
  ui.badges = h('div.badges');
  ui.conn = h('span.conn');
  ui.headButtons = h('div.row.head-buttons');
  ui.banner = h('div.banner', { hidden: true });
  ui.share = h('div.share');
  ui.stage = h('div.stage#stage');
  ui.screen = h('div.screen-share#screen-share', { hidden: true });
  ui.strip = h('div.strip#audience', { role: 'list', tabindex: '0', 'aria-label': 'Everyone in the session', hidden: true });
  ui.notice = h('div.notice#stage-notice', { role: 'status', hidden: true });
  ui.mediaStatus = h('p.media-status', { hidden: true });
  ui.controls = h('div.controls');
  ui.approval = h('div.approval', { hidden: true, role: 'status' });
  ui.start = h('div.start-area');
  ui.people = h('div.people');
  ui.chatLog = h('ol.chat-log', { 'aria-live': 'polite' });
  ui.qaList = h('ol.qa-list');
  ui.tabs = h('div.tabs', { role: 'tablist' });
  ui.panels = {
    people: h('div.panel', ui.people),
    chat: h('div.panel', ui.chatLog, chatForm()),
    qa: h('div.panel', qaForm(), ui.qaList),
  };
  ui.dialog = h('dialog.breakout#breakout-dialog');
  ui.root = h('section.room',
    h('header.room-head', h('div.head-left', ui.title, ui.badges), h('div.head-right', ui.conn, ui.headButtons)),
    ui.banner,
    h('div.room-body',
      h('div.main', ui.share, ui.notice, ui.screen, ui.stage, ui.strip, ui.mediaStatus, ui.controls, ui.start),
      h('aside.side', ui.approval, ui.tabs, ui.panels.people, ui.panels.chat, ui.panels.qa)),
    ui.dialog);
  app.append(ui.root);

  function chatForm() {
    const input = h('input', { name: 'chat', maxLength: 1000, placeholder: 'Write a message', autocomplete: 'off', 'aria-label': 'Chat message' });
    const btn = h('button.primary', { type: 'submit' }, 'Send');
    return h('form.row.chat-form', {
      onsubmit: async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        const ok = await busy(btn, async () => { await live.send('chat.send', { text }); return true; });
        if (ok) input.value = '';
        input.focus();
      },
    }, input, btn);
  }

  function qaForm() {
    const input = h('input', { name: 'question', maxLength: 500, placeholder: 'Ask a question', autocomplete: 'off', 'aria-label': 'Question' });
    const btn = h('button.primary', { type: 'submit' }, 'Ask');
    return h('form.row.qa-form', {
      onsubmit: async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        const ok = await busy(btn, async () => { await live.send('qa.ask', { text }); return true; });
        if (ok) input.value = '';
      },
    }, input, btn);
  }

  // ---- wiring
  live.addEventListener('change', () => render());
  // Who speaks shows on the stage only; a full render per change would
  // rebuild every button twice a second while two people talk.
  live.addEventListener('speaker', () => { if (!ended && live.state) renderStage(); });
  live.addEventListener('error', (e) => err(e.detail));
  live.addEventListener('connection', (e) => {
    if (e.detail === 'open') {
      opens++;
      // A new socket: the worker dropped our media with the old one, so
      // media starts over once the fresh state arrives.
      if (opens > 1) media.reconnect();
    }
  });
  live.addEventListener('media', (e) => media.handle(e.detail));
  media.addEventListener('speaking', () => renderStage());
  live.addEventListener('event', (e) => {
    const ev = e.detail;
    // The session's media moved to another worker: once per epoch.
    if (ev.event === 'media.reconnect' && (ev.epoch == null || ev.epoch !== mediaEpoch)) {
      mediaEpoch = ev.epoch ?? null;
      media.reconnect();
    }
    if (ev.event === 'breakout.broadcast') toast(`Message to all rooms${ev.name ? ` from ${ev.name}` : ''}: ${ev.text}`);
    if (ev.event === 'breakout.closing') toast('Breakout rooms are closing soon.');
    if (ev.event === 'hand.declined' && ev.userId === live.userId) toast('Your request to speak was declined.');
    if (ev.event === 'hand.approved' && ev.userId === live.userId) toast('You are on stage now.');
    if (ev.event === 'hand.approved' && ev.userId !== live.userId) {
      lastApproved = { userId: ev.userId, at: Date.now() };
      // The approval that replaced me came after the notice: say so now.
      if (Date.now() - genericExitAt < 5000 && !ui.notice.hidden) explainStageExit();
    }
  });
  live.addEventListener('removed', () => toast('You were removed from this session.', 'error'));
  live.addEventListener('ended', () => { ended = true; render(); });
  media.addEventListener('streams', () => { renderStage(); renderScreen(); });
  media.addEventListener('share', () => { renderScreen(); renderControls(); });
  media.addEventListener('local', () => { renderStage(); renderStrip(); });
  media.addEventListener('status', () => renderMediaStatus());
  media.addEventListener('publishing', () => renderMediaStatus());
  // Media speaks in sentences already (the detail is in the console).
  media.addEventListener('error', (e) => {
    const text = e.detail?.message || 'Live video ran into a problem; it is trying again.';
    if (text === lastErr.text && Date.now() - lastErr.at < 8000) return;
    lastErr = { text, at: Date.now() };
    toast(text, 'error');
  });
  media.camera().catch(() => {});
  timer = setInterval(() => { renderStart(); renderBanner(); }, 1000);

  function leave() {
    clearInterval(timer);
    media.close();
    live.close();
    if (ui.dialog.open) ui.dialog.close();
    if (window.greenroom?.live === live) window.greenroom = null;
  }

  // ---- rendering
  function render() {
    const st = live.state;
    renderHead();
    if (ended || !st || ['ended', 'expired'].includes(st?.status)) {
      if (ended || st) return renderEnded();
      return;
    }
    const self = live.self;
    const isLive = st.status === 'live';
    ui.root.classList.toggle('is-live', isLive);
    ui.root.classList.toggle('is-waiting', !isLive);
    if (self) {
      const publish = mayPublish();
      // Going live (on stage, presenter, a breakout room) turns the mic
      // and camera on; the toggles turn them off again.
      if (publish && !wasPublishing && (!self.mic || !self.cam) && !media.localError && live.connection === 'open') {
        const on = live.send('devices.set', { mic: true, cam: true }).catch((e) => err(e))
          .finally(() => { if (turningOn === on) turningOn = null; });
        turningOn = on;
      }
      // Leaving the stage or a breakout room: nobody hears the microphone
      // any more, so it is switched off and the button says so (the
      // camera stays as it was: it is the picture in the strip). If the
      // switch-on of going live is still on its way (rooms closed right
      // after they opened), the switch-off follows its ack, so that the
      // server applies them in that order.
      if (!publish && wasPublishing && (self.mic || turningOn) && live.connection === 'open') {
        const cam = turningOn ? true : !!self.cam;
        (turningOn || Promise.resolve()).then(() => {
          if (mayPublish() || live.connection !== 'open') return undefined;
          return live.send('devices.set', { mic: false, cam });
        }).catch((e) => err(e));
      }
      // A share ends with the stage (or the breakout room).
      if (!publish && media.share) media.stopShare();
      wasPublishing = publish;
      const onStage = isLive && !!self.onStage;
      if (wasOnStage && !onStage && isLive && Date.now() - leftStage > 5000) {
        // Taken off the stage by someone else: say why, once the events of
        // the same change (the approval that replaced me) are in.
        setTimeout(explainStageExit, 400);
      }
      if (onStage) { ui.notice.hidden = true; }
      wasOnStage = onStage;
      // Media recovers by itself; what went wrong is for developers.
      media.update({ publish, mic: !!self.mic, cam: !!self.cam }).catch((e) => console.warn('greenroom media:', e));
    }
    renderShare();
    renderScreen();
    renderStage();
    renderStrip();
    renderMediaStatus();
    renderControls();
    renderApproval();
    renderStart();
    renderTabs();
    renderPeople();
    renderChat();
    renderQA();
    renderBanner();
    if (ui.dialog.open) renderBreakout();
  }

  function renderEnded() {
    leave();
    const st = live.state;
    replace(ui.root, h('div.card.ended',
      h('h1', st?.status === 'expired' ? 'This session expired' : 'This session has ended'),
      h('p', 'Thank you for taking part.'),
      h('a', { href: '/', 'data-link': '' }, 'Back to the dashboard')));
  }

  function renderHead() {
    const st = live.state;
    const kind = { instant: 'Instant', scheduled: 'Scheduled', primetime: 'PrimeTime' }[st?.kind || session.kind];
    const status = st ? { scheduled: 'Not started', open: 'Waiting room', live: 'Live', ended: 'Ended', expired: 'Expired' }[st.status] : 'Connecting';
    if (st?.title) ui.title.textContent = st.title;
    replace(ui.badges, h('span.badge.kind', kind), ' ', h(`span.badge.status-${st?.status || 'connecting'}`, status));
    const c = live.connection;
    ui.conn.className = `conn conn-${c}`;
    ui.conn.textContent = { connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' }[c] || c;
    const btns = [];
    if (st && live.moderates && st.status === 'live') {
      // Breakout rooms are for scheduled sessions' workshops: an instant
      // or primetime stage has nobody to spread over rooms.
      if (st.kind === 'scheduled') btns.push(h('button.secondary#open-breakout', { onclick: openBreakout }, 'Breakout Rooms'));
      btns.push(h('button.danger#end-session', {
        onclick: (e) => { if (confirm('End the session for everyone?')) send(e.currentTarget, 'session.end'); },
      }, 'End session'));
    }
    btns.push(h('button.secondary#leave', { onclick: () => { leave(); history.pushState(null, '', '/'); dispatchEvent(new PopStateEvent('popstate')); } }, 'Leave'));
    replace(ui.headButtons, btns);
  }

  function renderShare() {
    const st = live.state;
    if (st.status === 'live' || st.kind === 'scheduled') { ui.share.hidden = true; return; }
    ui.share.hidden = false;
    if (ui.share.dataset.id === st.sessionId) return;
    ui.share.dataset.id = st.sessionId;
    const url = `${location.origin}/s/${encodeURIComponent(st.sessionId)}`;
    replace(ui.share, h('div.share-row', h('span.label', 'Session ID'), h('code#session-id', st.sessionId),
      h('button.secondary', { type: 'button', onclick: () => copy(st.sessionId, 'Session ID') }, 'Copy ID')),
    h('div.share-row', h('span.label', 'Link'), h('a#share-link', { href: url, target: '_blank' }, url),
      h('button.secondary', { type: 'button', onclick: () => copy(url, 'Link') }, 'Copy link')));
  }

  // explainStageExit tells a member who was taken off the stage why
  // their video ended: replaced by a newly approved speaker (one at a time
  // in a primetime session), or taken off by a host or speaker.
  function explainStageExit() {
    const st = live.state;
    if (!st || live.self?.onStage) return;
    const host = live.member(st.hostId)?.name || 'The host';
    const next = lastApproved && Date.now() - lastApproved.at < 5000 ? live.member(lastApproved.userId) : null;
    const text = next
      ? `Your live video ended: ${host} brought ${next.name} on stage, and one speaker is on stage at a time. You can ask to speak again.`
      : 'Your live video ended: a host took you off the stage. You can ask to speak again.';
    genericExitAt = next ? 0 : Date.now();
    replace(ui.notice, h('span', text), h('button.secondary.small#dismiss-notice', { type: 'button', onclick: () => { ui.notice.hidden = true; } }, 'OK'));
    ui.notice.hidden = false;
  }

  // replacedBy lists who leaves the stage when a moderator approves m: in
  // a primetime session the current speaker (the stage seats one
  // participant beside the host).
  function replacedBy(m) {
    const st = live.state;
    if (st.kind !== 'primetime' || m.role !== 'participant') return [];
    const seated = st.members.filter((x) => x.onStage && x.role === 'participant');
    return seated.length >= (st.stage?.maxParticipants ?? 1) ? seated : [];
  }

  async function approve(btn, m) {
    const gone = replacedBy(m);
    if (gone.length) {
      const names = gone.map((x) => x.name).join(' and ');
      const ok = await ask(`Bring ${m.name} on stage?`,
        `${names} will leave the stage and their live video ends: one speaker is on stage at a time. ${names} will be told why.`,
        `Replace ${names}`, 'Keep ' + names);
      if (!ok) return;
    }
    await send(btn, 'hand.approve', { userId: m.userId });
  }

  // mayPublish says whether the SFU forwards our camera and microphone
  // (shared/domain Publishers): on stage, or in an open breakout room
  // within its stage limit, counted in the members' order.
  function mayPublish() {
    const st = live.state;
    const self = live.self;
    if (!st || !self) return false;
    if (st.breakout?.status === 'open' && self.room != null) {
      const limit = (st.stage?.maxSpeakers || 0) + (st.stage?.maxParticipants || 0);
      const inRoom = st.members.filter((m) => m.room === self.room && m.connected !== false && !m.removed);
      const i = inRoom.findIndex((m) => m.userId === self.userId);
      return i >= 0 && i < limit;
    }
    return !!self.onStage;
  }

  // speaking: the server's active.speaker, else the loudest remote audio.
  function speaking() {
    return live.speaker || media.speaking;
  }

  // Who has a tile: on stage when live (or the room's members in a
  // breakout room); the host and me in the waiting room.
  function tileIds() {
    const st = live.state;
    const self = live.self;
    if (self?.room != null && st.breakout?.status === 'open') {
      return st.members.filter((m) => m.room === self.room && m.connected !== false).map((m) => m.userId);
    }
    if (st.status === 'live') return st.stage.onStage.slice();
    const ids = [];
    if (st.hostId) ids.push(st.hostId);
    for (const s of st.speakers || []) if (!ids.includes(s)) ids.push(s);
    if (!ids.includes(live.userId)) ids.push(live.userId);
    return ids;
  }

  function renderStage() {
    const st = live.state;
    if (!st) return;
    const ids = tileIds();
    for (const [id, t] of tiles) {
      if (!ids.includes(id)) { t.el.remove(); tiles.delete(id); }
    }
    ids.forEach((id, i) => {
      let t = tiles.get(id);
      if (!t) {
        const video = h('video', { autoplay: true, playsInline: true, muted: id === live.userId });
        // The label sits under the picture, never over a face.
        t = { video, el: h('div.tile', { dataset: { userId: id } }, h('div.view', video, h('div.avatar')), h('div.tile-label')), stream: null };
        tiles.set(id, t);
      }
      if (ui.stage.children[i] !== t.el) ui.stage.insertBefore(t.el, ui.stage.children[i] || null);
      const m = live.member(id) || { name: id };
      const stream = id === live.userId ? media.local : media.remote.get(id);
      if (t.stream !== stream) { t.video.srcObject = stream || null; t.stream = stream || null; }
      const showVideo = !!stream && (id === live.userId ? !!live.self?.cam : m.cam !== false);
      t.el.classList.toggle('has-video', showVideo);
      t.el.classList.toggle('speaking', speaking() === id);
      t.el.classList.toggle('self', id === live.userId);
      replace(t.el.querySelector('.avatar'), initials(m.name));
      replace(t.el.querySelector('.tile-label'), h('span.name', m.name + (id === live.userId ? ' (you)' : '')),
        roleLabel(m, st), m.mic ? null : h('span.icon', { title: 'Microphone off' }, icon('micOff', 'Microphone off')),
        m.cam ? null : h('span.icon', { title: 'Camera off' }, icon('camOff', 'Camera off')),
        speaking() === id ? h('span.icon', { title: 'Speaking' }, icon('speaker', 'Speaking')) : null,
        m.handRaisedAt && !m.onStage ? h('span.icon.hand', { title: 'Raised hand' }, icon('hand', 'Raised hand')) : null);
    });
    ui.stage.dataset.count = String(ids.length);
  }

  // The screen share, large above the stage with who shares: mine
  // (a local preview) or the newest remote stream "<userId>~screen".
  const SHARE = '~screen';
  function renderScreen() {
    const st = live.state;
    if (!st) return;
    let id = null;
    let stream = null;
    if (media.share) { id = live.userId; stream = media.share; } else {
      for (const [key, s] of media.remote) {
        if (key.endsWith(SHARE) && s.getVideoTracks().length) { id = key.slice(0, -SHARE.length); stream = s; }
      }
    }
    ui.root.classList.toggle('has-share', !!stream);
    if (!stream) { ui.screen.hidden = true; ui.screen.replaceChildren(); ui.screen.dataset.userId = ''; return; }
    ui.screen.hidden = false;
    let video = ui.screen.querySelector('video');
    if (!video) {
      video = h('video', { autoplay: true, playsInline: true, muted: true });
      ui.screen.replaceChildren(video, h('p.share-label'));
    }
    if (video.srcObject !== stream) video.srcObject = stream;
    ui.screen.dataset.userId = id;
    const name = id === live.userId ? 'You are' : `${live.member(id)?.name || 'Someone'} is`;
    const label = ui.screen.querySelector('.share-label');
    const text = `${name} sharing ${id === live.userId ? 'your' : 'their'} screen`;
    if (label.textContent !== text) label.textContent = text;
    video.setAttribute('aria-label', text);
  }

  async function toggleShare(btn) {
    if (media.share) { media.stopShare(); return; }
    btn.disabled = true;
    try {
      await media.startShare();
    } catch (e) {
      console.warn('greenroom: screen share:', e);
      const text = e?.code === 'share_unsupported'
        ? 'This browser cannot share a screen. Try a desktop browser such as Chrome, Edge or Firefox.'
        : e?.name === 'NotAllowedError'
          ? 'Screen sharing did not start: the browser was not allowed to capture the screen. Click Share screen again and pick a screen, window or tab.'
          : 'Screen sharing did not start. Click Share screen to try again.';
      toast(text, 'error');
    } finally {
      if (btn.isConnected) btn.disabled = false;
    }
  }

  // The audience strip (seed 002): below the stage, my own picture first
  // (the camera's live preview while my camera is on, else my initials),
  // then every other member; a raised hand shows on the picture with its
  // place in the server's queue. It scrolls sideways when long.
  const pics = new Map(); // userId -> {el, video}
  function renderStrip() {
    const st = live.state;
    const self = live.self;
    const inRoom = self?.room != null && st?.breakout?.status === 'open';
    if (!st || !self || st.status !== 'live' || inRoom) { ui.strip.hidden = true; return; }
    ui.strip.hidden = false;
    const others = st.members.filter((m) => m.userId !== live.userId && m.connected !== false && !m.removed);
    const ids = [live.userId, ...others.map((m) => m.userId)];
    for (const [id, p] of pics) if (!ids.includes(id)) { p.el.remove(); pics.delete(id); }
    ids.forEach((id, i) => {
      const m = id === live.userId ? self : live.member(id);
      let p = pics.get(id);
      if (!p) {
        const video = id === live.userId ? h('video', { autoplay: true, playsInline: true, muted: true, 'aria-hidden': 'true' }) : null;
        p = { video, el: h('div.pic', { role: 'listitem', dataset: { userId: id } }, h('div.face', video, h('span.avatar')), h('span.pic-name')) };
        pics.set(id, p);
      }
      if (ui.strip.children[i] !== p.el) ui.strip.insertBefore(p.el, ui.strip.children[i] || null);
      const live_ = id === live.userId && !!self.cam && !!media.local;
      if (p.video && p.video.srcObject !== (live_ ? media.local : null)) p.video.srcObject = live_ ? media.local : null;
      p.el.classList.toggle('has-video', live_);
      p.el.classList.toggle('self', id === live.userId);
      replace(p.el.querySelector('.avatar'), initials(m.name));
      const pos = st.hands.indexOf(id);
      const face = p.el.querySelector('.face');
      face.querySelector('.hand-badge')?.remove();
      if (pos >= 0) {
        face.append(h('span.hand-badge', { title: `Raised hand, number ${pos + 1} in the queue`, dataset: { pos: String(pos + 1) } },
          icon('hand'), h('span.visually-hidden', 'Raised hand, number '), String(pos + 1)));
      }
      replace(p.el.querySelector('.pic-name'), id === live.userId ? 'You' : m.name);
      p.el.setAttribute('aria-label', `${id === live.userId ? `${m.name} (you)` : m.name}${pos >= 0 ? `, raised hand number ${pos + 1}` : ''}${m.onStage ? ', on stage' : ''}`);
    });
  }

  function roleLabel(m, st) {
    const out = [];
    if (m.role === 'host') out.push(h('span.tag.host', 'Host'));
    if (m.role === 'speaker') out.push(h('span.tag.speaker', 'Speaker'));
    if (st.presenterId && st.presenterId === m.userId) out.push(h('span.tag.presenter', 'Presenter'));
    return out;
  }

  // renderMediaStatus says, in a sentence, why video may not flow: the
  // connection recovering, media unavailable, no camera, or (from the
  // worker's media.publishing frame) mic and camera off or publishing not
  // allowed right now.
  function renderMediaStatus() {
    const s = media.status;
    const n = media.notice;
    const publishing = !!live.state && mayPublish();
    let text = '';
    if (s === 'unavailable') text = media.statusText || 'Live video is not available right now. Chat and Q&A still work.';
    else if (s === 'recovering') text = media.statusText || 'Reconnecting video…';
    else if (media.localError && publishing) text = 'Your camera or microphone is not available, so nobody sees or hears you. Check that no other app uses them and that this site may use them.';
    else if (publishing && n?.state === 'devices_off' && !media.share) text = 'Your microphone and camera are off, so nobody sees or hears you. Turn one on to be seen or heard.';
    else if (publishing && n?.state === 'not_allowed') text = 'The session does not let you share your camera and microphone right now.';
    ui.mediaStatus.hidden = !text;
    ui.mediaStatus.textContent = text;
    ui.mediaStatus.dataset.state = text ? (n?.state && !['recovering', 'unavailable'].includes(s) ? n.state : s) : '';
  }

  function renderControls() {
    const st = live.state;
    const self = live.self;
    if (!self) return;
    // The buttons name the action (Mute / Unmute, Stop / Start camera) and
    // aria-pressed says the state: pressed while the device is on.
    const mic = !!self.mic;
    const cam = !!self.cam;
    const btns = [
      h('button.toggle#toggle-mic', {
        'aria-pressed': String(mic),
        title: mic ? 'Your microphone is on: mute it' : 'Your microphone is off: unmute it',
        onclick: (e) => send(e.currentTarget, 'devices.set', { mic: !mic, cam }),
      }, icon(mic ? 'mic' : 'micOff'), mic ? 'Mute' : 'Unmute'),
      h('button.toggle#toggle-cam', {
        'aria-pressed': String(cam),
        title: cam ? 'Your camera is on: stop it' : 'Your camera is off: start it',
        onclick: (e) => send(e.currentTarget, 'devices.set', { mic, cam: !cam }),
      }, icon(cam ? 'cam' : 'camOff'), cam ? 'Stop camera' : 'Start camera'),
    ];
    const isLive = st.status === 'live';
    const participant = self.role === 'participant';
    // An instant session's stage holds the host and the presenter only:
    // nobody else can be approved, so nobody is offered to ask.
    if (isLive && participant && !self.onStage && !self.handRaisedAt && st.kind !== 'instant') {
      btns.push(h('button.primary#request-speak', { onclick: (e) => send(e.currentTarget, 'hand.raise') }, icon('hand'), 'Request to speak'));
    }
    if (isLive && self.onStage && participant && st.presenterId !== self.userId) {
      btns.push(h('button.danger#end-live', { title: 'End my live video', onclick: (e) => { leftStage = Date.now(); send(e.currentTarget, 'stage.leave'); } }, icon('end'), 'End my live video'));
    }
    // Moderators reach the queue from the controls (on a phone the
    // roster is far below the stage).
    if (isLive && live.moderates && st.hands.length) {
      btns.push(h('button.secondary#goto-hands', {
        onclick: () => { tab = 'people'; renderTabs(); ui.people.querySelector('.hands')?.scrollIntoView({ block: 'start' }); ui.people.querySelector('.hands .approve')?.focus({ preventScroll: true }); },
      }, icon('hand'), `Raised hands (${st.hands.length})`));
    }
    // Screen share: hosts, presenters and speakers on stage, on a desktop.
    if (isLive && mayPublish() && self.device !== 'mobile' && navigator.mediaDevices?.getDisplayMedia) {
      const on = !!media.share;
      btns.push(h('button.toggle.share#share-screen', {
        'aria-pressed': String(on), title: on ? 'Stop showing your screen to everyone' : 'Show a screen, window or tab to everyone',
        onclick: (e) => toggleShare(e.currentTarget),
      }, icon('screen'), on ? 'Stop sharing' : 'Share screen'));
    }
    replace(ui.controls, btns);
  }

  function renderApproval() {
    const st = live.state;
    const self = live.self;
    const waiting = st.status === 'live' && self?.handRaisedAt && !self.onStage;
    ui.approval.hidden = !waiting;
    if (!waiting) return;
    const pos = st.hands.indexOf(self.userId);
    replace(ui.approval, h('strong', icon('hand'), ' Waiting for approval'),
      h('p', `Your request to speak was sent to the ${st.kind === 'scheduled' ? 'speakers' : 'host'}.${pos >= 0 ? ` You are number ${pos + 1} in the queue.` : ''}`),
      h('button.secondary#cancel-request', { onclick: (e) => send(e.currentTarget, 'hand.lower') }, 'Cancel'));
  }

  function startRule() {
    const st = live.state;
    const self = live.self;
    if (!self) return null;
    if (st.kind === 'instant') {
      if (self.role !== 'host') return { show: false, text: 'Waiting for the host to start the session.' };
      const p = st.presenterId ? live.member(st.presenterId) : null;
      if (self.device !== 'mobile') return { show: true, ok: false, text: 'Instant sessions are started by a host on a phone.' };
      if (!p) return { show: true, ok: false, text: 'Choose a presenter (a member on a phone) to start.' };
      return { show: true, ok: true, text: `${p.name} will present.` };
    }
    if (st.kind === 'scheduled') {
      if (self.role !== 'speaker') return { show: false, text: 'The session opens when a speaker starts it.' };
      const from = Date.parse(st.startableAt);
      const left = from - live.serverNow();
      if (left > 0) return { show: true, ok: false, text: `You can start the session 5 minutes before its slot: in ${fmtDuration(left)}.`, countdown: true };
      return { show: true, ok: true, text: 'You can start the session now.' };
    }
    if (self.role !== 'host') return { show: false, text: 'Waiting for the host to start the session.' };
    return { show: true, ok: true, text: 'Start when you are ready.' };
  }

  function renderStart() {
    const st = live.state;
    if (!st || st.status === 'live' || ['ended', 'expired'].includes(st.status)) { ui.start.hidden = true; return; }
    ui.start.hidden = false;
    const r = startRule();
    if (!r) return;
    const key = `${r.show}|${r.ok}|${r.text}`;
    if (ui.start.dataset.key === key) return;
    ui.start.dataset.key = key;
    replace(ui.start,
      r.show ? h('button.primary.big#start-session', { disabled: !r.ok, onclick: (e) => send(e.currentTarget, 'session.start') }, 'Start Session') : null,
      h('p.start-rule#start-rule', r.text));
  }

  function renderTabs() {
    const st = live.state;
    const qOpen = st.questions.filter((q) => q.status === 'open').length;
    const def = [['people', `People (${st.members.filter((m) => m.connected !== false).length})`], ['chat', 'Chat'], ['qa', `Q&A${qOpen ? ` (${qOpen})` : ''}`]];
    // Rebuilt only when a label or the open tab changes: every state
    // change renders the room, and a rebuilt button loses the keyboard
    // focus and the click in progress.
    const key = JSON.stringify([tab, def]);
    if (ui.tabs.dataset.key !== key) {
      ui.tabs.dataset.key = key;
      replace(ui.tabs, def.map(([k, label]) => h(`button.tab#tab-${k}`, {
        role: 'tab', 'aria-selected': String(tab === k), onclick: () => { tab = k; renderTabs(); },
      }, label)));
    }
    for (const [k, p] of Object.entries(ui.panels)) p.hidden = k !== tab;
  }

  function renderPeople() {
    const st = live.state;
    const self = live.self;
    const canPick = st.kind === 'instant' && st.status !== 'live' && self?.role === 'host' && self.device === 'mobile';
    const hands = st.hands.map((id) => live.member(id)).filter(Boolean);
    const moderator = live.moderates;
    const handList = hands.length ? h('section.hands', h('h3', 'Raised hands'), h('ol.hand-queue', hands.map((m) => h('li.hand', { dataset: { userId: m.userId } },
      h('span.icon', icon('hand', 'Raised hand')), h('span.name', m.name),
      moderator ? h('span.actions',
        h('button.primary.small.approve', { 'aria-label': `Approve ${m.name}`, onclick: (e) => approve(e.currentTarget, m) }, 'Approve'),
        h('button.secondary.small.decline', { 'aria-label': `Decline ${m.name}`, onclick: (e) => send(e.currentTarget, 'hand.decline', { userId: m.userId }) }, 'Decline')) : null)))) : null;
    const order = { host: 0, speaker: 1, participant: 2 };
    // While a host picks a presenter, its own row comes last, so that it
    // does not pick itself by accident.
    const rank = (m) => (canPick && m.userId === live.userId ? 9 : order[m.role]);
    const members = st.members.slice().sort((a, b) => (rank(a) - rank(b)) || (a.name || '').localeCompare(b.name || ''));
    const hostWeb = st.kind === 'instant' && st.status !== 'live' && self?.role === 'host' && self.device !== 'mobile';
    replace(ui.people, handList,
      h('h3', 'Members'),
      hostWeb ? h('p.hint', 'Presenters are chosen by a host on a phone; web members cannot present.') : null,
      canPick ? h('p.hint#presenter-hint', 'The presenter\'s camera and microphone go to everyone once you start; you can change the presenter until then, not after. Only members on a phone can present.') : null,
      h('ul.members', members.map((m) => {
        const handPos = st.hands.indexOf(m.userId);
        // The away class goes beside member: a row is always li.member.
        return h(m.connected === false ? 'li.member.away' : 'li.member', { dataset: { userId: m.userId, device: m.device } },
          h('span.avatar.small', initials(m.name)),
          h('span.who', h('span.line', h('span.name', m.name + (m.userId === live.userId ? ' (you)' : '')),
            roleLabel(m, st)),
            h('span.device', icon(m.device === 'mobile' ? 'phone' : 'web'), m.device === 'mobile' ? 'Phone' : 'Web'),
            m.onStage && st.status === 'live' ? h('span.tag.onstage', 'On stage') : null,
            m.connected === false ? h('span.tag.away', 'Away') : null,
            m.room != null && st.breakout?.rooms?.[m.room] ? h('span.tag', `Room: ${st.breakout.rooms[m.room].name}`) : null),
          handPos >= 0 ? h('span.raised', { title: `Raised hand #${handPos + 1}` }, icon('hand', 'Raised hand'), String(handPos + 1)) : null,
          canPick && m.device === 'mobile' && st.presenterId !== m.userId
            ? h('button.secondary.small.make-presenter', {
              'aria-describedby': 'presenter-hint',
              title: m.userId === live.userId ? 'You present: your video goes to everyone; final once the session starts' : `${m.name} presents: their video goes to everyone; final once the session starts`,
              onclick: (e) => send(e.currentTarget, 'presenter.assign', { userId: m.userId }),
            }, m.userId === live.userId ? 'Present yourself' : `Make ${m.name} presenter`)
            : null,
          moderator && st.status === 'live' && m.onStage && m.role === 'participant' && st.presenterId !== m.userId
            ? h('button.secondary.small.remove-stage', { onclick: (e) => send(e.currentTarget, 'stage.remove', { userId: m.userId }) }, 'Off stage')
            : null);
      })));
  }

  function renderChat() {
    const chat = live.state.chat || [];
    const key = `${chat.length}|${chat.at(-1)?.id || ''}`;
    if (ui.chatLog.dataset.key === key) return;
    ui.chatLog.dataset.key = key;
    const atBottom = ui.chatLog.scrollHeight - ui.chatLog.scrollTop - ui.chatLog.clientHeight < 40;
    replace(ui.chatLog, chat.length ? chat.map((c) => h('li.chat-line', { dataset: { userId: c.userId } },
      h('span.name', c.name), ' ', h('span.time', new Date(c.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
      h('div.text', c.text))) : h('li.muted', 'No messages yet.'));
    if (atBottom || true) ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
  }

  function renderQA() {
    const st = live.state;
    const moderator = live.moderates;
    replace(ui.qaList, st.questions.length ? st.questions.map((q) => h(`li.question.status-${q.status}`, { dataset: { questionId: q.id } },
      h('div.q-text', q.text),
      h('div.q-meta', h('span.muted', `${q.name} · `), h('span.votes', `${q.votes} vote${q.votes === 1 ? '' : 's'}`),
        q.status !== 'open' ? h('span.tag', q.status === 'answered' ? 'Answered' : 'Dismissed') : null),
      h('div.q-actions',
        q.status === 'open' ? h('button.secondary.small.upvote', {
          disabled: q.voted, title: q.voted ? 'You voted' : 'Upvote', onclick: (e) => send(e.currentTarget, 'qa.upvote', { questionId: q.id }),
        }, q.voted ? '▲ Voted' : '▲ Upvote') : null,
        moderator && q.status === 'open' ? [
          h('button.secondary.small.answer', { onclick: (e) => send(e.currentTarget, 'qa.answer', { questionId: q.id }) }, 'Answered'),
          h('button.secondary.small.dismiss', { onclick: (e) => send(e.currentTarget, 'qa.dismiss', { questionId: q.id }) }, 'Dismiss')] : null)))
      : h('li.muted', 'No questions yet.'));
  }

  function renderBanner() {
    const st = live.state;
    const self = live.self;
    if (!st || !self) return;
    const b = st.breakout;
    const inRoom = b?.status === 'open' && self.room != null;
    const ends = b?.endsAt ? Date.parse(b.endsAt) - live.serverNow() : null;
    if (!inRoom && !(b?.status === 'open' && live.moderates)) { ui.banner.hidden = true; return; }
    ui.banner.hidden = false;
    const room = inRoom ? b.rooms.find((r) => r.index === self.room) : null;
    replace(ui.banner, inRoom ? `You are in breakout room “${room?.name || self.room + 1}”.` : 'Breakout rooms are open.',
      ends != null ? ` Closes in ${fmtDuration(ends)}.` : '');
  }

  // ---- breakout rooms dialog (hosts and speakers)
  let draft = null;

  function openBreakout() {
    const b = live.state.breakout;
    if (b.status !== 'none' && b.rooms.length) {
      const assign = {};
      for (const r of b.rooms) for (const id of r.members) assign[id] = r.index;
      draft = { rooms: b.rooms.map((r) => ({ name: r.name })), assign, auto: false };
    } else {
      draft = { rooms: [{ name: 'Room 1' }, { name: 'Room 2' }], assign: {}, auto: false };
    }
    renderBreakout();
    if (!ui.dialog.open) ui.dialog.showModal();
  }

  function assignable() {
    return live.state.members.filter((m) => m.role === 'participant');
  }

  function draftProblem() {
    if (draft.rooms.length < 1) return 'Add at least one room.';
    if (draft.rooms.length > MAX_ROOMS) return `At most ${MAX_ROOMS} rooms.`;
    for (const [i, r] of draft.rooms.entries()) {
      const n = r.name.trim();
      if (!n) return `Room ${i + 1} needs a name.`;
      if ([...n].length > ROOM_NAME_MAX) return `Room names have at most ${ROOM_NAME_MAX} characters.`;
    }
    return '';
  }

  async function configure() {
    const problem = draftProblem();
    if (problem) throw Object.assign(new Error(problem), { code: 'invalid_local', message: problem });
    const assign = {};
    if (!draft.auto) for (const [id, idx] of Object.entries(draft.assign)) if (idx != null && idx < draft.rooms.length) assign[id] = idx;
    await live.send('breakout.configure', { rooms: draft.rooms.map((r) => ({ name: r.name.trim() })), assign, auto: draft.auto });
  }

  function renderBreakout() {
    const st = live.state;
    const b = st.breakout;
    const close = h('button.icon.close', { type: 'button', title: 'Close', 'aria-label': 'Close', onclick: () => ui.dialog.close() }, '✕');
    if (b.status === 'open') {
      const minutes = h('input', { type: 'number', name: 'minutes', min: 1, max: 240, value: 10, 'aria-label': 'Minutes' });
      const text = h('input', { name: 'broadcast', maxLength: 1000, placeholder: 'Message to every room', 'aria-label': 'Broadcast message' });
      const ends = b.endsAt ? Date.parse(b.endsAt) - live.serverNow() : null;
      replace(ui.dialog, h('div.dialog-head', h('h2', 'Breakout rooms are open'), close),
        ends != null ? h('p.muted', `Rooms close in ${fmtDuration(ends)}.`) : h('p.muted', 'No timer set.'),
        h('div.rooms-open', b.rooms.map((r) => h('div.room-card', { dataset: { room: r.index } }, h('strong', r.name),
          h('ul', r.members.map((id) => {
            const m = live.member(id);
            return h('li', m?.name || id, ' ', moveSelect(id, r.index));
          }), r.members.length ? null : h('li.muted', 'Nobody'))))),
        h('div.unassigned', h('strong', 'Main room'), h('ul', st.members.filter((m) => m.room == null && m.role === 'participant').map((m) => h('li', m.name, ' ', moveSelect(m.userId, null))))),
        h('form.row', { onsubmit: (e) => { e.preventDefault(); send(e.submitter, 'breakout.timer', { minutes: Number(minutes.value) }); } },
          field('Timer (minutes)', minutes), h('button.secondary#set-timer', { type: 'submit' }, 'Set timer')),
        h('form.row', {
          onsubmit: async (e) => {
            e.preventDefault();
            if (!text.value.trim()) return;
            if (await busy(e.submitter, async () => { await live.send('breakout.broadcast', { text: text.value.trim() }); return true; })) { text.value = ''; toast('Message sent to every room'); }
          },
        }, field('Broadcast', text), h('button.secondary#broadcast', { type: 'submit' }, 'Send to all rooms')),
        h('div.row.dialog-foot', h('button.danger#close-rooms', { onclick: (e) => send(e.currentTarget, 'breakout.close') }, 'Close rooms')));
      return;
    }
    const rooms = draft.rooms.map((r, i) => h('div.row.room-edit', { dataset: { room: i } },
      h('input.room-name', {
        value: r.name, maxLength: ROOM_NAME_MAX, 'aria-label': `Name of room ${i + 1}`,
        oninput: (e) => { r.name = e.target.value; e.target.nextElementSibling.textContent = `${[...r.name].length}/${ROOM_NAME_MAX}`; },
      }),
      h('span.hint', `${[...r.name].length}/${ROOM_NAME_MAX}`),
      h('button.icon', { type: 'button', title: 'Remove room', 'aria-label': `Remove room ${i + 1}`, disabled: draft.rooms.length <= 1, onclick: () => {
        draft.rooms.splice(i, 1);
        for (const [id, idx] of Object.entries(draft.assign)) { if (idx === i) delete draft.assign[id]; else if (idx > i) draft.assign[id] = idx - 1; }
        renderBreakout();
      } }, '✕')));
    const people = assignable();
    replace(ui.dialog, h('div.dialog-head', h('h2', 'Breakout rooms'), close),
      h('p.muted', `Up to ${MAX_ROOMS} rooms; names up to ${ROOM_NAME_MAX} characters.`),
      h('div.rooms', rooms),
      h('button.add-room#add-room', {
        type: 'button', disabled: draft.rooms.length >= MAX_ROOMS, title: 'Add a room', 'aria-label': 'Add a room',
        onclick: () => { draft.rooms.push({ name: `Room ${draft.rooms.length + 1}` }); renderBreakout(); },
      }, '+'),
      h('h3', 'Assign participants'),
      h('div.row', h('button.secondary#assign-auto', {
        type: 'button', 'aria-pressed': String(draft.auto),
        onclick: () => { draft.auto = !draft.auto; if (draft.auto) draft.assign = {}; renderBreakout(); },
      }, draft.auto ? '✓ Assign automatically' : 'Assign automatically')),
      draft.auto ? h('p.hint', 'Participants are spread evenly over the rooms.') : null,
      people.length ? h('ul.assign', people.map((m) => h('li', { dataset: { userId: m.userId } }, h('span.name', m.name), ' ',
        h('select.assign-room', {
          disabled: draft.auto, 'aria-label': `Room for ${m.name}`,
          onchange: (e) => { if (e.target.value === '') delete draft.assign[m.userId]; else draft.assign[m.userId] = Number(e.target.value); },
        }, h('option', { value: '' }, 'Main room'), draft.rooms.map((r, i) => h('option', { value: String(i), selected: draft.assign[m.userId] === i }, r.name || `Room ${i + 1}`))))))
        : h('p.muted', 'No participants to assign yet.'),
      h('div.row.dialog-foot',
        h('button.secondary#save-rooms', { onclick: (e) => busy(e.currentTarget, async () => { await configure(); toast('Rooms saved'); }) }, 'Save'),
        h('button.primary.pink#open-rooms', {
          onclick: (e) => busy(e.currentTarget, async () => { await configure(); await live.send('breakout.open'); toast('Breakout rooms are open'); }),
        }, 'Open Rooms')));
  }

  function moveSelect(userId, current) {
    const rooms = live.state.breakout.rooms;
    return h('select.move', {
      'aria-label': 'Move to',
      onchange: (e) => send(e.target, 'breakout.move', { userId, room: e.target.value === '' ? null : Number(e.target.value) }),
    }, h('option', { value: '', selected: current == null }, 'Main room'),
    rooms.map((r) => h('option', { value: String(r.index), selected: current === r.index }, r.name)));
  }

  render();
  return { leave, live, media };
}
