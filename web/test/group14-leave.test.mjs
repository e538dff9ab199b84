// Issue 14, seed 002: leaving a group and removing a member. The owner
// creates a group and two others join by its invite link; the owner
// removes one with Remove (whose open page then says, in words, that they
// are no longer a member), the other leaves with Leave group; the owner,
// alone at last, leaves and closes the group.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, person, signIn, shot, closeAll, axe, BASE, PHONE } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PHONE390 = { ...PHONE, viewport: { width: 390, height: 844 }, screen: { width: 390, height: 844 } };

test('a member leaves a group and the owner removes another', async (t) => {
  const owner = await person(browser, 'Olivia Owner');
  const frida = await person(browser, 'Frida Member');
  const paula = await person(browser, 'Paula Phone', PHONE390);
  t.after(() => closeAll(owner, frida, paula));

  await signIn(owner);
  await owner.page.goto(`${BASE}/groups`);
  await owner.page.getByLabel('Group name').fill('Leavers club');
  await owner.page.getByRole('button', { name: 'Create group' }).click();
  await owner.page.getByRole('heading', { name: 'Leavers club' }).waitFor();
  const groupUrl = owner.page.url();
  // Alone, the owner may leave, which closes the group.
  await owner.page.getByRole('button', { name: 'Leave and close the group' }).waitFor();
  await owner.page.locator('#group-invite').click();
  const invite = await owner.page.locator('#group-invite-link').inputValue();
  for (const p of [frida, paula]) {
    await p.page.goto(invite);
    await p.page.getByLabel('Your display name').fill(p.name);
    await p.page.getByRole('button', { name: 'Continue' }).click();
    await p.page.getByRole('heading', { name: 'Leavers club' }).waitFor();
  }

  // With members, the owner cannot leave, and removes them one by one.
  await owner.page.reload();
  await owner.page.locator('.group-members li', { hasText: 'Paula Phone' }).waitFor();
  await owner.page.locator('#leave-hint').waitFor();
  assert.equal(await owner.page.locator('#leave-group').count(), 0, 'no Leave for the owner of a group with members');
  assert.equal(await frida.page.locator('.remove-member').count(), 0, 'only the owner removes');
  await shot(owner.page, '56-group-members-owner-desktop');
  const bad = await axe(owner.page, 'group members owner');
  await owner.page.getByRole('button', { name: 'Remove Frida Member from the group' }).click();
  await owner.page.locator('.group-members li', { hasText: 'Frida Member' }).waitFor({ state: 'detached' });
  assert.match(await owner.page.locator('#members-title').textContent(), /Members \(2\)/);
  // Frida's open page says so within a poll.
  await frida.page.locator('#group-error', { hasText: 'You are no longer a member of this group' }).waitFor({ timeout: 10_000 });

  // Paula leaves, on her phone.
  await paula.page.getByRole('button', { name: 'Leave group' }).click();
  await paula.page.waitForURL(`${BASE}/groups`);
  await paula.page.getByText('You are in no group yet').waitFor();
  await shot(paula.page, '56-group-left-phone');
  bad.push(...await axe(paula.page, 'group left phone'));
  await paula.page.goto(groupUrl);
  await paula.page.locator('#group-error', { hasText: 'not a member' }).waitFor();

  // Alone again, the owner leaves and the group closes.
  await owner.page.reload();
  await owner.page.getByRole('button', { name: 'Leave and close the group' }).click();
  await owner.page.waitForURL(`${BASE}/groups`);
  await owner.page.getByText('You are in no group yet').waitFor();
  assert.deepEqual(bad, [], `accessibility: ${bad.join('\n')}`);
});
