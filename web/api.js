// The HTTP API (docs/openapi.yaml) and the words people read when it says no.

const base = document.querySelector('meta[name="greenroom-api"]')?.content?.replace(/\/$/, '') || '';

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.fields = fields || null;
  }
}

// request calls the API and returns the decoded body, or throws an ApiError.
export async function request(method, path, { body, token, adminKey } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (adminKey) headers['X-Admin-Key'] = adminKey;
  let res;
  try {
    res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, 'network', 'network error: ' + err.message);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = data?.error || {};
    throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || text || res.statusText, e.fields);
  }
  return data;
}

// Stored identities: the user (display name), organizers and employers.
const KEY_USER = 'greenroom.user';
const KEY_ORG = 'greenroom.organizer';
const keyEmployer = (eventId) => `greenroom.employer.${eventId}`;

function load(key) {
  try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch { return null; }
}
function save(key, v) {
  if (v == null) localStorage.removeItem(key); else localStorage.setItem(key, JSON.stringify(v));
}

export const identity = {
  user: () => load(KEY_USER),
  setUser: (u) => save(KEY_USER, u),
  organizer: () => load(KEY_ORG),
  setOrganizer: (o) => save(KEY_ORG, o),
  employer: (eventId) => load(keyEmployer(eventId)),
  setEmployer: (eventId, e) => save(keyEmployer(eventId), e),
};

// deviceKind reports the device honestly: what the browser says.
export function deviceKind() {
  const uad = navigator.userAgentData;
  if (uad && typeof uad.mobile === 'boolean' && uad.mobile) return 'mobile';
  if (/Android|iPhone|iPad|iPod|Mobile|Windows Phone|IEMobile|Opera Mini/i.test(navigator.userAgent)) return 'mobile';
  return 'web';
}

export const api = {
  createUser: (name, device) => request('POST', '/v1/users', { body: { name, device } }),
  createOrganizer: (name, adminKey) => request('POST', '/v1/organizers', { body: { name }, adminKey }),
  createEvent: (token, ev) => request('POST', '/v1/events', { body: ev, token }),
  getEvent: (id) => request('GET', `/v1/events/${encodeURIComponent(id)}`),
  addEmployer: (token, eventId, name) => request('POST', `/v1/events/${encodeURIComponent(eventId)}/employers`, { body: { name }, token }),
  slots: (eventId) => request('GET', `/v1/events/${encodeURIComponent(eventId)}/slots`),
  book: (token, eventId, start, title, speakers) => request('POST', `/v1/events/${encodeURIComponent(eventId)}/sessions`, { body: { start, title, speakers }, token }),
  eventSessions: (eventId) => request('GET', `/v1/events/${encodeURIComponent(eventId)}/sessions`),
  // groupId (optional): start a primetime session inside a group.
  createSession: (token, kind, title, groupId) => request('POST', '/v1/sessions', { body: { kind, title, groupId }, token }),
  getSession: (id) => request('GET', `/v1/sessions/${encodeURIComponent(id)}`),
  register: (token, id) => request('POST', `/v1/sessions/${encodeURIComponent(id)}/registrations`, { token }),
  unregister: (token, id) => request('DELETE', `/v1/sessions/${encodeURIComponent(id)}/registrations/me`, { token }),
  join: (token, id, device) => request('POST', `/v1/sessions/${encodeURIComponent(id)}/join`, { body: { device }, token }),
  // Co-speakers of a scheduled session (the booking employer's token).
  addSpeaker: (token, id, userId) => request('POST', `/v1/sessions/${encodeURIComponent(id)}/speakers`, { body: { userId }, token }),
  removeSpeaker: (token, id, userId) => request('DELETE', `/v1/sessions/${encodeURIComponent(id)}/speakers/${encodeURIComponent(userId)}`, { token }),
  speakerInvite: (token, id) => request('POST', `/v1/sessions/${encodeURIComponent(id)}/speaker-invites`, { token }),
  redeemSpeakerInvite: (token, id, invite) => request('POST', `/v1/sessions/${encodeURIComponent(id)}/speakers/me`, { body: { invite }, token }),
  // The Active Session page: { sessions: [{ session, role, state, canRejoin, rejoinBy, lastJoinedAt }] }.
  activeSessions: (token) => request('GET', '/v1/me/sessions', { token }),
  // Groups (seed 002).
  createGroup: (token, name) => request('POST', '/v1/groups', { body: { name }, token }),
  myGroups: (token) => request('GET', '/v1/groups', { token }),
  getGroup: (token, id) => request('GET', `/v1/groups/${encodeURIComponent(id)}`, { token }),
  groupInvite: (token, id) => request('POST', `/v1/groups/${encodeURIComponent(id)}/invites`, { token }),
  joinGroup: (token, id, invite) => request('POST', `/v1/groups/${encodeURIComponent(id)}/members/me`, { body: { invite }, token }),
  leaveGroup: (token, id) => request('DELETE', `/v1/groups/${encodeURIComponent(id)}/members/me`, { token }),
  removeGroupMember: (token, id, userId) => request('DELETE', `/v1/groups/${encodeURIComponent(id)}/members/${encodeURIComponent(userId)}`, { token }),
  groupMessages: (token, id) => request('GET', `/v1/groups/${encodeURIComponent(id)}/messages`, { token }),
  sendGroupMessage: (token, id, text) => request('POST', `/v1/groups/${encodeURIComponent(id)}/messages`, { body: { text }, token }),
  groupSocket: (token, id) => request('POST', `/v1/groups/${encodeURIComponent(id)}/socket`, { token }),
};

// The contract's error codes, in words a person understands.
const WORDS = {
  invalid: 'Some of what was entered is not valid.',
  unauthenticated: 'Your sign-in has expired or is not valid. Please sign in again.',
  forbidden: 'You are not allowed to do that here.',
  not_found: 'That could not be found. Check the ID or link.',
  method_not_allowed: 'That action is not supported.',
  conflict: 'That cannot happen right now: the session is not in a state that allows it.',
  employer_limit: 'You have booked as many sessions as this event allows.',
  event_limit: 'This event has no more sessions left to book.',
  slot_full: 'This time slot is fully booked. Pick another slot.',
  session_full: 'This session is full: every spot is taken.',
  session_ended: 'This session has ended.',
  session_expired: 'This session expired before it started.',
  speakers_full: 'Every speaker seat of this session is named already.',
  group_full: 'This group has as many members as it may.',
  not_registered: 'You need to register for this session before it starts. Once it is live, anyone may join while spots are left.',
  too_large: 'That is too long to send.',
  rate_limited: 'You are going too fast. Wait a few seconds and try again.',
  stage_full: 'Every seat on the stage is taken. Someone has to leave the stage first.',
  internal: 'Something went wrong on our side. Please try again.',
  network: 'Cannot reach the server. Check your connection and try again.',
  timeout: 'The server did not answer in time. Check your connection and try again.',
  devices: 'Your camera or microphone is not available. Check that no other app uses them and that this site may use them.',
  partial: 'Part of the session is still loading. Try again in a few seconds.',
};

const FIELD_NAMES = {
  name: 'Name', title: 'Title', start: 'Start', slotMinutes: 'Slot length', capacity: 'Spots',
  maxSessionsPerEmployer: 'Sessions per employer', maxSessions: 'Sessions in all', sessionsPerSlot: 'Sessions per slot',
  text: 'Text', 'rooms': 'Rooms', minutes: 'Minutes',
  userId: 'User', invite: 'Invite link', groupId: 'Group', speakers: 'Speakers',
};

// fieldName names a field of a request in words ("speakers[1]" is the
// second co-speaker).
function fieldName(f) {
  const m = /^speakers\[(\d+)\]$/.exec(f);
  if (m) return `Co-speaker ${Number(m[1]) + 1}`;
  return FIELD_NAMES[f] || f;
}

// explain turns an error (ApiError, socket error or anything) into a sentence.
export function explain(err) {
  if (!err) return 'Something went wrong.';
  const code = err.code;
  let msg = WORDS[code];
  // An error without words of ours (a WebRTC or browser error, an
  // unknown code) becomes a sentence with what to do; the detail goes to
  // the console only.
  if (!msg && code === 'invalid_local') msg = err.message;
  if (!msg) {
    console.warn('greenroom: unexplained error:', err);
    msg = 'Something went wrong. Please try again; if it keeps happening, reload the page.';
  }
  if (code === 'conflict' && err.message && err.message !== 'conflict') {
    msg = `That cannot happen right now: ${err.message}.`;
  }
  if (code === 'forbidden' && err.message && !/token may not/.test(err.message)) {
    msg = `Not allowed: ${err.message}.`;
  }
  if (err.fields && typeof err.fields === 'object') {
    const parts = Object.entries(err.fields).map(([f, p]) => `${fieldName(f)} ${p}`);
    if (parts.length) msg += ' ' + parts.join('; ') + '.';
  }
  return msg;
}
