// Issue 14, seed 002: a group's PrimeTime, from creating the group to the
// second approved speaker. The owner creates a group, two others join by
// its invite link, they chat, the owner starts PrimeTime in the group, the
// members join from the card in the chat, the host approves one speaker
// and then the next (replacing the first), a viewer decodes the speaker's
// video, a non-member is refused in a sentence, and the card says when the
// session ended.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot, userId, until, decodes, tile, closeAll, axe, BASE, PHONE, skipMedia } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PHONE390 = { ...PHONE, viewport: { width: 390, height: 844 }, screen: { width: 390, height: 844 } };

test("a group's PrimeTime from creating the group to the second approved speaker", async (t) => {
  const owner = await person(browser, 'Olivia Owner');
  const frida = await person(browser, 'Frida Member');
  const paula = await person(browser, 'Paula Phone', PHONE390);
  const nina = await person(browser, 'Nina Outsider');
  const all = [owner, frida, paula];
  t.after(() => closeAll(...all, nina));
  const bad = [];

  // The owner creates the group and mints its invite link.
  await signIn(owner);
  await owner.page.getByRole('link', { name: 'Your groups' }).click();
  await owner.page.getByText('You are in no group yet').waitFor();
  await owner.page.getByLabel('Group name').fill('Design team');
  await shot(owner.page, '51-groups-desktop');
  bad.push(...await axe(owner.page, 'groups desktop'));
  await owner.page.getByRole('button', { name: 'Create group' }).click();
  await owner.page.getByRole('heading', { name: 'Design team' }).waitFor();
  const groupUrl = owner.page.url();
  assert.match(groupUrl, /\/g\/[^/?]+$/);
  await owner.page.locator('#group-invite').click();
  const invite = await owner.page.locator('#group-invite-link').inputValue();
  assert.match(invite, /\/g\/[^/?]+\?invite=\S+/);

  // Two people open the link, sign in and are members.
  for (const p of [frida, paula]) {
    await p.page.goto(invite);
    await p.page.getByLabel('Your display name').fill(p.name);
    await p.page.getByRole('button', { name: 'Continue' }).click();
    await p.page.getByRole('heading', { name: 'Design team' }).waitFor();
    assert.equal(new URL(p.page.url()).search, '', 'the invite stays in the address bar');
  }
  await paula.page.locator('.group-members li', { hasText: 'Olivia Owner' }).waitFor();
  // Her groups, on a phone.
  await paula.page.goto(`${BASE}/groups`);
  await paula.page.locator('ul.groups li', { hasText: 'Design team' }).waitFor();
  await shot(paula.page, '51-groups-phone');
  bad.push(...await axe(paula.page, 'groups phone'));
  await paula.page.locator('ul.groups li a', { hasText: 'Design team' }).click();
  await paula.page.locator('#group-chat').waitFor();

  // The group's chat is live: each page holds the group's socket, and what
  // one sends the others see without reading the chat again (no GET of
  // the messages once the socket is open; polling would read every 2 s).
  const reads = [];
  for (const p of all) {
    await p.page.locator('#group-chat[data-live="socket"]').waitFor();
    p.page.on('request', (req) => {
      if (req.method() === 'GET' && /\/v1\/groups\/[^/]+\/messages$/.test(new URL(req.url()).pathname)) reads.push(`${p.name}: ${req.url()}`);
    });
  }
  await frida.page.getByLabel('Message').fill('Hello team');
  await frida.page.getByRole('button', { name: 'Send' }).click();
  await paula.page.getByLabel('Message').fill('Hi Frida');
  await paula.page.getByRole('button', { name: 'Send' }).click();
  for (const p of all) {
    await p.page.locator('#group-chat li.group-msg', { hasText: 'Hello team' }).waitFor();
    await p.page.locator('#group-chat li.group-msg', { hasText: 'Hi Frida' }).waitFor();
  }
  assert.deepEqual(reads, [], 'the chat arrived on the socket, not by reading the messages');
  await owner.page.locator('.group-members li', { hasText: 'Paula Phone' }).waitFor({ timeout: 15_000 });

  // The owner starts PrimeTime in the group and hosts it.
  await owner.page.getByLabel('Session title').fill('Design review');
  await owner.page.locator('#start-primetime').click();
  await owner.page.locator('#start-session:not([disabled])').click();
  await owner.page.locator('.room.is-live').waitFor();
  const sessionId = new URL(owner.page.url()).pathname.split('/').pop();
  const ownerId = await userId(owner);

  // The card in the chat, live, with Join for every member.
  for (const p of [frida, paula]) {
    const card = p.page.locator(`#group-chat li.session-card[data-session="${sessionId}"][data-status="live"]`);
    await card.waitFor();
    assert.match(await card.textContent(), /Design review/);
    assert.match(await card.textContent(), /Live now/);
  }
  await shot(paula.page, '52-group-chat-card-phone');
  bad.push(...await axe(paula.page, 'group chat phone'));
  await shot(frida.page, '52-group-chat-card-desktop');
  bad.push(...await axe(frida.page, 'group chat desktop'));
  assert.deepEqual(bad, [], `accessibility: ${bad.join('\n')}`);
  for (const p of [frida, paula]) {
    await p.page.locator(`li.session-card[data-session="${sessionId}"] .join-card`).click();
    await p.page.locator('#join-session').click();
    await p.page.locator('.room.is-live').waitFor();
    await tile(p.page, ownerId).waitFor();
  }
  const [fridaId, paulaId] = await Promise.all([frida, paula].map(userId));

  // A non-member: the session page refuses in a sentence, and so does the group.
  await signIn(nina, `${BASE}/s/${sessionId}`);
  await nina.page.locator('#join-session').click();
  const refused = nina.page.locator('#not-member');
  await refused.waitFor();
  assert.match(await refused.textContent(), /Only members of this group can join/);
  assert.doesNotMatch(await nina.page.locator('main').textContent(), /forbidden|403/);
  await nina.page.goto(groupUrl);
  assert.match(await nina.page.locator('#group-error').textContent(), /not a member of this group/);

  // The first speaker: approved with no question.
  await frida.page.locator('#request-speak').click();
  await owner.page.locator(`li.hand[data-user-id="${fridaId}"] .approve`).click();
  for (const p of all) await tile(p.page, fridaId).waitFor();
  assert.equal(await owner.page.locator('#ask-dialog').count(), 0);

  // The second: the host is told who leaves the stage, and confirms.
  await paula.page.locator('#request-speak').click();
  await owner.page.locator(`li.hand[data-user-id="${paulaId}"] .approve`).click();
  const ask = owner.page.locator('#ask-dialog');
  await ask.waitFor();
  assert.match(await ask.textContent(), /Frida Member will leave the stage/);
  await owner.page.locator('#ask-ok').click();
  for (const p of all) {
    await tile(p.page, paulaId).waitFor();
    await tile(p.page, fridaId).waitFor({ state: 'detached' });
  }
  await shot(owner.page, '53-group-primetime-second-speaker');

  await t.test("a viewer decodes the second speaker's video", { skip: skipMedia }, async () => {
    await decodes(frida, paulaId);
  });

  // The host ends it: the card says so and offers no Join.
  owner.page.once('dialog', (d) => d.accept());
  await owner.page.locator('#end-session').click();
  await frida.page.goto(groupUrl);
  const ended = frida.page.locator(`li.session-card[data-session="${sessionId}"][data-status="ended"]`);
  await ended.waitFor();
  assert.equal(await ended.locator('.join-card').count(), 0);
  await until(async () => /ended/i.test(await ended.textContent()), { what: 'the card says ended' });
});

test('the group page polls while its socket fails, and goes live again', async (t) => {
  const ada = await person(browser, 'Ada Socket');
  const bo = await person(browser, 'Bo Polling');
  t.after(() => closeAll(ada, bo));
  await signIn(ada);
  await ada.page.getByRole('link', { name: 'Your groups' }).click();
  await ada.page.getByLabel('Group name').fill('Fallback team');
  await ada.page.getByRole('button', { name: 'Create group' }).click();
  await ada.page.getByRole('heading', { name: 'Fallback team' }).waitFor();
  await ada.page.locator('#group-invite').click();
  const invite = await ada.page.locator('#group-invite-link').inputValue();

  // Bo's browser holds no WebSocket for now: each one closes at once.
  let refuse = true;
  let refused = 0;
  await bo.page.routeWebSocket(/\/ws\?/, (ws) => {
    if (refuse) { refused++; ws.close(); } else ws.connectToServer();
  });
  await bo.page.goto(invite);
  await bo.page.getByLabel('Your display name').fill(bo.name);
  await bo.page.getByRole('button', { name: 'Continue' }).click();
  await bo.page.getByRole('heading', { name: 'Fallback team' }).waitFor();
  await ada.page.locator('#group-chat[data-live="socket"]').waitFor();
  await bo.page.locator('#group-chat[data-live="polling"]').waitFor();

  // Bo reads the chat by polling; Ada hears Bo on her socket.
  await ada.page.getByLabel('Message').fill('Are you there?');
  await ada.page.getByRole('button', { name: 'Send' }).click();
  await bo.page.locator('#group-chat li.group-msg', { hasText: 'Are you there?' }).waitFor({ timeout: 5_000 });
  await bo.page.getByLabel('Message').fill('Polling here');
  await bo.page.getByRole('button', { name: 'Send' }).click();
  await ada.page.locator('#group-chat li.group-msg', { hasText: 'Polling here' }).waitFor({ timeout: 5_000 });
  assert.equal(await bo.page.locator('#group-chat').getAttribute('data-live'), 'polling');
  await until(async () => refused >= 2, { what: 'the page tries its socket again' });

  // Sockets work again: Bo's page reconnects (with backoff) and is live.
  refuse = false;
  await bo.page.locator('#group-chat[data-live="socket"]').waitFor({ timeout: 30_000 });
  await ada.page.getByLabel('Message').fill('Live again');
  await ada.page.getByRole('button', { name: 'Send' }).click();
  await bo.page.locator('#group-chat li.group-msg', { hasText: 'Live again' }).waitFor({ timeout: 5_000 });
});
