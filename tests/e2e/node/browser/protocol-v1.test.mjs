// LiveKit signal protocol v1 (`/rtc/v1`, one peer connection) with the browser SDK
// (livekit-client, defaults: `singlePeerConnection` on, the publisher offer inside the join
// request) in headless Chromium. For each server setting (v1 on, the default; `--no-signal-v1`):
// two pages join, publish camera and microphone, see and hear each other and exchange a data
// message; the server log must show both joins over the expected protocol (v1 on: `/rtc/v1`
// without a fallback; v1 off: the client's fallback to `/rtc`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { makeToken, sleep, uniqueRoom, withTimeout } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { launchChromium, servePage } from './test-page.mjs';

const WEB = ['web-a', 'web-b'];

let pageServer;
let baseUrl;
let browser;

function joinsByIdentity(log) {
  const out = {};
  const re = /participant joined over signal.*?protocol="?(v[01])"?.*?identity="?([^\s"]+)"?/g;
  for (const m of log.matchAll(re)) (out[m[2]] ??= []).push(m[1]);
  return out;
}

before(async () => {
  pageServer = await servePage();
  baseUrl = pageServer.baseUrl;
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
});

const videoOk = (t) => t && t.videoWidth > 0 && (t.totalVideoFrames > 0 || t.rvfc > 0);
const audioOk = (t) => t && (t.totalAudioEnergy > 0 || t.analyserPeak > 0.01);

async function pollStatus(page, identity, check, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await withTimeout(page.evaluate((id) => window.e2eStatus(id), identity), 10000, 'e2eStatus');
    if (check(last)) return last;
    await sleep(250);
  }
  throw new Error(`${what} not met within ${ms} ms; last status ${JSON.stringify(last)}`);
}

async function pagesMeet(srv, roomName, logs) {
  const pages = {};
  for (const who of WEB) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    logs[who] = [];
    page.on('console', (m) => logs[who].push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => logs[who].push(`[pageerror] ${e.message}`));
    await page.goto(`${baseUrl}/page.html`, { timeout: 15000 });
    pages[who] = page;
  }
  await Promise.all(
    WEB.map(async (who) => {
      const token = await makeToken(who, roomName);
      const id = await withTimeout(
        pages[who].evaluate(([u, t]) => window.e2eConnect(u, t), [srv.url, token]),
        45000,
        `${who}: connect + enable camera and microphone`,
      );
      assert.equal(id, who);
    }),
  );
  for (const [who, other] of [WEB, [...WEB].reverse()]) {
    const st = await pollStatus(
      pages[who],
      other,
      (s) => videoOk(s.tracks[`${other}/camera`]) && audioOk(s.tracks[`${other}/microphone`]),
      30000,
      `${who}: ${other}'s camera decoded and microphone audible`,
    );
    const v = st.tracks[`${other}/camera`];
    console.log(`${who} <- ${other}: camera ${v.videoWidth}x${v.videoHeight} frames ${v.totalVideoFrames}`);
  }
  const text = `v1 data ${roomName}`;
  await withTimeout(pages['web-a'].evaluate(([t]) => window.e2eSend(t, 'e2e-v1'), [text]), 20000, 'publishData');
  const deadline = Date.now() + 15000;
  let got;
  while (Date.now() < deadline && !got) {
    const data = await pages['web-b'].evaluate(() => window.e2e.data);
    got = data.find((d) => d.topic === 'e2e-v1' && d.text === text);
    if (!got) await sleep(200);
  }
  assert.ok(got, 'web-b did not receive the data message');
  assert.equal(got.from, 'web-a');
  for (const who of WEB) {
    const log = await pages[who].evaluate(() => window.e2e.log).catch(() => []);
    logs[who].push(...log.map((l) => `[e2e] ${l}`));
    await pages[who].context().close();
  }
}

for (const [name, args, want] of [
  ['v1 on: pages join over /rtc/v1 without falling back', [], 'v1'],
  ['v1 off: pages fall back to /rtc', ['--no-signal-v1'], 'v0'],
]) {
  test(`livekit-client ${name}`, async () => {
    const srv = await new XcordServer(`browser-${want}`, args).start();
    const logs = {};
    try {
      await pagesMeet(srv, uniqueRoom(`browser-${want}`), logs);
      const joins = joinsByIdentity(readFileSync(srv.logPath, 'utf8'));
      for (const who of WEB) assert.deepEqual(joins[who], [want], JSON.stringify(joins));
    } catch (e) {
      for (const who of WEB) {
        const lines = (logs[who] ?? []).map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l)).slice(-80);
        console.log(`---- ${who} console (last ${lines.length}) ----\n${lines.join('\n')}`);
      }
      console.log(srv.logTail(120));
      throw e;
    } finally {
      await srv.stop();
    }
  });
}
