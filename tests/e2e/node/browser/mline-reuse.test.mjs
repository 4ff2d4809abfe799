// Subscriber m-line reuse with livekit-client in headless Chromium, on protocol v1 (one peer
// connection; the client's receive-only sections) and on v0 (`--no-signal-v1`: the server's
// subscriber offers). web-a republishes its microphone five times (a new track sid each time);
// web-b must hear every new track, and the number of m-sections in its descriptions may grow by
// at most one over the churn (without reuse it would grow by one per new track on v0, and by the
// sections asked for with MediaSectionsRequirement on v1).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeToken, sleep, uniqueRoom, withTimeout } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { launchChromium, openPage, servePage } from './test-page.mjs';

const REPUBLISHES = 5;

let pageServer;
let baseUrl;
let browser;

before(async () => {
  pageServer = await servePage();
  baseUrl = pageServer.baseUrl;
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
});

/// Waits until web-b hears web-a's microphone track `sid` (audio energy arriving on it).
async function hears(page, sid, ms) {
  const deadline = Date.now() + ms;
  let first = null;
  let last;
  while (Date.now() < deadline) {
    last = await withTimeout(page.evaluate(() => window.e2eStatus('web-a')), 10000, 'e2eStatus');
    const mic = last.tracks['web-a/microphone'];
    if (mic && mic.sid === sid && mic.totalAudioEnergy !== undefined) {
      if (first === null) first = mic.totalAudioEnergy;
      else if (mic.totalAudioEnergy > first) return mic;
    }
    await sleep(250);
  }
  throw new Error(`web-b does not hear track ${sid} within ${ms} ms; last ${JSON.stringify(last)}`);
}

for (const [name, args] of [
  ['v1 (one connection)', []],
  ['v0 (--no-signal-v1)', ['--no-signal-v1']],
]) {
  test(`livekit-client: m-lines are reused across ${REPUBLISHES} republished tracks, ${name}`, async () => {
    const srv = await new XcordServer(`mline-${args.length ? 'v0' : 'v1'}`, args).start();
    const logs = {};
    const pages = {};
    try {
      const roomName = uniqueRoom('mline');
      for (const who of ['web-a', 'web-b']) {
        pages[who] = await openPage(browser, baseUrl, who, logs);
        const token = await makeToken(who, roomName);
        await withTimeout(
          pages[who].evaluate(([u, t]) => window.e2eConnect(u, t), [srv.url, token]),
          45000,
          `${who}: connect and publish`,
        );
      }
      const firstSid = await pages['web-a'].evaluate(
        () => window.e2e.room.localParticipant.getTrackPublication('microphone').trackSid,
      );
      await hears(pages['web-b'], firstSid, 30000);
      const start = await pages['web-b'].evaluate(() => window.e2eMediaSections());
      console.log(`${name}: m-sections at start ${JSON.stringify(start)}`);
      const seen = [firstSid];
      for (let i = 0; i < REPUBLISHES; i++) {
        const t0 = Date.now();
        const sid = await withTimeout(pages['web-a'].evaluate(() => window.e2eRepublishMic()), 20000, 'republish');
        assert.ok(sid && !seen.includes(sid), `a new track sid each time: ${sid}`);
        seen.push(sid);
        await hears(pages['web-b'], sid, 30000);
        console.log(`${name}: republish ${i + 1} heard after ${Date.now() - t0} ms`);
      }
      const end = await pages['web-b'].evaluate(() => window.e2eMediaSections());
      console.log(`${name}: m-sections after ${REPUBLISHES} new tracks ${JSON.stringify(end)}`);
      assert.ok(end.audio <= start.audio + 1, `audio sections grew from ${start.audio} to ${end.audio}`);
      assert.ok(end.video <= start.video + 1, `video sections grew from ${start.video} to ${end.video}`);
    } catch (e) {
      for (const who of Object.keys(logs)) {
        const log = pages[who] ? await pages[who].evaluate(() => window.e2e.log).catch(() => []) : [];
        const lines = [...logs[who], ...log.map((l) => `[e2e] ${l}`)].slice(-60);
        console.log(`---- ${who} (last ${lines.length}) ----\n${lines.join('\n')}`);
      }
      console.log(srv.logTail(80));
      throw e;
    } finally {
      for (const p of Object.values(pages)) await p.context().close().catch(() => {});
      await srv.stop();
    }
  });
}
