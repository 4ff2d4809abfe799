// The web client (web/dist) served by a real `xcord serve`, driven like two people would in
// headless Debian Chromium with fake camera and microphone: each creates an account through the
// UI, Alice creates a community, a voice channel and an invite, Bob joins by the invite, both
// press "Join" and each sees the other's tile named by display name and receives their audio.
// Then the server goes out of reach for a few seconds (nftables in the test namespace: the
// server's HTTP and ICE-TCP ports reset, its media port dropped): both see the "Reconnecting…"
// banner, and once the server is back the banner goes and audio flows again. Last, both join a
// video channel and each sees the other's camera (decoded frames) and hears the other.
// Elements are found by role and accessible name only (the names the issue fixes).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test as nodeTest } from 'node:test';
import { chromium } from 'playwright-core';
import { sleep } from '../lk.mjs';
import { DEFAULT_MEDIA_THREADS, HOST, XcordServer } from '../xcord-server.mjs';
import { CHROMIUM, CHROMIUM_FLAGS, checkAxe } from './test-page.mjs';

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

/** The nftables table that cuts the server off (reconnecting test); removed in `after` too. */
const CUT_TABLE = `xcord_webclient_cut_${process.pid}`;

function restoreServer() {
  try {
    execFileSync('nft', ['delete', 'table', 'inet', CUT_TABLE], { stdio: 'ignore' });
  } catch {
    // not cut
  }
}

/**
 * Cuts every page off the server, as a network that goes away: TCP to its HTTP port (the
 * gateway, the API, the LiveKit signal connection) and ICE-TCP port is answered with a reset,
 * what the server sends on them is dropped (but for those resets, which seem to come from it),
 * and every datagram to or from its media ports (one per shard) is dropped.
 */
function cutServerOff() {
  // Every media shard's ports: ICE-TCP from HTTP + 1, UDP from HTTP + 2, one each per shard.
  const http = server.port;
  const iceTcp = `${server.port + 1}-${server.port + DEFAULT_MEDIA_THREADS}`;
  const media = `${server.port + 2}-${server.port + 1 + DEFAULT_MEDIA_THREADS}`;
  const script = `table inet ${CUT_TABLE} {
 chain out {
  type filter hook output priority 0;
  tcp dport { ${http}, ${iceTcp} } reject with tcp reset
  tcp sport { ${http}, ${iceTcp} } tcp flags & rst == 0 drop
  udp dport ${media} drop
  udp sport ${media} drop
 }
}
`;
  execFileSync('nft', ['-f', '-'], { input: script });
}

after(async () => {
  restoreServer();
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
let videoChannelUrl;

test('two people create accounts, a community, a voice channel and an invite, and join by it', async () => {
  await Promise.all([createAccount('alice'), createAccount('bob')]);
  const a = pages.alice;
  await a.getByLabel('Community name').fill('Tea Party');
  await a.getByRole('button', { name: 'Create community' }).click();
  await a.getByRole('heading', { name: 'Tea Party' }).waitFor();
  await a.getByLabel('Channel name').fill('Lounge');
  await a.getByRole('button', { name: 'Create channel' }).click();
  await a.getByRole('link', { name: 'Lounge', exact: true }).waitFor();
  await a.getByLabel('Channel name').fill('Cinema');
  await a.getByLabel('Kind').selectOption('video');
  await a.getByRole('button', { name: 'Create channel' }).click();
  await a.getByRole('link', { name: 'Cinema', exact: true }).waitFor();
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
  await b.getByRole('link', { name: 'Cinema', exact: true }).click();
  await b.getByRole('heading', { name: 'Cinema' }).waitFor();
  videoChannelUrl = new URL(b.url()).pathname;
  assert.match(videoChannelUrl, /^\/c\/[^/]+\/[^/]+$/);
  assert.notEqual(videoChannelUrl, channelUrl);
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

  for (const who of ['alice', 'bob']) await assertHearsTheOther(who);
});

const inboundAudioBytes = (who) => pages[who].evaluate(() => window.xcordSession.inboundAudioBytes());

/** Audio flows: the bytes received on the other's microphone track keep growing. */
async function assertHearsTheOther(who) {
  let first = 0;
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline && first === 0) {
    first = await inboundAudioBytes(who);
    if (first === 0) await sleep(250);
  }
  assert.ok(first > 0, `${who} received no audio bytes`);
  await sleep(1000);
  const second = await inboundAudioBytes(who);
  assert.ok(second > first, `${who}'s inbound audio stopped growing (${first} then ${second})`);
  const audios = await pages[who].locator('audio').count();
  assert.ok(audios >= 1, `${who} has no <audio> element playing the other`);
}

const banner = (who) => pages[who].getByRole('alert', { name: 'Reconnecting…', exact: true });
const callStatus = (who, text) => pages[who].getByRole('status').filter({ hasText: new RegExp(`^${text}$`) });

test('the server out of reach for a while: both see "Reconnecting…", then it goes and audio flows again', async () => {
  for (const who of ['alice', 'bob']) {
    assert.equal(await banner(who).count(), 0, `${who} shows the reconnecting banner before anything broke`);
  }
  const cutAt = Date.now();
  cutServerOff();
  try {
    // The signal connection's next ping (every 5 s) meets the reset.
    for (const who of ['alice', 'bob']) {
      await banner(who).waitFor({ timeout: 15000 });
      await callStatus(who, 'Reconnecting…').waitFor({ timeout: 1000 });
    }
    console.log(`cut off: both show the banner after ${Date.now() - cutAt} ms`);
    await checkAxe(pages.alice, 'a call with the reconnecting banner');
    // The cut holds: no audio arrives while it lasts.
    const during = await inboundAudioBytes('alice');
    await sleep(1500);
    assert.equal(await inboundAudioBytes('alice'), during, "audio reached Alice through the cut");
    // Both still show the call, with the other's tile.
    for (const [who, other] of [['alice', 'bob'], ['bob', 'alice']]) {
      await pages[who].getByRole('group', { name: PEOPLE[other].name, exact: true }).waitFor({ timeout: 1000 });
    }
  } finally {
    restoreServer();
  }
  const restoredAt = Date.now();
  for (const who of ['alice', 'bob']) {
    await banner(who).waitFor({ state: 'detached', timeout: 30000 });
    await callStatus(who, 'Connected').waitFor({ timeout: 1000 });
    console.log(`restored: ${who}'s banner gone after ${Date.now() - restoredAt} ms`);
  }
  for (const [who, other] of [['alice', 'bob'], ['bob', 'alice']]) {
    await pages[who].getByRole('group', { name: PEOPLE[other].name, exact: true }).waitFor();
  }
  for (const who of ['alice', 'bob']) await assertHearsTheOther(who);
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

test("both join a video channel: the camera comes on, and each sees the other's camera and hears the other", async () => {
  assert.ok(videoChannelUrl, 'the first test did not create the video channel');
  // Alice is still in the voice channel (unmuted: undeafening unmuted her); she moves.
  for (const who of ['alice', 'bob']) {
    const page = pages[who];
    await page.goto(`${server.httpUrl}${videoChannelUrl}`);
    await page.getByRole('heading', { name: 'Cinema' }).waitFor();
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await callStatus(who, 'Connected').waitFor();
    await page.locator('button[aria-pressed="true"]', { hasText: 'Camera' }).waitFor();
  }
  for (const [who, other] of [['alice', 'bob'], ['bob', 'alice']]) {
    const page = pages[who];
    for (const name of [PEOPLE[other].name, PEOPLE[who].name]) {
      await page.getByRole('group', { name, exact: true }).locator('video').waitFor();
    }
    // the other's camera is decoded: frames with a size, and more of them over time
    const frames = () =>
      page.evaluate((name) => {
        const v = document.querySelector(`figure[aria-label="${name}"] video`);
        return v && v.videoWidth > 0 ? v.getVideoPlaybackQuality().totalVideoFrames : 0;
      }, PEOPLE[other].name);
    let first = 0;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline && first === 0) {
      first = await frames();
      if (first === 0) await sleep(250);
    }
    assert.ok(first > 0, `${who} decoded no frame of ${other}'s camera`);
    await sleep(1000);
    const second = await frames();
    assert.ok(second > first, `${who}'s picture of ${other} froze (${first} then ${second} frames)`);
  }
  for (const who of ['alice', 'bob']) await assertHearsTheOther(who);
  await checkAxe(pages.bob, 'a video channel with two cameras');
});
