// Seed 002: a primetime session. A member requests to speak, everyone sees
// the raised hand, the member cancels and asks again, the host approves, a
// third member decodes the speaker's video, the speaker ends their live
// video and their tile disappears for everyone. Chat and Q&A on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot, userId, until, decodes, senderReports, sendEstimate, memberRow, tile, closeAll, PHONE, skipMedia } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function joinFromLink(p, link) {
  await p.page.goto(link);
  await p.page.getByLabel('Your display name').fill(p.name);
  await p.page.getByRole('button', { name: 'Continue' }).click();
  await p.page.locator('#join-session').click();
  await p.page.locator('.room.is-live').waitFor();
}

test('seed 002: primetime request to speak, approve, end live video', async (t) => {
  const ryan = await person(browser, 'Ryan Host');
  const frida = await person(browser, 'Frida Marquez');
  const paula = await person(browser, 'Paula Rojas', PHONE);
  const max = await person(browser, 'Max Muster');
  const all = [ryan, frida, paula, max];
  t.after(() => closeAll(...all));

  await signIn(ryan);
  await ryan.page.getByRole('button', { name: '+ Create primetime session' }).click();
  const link = await ryan.page.locator('#share-link').getAttribute('href');
  await ryan.page.locator('#start-session:not([disabled])').click();
  await ryan.page.locator('.room.is-live').waitFor();
  const ryanId = await userId(ryan);
  for (const p of [frida, paula, max]) await joinFromLink(p, link);
  const [fridaId, paulaId, maxId] = await Promise.all([frida, paula, max].map(userId));
  for (const p of all) await tile(p.page, ryanId).waitFor();

  // Frida asks to speak: the waiting-for-approval box, and everyone sees her hand.
  await frida.page.locator('#request-speak').click();
  await frida.page.getByText('Waiting for approval').waitFor();
  for (const p of all) await memberRow(p.page, fridaId).locator('.raised').waitFor();
  await shot(frida.page, '10-waiting-for-approval');

  // She cancels; the hand goes away everywhere.
  await frida.page.locator('#cancel-request').click();
  for (const p of all) await memberRow(p.page, fridaId).locator('.raised').waitFor({ state: 'detached' });
  assert.equal(await frida.page.locator('.approval').isVisible(), false);

  // She asks again, then Max: everyone sees both hands in that order.
  await frida.page.locator('#request-speak').click();
  await memberRow(max.page, fridaId).locator('.raised').waitFor();
  await max.page.locator('#request-speak').click();
  for (const p of all) {
    await until(async () => (await p.page.locator('ol.hand-queue li.hand').evaluateAll((els) => els.map((e) => e.dataset.userId).join(','))) === `${fridaId},${maxId}`,
      { what: `${p.name} sees the hand queue in order` });
  }
  assert.equal(await paula.page.locator('li.hand .approve').count(), 0, 'a participant may not approve');
  await shot(ryan.page, '11-host-hand-queue');

  // The host approves Frida: her tile is on everyone's stage.
  await ryan.page.locator(`li.hand[data-user-id="${fridaId}"] .approve`).click();
  for (const p of all) await tile(p.page, fridaId).waitFor();
  await frida.page.locator('#end-live').waitFor();
  await shot(paula.page, '12-stage-host-and-speaker-phone');

  await t.test('a third member decodes the speaker\'s video', { skip: skipMedia }, async () => {
    await decodes(paula, fridaId);
  });

  await t.test('and takes the worker\'s sender reports for it', { skip: skipMedia }, async () => {
    const reports = await until(async () => {
      const r = await senderReports(paula);
      return r.some((x) => x.reports >= 2 && x.packets > 0) ? r : null;
    }, { timeout: 15_000, what: `${paula.name} taking sender reports` });
    for (const r of reports.filter((x) => x.reports > 0)) {
      assert.ok(Math.abs(r.at - Date.now()) < 5_000, `a ${r.kind} sender report's NTP time is ${r.at - Date.now()} ms off the clock`);
    }
  });

  await t.test('and the speaker\'s browser estimates its bandwidth from the worker\'s TWCC feedback', { skip: skipMedia }, async () => {
    // On loopback an estimate that has left its start (about 300 kbit/s)
    // for more than a megabit comes from feedback Chrome took.
    let last;
    const got = await until(async () => {
      last = await sendEstimate(frida);
      return last.estimate > 1_000_000 ? last : null;
    }, { timeout: 20_000, what: `${frida.name}'s send estimate above 1 Mbit/s` })
      .catch((e) => { throw new Error(`${e.message}; last ${JSON.stringify(last)}`); });
    assert.ok(got.sent > 0, 'her video is sent');
  });

  // Chat and Q&A.
  await paula.page.locator('#tab-chat').click();
  await paula.page.getByLabel('Chat message').fill('Hello from Paula');
  await paula.page.getByRole('button', { name: 'Send' }).click();
  await max.page.locator('#tab-chat').click();
  await max.page.locator('li.chat-line', { hasText: 'Hello from Paula' }).waitFor();
  await max.page.locator('#tab-qa').click();
  await max.page.getByLabel('Question').fill('Which roles are open?');
  await max.page.getByRole('button', { name: 'Ask' }).click();
  await paula.page.locator('#tab-qa').click();
  const q = paula.page.locator('li.question', { hasText: 'Which roles are open?' });
  await q.locator('.upvote').click();
  await q.getByText('1 vote').waitFor();
  await ryan.page.locator('#tab-qa').click();
  await ryan.page.locator('li.question', { hasText: 'Which roles are open?' }).getByText('1 vote').waitFor();
  await ryan.page.locator('li.question .answer').click();
  await q.getByText('Answered').waitFor();
  await shot(paula.page, '13-qa-phone');

  // Frida ends her live video: her tile disappears for everyone.
  await frida.page.locator('#end-live').click();
  for (const p of all) await tile(p.page, fridaId).waitFor({ state: 'detached' });
  for (const p of all) await tile(p.page, ryanId).waitFor();
  assert.equal(await paula.page.locator('#stage .tile').count(), 1, 'only the host is on stage');
  assert.equal(await tile(paula.page, paulaId).count(), 0);
});
