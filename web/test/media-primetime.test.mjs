// PrimeTime media through long sequences, in Chromium: the same member
// approved, leaving the stage and approved again 5 times, alternating
// with a second member who replaces it on the stage (the handshake), with
// viewers in the web client and in the independent mini client (which
// republishes with removeTrack/addTrack where the web client uses
// replaceTrack on the same senders). Mid-sequence: a viewer reloads its
// page or loses its socket, and so does a speaker on stage; the session's
// SFU worker is killed; a speaker turns mic and camera off on stage and
// is told why nobody sees it; a viewer whose browser fails to apply
// descriptions recovers by itself, showing nothing raw. After each step
// every member must decode exactly the people on stage (but itself)
// within DECODE_MS, with no description error anywhere.
import { test, before, after } from 'node:test';
import { launch, closeAll, skipMedia } from './helpers.mjs';
import { call, newUser, joinWeb, joinMini, sees, killWorker, generations, renewed } from './media-lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('primetime: approvals, replacements, reloads and a dead worker', { skip: skipMedia, timeout: 300_000 }, async (t) => {
  const [h, a, b, v1, v2] = await Promise.all(['Host Hana', 'Speaker Ada', 'Speaker Bo', 'Viewer Vic', 'Viewer Wen'].map(newUser));
  const { session } = await call('POST', '/v1/sessions', { token: h.token, body: { kind: 'primetime', title: 'Media sequences' } });
  const id = session.id;
  const host = await joinWeb(browser, h, id);
  await host.ok('session.start');
  const A = await joinWeb(browser, a, id);
  const B = await joinMini(browser, b, id);
  const V1 = await joinWeb(browser, v1, id);
  const V2 = await joinMini(browser, v2, id);
  const all = [host, A, B, V1, V2];
  t.after(() => closeAll(...all.map((m) => m.p)));

  const stage = new Set([h.id]);
  const camOff = new Set();
  const expected = (m) => new Set([...stage].filter((x) => x !== m.id && !camOff.has(x)));
  let step = 0;
  const check = (what) => sees(all, expected, `step ${++step}: ${what}`);
  const approve = async (m) => {
    await m.ok('hand.raise');
    await host.ok('hand.approve', { userId: m.id });
    // PrimeTime: one approved speaker at a time.
    for (const x of [A, B]) stage.delete(x.id);
    stage.add(m.id);
  };
  const leave = async (m) => {
    await m.ok('stage.leave');
    stage.delete(m.id);
  };

  await check('the host is live');
  for (let round = 1; round <= 5; round++) {
    await approve(A);
    await check(`round ${round}: ${A.name} approved`);
    if (round === 1) {
      // Mic and camera off on stage: nothing of A flows, and A is told why.
      await A.ok('devices.set', { mic: false, cam: false });
      camOff.add(A.id);
      await check(`round ${round}: ${A.name} turned mic and camera off`);
      await A.page.locator('.media-status', { hasText: 'microphone and camera are off' }).waitFor({ timeout: 10_000 });
      await A.ok('devices.set', { mic: true, cam: true });
      camOff.delete(A.id);
      await A.page.locator('.media-status', { hasText: 'microphone and camera are off' }).waitFor({ state: 'hidden', timeout: 10_000 });
      await check(`round ${round}: ${A.name} turned them on again`);
    }
    if (round === 3) {
      await A.dropSocket();
      await check(`round ${round}: ${A.name}'s socket dropped while on stage`);
    }
    if (round === 4) {
      await A.reload();
      await check(`round ${round}: ${A.name} reloaded the page while on stage`);
    }
    if (round === 5) {
      // A browser that cannot apply the worker's next offer, nor the
      // answers to its own two offers after it, recovers by itself: it
      // offers, then starts a new connection.
      const [before] = await generations([V1]);
      await V1.failNext({ offer: 1, answer: 2 });
      await leave(A);
      await renewed([V1], [before], `${V1.name} after failed negotiations`);
      await check(`round ${round}: ${A.name} left the stage while ${V1.name} failed to negotiate`);
    } else {
      await leave(A);
      await check(`round ${round}: ${A.name} left the stage`);
    }
    await approve(B);
    await check(`round ${round}: ${B.name} approved`);
    if (round === 4) {
      const before = await generations(all);
      await killWorker(id);
      await renewed(all, before, 'the worker was killed');
      await check(`round ${round}: the worker was killed and the media moved`);
    }
    await approve(A);
    await check(`round ${round}: ${A.name} approved while ${B.name} was live (${B.name} replaced)`);
    if (round === 2) {
      await V1.reload();
      await check(`round ${round}: ${V1.name} reloaded the page`);
      await V2.dropSocket();
      await check(`round ${round}: ${V2.name}'s socket dropped`);
    }
    await leave(A);
    await check(`round ${round}: ${A.name} left the stage`);
  }
});
