// A figure for `make bench`, never a verdict: approve -> first decoded
// video frame at a viewer, through the web client in Chromium with fake
// devices. Two members of a primetime session take turns on the stage;
// after each approval the viewer's page is polled (getStats
// framesDecoded of the speaker's remote stream) until a frame decodes
// that was not there before the approval. Run by `make bench-media`
// through run.sh: node --test bench.mjs.
import { test, before, after } from 'node:test';
import { launch, person, signIn, userId, until, closeAll, diagnose } from './helpers.mjs';

const ROUNDS = Number(process.env.GREENROOM_BENCH_ROUNDS || 8);
const WAIT_MS = 10_000; // an approval that takes longer counts as lost

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

// decoded sums framesDecoded per inbound video stats id of a publisher's
// remote stream, in the viewer's page.
const decoded = (p, from) => p.page.evaluate(async (id) => {
  const media = window.greenroom?.media;
  const out = {};
  if (!media?.pc) return out;
  const tracks = new Set((media.remote.get(id)?.getVideoTracks() || []).map((t) => t.id));
  (await media.pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && tracks.has(r.trackIdentifier)) out[r.id] = r.framesDecoded || 0;
  });
  return out;
}, from);

const pct = (sorted, p) => sorted[Math.max(Math.ceil((p / 100) * sorted.length), 1) - 1];

test('bench: approve -> first decoded frame at a viewer (web client)', async (t) => {
  const host = await person(browser, 'Bench Host');
  const viewer = await person(browser, 'Bench Viewer');
  const speakers = [await person(browser, 'Bench A'), await person(browser, 'Bench B')];
  t.after(() => closeAll(host, viewer, ...speakers));
  await signIn(host);
  await host.page.getByRole('button', { name: '+ Create primetime session' }).click();
  const link = await host.page.locator('#share-link').getAttribute('href');
  await host.page.locator('#start-session:not([disabled])').click();
  await host.page.locator('.room.is-live').waitFor();
  for (const p of [viewer, ...speakers]) await joinFromLink(p, link);
  const ids = await Promise.all(speakers.map(userId));

  const lat = [];
  let lost = 0;
  let first = 'lost';
  for (let r = 0; r < ROUNDS; r++) {
    const s = speakers[r % 2];
    const id = ids[r % 2];
    await s.page.evaluate(() => window.greenroom.live.send('hand.raise'));
    const before = await decoded(viewer, id);
    const t0 = Date.now();
    await host.page.evaluate((u) => window.greenroom.live.send('hand.approve', { userId: u }), id);
    let at = 0;
    try {
      await until(async () => {
        const now = await decoded(viewer, id);
        if (Object.entries(now).some(([k, n]) => n > (before[k] || 0))) { at = Date.now(); return true; }
        return false;
      }, { timeout: WAIT_MS, every: 20, what: `the viewer decoding ${s.name}` });
      lat.push(at - t0);
      if (r === 0) first = at - t0;
    } catch {
      lost++;
      console.log(`round ${r}: the viewer decoded nothing of ${s.name} within ${WAIT_MS} ms`);
      if (process.env.GREENROOM_BENCH_DEBUG) console.log(`viewer: ${await diagnose(viewer)}\nspeaker: ${await diagnose(s)}`);
    }
    await s.page.evaluate(() => window.greenroom.live.send('stage.leave'));
    await until(() => viewer.page.evaluate((u) => !window.greenroom.media.remote.has(u), id), { timeout: WAIT_MS, what: 'the tile to go' }).catch(() => {});
  }
  const sorted = lat.slice().sort((a, b) => a - b);
  console.log(`media approve -> first decoded frame at a viewer (web client)  first ${first} ms  p50 ${pct(sorted, 50) ?? '-'} ms  p99 ${pct(sorted, 99) ?? '-'} ms  (${lat.length} approvals, ${lost} never arrived)`);
});
