// Seed 000: an instant session. A host on a phone creates it, a web member
// and a phone member join from the share link, only mobile members are
// offered as presenter, the host picks the phone member and starts, and
// the others decode the presenter's video.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot, userId, until, decodes, memberRow, tile, closeAll, PHONE, skipMedia } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('seed 000: instant session with a mobile presenter', async (t) => {
  const host = await person(browser, 'Hana Host', PHONE);
  const web = await person(browser, 'Wes Web');
  const phone = await person(browser, 'Pia Phone', PHONE);
  t.after(() => closeAll(host, web, phone));

  await signIn(host);
  await shot(host.page, '00-dashboard-phone');
  await host.page.getByRole('button', { name: '+ Create instant session' }).click();
  const idText = await host.page.locator('#session-id').textContent();
  const link = await host.page.locator('#share-link').getAttribute('href');
  assert.match(link, new RegExp(`/s/${idText}$`));
  await host.page.locator('#start-session').waitFor();
  assert.equal(await host.page.locator('#start-session').isDisabled(), true, 'Start is disabled without a presenter');
  const hostId = await userId(host);
  await memberRow(host.page, hostId).locator('.tag.host').waitFor();

  // Both join from the share link.
  for (const p of [web, phone]) {
    await p.page.goto(link);
    await p.page.getByLabel('Your display name').fill(p.name);
    await p.page.getByRole('button', { name: 'Continue' }).click();
    await p.page.locator('#join-session').click();
    await p.page.locator('#stage').waitFor();
  }
  await shot(web.page, '01-join-web-member');
  const webId = await userId(web);
  const phoneId = await userId(phone);

  // The waiting room: names, devices, the host label; presenter choice
  // only for mobile members and only for the host.
  await memberRow(host.page, webId).waitFor();
  await memberRow(host.page, phoneId).waitFor();
  await memberRow(host.page, webId).locator('.device', { hasText: 'Web' }).waitFor();
  assert.equal(await memberRow(host.page, webId).getAttribute('data-device'), 'web');
  await memberRow(host.page, phoneId).locator('.device', { hasText: 'Phone' }).waitFor();
  assert.equal(await memberRow(host.page, phoneId).getAttribute('data-device'), 'mobile');
  assert.equal(await memberRow(host.page, webId).locator('.make-presenter').count(), 0, 'web member offered as presenter');
  assert.equal(await memberRow(host.page, phoneId).locator('.make-presenter').count(), 1, 'phone member not offered');
  assert.equal(await web.page.locator('.make-presenter').count(), 0, 'a non-host is offered presenter choice');
  assert.equal(await phone.page.locator('#start-session').count(), 0, 'a non-host sees Start');
  await memberRow(web.page, hostId).locator('.tag.host').waitFor();
  await tile(web.page, hostId).waitFor(); // the host in the waiting room

  // Mic and camera toggles reach the others.
  // The button shows the state the server confirmed: read it before the
  // click and wait for the flip (reading it right after races the reply).
  const micBefore = (await web.page.locator('#toggle-mic').getAttribute('aria-pressed')) === 'true';
  await web.page.locator('#toggle-mic').click();
  await web.page.locator(`#toggle-mic[aria-pressed="${!micBefore}"]`).waitFor();
  await until(async () => (await web.page.evaluate((id) => window.greenroom.live.member(id)?.mic, webId)) === !micBefore, { what: 'mic toggle' });
  await until(() => host.page.evaluate(([id, v]) => window.greenroom.live.member(id)?.mic === v, [webId, !micBefore]), { what: 'host sees mic toggle' });
  await shot(host.page, '02-waiting-room-host-phone');

  await memberRow(host.page, phoneId).locator('.make-presenter').click();
  await memberRow(host.page, phoneId).locator('.tag.presenter').waitFor();
  await until(async () => !(await host.page.locator('#start-session').isDisabled()), { what: 'Start enabled' });
  await shot(host.page, '03-presenter-chosen');
  await host.page.locator('#start-session').click();

  for (const p of [host, web, phone]) {
    await p.page.locator('.room.is-live').waitFor();
    await tile(p.page, phoneId).waitFor();
    await tile(p.page, hostId).waitFor();
  }
  assert.equal(await tile(web.page, webId).count(), 0, 'the web member is not on stage');
  await shot(web.page, '04-live-stage-web');

  await t.test('both others decode the presenter\'s video', { skip: skipMedia }, async () => {
    await Promise.all([decodes(web, phoneId), decodes(host, phoneId)]);
  });
});
