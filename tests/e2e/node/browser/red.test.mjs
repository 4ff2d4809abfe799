// Opus RED (RFC 2198) with livekit-client in headless Chromium against an xcord server of its
// own. Four pages in one room: pub-red publishes the fake microphone with `red: true`, pub-plain
// with `red: false` (both DTX off; the server answers a `disable_red` track without RED);
// sub-red subscribes as Chromium does (it takes RED), sub-plain subscribes with `audio/red`
// removed from its SDP, so the SFU must reduce RED to plain Opus for it. Checked: what is sent
// (RED is told apart by its size), that every subscriber decodes every publisher, and
// that under 20 % random loss on sub-red's downlink (nftables, in the test namespace) sub-red
// conceals clearly less of pub-red's audio than of pub-plain's, measured side by side.
import assert from 'node:assert/strict';
import { after, before, test as nodeTest } from 'node:test';
import { sleep, uniqueRoom } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { launchChromium, servePage } from './test-page.mjs';
import { clearLoss, inboundAudio, join, mediaPorts, openPage, residual, setLoss, until } from './red-audio.mjs';

let pageServer;
let browser;
let server;
const logs = {};
const pages = {};
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
  pageServer = await servePage();
  browser = await launchChromium();
  // one media shard: the loss is injected on its one UDP port
  server = await new XcordServer('red', ['--media-threads', '1']).start();
  const room = uniqueRoom('red');
  for (const [who, opts] of [
    ['sub-red', {}],
    ['sub-plain', { noRed: true }],
    ['pub-red', {}],
    ['pub-plain', {}],
  ]) {
    pages[who] = await openPage(browser, pageServer.baseUrl, who, logs, opts);
  }
  await join(pages['sub-red'], server.url, room, 'sub-red', null);
  await join(pages['sub-plain'], server.url, room, 'sub-plain', null);
  await join(pages['pub-red'], server.url, room, 'pub-red', { red: true });
  await join(pages['pub-plain'], server.url, room, 'pub-plain', { red: false });
});

after(async () => {
  clearLoss();
  if (anyFailed) {
    for (const [who, lines] of Object.entries(logs)) {
      console.log(`---- ${who} console (last 40) ----\n${lines.slice(-40).join('\n')}`);
    }
    if (server) console.log(server.logTail(80));
  }
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
  if (server) await server.stop();
});

/** Both subscribers' stats once each has audio energy from both publishers. */
async function flowing() {
  return until(async () => {
    const s = { red: await inboundAudio(pages['sub-red']), plain: await inboundAudio(pages['sub-plain']) };
    const ok = Object.values(s).every((by) =>
      ['pub-red', 'pub-plain'].every((p) => by[p] && by[p].totalAudioEnergy > 0));
    return ok && s;
  }, 30000, 'audio from both publishers at both subscribers');
}

/** Payload bytes per packet of `pub` at `sub` between two snapshots. */
function bytesPerPacket(first, later, sub, pub) {
  const [a, b] = [first[sub][pub], later[sub][pub]];
  return (b.bytesReceived - a.bytesReceived) / Math.max(1, b.packetsReceived - a.packetsReceived);
}

test('RED is negotiated with clients that offer it; a client without RED gets plain Opus that decodes', async () => {
  // Chromium's stats name the primary codec (audio/opus) even for RED; what tells RED apart is
  // its size: every packet carries the previous frame too, about twice the bytes of plain Opus.
  const first = await flowing();
  await sleep(4000);
  const later = { red: await inboundAudio(pages['sub-red']), plain: await inboundAudio(pages['sub-plain']) };
  for (const sub of ['red', 'plain']) {
    for (const p of ['pub-red', 'pub-plain']) {
      const [a, b] = [first[sub][p], later[sub][p]];
      assert.equal(b.mime, 'audio/opus');
      assert.ok(b.totalAudioEnergy > a.totalAudioEnergy, `sub-${sub} hears ${p}: ${JSON.stringify([a, b])}`);
      assert.ok(b.packetsReceived - a.packetsReceived > 100, `sub-${sub} gets ~50 packets/s of ${p}`);
      assert.equal(b.packetsLost - a.packetsLost, 0, `no loss yet (sub-${sub}, ${p})`);
    }
  }
  const size = {};
  for (const sub of ['red', 'plain']) {
    for (const p of ['pub-red', 'pub-plain']) size[`${p} → sub-${sub}`] = bytesPerPacket(first, later, sub, p);
  }
  console.log(`bytes per packet: ${JSON.stringify(size)}`);
  assert.ok(
    size['pub-red → sub-red'] > 1.5 * size['pub-red → sub-plain'],
    `the RED subscriber gets RED (passed through), the other plain Opus (reduced): ${JSON.stringify(size)}`,
  );
  assert.ok(
    size['pub-plain → sub-red'] < 1.25 * size['pub-plain → sub-plain'],
    `red: false (disable_red) is answered without RED, so it sends plain Opus: ${JSON.stringify(size)}`,
  );
  assert.ok(
    size['pub-red → sub-red'] > 1.5 * size['pub-plain → sub-red'],
    `red: true sends RED: ${JSON.stringify(size)}`,
  );
});

test('under 20 % downlink loss a RED subscriber conceals clearly less of a RED publisher', async () => {
  await flowing();
  const ports = await mediaPorts(pages['sub-red']);
  assert.ok(ports.length > 0, 'sub-red has a media port');
  setLoss('down', 20, server.port + 2, ports);
  try {
    await sleep(3000);
    const before = await inboundAudio(pages['sub-red']);
    await sleep(15000);
    const after = await inboundAudio(pages['sub-red']);
    const red = residual(before['pub-red'], after['pub-red']);
    const plain = residual(before['pub-plain'], after['pub-plain']);
    console.log(`20 % downlink loss, 15 s: RED ${JSON.stringify(red)}; plain ${JSON.stringify(plain)}`);
    assert.ok(
      plain.lostFraction > 0.1 && red.lostFraction > 0.1,
      `the loss reached both tracks (ports ${ports}): ${plain.lostFraction}, ${red.lostFraction}`,
    );
    assert.ok(plain.concealedFraction > 0.05, `without RED some audio is concealed: ${plain.concealedFraction}`);
    assert.ok(
      red.concealedFraction < 0.5 * plain.concealedFraction,
      `RED conceals ${red.concealedFraction}, not clearly less than plain Opus's ${plain.concealedFraction}`,
    );
  } finally {
    clearLoss();
  }
});
