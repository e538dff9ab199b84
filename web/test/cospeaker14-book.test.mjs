// Issue 14, seed 001: co-speakers named when booking, and removed
// afterwards. The employer of an event whose stage seats 2 speakers
// names two co-speakers while booking and is told in words that only one
// fits; names one, books, and sees them in the list of the session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, closeAll, until, BASE, ADMIN_KEY } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function call(method, path, body, headers = {}) {
  const res = await fetch(BASE + path, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const data = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

test('an employer names a co-speaker when booking', async (t) => {
  assert.ok(ADMIN_KEY, 'GREENROOM_ADMIN_KEY is required');
  const emp = await person(browser, 'Acme Recruiting');
  const dan = await person(browser, 'Dan Named');
  const eve = await person(browser, 'Eve Extra');
  t.after(() => closeAll(emp, dan, eve));

  const org = await call('POST', '/v1/organizers', { name: 'Fair Inc' }, { 'X-Admin-Key': ADMIN_KEY });
  const start = new Date(Math.ceil((Date.now() + 60 * 60_000) / 60_000) * 60_000);
  const ev = await call('POST', '/v1/events', {
    name: 'Two-seat Fair', windows: [{ start: start.toISOString(), end: new Date(start.getTime() + 60 * 60_000).toISOString() }],
    slotMinutes: 20, capacity: 5, stage: { maxSpeakers: 2 },
  }, { Authorization: `Bearer ${org.token}` });
  const e = await call('POST', `/v1/events/${ev.id}/employers`, { name: 'Acme' }, { Authorization: `Bearer ${org.token}` });

  await signIn(dan);
  const danId = (await dan.page.locator('#my-user-id').textContent()).trim();
  await signIn(eve);
  const eveId = (await eve.page.locator('#my-user-id').textContent()).trim();

  await emp.page.goto(`${BASE}/employer/${ev.id}#token=${encodeURIComponent(e.token)}`);
  await emp.page.getByLabel('Session title').fill('Meet Acme');
  const field = emp.page.getByLabel(/Co-speakers \(optional, up to 1 user ids\)/);

  // Two named where the stage seats two speakers, the employer included.
  await field.fill(`${danId}, ${eveId}`);
  await emp.page.locator('button.book').first().click();
  const err = emp.page.locator('#book-speakers-error');
  await err.waitFor();
  assert.match(await err.textContent(), /Too many co-speakers: the stage seats 2 speakers, you included, so name at most 1/);
  assert.equal(await emp.page.locator('ul.mine > li').count(), 0, 'nothing booked');

  // One fits.
  await field.fill(danId);
  await emp.page.locator('button.book').first().click();
  const mine = emp.page.locator('ul.mine > li');
  await mine.waitFor();
  await mine.locator(`.speaker-list li[data-user-id="${danId}"]`).waitFor();
  assert.match(await mine.locator('.speaker-count').textContent(), /2 of 2 seats/);

  // Remove, next to the co-speaker: the seat is free again.
  await mine.locator(`.speaker-list li[data-user-id="${danId}"] .remove-co-speaker`).click();
  await emp.page.locator(`ul.mine > li .speaker-list li[data-user-id="${danId}"]`).waitFor({ state: 'detached' });
  await until(async () => /1 of 2 seats/.test(await emp.page.locator('ul.mine > li .speaker-count').textContent()), { what: 'the seat freed' });
  assert.equal(await emp.page.locator('ul.mine > li .add-co-speaker').count(), 1, 'a seat to name again');
});
