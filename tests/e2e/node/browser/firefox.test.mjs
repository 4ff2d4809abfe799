// xcord SFU against livekit-client in headless Debian Firefox ESR (WebDriver BiDi, puppeteer-core)
// with fake camera and microphone, a Chromium page (Playwright) and a Python SDK participant in
// the same room.
//
// Both pages load page.html from a static server on 127.0.0.1 (a secure context), connect to the
// runner's SFU on the namespace address and enable camera + microphone with default publish
// options. Each must decode the other's camera and hear the other's microphone; data goes both
// ways; Firefox and the Python participant hear each other; Firefox's ICE runs over the
// namespace's veth addresses; the signal path (v1 or v0) the Firefox client used matches what
// the server offers and what the server logged for the join.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test as nodeTest } from 'node:test';
import { chromium } from 'playwright-core';
import { HTTP_URL, URL as LK_URL, makeToken, sleep, uniqueRoom, withTimeout } from '../lk.mjs';
import { launchFirefox } from './firefox.mjs';
import { PythonPeer } from './python-peer.mjs';
import { assertSignalPath, readServerLog } from './signal-path.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const umdPath = path.join(here, '../node_modules/livekit-client/dist/livekit-client.umd.js');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const lkHost = new globalThis.URL(LK_URL).hostname;

// The mandatory Chromium flags (shared TESTING.md), the SFU's address excluded from the rule.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-sync',
  '--disable-background-networking',
  '--disable-component-update',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  `--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE ${lkHost}`,
  '--autoplay-policy=no-user-gesture-required',
];

const FF = 'ff-a';
const CR = 'cr-b';
const WHO = [FF, CR];
const PY = 'py-peer';

let server;
let firefox;
let chromiumBrowser;
let py;
let pyReady;
const pages = {};
const pageLogs = { [FF]: [], [CR]: [] };
const roomName = uniqueRoom('firefox');
let anyFailed = false;

// node:test sets the exit code only after the after() hooks ran: remember failures ourselves so
// that after() can print the page logs when something failed.
function test(name, fn) {
  nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      anyFailed = true;
      throw e;
    }
  });
}

function startStaticServer() {
  const files = {
    '/page.html': ['text/html', path.join(here, 'page.html')],
    '/livekit-client.umd.js': ['application/javascript', umdPath],
  };
  const srv = http.createServer((req, res) => {
    const f = files[new globalThis.URL(req.url, 'http://x').pathname];
    if (!f) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-store' });
    res.end(readFileSync(f[1]));
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

/** Runs `fn(arg)` in `who`'s page (Puppeteer and Playwright take the argument the same way). */
function inPage(who, fn, arg, ms, what) {
  return withTimeout(pages[who].evaluate(fn, arg), ms, `${who}: ${what}`);
}

/** Polls e2eStatus(identity) in `who`'s page until check(status); returns the last status. */
async function pollStatus(who, identity, check, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await inPage(who, (id) => window.e2eStatus(id), identity, 10000, 'e2eStatus');
    if (check(last)) return last;
    await sleep(250);
  }
  throw new Error(`${who}: ${what} not met within ${ms} ms; last status ${JSON.stringify(last)}`);
}

const videoOk = (t) => t && t.videoWidth > 0 && (t.totalVideoFrames > 0 || t.rvfc > 0);
const audioOk = (t) => t && (t.totalAudioEnergy > 0 || t.analyserPeak > 0.01);

/**
 * After `first` (a status with `other`'s camera and microphone received), media keeps arriving at
 * `who`: within 20 s at least 5 more video frames are decoded and presented, and more audio
 * energy is received. (Frame rates collapse when the machine is loaded; 5 frames still needs a
 * live stream, and a frozen one makes no progress at all.)
 */
async function assertStillFlowing(who, other, first) {
  const v0 = first.tracks[`${other}/camera`];
  const a0 = first.tracks[`${other}/microphone`];
  const st = await pollStatus(
    who,
    other,
    (s) => {
      const v = s.tracks[`${other}/camera`];
      const a = s.tracks[`${other}/microphone`];
      return v?.rvfc >= v0.rvfc + 5 && v?.framesDecoded >= v0.framesDecoded + 5 && a?.totalAudioEnergy > a0.totalAudioEnergy;
    },
    20000,
    `${other}'s camera and microphone still arriving (5 more frames than ${v0.rvfc} presented / ${v0.framesDecoded} decoded, energy above ${a0.totalAudioEnergy})`,
  );
  const v = st.tracks[`${other}/camera`];
  console.log(`${who} <- ${other}: later ${v.videoWidth}x${v.videoHeight}, rvfc ${v.rvfc}, decoded ${v.framesDecoded}, energy ${st.tracks[`${other}/microphone`].totalAudioEnergy}`);
}

before(async () => {
  try {
    await setUp();
  } catch (e) {
    anyFailed = true;
    throw e;
  }
});

async function setUp() {
  server = await startStaticServer();
  // The Python participant joins first, so Firefox finds its tone at its join. If it cannot join,
  // only the tests with it fail (with this error).
  py = new PythonPeer(roomName, PY, [FF]);
  pyReady = py.waitFor((e) => e.event === 'ready', 45000, 'ready (connected and publishing)');
  await pyReady.catch(() => {});
  const pageUrl = `http://127.0.0.1:${server.address().port}/page.html`;

  firefox = await launchFirefox();
  const ffPage = await firefox.newPage();
  ffPage.on('console', (m) => pageLogs[FF].push(`[${m.type()}] ${m.text()}`));
  ffPage.on('pageerror', (e) => pageLogs[FF].push(`[pageerror] ${e.message}`));
  await ffPage.goto(pageUrl, { timeout: 15000 });
  pages[FF] = ffPage;

  chromiumBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
  const crPage = await (await chromiumBrowser.newContext()).newPage();
  crPage.on('console', (m) => pageLogs[CR].push(`[${m.type()}] ${m.text()}`));
  crPage.on('pageerror', (e) => pageLogs[CR].push(`[pageerror] ${e.message}`));
  await crPage.goto(pageUrl, { timeout: 15000 });
  pages[CR] = crPage;

  // Firefox joins first, so Chromium finds its tracks at its join and Firefox gets Chromium's
  // tracks while already in the room: both subscription orders are exercised.
  for (const who of WHO) {
    const token = await makeToken(who, roomName);
    const id = await inPage(who, ([u, t]) => window.e2eConnect(u, t), [LK_URL, token], 45000, 'connect + enable camera and microphone');
    assert.equal(id, who);
  }
}

after(async () => {
  for (const who of WHO) {
    if (pages[who]) {
      const log = await inPage(who, () => window.e2e.log, undefined, 5000, 'page log').catch((e) => [String(e)]);
      pageLogs[who].push(...log.map((l) => `[e2e] ${l}`));
    }
  }
  if (anyFailed || process.env.E2E_VERBOSE) {
    for (const who of WHO) {
      const lines = pageLogs[who].map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l)).slice(-150);
      console.log(`---- ${who} console/log (last ${lines.length}) ----\n${lines.join('\n')}`);
    }
    if (py) console.log(`---- python peer stderr ----\n${py.stderr.slice(-80).join('\n')}`);
  }
  if (py) await py.stop();
  if (firefox) await firefox.close().catch(() => {});
  if (chromiumBrowser) await chromiumBrowser.close().catch(() => {});
  if (server) server.close();
});

test('Firefox joins and publishes its fake camera and microphone', async () => {
  const published = await inPage(
    FF,
    () => [...window.e2e.room.localParticipant.trackPublications.values()].map((p) => `${p.source}:${p.kind}`).sort(),
    undefined,
    10000,
    'local publications',
  );
  assert.deepEqual(published, ['camera:video', 'microphone:audio']);
  const ua = await inPage(FF, () => navigator.userAgent, undefined, 5000, 'user agent');
  assert.match(ua, /Firefox\//, `the ${FF} page is not Firefox: ${ua}`);
});

test('Firefox signals on the path the server offers, and the server logged the same', async () => {
  const sockets = await inPage(FF, () => window.e2eSockets, undefined, 5000, 'sockets');
  const found = await assertSignalPath({ sockets, httpUrl: HTTP_URL, identity: FF, logText: readServerLog() });
  console.log(`${FF} signal path: ${JSON.stringify(found)}`);
});

test('Firefox\'s ICE runs over the namespace\'s veth addresses', async () => {
  const pairs = await inPage(
    FF,
    async () => {
      const out = [];
      for (const pc of [window.e2e.room.engine.pcManager?.publisher, window.e2e.room.engine.pcManager?.subscriber]) {
        if (!pc) continue;
        const stats = await pc.getStats();
        stats.forEach((s) => {
          if (s.type === 'candidate-pair' && (s.selected || s.nominated) && s.state === 'succeeded') {
            const local = stats.get(s.localCandidateId);
            const remote = stats.get(s.remoteCandidateId);
            out.push({ local: `${local?.address}:${local?.port}`, remote: `${remote?.address}:${remote?.port}`, bytesSent: s.bytesSent, bytesReceived: s.bytesReceived });
          }
        });
      }
      return out;
    },
    undefined,
    10000,
    'ICE candidate pairs',
  );
  console.log(`${FF} selected ICE pairs: ${JSON.stringify(pairs)}`);
  assert.ok(pairs.length >= 1, `${FF}: no succeeded ICE candidate pair`);
  for (const p of pairs) {
    assert.match(p.local, /^10\.99\.0\.[12]:/, `${FF}: local candidate ${p.local} is not a namespace address`);
    assert.match(p.remote, new RegExp(`^${lkHost.replace(/\./g, '\\.')}:`), `${FF}: remote candidate ${p.remote} is not the SFU`);
  }
  assert.ok(pairs.some((p) => p.bytesSent > 0 && p.bytesReceived > 0), `${FF}: no bytes both ways on any pair`);
});

test('Chromium decodes Firefox\'s camera and hears its microphone', async () => {
  const st = await pollStatus(CR, FF, (s) => videoOk(s.tracks[`${FF}/camera`]) && audioOk(s.tracks[`${FF}/microphone`]), 30000, `${FF}/camera decoded and ${FF}/microphone audible`);
  const v = st.tracks[`${FF}/camera`];
  const a = st.tracks[`${FF}/microphone`];
  console.log(`${CR} <- ${FF}/camera: ${v.videoWidth}x${v.videoHeight}, frames ${v.totalVideoFrames}, rvfc ${v.rvfc}, packets ${v.packetsReceived}`);
  console.log(`${CR} <- ${FF}/microphone: energy ${a.totalAudioEnergy}, analyser peak ${a.analyserPeak} (AudioContext ${a.audioContext}), packets ${a.packetsReceived}`);
  await assertStillFlowing(CR, FF, st);
});

test('Firefox decodes Chromium\'s camera and hears its microphone', async () => {
  const st = await pollStatus(FF, CR, (s) => videoOk(s.tracks[`${CR}/camera`]) && audioOk(s.tracks[`${CR}/microphone`]), 30000, `${CR}/camera decoded and ${CR}/microphone audible`);
  const v = st.tracks[`${CR}/camera`];
  const a = st.tracks[`${CR}/microphone`];
  console.log(`${FF} <- ${CR}/camera: ${v.videoWidth}x${v.videoHeight}, frames ${v.totalVideoFrames}, rvfc ${v.rvfc}, packets ${v.packetsReceived}`);
  console.log(`${FF} <- ${CR}/microphone: energy ${a.totalAudioEnergy}, analyser peak ${a.analyserPeak} (AudioContext ${a.audioContext}), packets ${a.packetsReceived}`);
  await assertStillFlowing(FF, CR, st);
});

test('Firefox and Chromium exchange data messages with the right sender identity', async () => {
  for (const [who, other] of [WHO, [...WHO].reverse()]) {
    const text = `hello from ${who} ${roomName}`;
    await inPage(who, ([t]) => window.e2eSend(t, 'e2e-firefox'), [text], 20000, 'publishData');
    const deadline = Date.now() + 15000;
    let got;
    while (Date.now() < deadline && !got) {
      const data = await inPage(other, () => window.e2e.data, undefined, 5000, 'received data');
      got = data.find((d) => d.topic === 'e2e-firefox' && d.text === text);
      if (!got) await sleep(200);
    }
    assert.ok(got, `${other} did not receive the data message from ${who}`);
    assert.equal(got.from, who, `${other} got the message with sender ${got.from}, expected ${who}`);
  }
});

test('Firefox hears the Python participant\'s tone', async () => {
  await pyReady;
  const st = await pollStatus(FF, PY, (s) => audioOk(s.tracks[`${PY}/microphone`]), 30000, `${PY}/microphone audible`);
  const a = st.tracks[`${PY}/microphone`];
  console.log(`${FF} <- ${PY}/microphone: energy ${a.totalAudioEnergy}, packets ${a.packetsReceived}`);
});

test('the Python participant hears Firefox\'s microphone', async () => {
  await pyReady;
  const ev = await py.waitFor((e) => e.event === 'audio' && e.from === FF, 40000, `audio from ${FF}`);
  console.log(`${PY} <- ${FF}: ${JSON.stringify(ev)}`);
  assert.ok(ev.rms > 300, `${PY} received only silence from ${FF}: ${JSON.stringify(ev)}`);
});
