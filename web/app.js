// Greenroom's browser client: a small router and the screens that are not
// the live room (sign in, dashboard, join, organizer, event, employer).

import { api, identity, deviceKind, explain, ApiError } from './api.js';
import { h, replace, toast, showError, busy, copy, fmtTime, field } from './ui.js';
import { enterRoom } from './room.js';

const app = document.getElementById('app');
let leaveScreen = null; // cleanup of the current screen

export function go(path, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, '', path); else history.pushState(null, '', path);
  render();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || a.target === '_blank') return;
  e.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', render);

function link(href, ...children) {
  return h('a', { href, 'data-link': '' }, ...children);
}

// sessionIdFrom reads a session id from an id or a share link.
export function sessionIdFrom(text) {
  const t = (text || '').trim();
  const m = /\/s\/([^/?#\s]+)/.exec(t);
  return m ? decodeURIComponent(m[1]) : t;
}

export function shareLink(id) {
  return `${location.origin}/s/${encodeURIComponent(id)}`;
}

function render() {
  if (leaveScreen) { try { leaveScreen(); } catch { /* ignore */ } leaveScreen = null; }
  const path = location.pathname.replace(/\/+$/, '') || '/';
  let m;
  replace(app);
  window.scrollTo(0, 0);
  updateNav();
  if (path === '/') return home();
  if ((m = /^\/s\/([^/]+)$/.exec(path))) return sessionScreen(decodeURIComponent(m[1]));
  if (path === '/organizer') return organizerScreen();
  if ((m = /^\/events\/([^/]+)$/.exec(path))) return eventScreen(decodeURIComponent(m[1]));
  if ((m = /^\/employer\/([^/]+)$/.exec(path))) return employerScreen(decodeURIComponent(m[1]));
  if (path === '/groups') return groupsScreen();
  if ((m = /^\/g\/([^/]+)$/.exec(path))) return groupScreen(decodeURIComponent(m[1]));
  app.append(h('section.card', h('h1', 'Page not found'), h('p', 'There is nothing at this address. '), link('/', 'Go to the dashboard')));
}

function updateNav() {
  const who = document.getElementById('who');
  const u = identity.user();
  replace(who, u ? [h('span.muted', 'Signed in as '), h('strong', u.name), ' ',
    h('button.link', { onclick: () => { identity.setUser(null); go('/'); } }, 'Sign out')] : '');
}

// ---- sign in

function signInForm(onDone, note) {
  const name = h('input', { name: 'name', required: true, maxLength: 64, autocomplete: 'nickname', placeholder: 'e.g. Frida Marquez' });
  const submit = h('button.primary', { type: 'submit' }, 'Continue');
  const form = h('form.card.signin', {
    onsubmit: (e) => {
      e.preventDefault();
      busy(submit, async () => {
        const device = deviceKind();
        const r = await api.createUser(name.value.trim(), device);
        identity.setUser({ id: r.user.id, name: r.user.name, token: r.token, device });
        updateNav();
        onDone();
      });
    },
  }, h('h2', 'Sign in'), note ? h('p.muted', note) : null,
  field('Your display name', name, 'Others in the session see this name.'), submit);
  setTimeout(() => name.focus(), 0);
  return form;
}

// ---- dashboard

function home() {
  const u = identity.user();
  if (!u) {
    app.append(h('section.hero', h('h1', 'Greenroom'), h('p', 'Live video sessions: instant, scheduled and primetime.')),
      signInForm(render));
    return;
  }
  const title = h('input', { name: 'title', maxLength: 120, value: `${u.name}'s session`, required: true });
  const createBtn = (kind, label) => h(`button.${kind === 'instant' ? 'primary' : 'secondary'}`, {
    type: 'button', dataset: { kind },
    onclick: (e) => busy(e.currentTarget, async () => {
      const r = await api.createSession(u.token, kind, title.value.trim() || 'Live session');
      sessionStorage.setItem('greenroom.created', r.session.id);
      go(`/s/${encodeURIComponent(r.session.id)}`);
    }),
  }, label);
  const joinInput = h('input', { name: 'join', placeholder: 'Session ID or link', required: true });
  app.append(
    h('section.card',
      h('h2', 'Create a session'),
      field('Title', title),
      h('div.row', createBtn('instant', '+ Create instant session'), createBtn('primetime', '+ Create primetime session')),
      h('p.hint', 'Instant: you and a presenter on phones, everyone else watches. Primetime: you host, others ask to speak.')),
    h('form.card', {
      onsubmit: (e) => {
        e.preventDefault();
        const id = sessionIdFrom(joinInput.value);
        if (!id) { toast('Enter a session ID or link', 'error'); return; }
        go(`/s/${encodeURIComponent(id)}`);
      },
    }, h('h2', 'Join a session'), field('Session ID or share link', joinInput), h('button.primary', { type: 'submit' }, 'Join'),
    h('p.hint', 'Your user id, for an employer who names you co-speaker: ', h('code#my-user-id', u.id))),
    h('section.card', h('h2', 'Groups'), h('p', 'A group has its own chat; any member starts a PrimeTime session in it, and every member joins from the chat.'),
      h('div.row', link('/groups', 'Your groups'))),
    h('section.card', h('h2', 'Events'), h('p', 'Organizers create events with time slots; employers book them; participants register with one click.'),
      h('div.row', link('/organizer', 'Organizer page'))),
  );
  app.children[0].after(activeSessionsCard(u));
}

// ---- the Active Session page: the sessions the user hosts, speaks in or
// joined, each with Rejoin while it can be rejoined.

const ROLE_WORDS = { host: 'You host', speaker: 'You speak', participant: 'You joined' };

function activeSessionsCard(u) {
  const list = h('div.active-list', h('p.muted', 'Loading your sessions…'));
  const card = h('section.card#active-sessions', { 'aria-labelledby': 'active-title' }, h('h2#active-title', 'Active sessions'), list);
  api.activeSessions(u.token).then((r) => {
    const items = r.sessions || [];
    if (!items.length) { replace(list, h('p.muted', 'No active sessions. Sessions you host or join show here, so you can get back to them.')); return; }
    replace(list, h('ul.active-sessions', items.map((a) => {
      const s = a.session;
      const id = s.id;
      let action;
      if (a.state === 'expired' || !a.canRejoin) {
        action = h('p.expired', a.state === 'expired'
          ? 'This session expired: it was not started in time and cannot be rejoined.'
          : 'You cannot rejoin this session.');
      } else {
        action = h('button.primary.rejoin', {
          type: 'button', 'aria-label': `Rejoin ${s.title}`,
          onclick: () => { sessionStorage.setItem('greenroom.rejoin', id); go(`/s/${encodeURIComponent(id)}`); },
        }, 'Rejoin');
      }
      const by = a.rejoinBy && a.state === 'active' ? h('span.muted', ` · rejoin by ${new Date(a.rejoinBy).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`) : null;
      return h('li.active-session', { dataset: { session: id, state: a.state, role: a.role } },
        h('div', h('strong', s.title), ' ', sessionFacts(s), h('span.role', ROLE_WORDS[a.role] || a.role), by), action);
    })));
  }).catch((err) => replace(list, h('p.error', explain(err))));
  return card;
}

// ---- a session: join screen, then the room

async function sessionScreen(id) {
  const box = h('section.card.join', h('p.muted', 'Loading session…'));
  app.append(box);
  let session;
  try {
    session = (await api.getSession(id)).session;
  } catch (err) {
    replace(box, h('h1', 'Cannot open this session'), h('p.error', explain(err)), link('/', 'Back to the dashboard'));
    return;
  }
  const employer = session.eventId ? identity.employer(session.eventId) : null;
  const asEmployer = employer && employer.id && employer.id === session.employerId ? employer : null;
  const user = identity.user();
  if (!user && !asEmployer) {
    replace(box, h('h1', session.title), sessionFacts(session));
    app.append(signInForm(render, 'Sign in with a display name to join.'));
    return;
  }
  const speakerInvite = new URLSearchParams(location.search).get('speakerInvite');
  if (speakerInvite && user && !asEmployer) {
    try {
      session = (await api.redeemSpeakerInvite(user.token, id, speakerInvite)).session;
      history.replaceState(null, '', `/s/${encodeURIComponent(id)}`);
      toast('You are a co-speaker of this session');
    } catch (err) {
      const text = err.code === 'invalid' ? 'This co-speaker link is not valid or has expired. Ask the employer for a new one.' : explain(err);
      replace(box, h('h1', session.title), sessionFacts(session), h('p.error#speaker-invite-error', text), link('/', 'Back to the dashboard'));
      return;
    }
  }
  const token = asEmployer ? asEmployer.token : user.token;
  const selfId = asEmployer ? asEmployer.id : user.id;
  const device = deviceKind();
  const enter = async () => {
    let room;
    try {
      room = await enterRoom(app, { sessionId: id, token, device, session, selfId });
    } catch (err) {
      // A group's PrimeTime session takes its members only: say so, in words.
      if (session.groupId && err.code === 'forbidden') {
        console.warn('greenroom: join refused', err);
        replace(box, h('h1', session.title), sessionFacts(session),
          h('p.error#not-member', 'Only members of this group can join this PrimeTime session. Ask a member of the group for its invite link, join the group, then join the session from the group\'s chat.'),
          link('/groups', 'Your groups'));
        return;
      }
      throw err;
    }
    leaveScreen = room.leave;
    box.remove();
  };
  const created = sessionStorage.getItem('greenroom.created') === id || sessionStorage.getItem('greenroom.rejoin') === id;
  if (created) { sessionStorage.removeItem('greenroom.created'); sessionStorage.removeItem('greenroom.rejoin'); }
  const isHost = session.hostId && session.hostId === selfId;
  const isSpeaker = (session.speakers || []).includes(selfId) || !!asEmployer;
  if (['ended', 'expired'].includes(session.status)) {
    replace(box, h('h1', session.title), sessionFacts(session), h('p.error', explain({ code: `session_${session.status}` })), link('/', 'Back to the dashboard'));
    return;
  }
  if (created || isHost || isSpeaker) {
    replace(box, h('p.muted', 'Joining…'));
    try { await enter(); } catch (err) { replace(box, h('h1', session.title), h('p.error', explain(err)), joinButton()); }
    return;
  }
  // A session that is full takes nobody new: Register and Join say so and
  // are disabled, unless this person holds a spot already.
  const regKey = `${user.id}:${id}`;
  const holds = () => registeredSet().has(regKey);
  const full = () => session.kind === 'scheduled' && session.spotsLeft <= 0 && !holds();
  function joinButton() {
    const isFull = full();
    return h('button.primary#join-session', {
      disabled: isFull, 'aria-describedby': isFull ? 'full-note' : null,
      onclick: (e) => busy(e.currentTarget, enter),
    }, isFull ? 'Join: session full' : (session.status === 'live' ? 'Join live session' : 'Join session'));
  }
  const regBox = h('div');
  const joinBox = h('div');
  const draw = () => {
    if (session.kind === 'scheduled') {
      if (holds()) {
        replace(regBox, h('p.ok', '✓ You are registered. Your spot is held.'), spotsLine(session));
      } else if (full()) {
        replace(regBox, spotsLine(session), h('p.error#full-note', explain({ code: 'session_full' })),
          h('button.secondary#register', { disabled: true, 'aria-describedby': 'full-note' }, 'Register: session full'));
      } else {
        replace(regBox, spotsLine(session), h('button.secondary#register', {
          onclick: (e) => busy(e.currentTarget, async () => {
            try {
              await api.register(user.token, id);
              markRegistered(regKey);
            } finally {
              session = (await api.getSession(id)).session;
              draw();
            }
          }),
        }, 'Register (one click)'));
      }
    }
    replace(joinBox, joinButton());
  };
  draw();
  replace(box, h('h1', session.title), sessionFacts(session),
    h('p.muted', `You join as ${user.name} on ${device === 'mobile' ? 'a phone' : 'the web'}.`),
    session.groupId ? h('p.muted', 'This PrimeTime session belongs to a group: its members may join.') : null, regBox, joinBox);
}

// ---- groups (seed 002): a group chat where PrimeTime sessions live

function needUser(note) {
  const u = identity.user();
  if (!u) app.append(signInForm(render, note));
  return u;
}

async function groupsScreen() {
  const u = needUser('Sign in with a display name to see your groups.');
  if (!u) return;
  const list = h('div', h('p.muted', 'Loading your groups…'));
  const name = h('input', { name: 'groupName', required: true, maxLength: 120, placeholder: 'e.g. Design team' });
  const submit = h('button.primary', { type: 'submit' }, 'Create group');
  app.append(
    h('form.card#create-group', {
      onsubmit: (e) => {
        e.preventDefault();
        busy(submit, async () => {
          const r = await api.createGroup(u.token, name.value.trim());
          go(`/g/${encodeURIComponent(r.group.id)}`);
        });
      },
    }, h('h1', 'Groups'), h('p.muted', 'Create a group, send its invite link to people, chat, and start a PrimeTime session that every member can join.'),
    field('Group name', name), submit),
    h('section.card', { 'aria-labelledby': 'my-groups-title' }, h('h2#my-groups-title', 'Your groups'), list));
  try {
    const r = await api.myGroups(u.token);
    replace(list, r.groups.length
      ? h('ul.groups', r.groups.map((g) => h('li', { dataset: { group: g.id } }, link(`/g/${encodeURIComponent(g.id)}`, g.name),
        h('span.muted', ` · ${g.members} member${g.members === 1 ? '' : 's'}`))))
      : h('p.muted', 'You are in no group yet. Create one, or open an invite link a member sent you.'));
  } catch (err) {
    replace(list, h('p.error', explain(err)));
  }
}

const SESSION_STATUS = { scheduled: 'Not started yet', open: 'Starting soon', live: 'Live now', ended: 'Ended', expired: 'Expired' };

async function groupScreen(gid) {
  const u = needUser('Sign in with a display name to open this group.');
  if (!u) return;
  const box = h('section.card.group', h('p.muted', 'Loading the group…'));
  app.append(box);
  const invite = new URLSearchParams(location.search).get('invite');
  if (invite) {
    try {
      await api.joinGroup(u.token, gid, invite);
      history.replaceState(null, '', `/g/${encodeURIComponent(gid)}`);
      toast('You joined the group');
    } catch (err) {
      const text = err.code === 'invalid' ? 'This invite link is not valid or has expired. Ask a member of the group for a new one.' : explain(err);
      replace(box, h('h1', 'Cannot join this group'), h('p.error#group-error', text), link('/groups', 'Your groups'));
      return;
    }
  }
  let g;
  try {
    g = await api.getGroup(u.token, gid);
  } catch (err) {
    const text = err.code === 'forbidden'
      ? 'You are not a member of this group. Ask a member for its invite link, then open it.'
      : explain(err);
    replace(box, h('h1', 'Cannot open this group'), h('p.error#group-error', text), link('/groups', 'Your groups'));
    return;
  }
  const inviteBox = h('div.invite');
  const inviteBtn = h('button.secondary#group-invite', {
    type: 'button',
    onclick: (e) => busy(e.currentTarget, async () => {
      const r = await api.groupInvite(u.token, gid);
      const url = `${location.origin}/g/${encodeURIComponent(gid)}?invite=${encodeURIComponent(r.invite)}`;
      replace(inviteBox, field('Invite link (works for 7 days)', h('input#group-invite-link', { readOnly: true, value: url })),
        h('button.secondary', { type: 'button', onclick: () => copy(url, 'Invite link') }, 'Copy invite link'));
      copy(url, 'Invite link');
    }),
  }, 'Invite people');
  const title = h('input', { name: 'ptTitle', maxLength: 120, value: `${g.group.name} PrimeTime`, required: true });
  const startBtn = h('button.primary#start-primetime', {
    type: 'button',
    onclick: (e) => busy(e.currentTarget, async () => {
      const r = await api.createSession(u.token, 'primetime', title.value.trim() || `${g.group.name} PrimeTime`, gid);
      sessionStorage.setItem('greenroom.created', r.session.id);
      go(`/s/${encodeURIComponent(r.session.id)}`);
    }),
  }, 'Start PrimeTime');
  const members = h('ul.group-members');
  const membersHead = h('h2#members-title', `Members (${g.members.length})`);
  const leaveBox = h('div.leave-group');
  const isOwner = () => g.group.ownerId === u.id;
  // Leave: a member at any time; the owner only as the last member,
  // which closes the group (the server says so too).
  const showLeave = () => {
    const alone = g.members.length <= 1;
    replace(leaveBox, isOwner() && !alone
      ? h('p.muted#leave-hint', 'You own this group: you can leave it once every other member has left or been removed.')
      : h('button.secondary#leave-group', {
        type: 'button',
        onclick: (e) => busy(e.currentTarget, async () => {
          await api.leaveGroup(u.token, gid);
          toast(isOwner() ? `You left and closed ${g.group.name}` : `You left ${g.group.name}`);
          go('/groups');
        }),
      }, isOwner() ? 'Leave and close the group' : 'Leave group'));
  };
  const showMembers = () => {
    replace(members, g.members.map((m) => h('li', { dataset: { userId: m.userId } }, m.name,
      m.role === 'owner' ? h('span.tag', ' owner') : null, m.userId === u.id ? h('span.muted', ' (you)') : null,
      isOwner() && m.userId !== u.id ? ' ' : null,
      isOwner() && m.userId !== u.id ? h('button.secondary.remove-member', {
        type: 'button', 'aria-label': `Remove ${m.name} from the group`,
        onclick: (e) => busy(e.currentTarget, async () => {
          await api.removeGroupMember(u.token, gid, m.userId);
          toast(`${m.name} is no longer a member`);
          await refreshMembers();
        }),
      }, 'Remove') : null)));
    membersHead.textContent = `Members (${g.members.length})`;
    showLeave();
  };
  // refreshMembers reads the group again; a caller who is no longer a
  // member is told so.
  async function refreshMembers() {
    try {
      g = await api.getGroup(u.token, gid);
      showMembers();
    } catch (err) {
      if (err.code === 'forbidden' || err.code === 'not_found') gone();
      else console.warn('greenroom: group members', err);
    }
  }
  showMembers();
  const chat = h('ol.group-chat#group-chat', { 'aria-live': 'polite', 'aria-label': 'Group chat' });
  const text = h('input', { name: 'groupMessage', maxLength: 1000, required: true, autocomplete: 'off' });
  const send = h('button.primary', { type: 'submit' }, 'Send');
  const form = h('form.row.chat-form#group-chat-form', {
    onsubmit: (e) => {
      e.preventDefault();
      const t = text.value.trim();
      if (!t) return;
      busy(send, async () => {
        merge(await api.sendGroupMessage(u.token, gid, t));
        text.value = '';
      });
    },
  }, field('Message', text), send);
  replace(box, h('h1', g.group.name),
    h('p.muted', 'Everyone here can start a PrimeTime session; it shows in the chat with a Join button for every member.'),
    h('div.row', inviteBtn), inviteBox,
    h('div.start-pt', field('Session title', title), startBtn));
  app.append(
    h('section.card', { 'aria-labelledby': 'chat-title' }, h('h2#chat-title', 'Chat'), chat, form),
    h('section.card', { 'aria-labelledby': 'members-title' }, membersHead, members, leaveBox));

  let last = '';
  let lastCount = 0;
  function card(m) {
    const s = m.session;
    const status = s ? s.status : 'ended';
    const open = s && !['ended', 'expired'].includes(status);
    return h('li.session-card', { dataset: { session: m.sessionId, status } },
      h('div', h('span.badge', 'PrimeTime'), ' ', h(`span.badge.status-${status}`, SESSION_STATUS[status] || status)),
      h('strong.card-title', s?.title || 'PrimeTime session'),
      h('span.muted', ` started by ${m.name} · ${new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`),
      open ? h('a.button.primary.join-card', { href: `/s/${encodeURIComponent(m.sessionId)}`, 'data-link': '', 'aria-label': `${status === 'live' ? 'Join live session' : 'Join'}: ${s.title}` }, status === 'live' ? 'Join live session' : 'Join')
        : h('p.muted', 'This session has ended.'));
  }
  // The chat is live: the page holds the group's socket (docs/protocol.md,
  // "The group's live chat socket") and merges each group.message as it
  // comes. It reads the chat once on load and whenever the socket opens;
  // while the socket is down it polls every 2 s and reconnects with
  // backoff. chat.dataset.live says which ("socket" or "polling").
  let msgs = [];
  let ws = null;
  let left = false;
  let attempt = 0;
  let pollTimer = null;
  let reconnectTimer = null;
  let keepalive = null;
  function render() {
    const key = JSON.stringify(msgs);
    if (key === last) return;
    last = key;
    replace(chat, msgs.length ? msgs.map((m) => (m.kind === 'session' ? card(m)
      : h('li.chat-line.group-msg', { dataset: { id: m.id } }, h('strong', m.name), ' ', m.text)))
      : h('li.muted', 'No messages yet. Say hello.'));
    if (msgs.length !== lastCount) { chat.scrollTop = chat.scrollHeight; lastCount = msgs.length; }
    // New members show on the next look at the group.
    if (msgs.some((m) => !g.members.find((x) => x.userId === m.userId))) refreshMembers();
  }
  // merge shows one entry: a new one at the end (the newest 50 kept), or
  // in place of the entry with its id (a card: of its session).
  function merge(m) {
    if (!m || !m.id) return;
    const i = msgs.findIndex((x) => x.id === m.id || (m.kind === 'session' && x.kind === 'session' && x.sessionId === m.sessionId));
    if (i >= 0) msgs[i] = { ...msgs[i], ...m, id: msgs[i].id, name: m.name || msgs[i].name, at: msgs[i].at };
    else msgs = [...msgs, m].slice(-50);
    render();
  }
  async function load() {
    let r;
    try { r = await api.groupMessages(u.token, gid); } catch (err) {
      if (err.code === 'forbidden' || err.code === 'not_found') gone();
      else console.warn('greenroom: group chat', err);
      return;
    }
    if (left) return;
    // What arrived on the socket while the read was under way stays.
    const seen = new Set(r.messages.map((m) => m.id));
    const later = msgs.filter((m) => !seen.has(m.id) && r.messages.length && m.at > r.messages[r.messages.length - 1].at);
    msgs = [...r.messages, ...later].slice(-50);
    render();
  }
  function polling(on) {
    chat.dataset.live = on ? 'polling' : 'socket';
    if (on && !pollTimer) pollTimer = setInterval(load, 2000);
    if (!on && pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }
  function retry() {
    polling(true);
    clearTimeout(reconnectTimer);
    const delay = Math.min(15000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
    attempt++;
    reconnectTimer = setTimeout(openSocket, delay);
  }
  async function openSocket() {
    if (left) return;
    let r;
    try { r = await api.groupSocket(u.token, gid); } catch (err) {
      console.warn('greenroom: group socket', err);
      if (err.status === 403) { polling(true); return; }
      retry();
      return;
    }
    if (left) return;
    let sock;
    try { sock = new WebSocket(`${r.wsUrl}${r.wsUrl.includes('?') ? '&' : '?'}token=${encodeURIComponent(r.joinToken)}`); } catch { retry(); return; }
    ws = sock;
    sock.onopen = async () => {
      attempt = 0;
      clearInterval(keepalive);
      keepalive = setInterval(() => { try { sock.send('{"type":"state.get"}'); } catch { /* closing */ } }, 4 * 60 * 1000);
      await load(); // what was said while the socket was closed
      if (ws === sock) polling(false);
    };
    sock.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f.type === 'event' && f.event === 'group.message') merge(f.message);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      clearInterval(keepalive);
      if (!left) retry();
    };
  }
  chat.dataset.live = 'polling';
  await load();
  openSocket();
  const membersTimer = setInterval(refreshMembers, 10000);
  leaveScreen = () => {
    left = true;
    clearInterval(pollTimer); clearInterval(membersTimer); clearInterval(keepalive); clearTimeout(reconnectTimer);
    const sock = ws;
    ws = null;
    sock?.close();
  };
  // gone: the caller was removed from the group (or it closed): say so
  // and stop looking.
  function gone() {
    if (left) return;
    leaveScreen();
    if (!app.contains(box)) return;
    app.replaceChildren(box);
    replace(box, h('h1', g.group.name),
      h('p.error#group-error', 'You are no longer a member of this group: its owner removed you, or you left. To come back, ask a member for a new invite link.'),
      link('/groups', 'Your groups'));
  }
}

// The sessions this browser registered for, as "userId:sessionId".
const REG_KEY = 'greenroom.registered';
function registeredSet() {
  try { return new Set(JSON.parse(localStorage.getItem(REG_KEY) || '[]')); } catch { return new Set(); }
}
function markRegistered(key) {
  localStorage.setItem(REG_KEY, JSON.stringify([...registeredSet(), key]));
}

function spotsLine(s) {
  return h('p.spots', s.spotsLeft > 0 ? `${s.spotsLeft} of ${s.capacity} spots left` : 'Full: no spots left');
}

function sessionFacts(s) {
  const kind = { instant: 'Instant session', scheduled: 'Scheduled session', primetime: 'PrimeTime session' }[s.kind] || s.kind;
  const status = { scheduled: 'Not started yet', open: 'Waiting room open', live: 'Live now', ended: 'Ended', expired: 'Expired' }[s.status] || s.status;
  return h('p.facts', h('span.badge', kind), ' ', h(`span.badge.status-${s.status}`, status),
    s.start ? [' ', h('span', fmtTime(s.start))] : null);
}

// ---- organizer

function organizerScreen() {
  const org = identity.organizer();
  if (!org) {
    const key = h('input', { name: 'adminKey', type: 'password', required: true, autocomplete: 'off' });
    const name = h('input', { name: 'orgName', required: true, maxLength: 64 });
    const submit = h('button.primary', { type: 'submit' }, 'Become organizer');
    app.append(h('form.card', {
      onsubmit: (e) => {
        e.preventDefault();
        busy(submit, async () => {
          const r = await api.createOrganizer(name.value.trim(), key.value.trim());
          identity.setOrganizer({ id: r.organizer.id, name: r.organizer.name, token: r.token, events: [], employers: {} });
          render();
        });
      },
    }, h('h1', 'Organizer'), h('p.muted', 'The admin key of this Greenroom mints organizer accounts.'),
    field('Admin key', key), field('Organizer name', name), submit));
    return;
  }
  app.append(h('section.card', h('h1', `Organizer: ${org.name}`),
    h('button.link', { onclick: () => { identity.setOrganizer(null); render(); } }, 'Sign out as organizer'),
    org.events?.length ? h('div', h('h2', 'Your events'), h('ul', org.events.map((e) => h('li', link(`/events/${encodeURIComponent(e.id)}`, e.name))))) : null));
  app.append(eventForm(org));
}

function localInput(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function eventForm(org) {
  const start0 = new Date(Math.ceil(Date.now() / 3600_000) * 3600_000);
  const windows = h('div.windows');
  const addWindow = (s, e) => {
    const row = h('div.row.window',
      field('From', h('input', { type: 'datetime-local', name: 'windowStart', required: true, value: localInput(s) })),
      field('To', h('input', { type: 'datetime-local', name: 'windowEnd', required: true, value: localInput(e) })),
      h('button.icon', { type: 'button', title: 'Remove window', 'aria-label': 'Remove window', onclick: () => { if (windows.children.length > 1) row.remove(); } }, '✕'));
    windows.append(row);
  };
  addWindow(start0, new Date(start0.getTime() + 2 * 3600_000));
  const num = (name, value, min, max, required = false) => h('input', { type: 'number', name, value: value ?? '', min, max, required, inputMode: 'numeric' });
  const name = h('input', { name: 'eventName', required: true, maxLength: 120, placeholder: 'Spring career fair' });
  const slot = num('slotMinutes', 30, 5, 480, true);
  const cap = num('capacity', 50, 1, 50);
  const perEmp = num('maxSessionsPerEmployer', '', 1, 10000);
  const maxS = num('maxSessions', '', 1, 10000);
  const perSlot = num('sessionsPerSlot', '', 1, 10000);
  const spk = num('maxSpeakers', 4, 1, 4);
  const part = num('maxParticipants', 6, 0, 6);
  const submit = h('button.primary', { type: 'submit' }, 'Create event');
  const intOr = (el) => (el.value === '' ? undefined : Number(el.value));
  return h('form.card', {
    onsubmit: (e) => {
      e.preventDefault();
      busy(submit, async () => {
        const ws = [...windows.querySelectorAll('.window')].map((row) => ({
          start: new Date(row.querySelector('[name=windowStart]').value).toISOString(),
          end: new Date(row.querySelector('[name=windowEnd]').value).toISOString(),
        }));
        const body = {
          name: name.value.trim(), windows: ws, slotMinutes: intOr(slot), capacity: intOr(cap),
          maxSessionsPerEmployer: intOr(perEmp), maxSessions: intOr(maxS), sessionsPerSlot: intOr(perSlot),
          stage: { maxSpeakers: intOr(spk), maxParticipants: intOr(part) },
        };
        const ev = await api.createEvent(org.token, body);
        const o = identity.organizer();
        o.events = [...(o.events || []), { id: ev.id, name: ev.name }];
        identity.setOrganizer(o);
        toast('Event created');
        go(`/events/${encodeURIComponent(ev.id)}`);
      });
    },
  }, h('h2', 'Create an event'), field('Event name', name),
  h('h3', 'Time windows'), windows,
  h('button.secondary', { type: 'button', onclick: () => {
    const last = windows.lastElementChild?.querySelector('[name=windowEnd]')?.value;
    const s = last ? new Date(last) : start0;
    addWindow(s, new Date(s.getTime() + 2 * 3600_000));
  } }, '+ Add window'),
  h('h3', 'Limits'),
  h('div.grid2', field('Slot length (minutes)', slot), field('Spots per session (1–50)', cap),
    field('Sessions per employer', perEmp, 'Empty: no limit beyond the event'), field('Sessions in all', maxS, 'Empty: no limit'),
    field('Sessions in the same slot', perSlot, 'Empty: no limit'), field('Speakers on stage (1–4)', spk),
    field('Participants on stage (0–6)', part)),
  submit);
}

// ---- an event: slots, sessions with spots left, registration, employers

async function eventScreen(eventId) {
  const box = h('div', h('p.muted', 'Loading event…'));
  app.append(box);
  let timer = null;
  leaveScreen = () => clearInterval(timer);
  const registered = registeredSet;
  async function load() {
    let ev, slots, sessions;
    try {
      [ev, slots, sessions] = await Promise.all([api.getEvent(eventId), api.slots(eventId), api.eventSessions(eventId)]);
    } catch (err) {
      replace(box, h('section.card', h('h1', 'Cannot open this event'), h('p.error', explain(err))));
      return;
    }
    const org = identity.organizer();
    const mine = org && org.id === ev.organizerId;
    const user = identity.user();
    const regs = registered();
    const rows = sessions.sessions.map((s) => {
      const isReg = user && regs.has(`${user.id}:${s.id}`);
      const full = s.spotsLeft <= 0;
      let action;
      const open = link(`/s/${encodeURIComponent(s.id)}`, 'Open');
      if (['ended', 'expired'].includes(s.status)) action = h('span.muted', s.status === 'ended' ? 'Ended' : 'Expired');
      else if (s.status === 'live' && (!full || isReg)) action = h('a.button.primary.join-live', { href: `/s/${encodeURIComponent(s.id)}`, 'data-link': '' }, 'Join');
      else if (isReg) action = h('span.ok', '✓ Registered');
      else if (full) action = h('button.secondary.register-full', { disabled: true, title: 'Every spot is taken' }, 'Full: cannot register');
      else if (!user) action = h('span.muted', 'Sign in to register');
      else {
        action = h('button.primary.register', {
          dataset: { session: s.id },
          onclick: (e) => busy(e.currentTarget, async () => {
            try {
              await api.register(user.token, s.id);
              markRegistered(`${user.id}:${s.id}`);
              toast(`Registered for ${s.title}`);
            } finally {
              await load();
            }
          }),
        }, 'Register');
      }
      return h('tr', { dataset: { session: s.id, status: s.status } },
        h('td', h('strong', s.title), s.status === 'live' ? [' ', h('span.badge.status-live.live-badge', 'Live now')] : null), h('td', fmtTime(s.start)),
        h('td.spots', full ? 'Full' : `${s.spotsLeft} of ${s.capacity} left`),
        h('td', action), h('td', open));
    });
    replace(box,
      h('section.card', h('h1', ev.name),
        h('p.muted', ev.windows.map((w) => `${fmtTime(w.start)} – ${new Date(w.end).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`).join(' · ')),
        h('p.muted', `${ev.slotMinutes}-minute slots · ${ev.capacity} spots per session · up to ${ev.stage.maxSpeakers} speakers and ${ev.stage.maxParticipants} participants on stage`)),
      user ? null : signInForm(load, 'Sign in to register for sessions with one click.'),
      h('section.card', h('h2', 'Sessions'), rows.length
        ? h('div.scroll', h('table.sessions', h('thead', h('tr', h('th', 'Session'), h('th', 'Starts'), h('th', 'Spots'), h('th', ''), h('th', ''))), h('tbody', rows)))
        : h('p.muted', 'No sessions booked yet.')),
      h('section.card', h('h2', 'Slots'), h('div.scroll', h('table.slots', h('tbody', slots.slots.slice(0, 200).map((s) => h('tr',
        h('td', fmtTime(s.start)), h('td', slotLeft(ev, s)))))))),
      mine ? employersCard(org, ev) : null);
  }
  await load();
  timer = setInterval(() => { if (!document.querySelector('input:focus')) load(); }, 10000);
}

// UNSET is the value the server gives a session limit the organizer left
// empty (shared/domain MaxSessionsLimit): such a limit is not shown.
const UNSET = 10000;

// slotLeft says how many sessions a slot still takes, only when the
// organizer set a limit that bounds it; a full slot always says so.
function slotLeft(ev, s) {
  // No limit applies to this slot: the server leaves sessionsLeft out and
  // nothing is shown.
  if (s.sessionsLeft == null) return '';
  if (s.sessionsLeft <= 0) return h('span.full', 'Fully booked');
  const bounded = (ev.maxSessions > 0 && ev.maxSessions < UNSET) || (ev.sessionsPerSlot > 0 && ev.sessionsPerSlot < UNSET);
  if (!bounded) return h('span.muted', 'Open');
  return `${s.sessionsLeft} session${s.sessionsLeft === 1 ? '' : 's'} left`;
}

function employersCard(org, ev) {
  const list = h('div.employers');
  const show = () => replace(list, (identity.organizer().employers?.[ev.id] || []).map((e) => {
    const url = `${location.origin}/employer/${encodeURIComponent(ev.id)}#token=${encodeURIComponent(e.token)}`;
    return h('div.employer', { dataset: { employer: e.id } }, h('strong', e.name),
      field('Booking link', h('input.employer-link', { readOnly: true, value: url })),
      field('Token', h('input.employer-token', { readOnly: true, value: e.token })),
      h('div.row', h('button.secondary', { type: 'button', onclick: () => copy(url, 'Link') }, 'Copy link'),
        h('button.secondary', { type: 'button', onclick: () => copy(e.token, 'Token') }, 'Copy token')));
  }));
  const name = h('input', { name: 'employerName', required: true, maxLength: 64 });
  const submit = h('button.primary', { type: 'submit' }, 'Add employer');
  show();
  return h('section.card', h('h2', 'Employers'),
    h('form.row', {
      onsubmit: (e) => {
        e.preventDefault();
        busy(submit, async () => {
          const r = await api.addEmployer(org.token, ev.id, name.value.trim());
          const o = identity.organizer();
          o.employers = o.employers || {};
          o.employers[ev.id] = [...(o.employers[ev.id] || []), { id: r.employer.id, name: r.employer.name, token: r.token }];
          identity.setOrganizer(o);
          name.value = '';
          show();
        });
      },
    }, field('Employer name', name), submit), list);
}

// ---- employer: book a slot

function tokenClaims(token) {
  try {
    const p = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(p + '='.repeat((4 - (p.length % 4)) % 4)));
  } catch { return {}; }
}

async function employerScreen(eventId) {
  const m = /token=([^&]+)/.exec(location.hash);
  if (m) {
    const token = decodeURIComponent(m[1]);
    const c = tokenClaims(token);
    identity.setEmployer(eventId, { token, id: c.sub, name: c.name || 'Employer' });
    history.replaceState(null, '', location.pathname);
  }
  const emp = identity.employer(eventId);
  if (!emp) {
    app.append(h('section.card', h('h1', 'Employer'), h('p.error', 'Open the booking link your organizer sent you: it carries your access.')));
    return;
  }
  const box = h('div', h('p.muted', 'Loading…'));
  app.append(box);
  const title = h('input', { name: 'sessionTitle', maxLength: 120, required: true, value: `Meet ${emp.name}` });
  let spkDraft = '';
  async function load() {
    let ev, slots, sessions;
    try {
      [ev, slots, sessions] = await Promise.all([api.getEvent(eventId), api.slots(eventId), api.eventSessions(eventId)]);
    } catch (err) {
      replace(box, h('section.card', h('p.error', explain(err))));
      return;
    }
    const mine = sessions.sessions.filter((s) => s.employerId === emp.id);
    // Co-speakers named when booking: the stage seats maxSpeakers, the
    // employer included.
    const seats = ev.stage?.maxSpeakers || 4;
    const spkErr = h('p.error#book-speakers-error', { hidden: true, role: 'alert' });
    const spkIn = h('input#book-speakers', {
      name: 'bookSpeakers', maxLength: 300, placeholder: 'User ids, separated by commas', value: spkDraft,
      'aria-describedby': 'book-speakers-error', oninput: (e) => { spkDraft = e.currentTarget.value; spkErr.hidden = true; },
    });
    // named reads the co-speakers typed, or null after saying in words
    // why they cannot be named.
    const named = () => {
      const ids = [...new Set(spkIn.value.split(/[\s,]+/).filter(Boolean))].filter((id) => id !== emp.id);
      let why = '';
      if (ids.length > seats - 1) {
        why = seats === 1 ? 'This stage seats only you: no co-speaker can be named.'
          : `Too many co-speakers: the stage seats ${seats} speakers, you included, so name at most ${seats - 1}.`;
      } else if (ids.some((id) => id.length > 64)) why = 'A user id is at most 64 characters; copy it from the dashboard of the person you name.';
      spkErr.textContent = why;
      spkErr.hidden = !why;
      return why ? null : ids;
    };
    replace(box,
      h('section.card', h('h1', `${emp.name} at ${ev.name}`), h('p.muted', `Sessions are ${ev.slotMinutes} minutes, up to ${ev.capacity} participants each.`)),
      h('section.card', h('h2', 'Your sessions'), mine.length ? h('ul.mine', mine.map((s) => h('li', { dataset: { session: s.id } },
        h('strong', s.title), ` · ${fmtTime(s.start)} · ${s.registered} registered, ${s.spotsLeft} spots left `,
        link(`/s/${encodeURIComponent(s.id)}`, 'Open session'),
        ['ended', 'expired'].includes(s.status) ? null : coSpeakers(emp, ev, s, load)))) : h('p.muted', 'None booked yet.')),
      h('section.card', h('h2', 'Book a slot'), field('Session title', title),
        field(`Co-speakers (optional, up to ${Math.max(seats - 1, 0)} user ids)`, spkIn,
          `The stage seats ${seats} speaker${seats === 1 ? '' : 's'}, you included. Each co-speaker finds their user id on their dashboard.`), spkErr,
        h('div.scroll', h('table.slots', h('tbody', slots.slots.slice(0, 200).map((s) => h('tr',
          h('td', fmtTime(s.start)), h('td', slotLeft(ev, s, emp)),
          h('td', h('button.primary.book', {
            disabled: s.sessionsLeft != null && s.sessionsLeft <= 0, dataset: { start: s.start },
            onclick: (e) => busy(e.currentTarget, async () => {
              const speakers = named();
              if (!speakers) { spkIn.focus(); return; }
              const r = await api.book(emp.token, eventId, s.start, title.value.trim(), speakers.length ? speakers : undefined);
              spkDraft = '';
              toast(speakers.length ? `Booked ${r.title} with ${speakers.length} co-speaker${speakers.length === 1 ? '' : 's'}` : `Booked ${r.title}`);
              await load();
            }),
          }, 'Book')))))))));
  }
  await load();
}

// coSpeakers lists a booked session's speakers against the stage's seats
// and adds one, by an invite link to send or by a user id.
function coSpeakers(emp, ev, s, reload) {
  const max = s.stage?.maxSpeakers || ev.stage?.maxSpeakers || 4;
  const speakers = s.speakers || [];
  const others = speakers.filter((id) => id !== emp.id);
  const full = speakers.length >= max;
  const sid = `spk-${s.id}`;
  const out = h('div.invite');
  const userIdIn = h('input.speaker-user-id', { name: 'speakerUserId', maxLength: 64, placeholder: 'User id' });
  const panel = h('div.add-speaker', { hidden: true, id: `${sid}-add` },
    h('p.muted', 'Send an invite link: whoever opens it, signed in, becomes a co-speaker. Or name someone by the user id on their dashboard.'),
    h('button.secondary.speaker-invite', {
      type: 'button',
      onclick: (e) => busy(e.currentTarget, async () => {
        const r = await api.speakerInvite(emp.token, s.id);
        const url = `${location.origin}/s/${encodeURIComponent(s.id)}?speakerInvite=${encodeURIComponent(r.invite)}`;
        replace(out, field('Co-speaker invite link (works for 7 days)', h('input.speaker-invite-link', { readOnly: true, value: url })),
          h('button.secondary', { type: 'button', onclick: () => copy(url, 'Invite link') }, 'Copy invite link'));
        copy(url, 'Invite link');
      }),
    }, 'Create invite link'), out,
    h('form.row', {
      onsubmit: (e) => {
        e.preventDefault();
        const btn = e.currentTarget.querySelector('button');
        busy(btn, async () => {
          await api.addSpeaker(emp.token, s.id, userIdIn.value.trim());
          toast('Co-speaker added');
          await reload();
        });
      },
    }, field('Or add by user id', userIdIn), h('button.secondary', { type: 'submit' }, 'Add')));
  return h('div.co-speakers', { dataset: { speakers: String(speakers.length), max: String(max) } },
    h('p.speaker-count', `Speakers: ${speakers.length} of ${max} seats named (you and ${others.length} co-speaker${others.length === 1 ? '' : 's'})`),
    others.length ? h('ul.speaker-list', others.map((id) => h('li', { dataset: { userId: id } }, 'Co-speaker ', h('code', id), ' ',
      h('button.secondary.remove-co-speaker', {
        type: 'button', 'aria-label': `Remove co-speaker ${id}`,
        onclick: (e) => busy(e.currentTarget, async () => {
          await api.removeSpeaker(emp.token, s.id, id);
          toast('Co-speaker removed: their seat is free');
          await reload();
        }),
      }, 'Remove')))) : null,
    full ? h('p.muted', 'Every speaker seat is named.')
      : h('button.secondary.add-co-speaker', {
        type: 'button', 'aria-expanded': 'false', 'aria-controls': `${sid}-add`,
        onclick: (e) => { panel.hidden = !panel.hidden; e.currentTarget.setAttribute('aria-expanded', String(!panel.hidden)); },
      }, 'Add co-speaker'),
    full ? null : panel);
}

// Errors nobody caught are still shown.
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason instanceof ApiError || e.reason?.code) showError(e.reason);
});

render();
