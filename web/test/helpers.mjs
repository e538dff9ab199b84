// Shared helpers of the browser tests: the browser, people (one browser
// context each), screenshots and polling.
import { chromium, devices } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE = (process.env.GREENROOM_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const ADMIN_KEY = process.env.GREENROOM_ADMIN_KEY || '';
const here = path.dirname(fileURLToPath(import.meta.url));
export const SHOTS = process.env.GREENROOM_SCREENSHOTS || path.join(here, 'screenshots');
mkdirSync(SHOTS, { recursive: true });

// GREENROOM_E2E_SKIP=media,breakout skips those assertions (by default
// everything runs: media against the local runner's real SFU worker).
const skip = new Set((process.env.GREENROOM_E2E_SKIP || '').split(',').map((s) => s.trim()).filter(Boolean));
export const skipMedia = skip.has('media') ? 'GREENROOM_E2E_SKIP includes media' : false;
export const skipBreakout = skip.has('breakout') ? 'GREENROOM_E2E_SKIP includes breakout' : false;

export const PHONE = devices['Pixel 7'];
export const DESKTOP = { viewport: { width: 1280, height: 800 } };

// launch starts Chromium; Playwright gives it a fresh, temporary
// --user-data-dir and removes it on close.
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--autoplay-policy=no-user-gesture-required',
    ],
    timeout: 60_000,
  });
}

// person opens a page in its own context (its own localStorage).
export async function person(browser, name, device = DESKTOP) {
  const ctx = await browser.newContext({ ...device, permissions: ['camera', 'microphone'] });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => console.log(`[${name}] page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`[${name}] console: ${m.text()}`); });
  return { name, ctx, page };
}

export async function signIn(p, url = BASE + '/') {
  await p.page.goto(url);
  await p.page.getByLabel('Your display name').fill(p.name);
  await p.page.getByRole('button', { name: 'Continue' }).click();
  await p.page.getByText(`Signed in as`).waitFor();
}

export async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export const userId = (p) => p.page.evaluate(() => window.greenroom?.live?.userId);

export async function until(fn, { timeout = 20_000, every = 250, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

// decodes waits until the page's RTCPeerConnection has decoded video from
// publisher (remote stream id = user id) and the count keeps growing.
export async function decodes(p, publisher) {
  await until(() => p.page.evaluate((id) => window.greenroom?.media?.remote?.has(id), publisher), { timeout: 30_000, what: `${p.name} receiving ${publisher}` });
  const frames = () => p.page.evaluate((id) => window.greenroom.media.decodedFrames(id), publisher);
  const first = await until(async () => { const n = await frames(); return n > 0 ? n : 0; }, { timeout: 30_000, what: `${p.name} decoding frames` });
  await until(async () => (await frames()) > first + 10, { timeout: 20_000, what: `${p.name} frames growing` });
}

// senderReports lists the RTCP sender reports a member's browser has
// taken for the streams it receives (getStats remote-outbound-rtp: one
// entry per stream that has had one), with the NTP time of the last as
// ms since the epoch. The worker writes them itself, with its own SRTCP
// context: a report Chrome could not authenticate or parse would leave
// no entry.
export async function senderReports(p) {
  return p.page.evaluate(async () => {
    const out = [];
    (await window.greenroom.media.pc.getStats()).forEach((r) => {
      if (r.type === 'remote-outbound-rtp') out.push({ kind: r.kind, reports: r.reportsSent || 0, packets: r.packetsSent || 0, at: r.remoteTimestamp || 0 });
    });
    return out;
  });
}

// sendEstimate is what a member's browser estimates it may send, in bit/s
// (getStats: the selected candidate pair's availableOutgoingBitrate), and
// what its video senders send. Chrome estimates from the transport-wide
// congestion control feedback the worker builds itself
// (forward.TWCCRecorder): feedback Chrome could not authenticate or parse
// would leave the estimate where it starts, about 300 kbit/s.
export async function sendEstimate(p) {
  return p.page.evaluate(async () => {
    let estimate = 0;
    let sent = 0;
    (await window.greenroom.media.pc.getStats()).forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') estimate = Math.max(estimate, r.availableOutgoingBitrate || 0);
      if (r.type === 'outbound-rtp' && r.kind === 'video') sent += r.bytesSent || 0;
    });
    return { estimate, sent };
  });
}

// member returns the row of a member in the People panel.
export const memberRow = (page, id) => page.locator(`li.member[data-user-id="${id}"]`);
export const tile = (page, id) => page.locator(`#stage .tile[data-user-id="${id}"]`);

export async function closeAll(...people) {
  for (const p of people) await p?.ctx?.close().catch(() => {});
}

// diagnose returns what a page's media knows, for failure messages: the
// signaling trail, negotiation errors, the remote streams and a summary
// of the current descriptions.
export async function diagnose(p) {
  return p.page.evaluate(() => {
    const m = window.greenroom?.media;
    if (!m) return 'no media';
    const sum = (d) => (d?.sdp || '').split(/\r?\n/).filter((l) => /^(m=|a=mid|a=msid|a=(sendrecv|sendonly|recvonly|inactive)$)/.test(l)).join(' | ');
    return JSON.stringify({
      status: m.status, notice: m.notice, remote: [...m.remote.keys()],
      signaling: m.pc?.signalingState, ice: m.pc?.iceConnectionState,
      local: sum(m.pc?.currentLocalDescription), remoteDesc: sum(m.pc?.currentRemoteDescription),
      errors: m.errors, trail: m.trail.slice(-40),
    }, null, 1);
  }).catch((e) => `diagnose failed: ${e.message}`);
}

// axe runs axe-core on a page and returns its serious and critical
// violations (rule id and the first nodes), for an assertion of none.
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
export async function axe(page, what) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  return bad.map((v) => `${what}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

// shots takes a screenshot under a name with the viewport's kind.
export function kind(p) {
  return (p.page.viewportSize()?.width || 1280) < 600 ? 'phone' : 'desktop';
}
