// Issue 14, seed 000: the Active Session page. A host who left the setup
// screen of an instant session finds it on the dashboard and rejoins with
// the host role.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot, userId, memberRow, closeAll, axe, BASE, PHONE } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PHONE390 = { ...PHONE, viewport: { width: 390, height: 844 }, screen: { width: 390, height: 844 } };

test('a host who left the setup screen rejoins from Active Sessions with the host role', async (t) => {
  const host = await person(browser, 'Hugo Host');
  const phone = await person(browser, 'Pam Phone', PHONE390);
  t.after(() => closeAll(host, phone));

  await signIn(host);
  await host.page.locator('#active-sessions').getByText('No active sessions').waitFor();
  await host.page.getByLabel('Title').fill('Standup');
  await host.page.getByRole('button', { name: '+ Create instant session' }).click();
  const id = await host.page.locator('#session-id').textContent();
  const link = await host.page.locator('#share-link').getAttribute('href');
  await host.page.locator('#start-session').waitFor();
  const hostId = await userId(host);

  // A member on a phone joins too: the session is in their list as well.
  await phone.page.goto(link);
  await phone.page.getByLabel('Your display name').fill(phone.name);
  await phone.page.getByRole('button', { name: 'Continue' }).click();
  await phone.page.locator('#join-session').click();
  await phone.page.locator('#stage').waitFor();

  // The host leaves the setup screen.
  await host.page.locator('#leave').click();
  const entry = host.page.locator(`#active-sessions li.active-session[data-session="${id}"]`);
  await entry.waitFor();
  assert.equal(await entry.getAttribute('data-role'), 'host');
  assert.equal(await entry.getAttribute('data-state'), 'active');
  assert.match(await entry.textContent(), /Standup/);
  assert.match(await entry.textContent(), /You host/);
  await shot(host.page, '50-active-sessions-desktop');
  const bad = await axe(host.page, 'active sessions desktop');

  await phone.page.goto(BASE + '/');
  const pEntry = phone.page.locator(`#active-sessions li.active-session[data-session="${id}"]`);
  await pEntry.waitFor();
  assert.equal(await pEntry.getAttribute('data-role'), 'participant');
  await pEntry.locator('.rejoin').waitFor();
  await shot(phone.page, '50-active-sessions-phone');
  bad.push(...await axe(phone.page, 'active sessions phone'));
  assert.deepEqual(bad, [], `accessibility: ${bad.join('\n')}`);

  // Rejoin: back on the setup screen, as the host.
  await entry.locator('.rejoin').click();
  await host.page.locator('#start-session').waitFor();
  await memberRow(host.page, hostId).locator('.tag.host').waitFor();
  assert.equal(await host.page.evaluate(() => window.greenroom.live.state.hostId), hostId);
  assert.equal(await host.page.locator('#session-id').textContent(), id);

  // The member rejoins from the list too.
  await pEntry.locator('.rejoin').click();
  await phone.page.locator('#stage').waitFor();
  await memberRow(phone.page, hostId).locator('.tag.host').waitFor();
});
