// The web client (web/dist) served by a real `xcord serve`, driven like two people would in
// headless Debian Chromium with fake camera and microphone: each creates an account through the
// UI, Alice creates a community, a voice channel and an invite, Bob joins by the invite, both
// press "Join" and each sees the other's tile named by display name and receives their audio.
// Elements are found by role and accessible name only (the names the issue fixes).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test as nodeTest } from 'node:test';
import { chromium } from 'playwright-core';
import { sleep } from '../lk.mjs';
import { HOST, XcordServer } from '../xcord-server.mjs';
import { CHROMIUM, CHROMIUM_FLAGS } from './test-page.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../../..');
const WEB_DIR = process.env.XCORD_WEB_DIR ?? path.join(root, 'web/dist');


const suffix = String(Date.now() % 1e8);
const PEOPLE = {
  alice: { handle: `alice_${suffix}`, name: 'Alice Liddell' },
  bob: { handle: `bob_${suffix}`, name: 'Bob Marley' },
};
const PASSWORD = 'correct horse battery staple';

let server;
let browser;
const pages = {};
const logs = { alice: [], bob: [] };
let anyFailed = false;

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

before(async () => {
  try {
    assert.ok(existsSync(path.join(WEB_DIR, 'index.html')), `no web client built in ${WEB_DIR}: run make web`);
    // HTTP on 127.0.0.1 as with `make run`: pages need a secure context for the camera and
    // microphone (media still flows over HOST, the namespace's address).
    server = new XcordServer('webclient', ['--web-dir', WEB_DIR], { role: 'serve', bindHost: '127.0.0.1' });
    await server.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
    for (const who of Object.keys(PEOPLE)) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      page.setDefaultTimeout(20000);
      page.on('console', (m) => logs[who].push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => logs[who].push(`[pageerror] ${e.message}`));
      pages[who] = page;
    }
  } catch (e) {
    anyFailed = true;
    throw e;
  }
});

after(async () => {
  if (anyFailed || process.env.E2E_VERBOSE) {
    for (const [who, lines] of Object.entries(logs)) {
      console.log(`---- ${who} console (last 80) ----\n${lines.slice(-80).join('\n')}`);
    }
    if (server) console.log(server.logTail(80));
  }
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
});

test('GET / is the app for browsers and still "OK" for health checks', async () => {
  const health = await fetch(`${server.httpUrl}/`);
  assert.equal(health.status, 200);
  assert.equal(await health.text(), 'OK');
  const app = await fetch(`${server.httpUrl}/c/1/2`, { headers: { accept: 'text/html' } });
  assert.equal(app.status, 200);
  assert.match(await app.text(), /<div id="root"><\/div>/);
  const api = await fetch(`${server.httpUrl}/api/v1/users/@me`, { headers: { accept: 'text/html' } });
  assert.equal(api.status, 401, 'the API keeps priority over the client-side fallback');
});

async function createAccount(who) {
  const page = pages[who];
  const { handle, name } = PEOPLE[who];
  await page.goto(`${server.httpUrl}/`);
  await page.getByLabel('Handle').fill(handle);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await page.getByRole('heading', { name: 'Communities' }).waitFor();
}

let channelUrl;

test('two people create accounts, a community, a voice channel and an invite, and join by it', async () => {
  await Promise.all([createAccount('alice'), createAccount('bob')]);
  const a = pages.alice;
  await a.getByLabel('Community name').fill('Tea Party');
  await a.getByRole('button', { name: 'Create community' }).click();
  await a.getByRole('heading', { name: 'Tea Party' }).waitFor();
  await a.getByLabel('Channel name').fill('Lounge');
  await a.getByRole('button', { name: 'Create channel' }).click();
  await a.getByRole('link', { name: 'Lounge', exact: true }).waitFor();
  await a.getByRole('button', { name: 'Create invite' }).click();
  const code = (await a.getByLabel('Invite code').textContent())?.trim();
  assert.ok(code, 'no invite code shown');

  const b = pages.bob;
  await b.getByLabel('Invite code or link').fill(code);
  await b.getByRole('button', { name: 'Join community' }).click();
  await b.getByRole('heading', { name: 'Tea Party' }).waitFor();
  await b.getByRole('link', { name: 'Lounge', exact: true }).click();
  await b.getByRole('heading', { name: 'Lounge' }).waitFor();
  channelUrl = new URL(b.url()).pathname;
  assert.match(channelUrl, /^\/c\/[^/]+\/[^/]+$/);
  // Bob's home lists the community as a link too
  await b.goto(`${server.httpUrl}/`);
  await b.getByRole('link', { name: 'Tea Party', exact: true }).waitFor();
});

test('both join the voice channel and each sees and hears the other', async () => {
  assert.ok(channelUrl, 'the previous test did not reach the channel');
  // From page load (a fresh navigation) to "Connected", for each.
  const joinTimes = await Promise.all(
    ['alice', 'bob'].map(async (who) => {
      const page = pages[who];
      const t0 = Date.now();
      await page.goto(`${server.httpUrl}${channelUrl}`);
      await page.getByRole('button', { name: 'Join', exact: true }).click();
      await page.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
      return Date.now() - t0;
    }),
  );
  console.log(`page load to connected: alice ${joinTimes[0]} ms, bob ${joinTimes[1]} ms`);

  for (const [who, other] of [['alice', 'bob'], ['bob', 'alice']]) {
    const page = pages[who];
    await page.getByRole('group', { name: PEOPLE[other].name, exact: true }).waitFor();
    await page.getByRole('group', { name: PEOPLE[who].name, exact: true }).waitFor();
  }

  // Audio flows: the bytes received on the other's microphone track keep growing.
  for (const who of ['alice', 'bob']) {
    const bytes = () => pages[who].evaluate(() => window.xcordSession.inboundAudioBytes());
    let first = 0;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline && first === 0) {
      first = await bytes();
      if (first === 0) await sleep(250);
    }
    assert.ok(first > 0, `${who} received no audio bytes`);
    await sleep(1000);
    const second = await bytes();
    assert.ok(second > first, `${who}'s inbound audio stopped growing (${first} then ${second})`);
    const audios = await pages[who].locator('audio').count();
    assert.ok(audios >= 1, `${who} has no <audio> element playing the other`);
  }
});

test('the call controls toggle with aria-pressed, and Leave removes the tile on the other side', async () => {
  const a = pages.alice;
  const b = pages.bob;
  const mute = a.getByRole('button', { name: 'Mute', exact: true });
  assert.equal(await mute.getAttribute('aria-pressed'), 'false');
  await mute.click();
  await a.locator('button[aria-pressed="true"]', { hasText: 'Mute' }).waitFor();
  // Bob sees Alice's microphone muted on her tile
  await b.locator(`figure[aria-label="${PEOPLE.alice.name}"][data-mic-muted="true"]`).waitFor();

  const deafen = a.getByRole('button', { name: 'Deafen', exact: true });
  await deafen.click();
  assert.equal(await deafen.getAttribute('aria-pressed'), 'true');
  assert.equal(await a.evaluate(() => [...document.querySelectorAll('audio')].every((el) => el.muted)), true);
  await deafen.click();
  assert.equal(await a.evaluate(() => [...document.querySelectorAll('audio')].some((el) => el.muted)), false);

  const camera = a.getByRole('button', { name: 'Camera', exact: true });
  assert.equal(await camera.getAttribute('aria-pressed'), 'false');
  await camera.click();
  await a.locator('button[aria-pressed="true"]', { hasText: 'Camera' }).waitFor();
  // Bob's tile of Alice now shows her video, with frames decoded
  const video = b.getByRole('group', { name: PEOPLE.alice.name, exact: true }).locator('video');
  await video.waitFor();
  await b.waitForFunction(
    (name) => {
      const v = document.querySelector(`figure[aria-label="${name}"] video`);
      return v && v.videoWidth > 0;
    },
    PEOPLE.alice.name,
    { timeout: 20000 },
  );

  await b.getByRole('button', { name: 'Leave', exact: true }).click();
  await b.getByRole('button', { name: 'Join', exact: true }).waitFor();
  await a.getByRole('group', { name: PEOPLE.bob.name, exact: true }).waitFor({ state: 'detached' });
});
