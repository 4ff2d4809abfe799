// The web client's live views against a real `xcord serve --dev`, in headless Debian Chromium
// with fake devices, three people in their own browser contexts: Alice becomes a creator and
// goes live with video (camera preview, "Go live", the audience count); Bob finds her in the
// live directory, watches as a hidden viewer (her video plays, her room never lists him) and
// they chat; a pay-per-view session refuses Bob until he buys it, which first fails for want of
// coins, then succeeds after a development top-up; in an audio room Carol listens, raises her
// hand, Alice invites her, she accepts and is heard (Alice receives her audio) and seen on
// stage as a speaker (sending with the audio room's preset: Opus at 128 kbit/s published as
// stereo, DTX off, RED on), and Alice moves her back to the audience; when the media plane loses a
// live room (deleted under it through RoomService), the session fails and the viewer's page
// says why and leaves the room. axe-core checks each view for
// serious or critical violations. Elements are found by role and accessible name.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test as nodeTest } from 'node:test';
import { chromium } from 'playwright-core';
import { RoomServiceClient } from 'livekit-server-sdk';
import { API_KEY, API_SECRET, sleep } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { CHROMIUM, CHROMIUM_FLAGS, checkAxe } from './test-page.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../../..');
const WEB_DIR = process.env.XCORD_WEB_DIR ?? path.join(root, 'web/dist');


const suffix = String(Date.now() % 1e8);
const PEOPLE = {
  alice: { handle: `alice_l${suffix}`, name: 'Alice Liddell' },
  bob: { handle: `bob_l${suffix}`, name: 'Bob Marley' },
  carol: { handle: `carol_l${suffix}`, name: 'Carol Danvers' },
};
const PASSWORD = 'correct horse battery staple';

let server;
let browser;
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

before(async () => {
  try {
    assert.ok(existsSync(path.join(WEB_DIR, 'index.html')), `no web client built in ${WEB_DIR}: run make web`);
    server = new XcordServer('weblive', ['--web-dir', WEB_DIR], {
      role: 'serve',
      bindHost: '127.0.0.1',
      port: 8030, // calls.test.mjs takes 7990, webclient.test.mjs 7950
    });
    await server.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
    for (const who of Object.keys(PEOPLE)) {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(20000);
      logs[who] = [];
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
      console.log(`---- ${who} console (last 60) ----\n${lines.slice(-60).join('\n')}`);
    }
    if (server) console.log(server.logTail(120));
  }
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
});

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

/** Video element `label` shows frames. */
async function videoPlays(page, label) {
  await page.waitForFunction(
    (label) => {
      const v = document.querySelector(`video[aria-label="${label}"]`);
      return v && v.videoWidth > 0;
    },
    label,
    { timeout: 20000 },
  );
}

/** Alice creates a session from the directory's "Go live" form; returns its page path. */
async function createSession(title, kind, access, price) {
  const a = pages.alice;
  await a.goto(`${server.httpUrl}/live`);
  await a.getByRole('heading', { name: 'Live', exact: true }).waitFor();
  await a.getByLabel('Title').fill(title);
  await a.getByLabel('Kind').selectOption(kind);
  await a.getByLabel('Access').selectOption(access);
  if (price !== undefined) await a.getByLabel('Price in coins').fill(String(price));
  await a.getByRole('button', { name: 'Create session' }).click();
  await a.getByRole('heading', { name: title, level: 1 }).waitFor();
  const where = new URL(a.url()).pathname;
  assert.match(where, /^\/live\/[0-9a-f]{32}$/);
  return where;
}

/** Alice opens her devices and goes live. */
async function goLive(audio) {
  const a = pages.alice;
  await a.getByRole('button', { name: audio ? 'Open microphone' : 'Open camera and microphone' }).click();
  if (!audio) await videoPlays(a, 'Your camera preview');
  await a.getByRole('button', { name: 'Go live', exact: true }).click();
  await a.getByText('LIVE', { exact: true }).waitFor();
}

async function audienceCount(page, text) {
  await page.getByRole('status', { name: 'Audience count' }).filter({ hasText: text }).waitFor();
}

/** Bytes of remote microphone audio the page's live room has received. */
async function inboundGrows(page, what) {
  const bytes = () => page.evaluate(() => window.xcordLive.media.inboundAudioBytes());
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

test('Alice becomes a creator and goes live with video; Bob finds her in the directory, watches hidden, and they chat', async () => {
  await Promise.all(Object.keys(PEOPLE).map(createAccount));
  const a = pages.alice;
  const b = pages.bob;
  await a.getByRole('link', { name: 'Live', exact: true }).click();
  await a.getByRole('button', { name: 'Become a creator' }).click();
  await a.getByRole('form', { name: 'Go live' }).waitFor();
  await checkAxe(a, 'the live directory with the Go live form');
  const showPath = await createSession('Morning show', 'video_live', 'public');
  await a.getByText('Not live yet: the host has not started it.').waitFor();
  await goLive(false);
  await checkAxe(a, 'the host view');

  await b.goto(`${server.httpUrl}/live`);
  const card = b.getByRole('list', { name: 'Live sessions' }).getByRole('listitem').filter({ hasText: 'Morning show' });
  await card.getByText('Free', { exact: true }).waitFor();
  await card.getByText('Video broadcast').waitFor();
  await card.getByText('0 watching').waitFor();
  await checkAxe(b, 'the live directory');
  await card.getByRole('link', { name: 'Morning show' }).click();
  await b.getByRole('heading', { name: 'Morning show', level: 1 }).waitFor();
  assert.equal(new URL(b.url()).pathname, showPath);
  await b.getByRole('button', { name: 'Watch', exact: true }).click();
  await videoPlays(b, `Broadcast of ${PEOPLE.alice.name}`);
  await b.getByText('You are in as: Viewer').waitFor();
  await audienceCount(a, '1 watching');
  await audienceCount(b, '1 watching');
  // hidden: Alice's room lists nobody but herself
  const identities = await a.evaluate(() => window.xcordLive.media.snapshot().tiles.map((t) => t.isLocal));
  assert.deepEqual(identities, [true], "the viewer is not in the host's room list");
  assert.equal(await b.getByRole('button', { name: 'Raise hand' }).count(), 1, 'a viewer may ask for the stage');

  await b.getByLabel('Chat message', { exact: true }).fill('hello from the audience');
  await b.getByRole('button', { name: 'Send', exact: true }).click();
  await a.getByRole('log', { name: 'Live chat messages' }).getByText('hello from the audience').waitFor();
  await a.getByLabel('Chat message', { exact: true }).fill('welcome, Bob');
  await a.getByRole('button', { name: 'Send', exact: true }).click();
  await b.getByRole('log', { name: 'Live chat messages' }).getByText('welcome, Bob').waitFor();
  // the host deletes Bob's message: it disappears for him too
  await a.getByRole('button', { name: `Delete message from ${PEOPLE.bob.name}` }).click();
  await b.getByRole('log', { name: 'Live chat messages' }).getByText('hello from the audience').waitFor({ state: 'detached' });
  await checkAxe(b, 'the viewer view');

  await a.getByRole('button', { name: 'End session' }).click();
  await b.getByText('This session has ended: the host ended it.').waitFor();
  await b.waitForFunction(() => window.xcordLive.media.snapshot().status === 'idle');
});

test('pay-per-view: refused until bought; the purchase fails without coins and succeeds after a development top-up', async () => {
  const a = pages.alice;
  const b = pages.bob;
  const paidPath = await createSession('Premium concert', 'video_live', 'pay_per_view', 30);
  await goLive(false);
  await b.goto(`${server.httpUrl}/live`);
  const card = b.getByRole('list', { name: 'Live sessions' }).getByRole('listitem').filter({ hasText: 'Premium concert' });
  await card.getByText('Pay-per-view · 30 coins').waitFor();
  await b.goto(`${server.httpUrl}${paidPath}`);
  await b.getByRole('button', { name: 'Watch', exact: true }).click();
  await b.getByRole('alert').filter({ hasText: 'This session is pay-per-view: buy it for 30 coins to watch.' }).waitFor();
  const buy = b.getByRole('region', { name: 'Buy this session' });
  await buy.getByText('Your balance: 0 coins.').waitFor();
  await checkAxe(b, 'the purchase offer');
  await buy.getByRole('button', { name: 'Buy for 30 coins' }).click();
  await b.getByRole('alert').filter({ hasText: 'Not enough coins: this costs 30 coins and your balance is 0.' }).waitFor();
  await buy.getByRole('button', { name: 'Add 100 coins (development)' }).click();
  await buy.getByText('Your balance: 100 coins.').waitFor();
  await buy.getByRole('button', { name: 'Buy for 30 coins' }).click();
  await videoPlays(b, `Broadcast of ${PEOPLE.alice.name}`);
  await audienceCount(a, '1 watching');
  const wallet = await apiCall(b, 'GET', '/wallet');
  assert.equal(wallet.body.balance, 70);
  assert.deepEqual(
    wallet.body.entries.map((e) => [e.reason, e.amount]),
    [
      ['purchase', -30],
      ['topup', 100],
    ],
  );
  // a rejoin is free: leave and watch again
  await b.getByRole('button', { name: 'Leave', exact: true }).click();
  await b.getByRole('button', { name: 'Watch', exact: true }).click();
  await videoPlays(b, `Broadcast of ${PEOPLE.alice.name}`);
  assert.equal((await apiCall(b, 'GET', '/wallet')).body.balance, 70);
  await a.getByRole('button', { name: 'End session' }).click();
  await b.getByText('This session has ended: the host ended it.').waitFor();
});

test('an audio room: Carol listens, raises her hand, is invited, accepts and is heard on stage; then back to the audience', async () => {
  const a = pages.alice;
  const c = pages.carol;
  const roomPath = await createSession('Open mic', 'audio_room', 'public');
  await goLive(true);
  await c.goto(`${server.httpUrl}${roomPath}`);
  await c.getByRole('button', { name: 'Listen', exact: true }).click();
  await c.getByText('You are in as: Listener').waitFor();
  await inboundGrows(c, 'carol hears alice');
  await audienceCount(a, '1 listening');
  const listeners = a.getByRole('list', { name: 'Listeners' });
  await listeners.getByRole('listitem').filter({ hasText: PEOPLE.carol.name }).waitFor();
  await checkAxe(c, 'the audio room as a listener');

  const hand = c.getByRole('button', { name: 'Raise hand' });
  assert.equal(await hand.getAttribute('aria-pressed'), 'false');
  await hand.click();
  await c.locator('button[aria-pressed="true"]', { hasText: 'Raise hand' }).waitFor();
  const hands = a.getByRole('list', { name: 'Raised hands' });
  await hands.getByRole('listitem').filter({ hasText: PEOPLE.carol.name }).waitFor();
  await checkAxe(a, 'the audio room as host, with a raised hand');
  // the hand alone grants nothing: Carol's microphone is still off
  assert.equal(await c.evaluate(() => window.xcordLive.media.snapshot().muted), true);
  await hands.getByRole('button', { name: `Invite ${PEOPLE.carol.name} to stage` }).click();
  await a.getByRole('list', { name: 'Invited to stage' }).getByText(PEOPLE.carol.name).waitFor();
  const invitation = c.getByRole('alertdialog', { name: 'Invitation to the stage' });
  await invitation.waitFor();
  await checkAxe(c, 'the invitation to the stage');
  const before = await c.evaluate(() => window.xcordLive.media.snapshot().status);
  await invitation.getByRole('button', { name: 'Accept invitation' }).click();
  await c.getByText('You are in as: Speaker').waitFor();
  // on stage, seen as a speaker, on the same connection (no reconnect)
  const speakers = a.getByRole('list', { name: 'Speakers' });
  const tile = speakers.getByRole('group', { name: PEOPLE.carol.name });
  await tile.waitFor();
  assert.equal(await tile.getAttribute('data-role'), 'speaker');
  await c.waitForFunction(() => window.xcordLive.media.snapshot().muted === false);
  assert.equal(before, 'connected');
  assert.equal(await c.evaluate(() => window.xcordLive.media.snapshot().status), 'connected');
  await a.waitForFunction(
    () => window.xcordLive.media.snapshot().tiles.some((t) => !t.isLocal && !t.micMuted),
    null,
    { timeout: 20000 },
  );
  await inboundGrows(a, 'alice hears carol');
  await checkAxe(a, 'the audio room with a speaker on stage');
  // an audio room's speaker sends with its preset: hi-fi Opus (>= 128 kbit/s target on the
  // sender), published as stereo with DTX off and RED on (as the SFU records the track), stereo
  // Opus negotiated (the SFU's answer allows it for a track published as stereo) and no DTX.
  const sent = await c.evaluate(() => {
    const room = window.xcordLive.media.room;
    const pub = room.localParticipant.getTrackPublication('microphone');
    const params = pub.track.sender.getParameters();
    const opus = (params.codecs ?? []).find((x) => /opus/i.test(x.mimeType));
    const info = pub.trackInfo ?? {};
    return {
      maxBitrate: params.encodings[0]?.maxBitrate,
      fmtp: opus?.sdpFmtpLine ?? '',
      stereo: info.stereo,
      disableDtx: info.disableDtx,
      disableRed: info.disableRed,
    };
  });
  assert.ok(sent.maxBitrate >= 128000, `the speaker's audio target is ${sent.maxBitrate} bit/s`);
  assert.deepEqual([sent.stereo, sent.disableDtx, sent.disableRed], [true, true, false], JSON.stringify(sent));
  assert.doesNotMatch(sent.fmtp, /usedtx=1/, `the speaker's Opus uses DTX: ${sent.fmtp}`);
  assert.match(sent.fmtp, /(^|;)stereo=1(;|$)/, `the speaker's Opus is not stereo: ${sent.fmtp}`);

  await a.getByRole('button', { name: `Move ${PEOPLE.carol.name} to audience` }).click();
  await c.getByText('You are in as: Listener').waitFor();
  await speakers.getByRole('group', { name: PEOPLE.carol.name }).waitFor({ state: 'detached' });
  await a.getByRole('button', { name: 'End session' }).click();
  await c.getByText('This session has ended: the host ended it.').waitFor();
});

test('the media plane loses the room while live: the session fails, and the viewer is told why', async () => {
  const a = pages.alice;
  const b = pages.bob;
  const showPath = await createSession('Fragile show', 'video_live', 'public');
  await goLive(false);
  await b.goto(`${server.httpUrl}${showPath}`);
  await b.getByRole('button', { name: 'Watch', exact: true }).click();
  await videoPlays(b, `Broadcast of ${PEOPLE.alice.name}`);
  const id = showPath.split('/').pop();
  const svc = new RoomServiceClient(server.httpUrl, API_KEY, API_SECRET);
  await svc.deleteRoom(`live_${id}`);
  const why = 'This session failed: the media server closed its room.';
  await b.getByRole('alert').filter({ hasText: why }).waitFor();
  await a.getByRole('alert').filter({ hasText: why }).waitFor();
  await b.waitForFunction(() => window.xcordLive.media.snapshot().status === 'idle');
  const s = await apiCall(b, 'GET', `/live/${id}`);
  assert.deepEqual([s.body.state, s.body.endReason], ['failed', 'media_room_closed']);
  await checkAxe(b, 'a failed session');
});
