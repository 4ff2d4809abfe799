// Picture-in-picture, the overlay window and what others see of a voice channel, with the web
// client against a real `xcord serve`, in headless Debian Chromium with fake devices (one browser
// context per person): Carol, not in the channel, sees who speaks in it (VOICE_SPEAKING) and
// who is muted and deafened; Bob deafens and Alice's tile of him shows it; Bob's overlay window
// (`/overlay`, a second page holding no media) shows the channel, the count and who speaks, and
// mutes him; Alice leaves the channel's page and the picture-in-picture window appears, is
// dragged, resized, moved by keyboard and minimised, keeps its place through `set_pip` and a
// reload, shows a screen share as such, pops out where Document Picture-in-Picture exists, and
// goes away when she comes back. axe-core checks each new view.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test as nodeTest } from 'node:test';
import { chromium } from 'playwright-core';
import { sleep } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { CHROMIUM, CHROMIUM_FLAGS, checkAxe } from './test-page.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../../..');
const WEB_DIR = process.env.XCORD_WEB_DIR ?? path.join(root, 'web/dist');


/**
 * A loud, steady 440 Hz tone as the fake microphone: Chromium's own fake device beeps too
 * briefly to count as speech, and speaking is what this file checks.
 */
function toneWav() {
  const rate = 48000;
  const samples = rate * 2;
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + samples * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) {
    buf.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 16000), 44 + i * 2);
  }
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'xcord-pip-')), 'tone.wav');
  writeFileSync(file, buf);
  return file;
}

const suffix = String(Date.now() % 1e8);
const PEOPLE = {
  alice: { handle: `alice_p${suffix}`, name: 'Alice Liddell' },
  bob: { handle: `bob_p${suffix}`, name: 'Bob Marley' },
  carol: { handle: `carol_p${suffix}`, name: 'Carol Danvers' },
};
const PASSWORD = 'correct horse battery staple';

let server;
let browser;
const contexts = {};
const pages = {};
const logs = {};
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

async function newPage(who, label = who) {
  const page = await contexts[who].newPage();
  page.setDefaultTimeout(20000);
  logs[label] = [];
  page.on('console', (m) => logs[label].push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs[label].push(`[pageerror] ${e.message}`));
  pages[label] = page;
  return page;
}

before(async () => {
  try {
    assert.ok(existsSync(path.join(WEB_DIR, 'index.html')), `no web client built in ${WEB_DIR}: run make web`);
    server = new XcordServer('webpip', ['--web-dir', WEB_DIR], {
      role: 'serve',
      bindHost: '127.0.0.1',
      port: 8031, // calls.test.mjs takes 7990, webclient.test.mjs 7950
    });
    await server.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_FLAGS, `--use-file-for-fake-audio-capture=${toneWav()}`],
      timeout: 30000,
    });
    for (const who of Object.keys(PEOPLE)) {
      contexts[who] = await browser.newContext();
      await newPage(who);
    }
  } catch (e) {
    anyFailed = true;
    throw e;
  }
});

after(async () => {
  if (anyFailed || process.env.E2E_VERBOSE) {
    for (const [who, lines] of Object.entries(logs)) {
      console.log(`---- ${who} console (last 60) ----\n${lines.slice(-60).join('\n')}`);
    }
    if (server) console.log(server.logTail(120));
  }
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
});

async function createAccount(who) {
  const page = pages[who];
  const { handle, name } = PEOPLE[who];
  await page.goto(`${server.httpUrl}/`);
  await page.getByLabel('Handle').waitFor();
  if (who === 'alice') await checkAxe(page, 'the sign-in page');
  await page.getByLabel('Handle').fill(handle);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await page.getByRole('heading', { name: 'Communities' }).waitFor();
}

/** The API as this page's signed-in user. */
function apiCall(page, method, urlPath, body) {
  return page.evaluate(
    async ([method, urlPath, body]) => {
      const r = await fetch(`/api/v1${urlPath}`, {
        method,
        headers: {
          authorization: `Bearer ${localStorage.getItem('xcord.token')}`,
          'content-type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    [method, urlPath, body],
  );
}

let communityPath;
let denPath;

/** The media session as this page's store has it. */
function mediaSession(page) {
  return page.evaluate(() => window.xcordClient.store.snapshot().mediaSession);
}

test('three people, a community with a voice channel, joined by invite', async () => {
  await Promise.all(Object.keys(PEOPLE).map(createAccount));
  const a = pages.alice;
  await a.getByLabel('Community name').fill('Pipland');
  await a.getByRole('button', { name: 'Create community' }).click();
  await a.getByRole('heading', { name: 'Pipland' }).waitFor();
  communityPath = new URL(a.url()).pathname;
  await a.getByLabel('Channel name').fill('Den');
  await a.getByRole('button', { name: 'Create channel' }).click();
  await a.getByRole('link', { name: 'Den', exact: true }).waitFor();
  await a.getByRole('button', { name: 'Create invite' }).click();
  const code = (await a.getByLabel('Invite code').textContent())?.trim();
  assert.ok(code, 'no invite code shown');
  for (const who of ['bob', 'carol']) {
    const p = pages[who];
    await p.getByLabel('Invite code or link').fill(code);
    await p.getByRole('button', { name: 'Join community' }).click();
    await p.getByRole('heading', { name: 'Pipland' }).waitFor();
  }
  denPath = new URL(await a.getByRole('link', { name: 'Den', exact: true }).evaluate((el) => el.href)).pathname;
});

test('Carol, not in the channel, sees who speaks in it; deafen shows to Carol and in Alice\'s call', async () => {
  const [a, b, c] = [pages.alice, pages.bob, pages.carol];
  await c.goto(`${server.httpUrl}${communityPath}`);
  for (const p of [a, b]) {
    await p.goto(`${server.httpUrl}${denPath}`);
    await p.getByRole('button', { name: 'Join', exact: true }).click();
    await p.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
  }
  const inDen = c.getByRole('list', { name: 'In Den' });
  await inDen.getByText(PEOPLE.alice.name).waitFor();
  await inDen.getByText(PEOPLE.bob.name).waitFor();
  // the fake microphones beep: the SFU's speaker detection reaches Carol as VOICE_SPEAKING
  await inDen.locator('li[data-speaking="true"]').first().waitFor({ timeout: 30000 });
  await inDen.getByText('(speaking)').first().waitFor({ state: 'attached' });
  const heard = await c.evaluate(() => window.xcordClient.store.snapshot().speaking);
  assert.ok(Object.keys(heard).length <= 1, `speaking is kept per channel: ${JSON.stringify(heard)}`);
  assert.equal(await c.evaluate(() => window.xcordSession.snapshot().status), 'idle', 'Carol is in no call');
  await checkAxe(c, 'the channel list with someone speaking');

  // Bob deafens: the server mutes him too and updates his voice state, so Carol's list shows
  // both; Alice's tile of him shows it from the session's participants
  const bobInList = inDen.locator(`li[data-user-id]`, { hasText: PEOPLE.bob.name });
  await b.getByRole('button', { name: 'Deafen', exact: true }).click();
  await bobInList.getByRole('img', { name: 'deafened' }).waitFor();
  await bobInList.getByRole('img', { name: 'muted' }).waitFor();
  const bobTile = a.getByRole('group', { name: PEOPLE.bob.name, exact: true });
  await bobTile.getByRole('img', { name: 'deafened' }).waitFor();
  await a.waitForFunction(
    (name) => window.xcordClient.store.snapshot().mediaSession.participants.some((p) => p.displayName === name && p.deafened),
    PEOPLE.bob.name,
  );
  await b.locator('button[aria-pressed="true"]', { hasText: 'Mute' }).waitFor();
  await b.getByRole('button', { name: 'Deafen', exact: true }).click();
  await bobInList.getByRole('img', { name: 'deafened' }).waitFor({ state: 'detached' });
  await bobInList.getByRole('img', { name: 'muted' }).waitFor({ state: 'detached' });
  await bobTile.getByRole('img', { name: 'deafened' }).waitFor({ state: 'detached' });
});

test("Bob's overlay window shows the channel, the count and who speaks, and mutes him without media of its own", async () => {
  const [a, b] = [pages.alice, pages.bob];
  const o = await newPage('bob', 'bob-overlay');
  await o.goto(`${server.httpUrl}/overlay`);
  const overlay = o.getByRole('main', { name: 'Overlay' });
  await overlay.getByRole('heading', { name: 'Den' }).waitFor();
  await overlay.getByText('2 people').waitFor();
  await overlay.getByRole('region', { name: 'Speaking' }).getByRole('listitem').first().waitFor({ timeout: 30000 });
  await checkAxe(o, 'the overlay window');
  const mute = overlay.getByRole('button', { name: 'Mute', exact: true });
  assert.equal(await mute.getAttribute('aria-pressed'), 'false');
  // Alice hears Bob's tone: her room says he speaks
  const bobSpeaking = (v) => a.locator(`figure[aria-label="${PEOPLE.bob.name}"][data-speaking="${v}"]`);
  await bobSpeaking(true).waitFor();
  await mute.click();
  await overlay.locator('button[aria-pressed="true"]', { hasText: 'Mute' }).waitFor();
  // the window with the media follows: Bob's microphone is muted, and Alice sees it
  await b.locator('button[aria-pressed="true"]', { hasText: 'Mute' }).waitFor();
  await a.locator(`figure[aria-label="${PEOPLE.bob.name}"][data-mic-muted="true"]`).waitFor();
  // and she stops hearing him: his track sends silence, so he no longer speaks in her room
  await bobSpeaking(false).waitFor();
  assert.equal(await o.evaluate(() => window.xcordSession.snapshot().status), 'idle', 'the overlay holds no room');
  assert.equal(await b.evaluate(() => window.xcordSession.snapshot().status), 'connected');
  await mute.click();
  await a.locator(`figure[aria-label="${PEOPLE.bob.name}"][data-mic-muted="false"]`).waitFor();
  await bobSpeaking(true).waitFor();
  await overlay.getByRole('button', { name: 'Deafen', exact: true }).click();
  await b.locator('button[aria-pressed="true"]', { hasText: 'Deafen' }).waitFor();
  await overlay.getByRole('button', { name: 'Deafen', exact: true }).click();
  await b.locator('button[aria-pressed="false"]', { hasText: 'Deafen' }).waitFor();
});

/** Drags from the middle of `handle` by (dx, dy) with the mouse. */
async function drag(page, handle, dx, dy) {
  const box = await handle.boundingBox();
  assert.ok(box, 'the handle is not visible');
  const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx, y + dy, { steps: 8 });
  await page.mouse.up();
}

/** Waits until the server's `pip` (through this page's store) satisfies `pred`. */
async function pipStored(page, pred, what) {
  const deadline = Date.now() + 10000;
  let pip;
  while (Date.now() < deadline) {
    pip = (await mediaSession(page))?.pip;
    if (pip && pred(pip)) return pip;
    await sleep(100);
  }
  assert.fail(`${what}: the stored pip is ${JSON.stringify(pip)}`);
}

test('Alice leaves the channel page: the picture-in-picture window appears, moves, resizes, minimises and keeps its place through a reload', async () => {
  const a = pages.alice;
  await a.getByRole('navigation', { name: 'Communities' }).getByRole('link', { name: 'Pipland' }).click();
  const pip = a.getByRole('region', { name: 'Picture in picture' });
  await pip.waitFor();
  assert.equal(await pip.getAttribute('data-variant'), 'voice');
  // the call goes on: same room, still connected; the current-call bar gives way to the window
  assert.equal(await a.evaluate(() => window.xcordSession.snapshot().status), 'connected');
  assert.equal(await a.getByRole('region', { name: 'Current call' }).count(), 0);
  await pip.getByText(PEOPLE.bob.name).waitFor();
  await checkAxe(a, 'a page with the picture-in-picture window');

  // dragged by its handle
  const before = await pip.boundingBox();
  await drag(a, pip.getByRole('button', { name: 'Move picture in picture' }), -300, -150);
  const moved = await pip.boundingBox();
  assert.ok(Math.abs(moved.x - (before.x - 300)) <= 2 && Math.abs(moved.y - (before.y - 150)) <= 2, `dragged: ${JSON.stringify([before, moved])}`);
  await pipStored(a, (p) => Math.abs(p.x - moved.x) <= 1 && Math.abs(p.y - moved.y) <= 1, 'after the drag');

  // resized from its corner
  await drag(a, pip.getByRole('button', { name: 'Resize picture in picture' }), 80, 40);
  const grown = await pip.boundingBox();
  assert.ok(Math.abs(grown.width - (moved.width + 80)) <= 2 && Math.abs(grown.height - (moved.height + 40)) <= 2, `resized: ${JSON.stringify([moved, grown])}`);
  await pipStored(a, (p) => Math.abs(p.width - grown.width) <= 1 && Math.abs(p.height - grown.height) <= 1, 'after the resize');

  // by keyboard: arrow keys on the move handle
  const handle = pip.getByRole('button', { name: 'Move picture in picture' });
  await handle.focus();
  await a.keyboard.press('ArrowRight');
  await a.keyboard.press('ArrowRight');
  await a.keyboard.press('ArrowUp');
  const keyed = await pipStored(a, (p) => Math.abs(p.x - (grown.x + 20)) <= 1 && Math.abs(p.y - (grown.y - 10)) <= 1, 'after the arrow keys');

  // minimised: only the bar stays; the place is kept
  const minimise = pip.getByRole('button', { name: 'Minimise', exact: true });
  await minimise.click();
  await a.locator('section.pip[data-minimized="true"]').waitFor();
  assert.equal(await minimise.getAttribute('aria-pressed'), 'true');
  const small = await pip.boundingBox();
  assert.ok(small.height < 80, `minimised height ${small.height}`);
  await pipStored(a, (p) => p.minimized === true, 'minimised');
  await minimise.click();
  await pipStored(a, (p) => p.minimized === false, 'restored');

  // a reload: the window comes back where it was, from the session's state
  await a.reload();
  await pip.waitFor();
  const again = await pip.boundingBox();
  assert.ok(
    Math.abs(again.x - keyed.x) <= 1 && Math.abs(again.y - keyed.y) <= 1 && Math.abs(again.width - keyed.width) <= 1 && Math.abs(again.height - keyed.height) <= 1,
    `after the reload: ${JSON.stringify([keyed, again])}`,
  );
  await a.waitForFunction(() => window.xcordSession.snapshot().status === 'connected', null, { timeout: 30000 });
});

test('Document Picture-in-Picture: offered exactly where the browser has it, and pops the window out', async () => {
  const a = pages.alice;
  const pip = a.getByRole('region', { name: 'Picture in picture' });
  const supported = await a.evaluate(() => 'documentPictureInPicture' in window);
  const popOut = pip.getByRole('button', { name: 'Pop out', exact: true });
  assert.equal(await popOut.count(), supported ? 1 : 0, `Pop out offered iff supported (${supported})`);
  console.log(`# Document Picture-in-Picture in this Chromium: ${supported}`);
  if (!supported) return;
  await popOut.click();
  const opened = await a
    .waitForFunction(() => !!window.documentPictureInPicture.window, null, { timeout: 5000 })
    .then(() => true)
    .catch(() => false);
  console.log(`# pop-out window opened in headless Chromium: ${opened}`);
  if (!opened) return;
  // the controls live in the other window now; the page keeps a notice
  const inside = await a.evaluate(() => {
    const d = window.documentPictureInPicture.window.document;
    return [...d.querySelectorAll('button')].map((b) => b.textContent);
  });
  assert.deepEqual(inside, ['Mute', 'Deafen', 'Leave']);
  await pip.getByRole('button', { name: 'Back into the page' }).click();
  await a.waitForFunction(() => !window.documentPictureInPicture.window);
  await pip.getByRole('button', { name: 'Move picture in picture' }).waitFor();
});

test('back on the channel page the window goes away; a screen share makes it a screen picture', async () => {
  const a = pages.alice;
  const pip = a.getByRole('region', { name: 'Picture in picture' });
  await pip.getByRole('link', { name: 'Back to Den' }).click();
  await pip.waitFor({ state: 'detached' });
  await a.getByRole('region', { name: 'Call', exact: true }).waitFor();
  const share = a.getByRole('button', { name: 'Share screen', exact: true });
  await share.click();
  await a.locator('button[aria-pressed="true"]', { hasText: 'Share screen' }).waitFor();
  await a.getByRole('navigation', { name: 'Communities' }).getByRole('link', { name: 'Pipland' }).click();
  await pip.waitFor();
  assert.equal(await pip.getAttribute('data-variant'), 'screen');
  await pip.getByRole('group', { name: `Screen of ${PEOPLE.alice.name}` }).waitFor();
  await a.waitForFunction(() => {
    const v = document.querySelector('section.pip video');
    return v && v.videoWidth > 0;
  });
  await checkAxe(a, 'the picture-in-picture window with a screen share');
  await a.goBack();
  await pip.waitFor({ state: 'detached' });
  await share.click();
  await a.locator('button[aria-pressed="false"]', { hasText: 'Share screen' }).waitFor();
});

test("leaving from Bob's overlay ends his session in his main window", async () => {
  const o = pages['bob-overlay'];
  const b = pages.bob;
  await o.getByRole('main', { name: 'Overlay' }).getByRole('button', { name: 'Leave', exact: true }).click();
  await o.getByText('Not in a call.').waitFor();
  await b.getByRole('button', { name: 'Join', exact: true }).waitFor();
  await b.waitForFunction(() => window.xcordSession.snapshot().status === 'idle');
});
