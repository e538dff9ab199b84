// Seed 001: a scheduled session of an event. An organizer creates the
// event, an employer books a slot, participants register with one click
// until the session is full and the next one sees it full, the speaker
// starts within 5 minutes of the slot, a participant is approved onto the
// stage, breakout rooms are opened and closed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot, userId, until, tile, closeAll, axe, BASE, ADMIN_KEY, PHONE, skipBreakout } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function localInput(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

test('seed 001: event, booking, one-click registration, scheduled start, stage, breakout', async (t) => {
  assert.ok(ADMIN_KEY, 'GREENROOM_ADMIN_KEY is required');
  const org = await person(browser, 'Olga Organizer');
  const emp = await person(browser, 'Acme Recruiting');
  const parts = [await person(browser, 'Ana P1'), await person(browser, 'Ben P2', PHONE), await person(browser, 'Cai P3')];
  const late = await person(browser, 'Dee Late');
  t.after(() => closeAll(org, emp, ...parts, late));

  // The organizer: admin key, then an event whose first slot starts in ~3 minutes.
  await org.page.goto(BASE + '/organizer');
  await org.page.getByLabel('Admin key').fill(ADMIN_KEY);
  await org.page.getByLabel('Organizer name').fill('Fair Inc');
  await org.page.getByRole('button', { name: 'Become organizer' }).click();
  await org.page.getByLabel('Event name').fill('Spring Career Fair');
  const start = new Date(Math.ceil((Date.now() + 3 * 60_000) / 60_000) * 60_000);
  const end = new Date(start.getTime() + 60 * 60_000);
  await org.page.locator('[name=windowStart]').fill(localInput(start));
  await org.page.locator('[name=windowEnd]').fill(localInput(end));
  await org.page.getByLabel('Slot length (minutes)').fill('20');
  await org.page.getByLabel('Spots per session (1–50)').fill('3');
  await org.page.getByLabel('Sessions per employer').fill('2');
  await shot(org.page, '20-organizer-create-event');
  const violations = [...await axe(org.page, 'organizer desktop')];
  await org.page.getByRole('button', { name: 'Create event' }).click();
  await org.page.getByRole('heading', { name: 'Spring Career Fair' }).waitFor();
  const eventUrl = org.page.url();

  // An employer, with a booking link.
  await org.page.getByLabel('Employer name').fill('Acme');
  await org.page.getByRole('button', { name: 'Add employer' }).click();
  const empLink = await org.page.locator('.employer-link').first().inputValue();
  assert.match(await org.page.locator('.employer-token').first().inputValue(), /\S{20,}/);

  // The employer books the first slot.
  await emp.page.goto(empLink);
  // No limit bounds a slot (no sessions in all, none per slot): the slots
  // say nothing of sessions left, and every Book button is enabled.
  await emp.page.locator('button.book').first().waitFor();
  assert.doesNotMatch(await emp.page.locator('main').textContent(), /undefined|sessions? left/, 'an absent sessionsLeft is shown');
  assert.equal(await emp.page.locator('button.book[disabled]').count(), 0, 'Book is disabled without a limit');
  await emp.page.getByLabel('Session title').fill('Meet Acme');
  await emp.page.locator('button.book').first().click();
  await emp.page.locator('ul.mine li').waitFor();
  const sessionId = await emp.page.locator('ul.mine li').getAttribute('data-session');
  await shot(emp.page, '21-employer-booked');
  violations.push(...await axe(emp.page, 'employer desktop'));

  // One-click registration until the session is full.
  for (const p of parts) {
    await signIn(p, eventUrl);
    await p.page.locator(`tr[data-session="${sessionId}"] button.register`).click();
    await p.page.locator(`tr[data-session="${sessionId}"]`).getByText('Registered').waitFor();
  }
  await shot(parts[1].page, '22-event-registered-phone');
  violations.push(...await axe(parts[1].page, 'event page phone'));
  await signIn(late, eventUrl);
  const row = late.page.locator(`tr[data-session="${sessionId}"]`);
  await row.locator('td.spots', { hasText: 'Full' }).waitFor();
  assert.equal(await row.locator('button.register').count(), 0, 'a full session offers registration');
  // A limit the organizer left empty is not shown ("10000 sessions left").
  assert.doesNotMatch(await late.page.locator('main').textContent(), /10000|10,000/, 'an unset limit is shown');
  assert.equal(await row.locator('button.register-full').isDisabled(), true, 'a full session says so on a disabled button');
  await shot(late.page, '22-event-session-full');
  // The join screen says so in words too.
  await late.page.goto(`${BASE}/s/${sessionId}`);
  await late.page.getByText('This session is full').waitFor();
  assert.equal(await late.page.locator('#register').isDisabled(), true, 'Register is disabled when full');
  assert.equal(await late.page.locator('#join-session').isDisabled(), true, 'Join is disabled when full');
  assert.match(await late.page.locator('#join-session').textContent(), /full/i);
  await shot(late.page, '22-join-session-full');
  violations.push(...await axe(late.page, 'join screen desktop'));
  assert.deepEqual(violations, [], `accessibility: ${violations.join('\n')}`);

  // The speaker starts within 5 minutes of the slot.
  await emp.page.locator('ul.mine li a', { hasText: 'Open session' }).click();
  await emp.page.locator('#start-session').waitFor();
  await until(async () => !(await emp.page.locator('#start-session').isDisabled()), { what: 'Start enabled within 5 minutes', timeout: 10_000 });
  await shot(emp.page, '23-speaker-waiting-room');
  const p1 = parts[0];
  await p1.page.goto(`${BASE}/s/${sessionId}`);
  await p1.page.locator('#join-session').click();
  await p1.page.locator('#stage').waitFor();
  await p1.page.getByText('The session opens when a speaker starts it.').waitFor();
  await emp.page.locator('#start-session').click();
  await emp.page.locator('.room.is-live').waitFor();
  await p1.page.locator('.room.is-live').waitFor();
  const empId = await userId(emp);
  const p1Id = await userId(p1);
  await tile(p1.page, empId).waitFor();
  // The event page marks the live session, with a Join button for those
  // who hold a spot.
  const p3 = parts[2];
  await p3.page.goto(eventUrl);
  const liveRow = p3.page.locator(`tr[data-session="${sessionId}"]`);
  await liveRow.locator('.live-badge', { hasText: 'Live now' }).waitFor();
  await liveRow.locator('a.join-live', { hasText: 'Join' }).waitFor();
  await shot(p3.page, '27-event-session-live');

  // A participant asks and is approved onto the stage.
  await p1.page.locator('#request-speak').click();
  await emp.page.locator(`li.hand[data-user-id="${p1Id}"] .approve`).click();
  await tile(emp.page, p1Id).waitFor();
  await tile(p1.page, p1Id).waitFor();
  const p2 = parts[1];
  await p2.page.goto(`${BASE}/s/${sessionId}`);
  await p2.page.locator('#join-session').click();
  await tile(p2.page, p1Id).waitFor();
  await shot(emp.page, '24-scheduled-live-stage');

  await t.test('breakout rooms are opened and closed', { skip: skipBreakout }, async () => {
    await emp.page.locator('#open-breakout').click();
    const dlg = emp.page.locator('#breakout-dialog');
    await dlg.locator('#add-room').click();
    assert.equal(await dlg.locator('.room-name').count(), 3);
    await dlg.locator('.room-name').first().fill('Design team with a very long name here');
    assert.equal((await dlg.locator('.room-name').first().inputValue()).length, 30, 'names are cut at 30 characters');
    await dlg.locator('.room-name').first().fill('Design team');
    await dlg.locator('#assign-auto').click();
    await shot(emp.page, '25-breakout-dialog');
    const bad = await axe(emp.page, 'breakout dialog desktop');
    assert.deepEqual(bad, [], `accessibility: ${bad.join('\n')}`);
    await dlg.locator('#open-rooms').click();
    await dlg.getByText('Breakout rooms are open').waitFor();
    for (const p of [p1, p2]) await p.page.getByText('You are in breakout room').waitFor();
    await shot(p2.page, '26-in-breakout-room-phone');
    await dlg.locator('#close-rooms').click();
    for (const p of [p1, p2]) await p.page.getByText('You are in breakout room').waitFor({ state: 'hidden' });
    // Back in the main room off the stage, nobody hears p2: the mic
    // button says so.
    await p2.page.locator('#toggle-mic[aria-pressed="false"]').waitFor();
    assert.equal((await p2.page.locator('#toggle-mic').textContent()).trim(), 'Unmute');
  });
});
