// The web client's gateway-driven parts and DM calls, against a real `xcord serve`, driven in
// headless Debian Chromium with fake devices by three people (one browser context each; a
// second page in a context is a second tab of the same person): text chat live and with history
// paging; who is in a voice channel, seen from the channel list; Alice calls Bob from their DM,
// Bob's "Incoming call" dialog shows her name and counts down, both of Bob's tabs ring, he
// accepts and both stop ringing, both are in the call and hear each other; Carol's call during
// it waits in Bob's dialog (call waiting) and he declines it; a second tab of Alice offers "Move
// call here" and claiming it moves her media there (Bob still hears her), and closing that tab
// hands the media back to the first; Alice hangs up and Bob's call ends; a video call between
// Carol and Bob brings each camera to the other. axe-core checks each page for serious or critical violations.
// Elements are found by role and accessible name (the names the issue fixes).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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


const suffix = String(Date.now() % 1e8);
const PEOPLE = {
  alice: { handle: `alice_c${suffix}`, name: 'Alice Liddell' },
  bob: { handle: `bob_c${suffix}`, name: 'Bob Marley' },
  carol: { handle: `carol_c${suffix}`, name: 'Carol Danvers' },
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
    server = new XcordServer('webcalls', ['--web-dir', WEB_DIR, '--ring-timeout', '45'], {
      role: 'serve',
      bindHost: '127.0.0.1',
      port: 7990, // webclient.test.mjs's server takes 7950 in its own process
    });
    await server.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
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
let generalPath;
let loungePath;

test('three people, a community with a voice and a text channel, joined by invite', async () => {
  await Promise.all(Object.keys(PEOPLE).map(createAccount));
  const a = pages.alice;
  await checkAxe(a, 'the home page');
  await a.getByLabel('Community name').fill('Wonderland');
  await a.getByRole('button', { name: 'Create community' }).click();
  await a.getByRole('heading', { name: 'Wonderland' }).waitFor();
  communityPath = new URL(a.url()).pathname;
  await a.getByLabel('Channel name').fill('Lounge');
  await a.getByRole('button', { name: 'Create channel' }).click();
  await a.getByRole('link', { name: 'Lounge', exact: true }).waitFor();
  await a.getByLabel('Channel name').fill('tea-talk');
  await a.getByLabel('Kind').selectOption('text');
  await a.getByRole('button', { name: 'Create channel' }).click();
  await a.getByRole('link', { name: 'tea-talk', exact: true }).waitFor();
  await a.getByRole('button', { name: 'Create invite' }).click();
  const code = (await a.getByLabel('Invite code').textContent())?.trim();
  assert.ok(code, 'no invite code shown');
  for (const who of ['bob', 'carol']) {
    const p = pages[who];
    await p.getByLabel('Invite code or link').fill(code);
    await p.getByRole('button', { name: 'Join community' }).click();
    await p.getByRole('heading', { name: 'Wonderland' }).waitFor();
  }
  // Alice's member list grows live (MEMBER_ADD over the gateway)
  const members = a.getByRole('complementary', { name: 'Members' });
  await members.getByText(PEOPLE.bob.name, { exact: true }).waitFor();
  await members.getByText(PEOPLE.carol.name, { exact: true }).waitFor();
  await checkAxe(a, 'the community page');
  loungePath = new URL(await a.getByRole('link', { name: 'Lounge', exact: true }).evaluate((el) => el.href)).pathname;
  generalPath = new URL(await a.getByRole('link', { name: 'tea-talk', exact: true }).evaluate((el) => el.href)).pathname;
});

test('text chat: a message arrives live, and older messages page in on request', async () => {
  const a = pages.alice;
  const b = pages.bob;
  await Promise.all([a.goto(`${server.httpUrl}${generalPath}`), b.goto(`${server.httpUrl}${generalPath}`)]);
  await a.getByRole('heading', { name: 'tea-talk' }).waitFor();
  await b.getByRole('heading', { name: 'tea-talk' }).waitFor();
  await a.getByLabel('Message', { exact: true }).fill('hello from alice');
  await a.getByRole('button', { name: 'Send', exact: true }).click();
  await b.getByRole('log', { name: 'Messages' }).getByText('hello from alice').waitFor();
  await checkAxe(b, 'a text channel');

  // 29 more (10 per person per 10 s is the limit): 30 in all, more than one page of 25
  const channelId = generalPath.split('/').pop();
  for (const [who, n] of [['bob', 10], ['carol', 10], ['alice', 9]]) {
    for (let i = 0; i < n; i++) {
      const r = await apiCall(pages[who], 'POST', `/channels/${channelId}/messages`, { content: `${who} #${i}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  }
  await b.reload();
  const log = b.getByRole('log', { name: 'Messages' });
  await log.getByText('alice #8').waitFor();
  assert.equal(await log.getByRole('listitem').count(), 25);
  assert.equal(await log.getByText('hello from alice').count(), 0, 'the oldest message is not on the first page');
  await b.getByRole('button', { name: 'Load older messages' }).click();
  await log.getByText('hello from alice').waitFor();
  assert.equal(await log.getByRole('listitem').count(), 30);
  await b.getByRole('button', { name: 'Load older messages' }).waitFor({ state: 'detached' });
});

test('the channel list shows who is in a voice channel, live', async () => {
  const a = pages.alice;
  const b = pages.bob;
  await b.goto(`${server.httpUrl}${communityPath}`);
  await a.goto(`${server.httpUrl}${loungePath}`);
  await a.getByRole('button', { name: 'Join', exact: true }).click();
  await a.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
  const inLounge = b.getByRole('list', { name: 'In Lounge' });
  await inLounge.getByText(PEOPLE.alice.name).waitFor();
  await checkAxe(a, 'a voice channel in a call');
  // Alice deafens: Bob's list shows it
  await a.getByRole('button', { name: 'Deafen', exact: true }).click();
  await inLounge.getByRole('img', { name: 'deafened' }).waitFor();
  await a.getByRole('button', { name: 'Deafen', exact: true }).click();
  await inLounge.getByRole('img', { name: 'deafened' }).waitFor({ state: 'detached' });
  await a.getByRole('button', { name: 'Leave', exact: true }).click();
  await inLounge.waitFor({ state: 'detached' });
});

let dmPath;

async function ringMode(page) {
  return page.evaluate(() => window.xcordClient.ringtone.mode);
}

async function inboundGrows(page, what) {
  const bytes = () => page.evaluate(() => window.xcordSession.inboundAudioBytes());
  let first = 0;
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline && first === 0) {
    first = await bytes();
    if (first === 0) await sleep(250);
  }
  assert.ok(first > 0, `${what}: no audio bytes received`);
  await sleep(1000);
  const second = await bytes();
  assert.ok(second > first, `${what}: inbound audio stopped growing (${first} then ${second})`);
}

test('Alice calls Bob from their DM; both of his tabs ring; he accepts, the ringing stops and both hear each other', async () => {
  const a = pages.alice;
  const b = pages.bob;
  await b.goto(`${server.httpUrl}/`);
  // Bob's second tab (the newest window: the server makes it the owner of a new session)
  const b2 = await newPage('bob', 'bob2');
  await b2.goto(`${server.httpUrl}/`);
  await b2.getByRole('heading', { name: 'Communities' }).waitFor();

  await a.goto(`${server.httpUrl}${communityPath}`);
  await a.getByRole('button', { name: `Message ${PEOPLE.bob.name}` }).click();
  await a.getByRole('heading', { name: PEOPLE.bob.name }).waitFor();
  dmPath = new URL(a.url()).pathname;
  assert.match(dmPath, /^\/dm\/[0-9a-f]{32}$/);
  await checkAxe(a, 'a direct conversation');
  await a.getByRole('button', { name: 'Start voice call', exact: true }).click();
  await a.getByRole('region', { name: 'Call', exact: true }).waitFor();

  const dialog = b.getByRole('dialog', { name: 'Incoming call' });
  await dialog.waitFor();
  const call = dialog.getByRole('group', { name: PEOPLE.alice.name });
  await call.getByText('Voice call').waitFor();
  const countdown = call.locator('[data-countdown]');
  const first = Number(await countdown.getAttribute('data-countdown'));
  assert.ok(first > 30 && first <= 45, `countdown starts near the ring timeout (${first})`);
  await sleep(2100);
  const second = Number(await countdown.getAttribute('data-countdown'));
  assert.ok(second < first, `the countdown counts down (${first} then ${second})`);
  assert.match((await countdown.textContent()) ?? '', /^0:\d\d$/);
  await b2.getByRole('dialog', { name: 'Incoming call' }).waitFor();
  assert.equal(await ringMode(b), 'ring');
  assert.equal(await ringMode(b2), 'ring');
  await checkAxe(b, 'the incoming-call dialog');

  await call.getByRole('button', { name: 'Accept', exact: true }).click();
  await b.waitForURL(`**${dmPath}`);
  await b.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
  await a.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
  // answered here: no tab rings any more, and the other tab shows the call as elsewhere
  await b2.getByRole('dialog', { name: 'Incoming call' }).waitFor({ state: 'detached' });
  assert.equal(await ringMode(b), 'none');
  assert.equal(await ringMode(b2), 'none');
  await b2.getByRole('region', { name: 'Current call' }).getByRole('button', { name: 'Move call here' }).waitFor();
  await checkAxe(b2, 'a page with the current-call bar');
  assert.equal(await b2.evaluate(() => window.xcordSession.snapshot().status), 'idle', "bob's second tab holds no room");

  await a.getByRole('group', { name: PEOPLE.bob.name, exact: true }).waitFor();
  await b.getByRole('group', { name: PEOPLE.alice.name, exact: true }).waitFor();
  await inboundGrows(a, 'alice');
  await inboundGrows(b, 'bob');
  await checkAxe(b, 'a DM call');
});

test('in the call: device selectors list the fake devices, and a screen share shows apart, focusable', async () => {
  const a = pages.alice;
  const b = pages.bob;
  for (const label of ['Microphone', 'Camera device', 'Speaker']) {
    const select = b.getByRole('combobox', { name: label, exact: true });
    await select.waitFor();
    await b.waitForFunction(
      (label) => [...document.querySelectorAll('select')].some((s) => s.labels[0]?.textContent?.startsWith(label) && s.options.length > 0 && s.value !== ''),
      label,
    );
  }
  const mics = await b.getByRole('combobox', { name: 'Microphone', exact: true }).locator('option').count();
  assert.ok(mics >= 1, 'no microphone listed');

  const share = a.getByRole('button', { name: 'Share screen', exact: true });
  await share.click();
  await a.locator('button[aria-pressed="true"]', { hasText: 'Share screen' }).waitFor();
  const screens = b.getByRole('region', { name: 'Screen shares' });
  const shot = screens.getByRole('button', { name: `Screen of ${PEOPLE.alice.name}` });
  await shot.waitFor();
  await shot.click();
  assert.equal(await shot.getAttribute('aria-pressed'), 'true');
  await screens.getByRole('group', { name: `Screen of ${PEOPLE.alice.name}, focused` }).waitFor();
  await b.waitForFunction(() => {
    const v = document.querySelector('.screens figure.focused video');
    return v && v.videoWidth > 0;
  });
  // the camera tiles stay apart: Alice's tile shows no video
  assert.equal(await b.getByRole('group', { name: PEOPLE.alice.name, exact: true }).locator('video').count(), 0);
  await checkAxe(b, 'a call with a focused screen share');
  await share.click();
  await screens.waitFor({ state: 'detached' });
});

test("Carol's call during it waits in Bob's dialog, and he declines it", async () => {
  const c = pages.carol;
  const b = pages.bob;
  await c.goto(`${server.httpUrl}${communityPath}`);
  await c.getByRole('button', { name: `Message ${PEOPLE.bob.name}` }).click();
  await c.getByRole('heading', { name: PEOPLE.bob.name }).waitFor();
  await c.getByRole('button', { name: 'Start voice call', exact: true }).click();

  const dialog = b.getByRole('dialog', { name: 'Incoming call' });
  const call = dialog.getByRole('group', { name: PEOPLE.carol.name });
  await call.waitFor();
  await dialog.getByText('You are in a call: accepting ends it.').waitFor();
  assert.equal(await ringMode(b), 'waiting');
  // still in the call with Alice meanwhile
  await b.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
  await call.getByRole('button', { name: 'Decline', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await ringMode(b), 'none');
  await c.getByRole('button', { name: 'Start voice call', exact: true }).waitFor();
  await b.getByRole('group', { name: PEOPLE.alice.name, exact: true }).waitFor();
});

test('a second tab of Alice offers "Move call here", and claiming it moves her media there', async () => {
  const a = pages.alice;
  const b = pages.bob;
  const a2 = await newPage('alice', 'alice2');
  await a2.goto(`${server.httpUrl}${dmPath}`);
  const call = a2.getByRole('region', { name: 'Call', exact: true });
  await call.waitFor();
  await a2.getByRole('status').filter({ hasText: /^Connected in another window$/ }).waitFor();
  // the follower shows the people from the server's snapshot
  await a2.getByRole('group', { name: PEOPLE.bob.name, exact: true }).waitFor();
  await checkAxe(a2, 'a follower tab of a call');
  await a2.getByRole('button', { name: 'Move call here' }).click();
  try {
    await a2.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
  } catch (e) {
    const dump = (p) =>
      p.evaluate(() => {
        const s = window.xcordClient.store.snapshot();
        return JSON.stringify({ id: s.connectionId, m: s.mediaSession, room: window.xcordSession.snapshot().status });
      });
    console.log('alice2', await dump(a2));
    console.log('alice1', await dump(a));
    throw e;
  }
  await a.getByRole('button', { name: 'Move call here' }).waitFor();
  await a.waitForFunction(() => window.xcordSession.snapshot().status === 'idle');
  // Bob hears Alice from her new tab: the audio he receives keeps growing
  await b.getByRole('group', { name: PEOPLE.alice.name, exact: true }).waitFor();
  await sleep(1500);
  await inboundGrows(b, 'bob after the move');
  await inboundGrows(a2, "alice's new tab");
});

test("closing the owner tab hands Alice's media back to her first tab", async () => {
  const a = pages.alice;
  const b = pages.bob;
  await pages.alice2.close();
  // the server moves ownership at once when the owner's socket closes, with a fresh connect
  await a.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
  await a.getByRole('button', { name: 'Move call here' }).waitFor({ state: 'detached' });
  await sleep(1500);
  await inboundGrows(b, 'bob after the hand-back');
  await inboundGrows(a, "alice's first tab again");
});

test('Alice hangs up and the call ends for Bob', async () => {
  const a2 = pages.alice;
  const b = pages.bob;
  await a2.getByRole('button', { name: 'Leave', exact: true }).click();
  await a2.getByRole('button', { name: 'Start voice call', exact: true }).waitFor();
  await b.getByRole('button', { name: 'Start voice call', exact: true }).waitFor();
  await b.getByRole('region', { name: 'Call', exact: true }).waitFor({ state: 'detached' });
  await b.waitForFunction(() => window.xcordSession.snapshot().status === 'idle');
  // the call left its system message in the conversation
  await b.getByRole('log', { name: 'Messages' }).getByText(/^Call, \d+ s$/).waitFor();
});

test("a video call: Carol calls Bob with video, and each sees the other's camera", async () => {
  const c = pages.carol;
  const b = pages.bob;
  await c.getByRole('button', { name: 'Start video call', exact: true }).click();
  const call = b.getByRole('dialog', { name: 'Incoming call' }).getByRole('group', { name: PEOPLE.carol.name });
  await call.getByText('Video call').waitFor();
  await call.getByRole('button', { name: 'Accept', exact: true }).click();
  for (const [page, other] of [
    [b, PEOPLE.carol.name],
    [c, PEOPLE.bob.name],
  ]) {
    await page.getByRole('status').filter({ hasText: /^Connected$/ }).waitFor();
    await page.waitForFunction(
      (name) => {
        const v = document.querySelector(`figure[aria-label="${name}"] video`);
        return v && v.videoWidth > 0;
      },
      other,
      { timeout: 20000 },
    );
    try {
      await page.locator('button[aria-pressed="true"]', { hasText: /^Camera$/ }).waitFor({ timeout: 10000 });
    } catch (e) {
      console.log(
        await page.evaluate(() =>
          JSON.stringify({
            controls: window.xcordClient.store.snapshot().mediaSession?.controls,
            owner: window.xcordClient.media.isOwner(),
            room: window.xcordSession.snapshot().status,
            camera: window.xcordSession.snapshot().camera,
            error: window.xcordSession.snapshot().error,
          }),
        ),
      );
      throw e;
    }
  }
  await c.getByRole('button', { name: 'Leave', exact: true }).click();
  await b.getByRole('region', { name: 'Call', exact: true }).waitFor({ state: 'detached' });
});
