// Issue 14, seed 001: an employer adding a co-speaker who then starts the
// session. The employer books a slot, names one co-speaker by an invite
// link and another by user id (the list and the seats shown), the
// invitee redeems the link and, as a speaker of the session, starts it
// within 5 minutes of the slot; a participant decodes the co-speaker's
// video.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot, userId, until, decodes, tile, closeAll, axe, BASE, ADMIN_KEY, PHONE, skipMedia } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PHONE390 = { ...PHONE, viewport: { width: 390, height: 844 }, screen: { width: 390, height: 844 } };

async function call(method, path, body, headers = {}) {
  const res = await fetch(BASE + path, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const data = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

test('an employer adding a co-speaker who then starts the session', async (t) => {
  assert.ok(ADMIN_KEY, 'GREENROOM_ADMIN_KEY is required');
  const emp = await person(browser, 'Acme Recruiting');
  const cole = await person(browser, 'Cole Speaker');
  const dan = await person(browser, 'Dan Named');
  const pia = await person(browser, 'Pia Participant', PHONE390);
  t.after(() => closeAll(emp, cole, dan, pia));

  // An event whose first slot starts in about 3 minutes, and an employer.
  const org = await call('POST', '/v1/organizers', { name: 'Fair Inc' }, { 'X-Admin-Key': ADMIN_KEY });
  const start = new Date(Math.ceil((Date.now() + 3 * 60_000) / 60_000) * 60_000);
  const ev = await call('POST', '/v1/events', {
    name: 'Co-speaker Fair', windows: [{ start: start.toISOString(), end: new Date(start.getTime() + 60 * 60_000).toISOString() }],
    slotMinutes: 20, capacity: 5,
  }, { Authorization: `Bearer ${org.token}` });
  const e = await call('POST', `/v1/events/${ev.id}/employers`, { name: 'Acme' }, { Authorization: `Bearer ${org.token}` });

  // The employer books the first slot.
  await emp.page.goto(`${BASE}/employer/${ev.id}#token=${encodeURIComponent(e.token)}`);
  await emp.page.getByLabel('Session title').fill('Meet Acme');
  await emp.page.locator('button.book').first().click();
  const mine = emp.page.locator('ul.mine li');
  await mine.waitFor();
  const sessionId = await mine.getAttribute('data-session');
  assert.match(await mine.locator('.speaker-count').textContent(), /1 of 4 seats/);

  // "Add co-speaker": an invite link to send.
  await mine.locator('.add-co-speaker').click();
  await mine.locator('.speaker-invite').click();
  const invite = await mine.locator('.speaker-invite-link').inputValue();
  assert.match(invite, new RegExp(`/s/${sessionId}\\?speakerInvite=\\S+`));

  // And one by user id, read from the dashboard.
  await signIn(dan);
  const danId = (await dan.page.locator('#my-user-id').textContent()).trim();
  await mine.locator('.speaker-user-id').fill(danId);
  await mine.getByRole('button', { name: 'Add', exact: true }).click();
  await emp.page.locator(`ul.mine li .speaker-list li[data-user-id="${danId}"]`).waitFor();

  // Cole opens the link, signs in, and is a co-speaker: the room opens
  // with Start, which he presses within 5 minutes of the slot.
  await cole.page.goto(invite);
  await cole.page.getByLabel('Your display name').fill(cole.name);
  await cole.page.getByRole('button', { name: 'Continue' }).click();
  await cole.page.locator('#start-session').waitFor();
  const coleId = await userId(cole);
  assert.equal(new URL(cole.page.url()).search, '', 'the invite stays in the address bar');

  // The employer sees the list and the seats.
  await emp.page.reload();
  const li = emp.page.locator('ul.mine li');
  await li.locator(`.speaker-list li[data-user-id="${coleId}"]`).waitFor();
  assert.match(await li.locator('.speaker-count').textContent(), /3 of 4 seats/);
  await li.locator('.add-co-speaker').click();
  await shot(emp.page, '54-employer-co-speakers-desktop');
  const bad = await axe(emp.page, 'co-speakers desktop');
  assert.deepEqual(bad, [], `accessibility: ${bad.join('\n')}`);

  await until(async () => !(await cole.page.locator('#start-session').isDisabled()), { what: 'Start enabled within 5 minutes', timeout: 10_000 });
  await cole.page.locator('#start-session').click();
  await cole.page.locator('.room.is-live').waitFor();
  await tile(cole.page, coleId).waitFor();

  // A participant joins the live session and sees the co-speaker on stage.
  await signIn(pia, `${BASE}/s/${sessionId}`);
  await pia.page.locator('#join-session').click();
  await pia.page.locator('.room.is-live').waitFor();
  await tile(pia.page, coleId).waitFor();
  await shot(pia.page, '55-co-speaker-live-phone');
  await t.test("a participant decodes the co-speaker's video", { skip: skipMedia }, async () => {
    await decodes(pia, coleId);
  });
});
