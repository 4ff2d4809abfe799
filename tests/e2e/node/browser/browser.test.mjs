// xcord SFU against the browser SDK (livekit-client) in headless Debian Chromium, with fake
// camera/microphone, plus a Python SDK participant in the same room.
//
// Two pages (web-a, web-b) load page.html from a static server on 127.0.0.1, connect to the SFU,
// and enable camera + microphone with default publish options. The Python participant (py-peer)
// publishes a 440 Hz tone and listens to both pages' microphones.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test as nodeTest } from 'node:test';
import { chromium } from 'playwright-core';
import { URL as LK_URL, makeToken, sleep, uniqueRoom, withTimeout } from '../lk.mjs';
import { CHROMIUM, CHROMIUM_FLAGS } from './test-page.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../../..');
const umdPath = path.join(here, '../node_modules/livekit-client/dist/livekit-client.umd.js');
const PYTHON = process.env.E2E_PYTHON ?? path.join(root, '.venv/bin/python');


const WEB = ['web-a', 'web-b'];
const PY = 'py-peer';

let server;
let baseUrl;
let browser;
let py;
let pyReady;
const pages = {};
const pageLogs = { 'web-a': [], 'web-b': [] };
const pyEvents = [];
const pyStderr = [];
const roomName = uniqueRoom('browser');
let anyFailed = false;

// node:test sets the exit code only after the after() hooks ran: remember failures ourselves so
// that after() can print the page and Python logs when something failed.
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
    '/': ['text/html', path.join(here, 'page.html')],
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

function startPythonPeer() {
  const proc = spawn(
    PYTHON,
    ['interop_peer.py', '--room', roomName, '--identity', PY, ...WEB.flatMap((w) => ['--listen', w])],
    { cwd: path.join(root, 'tests/e2e/python'), stdio: ['pipe', 'pipe', 'pipe'], env: process.env },
  );
  createInterface({ input: proc.stdout }).on('line', (line) => {
    try {
      pyEvents.push(JSON.parse(line));
    } catch {
      pyStderr.push(`stdout: ${line}`);
    }
  });
  createInterface({ input: proc.stderr }).on('line', (line) => pyStderr.push(line));
  proc.exitCodeP = new Promise((r) => proc.on('exit', (code, sig) => r(code ?? sig)));
  return proc;
}

async function waitPy(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const e = pyEvents.find(pred);
    if (e) return e;
    const err = pyEvents.find((x) => x.event === 'error');
    if (err) throw new Error(`python peer failed: ${err.message}`);
    if (py.exitCode !== null) throw new Error(`python peer exited (${py.exitCode}) before: ${what}`);
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for python peer: ${what}; events ${JSON.stringify(pyEvents)}`);
}

/** Polls e2eStatus(identity) on `page` until check(status) is truthy; returns the last status. */
async function pollStatus(who, identity, check, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await withTimeout(pages[who].evaluate((id) => window.e2eStatus(id), identity), 10000, 'e2eStatus');
    if (check(last)) return last;
    await sleep(250);
  }
  throw new Error(`${who}: ${what} not met within ${ms} ms; last status ${JSON.stringify(last)}`);
}

const videoOk = (t) => t && t.videoWidth > 0 && (t.totalVideoFrames > 0 || t.rvfc > 0);
const audioOk = (t) => t && (t.totalAudioEnergy > 0 || t.analyserPeak > 0.01);

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
  baseUrl = `http://127.0.0.1:${server.address().port}`;
  // The Python participant joins first, so the pages find its track at their join. If it cannot
  // join, only the interop tests fail (with this error); the browser-only tests still run.
  py = startPythonPeer();
  pyReady = waitPy((e) => e.event === 'ready', 45000, 'ready (connected and publishing)');
  pyReady.catch(() => {});
  await pyReady.catch(() => {});

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
  for (const who of WEB) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on('console', (m) => pageLogs[who].push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLogs[who].push(`[pageerror] ${e.message}`));
    await page.goto(`${baseUrl}/page.html`, { timeout: 15000 });
    pages[who] = page;
  }
  // connect both pages concurrently (as two users joining at the same time would)
  await Promise.all(
    WEB.map(async (who) => {
      const token = await makeToken(who, roomName);
      const id = await withTimeout(
        pages[who].evaluate(([u, t]) => window.e2eConnect(u, t), [LK_URL, token]),
        45000,
        `${who}: connect + enable camera and microphone`,
      );
      assert.equal(id, who);
    }),
  );
}

after(async () => {
  const failed = anyFailed;
  for (const who of WEB) {
    if (pages[who]) {
      const log = await withTimeout(pages[who].evaluate(() => window.e2e.log), 5000, 'page log').catch((e) => [String(e)]);
      pageLogs[who].push(...log.map((l) => `[e2e] ${l}`));
    }
  }
  if (failed || process.env.E2E_VERBOSE) {
    for (const who of WEB) {
      const lines = pageLogs[who].map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l)).slice(-150);
      console.log(`---- ${who} console/log (last ${lines.length}) ----\n${lines.join('\n')}`);
    }
    console.log(`---- python peer stderr ----\n${pyStderr.slice(-80).join('\n')}`);
  }
  if (browser) await browser.close().catch(() => {});
  if (py && py.exitCode === null) {
    py.stdin.end();
    const code = await Promise.race([py.exitCodeP, sleep(10000).then(() => 'timeout')]);
    if (code === 'timeout') py.kill('SIGKILL');
  }
  if (server) server.close();
});

test('each page sees the other page\'s camera with decoded frames', async () => {
  for (const [who, other] of [WEB, [...WEB].reverse()]) {
    const st = await pollStatus(who, other, (s) => videoOk(s.tracks[`${other}/camera`]), 30000, `${other}/camera decoded`);
    const v = st.tracks[`${other}/camera`];
    console.log(`${who} <- ${other}/camera: ${v.videoWidth}x${v.videoHeight}, frames ${v.totalVideoFrames}, rvfc ${v.rvfc}`);
  }
});

test('each page hears the other page\'s microphone', async () => {
  for (const [who, other] of [WEB, [...WEB].reverse()]) {
    const st = await pollStatus(who, other, (s) => audioOk(s.tracks[`${other}/microphone`]), 30000, `${other}/microphone audible`);
    const a = st.tracks[`${other}/microphone`];
    console.log(`${who} <- ${other}/microphone: energy ${a.totalAudioEnergy}, analyser peak ${a.analyserPeak}, packets ${a.packetsReceived}`);
  }
});

test('pages exchange data messages with the right sender identity', async () => {
  for (const [who, other] of [WEB, [...WEB].reverse()]) {
    const text = `hello from ${who} ${roomName}`;
    await withTimeout(pages[who].evaluate(([t]) => window.e2eSend(t, 'e2e-browser'), [text]), 20000, `${who}: publishData`);
    const deadline = Date.now() + 15000;
    let got;
    while (Date.now() < deadline && !got) {
      const data = await pages[other].evaluate(() => window.e2e.data);
      got = data.find((d) => d.topic === 'e2e-browser' && d.text === text);
      if (!got) await sleep(200);
    }
    assert.ok(got, `${other} did not receive the data message from ${who}`);
    assert.equal(got.from, who, `${other} got the message with sender ${got.from}, expected ${who}`);
  }
});

test('pages hear the Python participant\'s tone', async () => {
  await pyReady;
  for (const who of WEB) {
    const st = await pollStatus(who, PY, (s) => audioOk(s.tracks[`${PY}/microphone`]), 30000, `${PY}/microphone audible`);
    const a = st.tracks[`${PY}/microphone`];
    console.log(`${who} <- ${PY}/microphone: energy ${a.totalAudioEnergy}, analyser peak ${a.analyserPeak}`);
  }
});

test('the Python participant hears both pages\' microphones', async () => {
  await pyReady;
  for (const who of WEB) {
    const ev = await waitPy((e) => e.event === 'audio' && e.from === who, 40000, `audio from ${who}`);
    console.log(`${PY} <- ${who}: ${JSON.stringify(ev)}`);
    assert.ok(ev.rms > 300, `${PY} received only silence from ${who}: ${JSON.stringify(ev)}`);
  }
});
