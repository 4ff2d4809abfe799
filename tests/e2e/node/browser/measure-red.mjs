// Measures residual audio loss with and without Opus RED through xcord, with real clients:
// headless Chromium pages running livekit-client against an xcord server of this script's own.
// Not a test (it asserts nothing); its table goes into BENCHMARKS.md.
//
// Pages: pub-red (fake microphone, `red: true`), pub-plain (`red: false`), both DTX off; sub-red
// (takes RED, as Chromium does) and sub-plain (`audio/red` removed from its SDP: the SFU reduces
// RED to Opus for it, restoring packets the uplink lost). For each direction (both subscribers'
// downlinks, or both publishers' uplinks) and each loss rate, random loss is applied with
// nftables for a warm-up and a measuring window; per (publisher, subscriber) pair it reports
// packetsLost / expected and concealedSamples / totalSamplesReceived over the window (the share
// of audio the subscriber had to conceal: the residual loss).
//
// Run inside a test namespace, as root, after `cargo build -p xcord` and tests/e2e/setup.sh:
//   tests/e2e/netns.sh node tests/e2e/node/browser/measure-red.mjs
// Environment: RED_WINDOW_S (default 30), RED_LOSSES (default "0,10,20").
import { sleep, uniqueRoom } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { launchChromium, servePage } from './test-page.mjs';
import { clearLoss, inboundAudio, join, mediaPorts, openPage, residual, setLoss, until } from './red-audio.mjs';

const WINDOW_S = Number(process.env.RED_WINDOW_S ?? 30);
const LOSSES = (process.env.RED_LOSSES ?? '0,10,20').split(',').map(Number);
const WARMUP_MS = 4000;
const PUBS = ['pub-red', 'pub-plain'];
const SUBS = ['sub-red', 'sub-plain'];

const logs = {};
const pages = {};
const pageServer = await servePage();
const browser = await launchChromium();
// one media shard: the loss is injected on its one UDP port
const server = await new XcordServer('measure-red', ['--media-threads', '1']).start();
const pct = (x) => `${(100 * x).toFixed(2)} %`;
try {
  const room = uniqueRoom('measure-red');
  for (const who of [...SUBS, ...PUBS]) {
    pages[who] = await openPage(browser, pageServer.baseUrl, who, logs, { noRed: who === 'sub-plain' });
    const mic = who.startsWith('pub') ? { red: who === 'pub-red' } : null;
    await join(pages[who], server.url, room, who, mic);
  }
  await until(async () => {
    for (const s of SUBS) {
      const by = await inboundAudio(pages[s]);
      if (!PUBS.every((p) => by[p] && by[p].totalAudioEnergy > 0)) return false;
    }
    return true;
  }, 30000, 'audio from both publishers at both subscribers');
  const ports = {};
  for (const who of [...SUBS, ...PUBS]) ports[who] = await mediaPorts(pages[who]);
  const sfuPort = server.port + 2;

  const rows = [];
  for (const direction of ['down', 'up']) {
    for (const loss of LOSSES) {
      if (loss === 0 && direction === 'up') continue;
      const lossy = direction === 'down' ? SUBS : PUBS;
      setLoss(direction, loss, sfuPort, lossy.flatMap((w) => ports[w]));
      await sleep(WARMUP_MS);
      const before = {};
      for (const s of SUBS) before[s] = await inboundAudio(pages[s]);
      await sleep(WINDOW_S * 1000);
      const after = {};
      for (const s of SUBS) after[s] = await inboundAudio(pages[s]);
      clearLoss();
      for (const p of PUBS) {
        for (const s of SUBS) {
          const r = residual(before[s][p], after[s][p]);
          rows.push({ direction: loss === 0 ? '-' : direction, loss, p, s, r });
          console.error(`${direction} ${loss}% ${p} → ${s}: ${JSON.stringify(r)}`);
        }
      }
      await sleep(3000);
    }
  }
  console.log(`\nWindow ${WINDOW_S} s per row (after ${WARMUP_MS / 1000} s of warm-up), 50 packets/s.\n`);
  console.log('| loss on | injected | publisher | subscriber | bytes/packet received | packets lost / expected | concealed / samples |');
  console.log('|---|---|---|---|---|---|---|');
  for (const { direction, loss, p, s, r } of rows) {
    const where = direction === '-' ? 'none' : direction === 'down' ? "subscribers' downlink" : "publishers' uplink";
    console.log(`| ${where} | ${loss} % | ${p} | ${s} | ${r.bytesPerPacket.toFixed(0)} | ${pct(r.lostFraction)} (${r.lost}/${r.received + r.lost}) | **${pct(r.concealedFraction)}** |`);
  }
} finally {
  clearLoss();
  await browser.close().catch(() => {});
  pageServer.close();
  await server.stop();
}
