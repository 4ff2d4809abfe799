// Bandwidth-driven simulcast layers and dynacast with livekit-client in headless Chromium.
//
// One page publishes a 960x540 fake camera with three simulcast layers (q 180p, h 360p, f 540p)
// and `dynacast` on; two pages subscribe. The "limited" subscriber's downlink is capped at
// 300 kbit/s inside the test namespace: an HTB class on `lo` (the pages and the server share
// the namespace, so their traffic crosses loopback) that nftables feeds with the UDP datagrams
// addressed to that page's ICE ports. It must settle on the low layer while the unlimited one
// gets the high layer, and climb back to the high layer once the cap is lifted. Then both
// subscribers ask for the low quality only: the publisher's encoder must stop sending the high
// layer (its `outbound-rtp` for rid `f` stops growing or turns inactive), and start again at
// once when one of them asks for high again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeToken, sleep, uniqueRoom, withTimeout } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { LoopbackShaper } from './shaper.mjs';
import { launchChromium, openPage, servePage } from './test-page.mjs';

const LIMIT_KBIT = 300;
const shaper = new LoopbackShaper(LIMIT_KBIT);

let pageServer;
let browser;
let srv;
const pages = {};
const logs = {};

before(async () => {
  pageServer = await servePage();
  browser = await launchChromium();
  srv = await new XcordServer('simulcast-bwe', ['--bandwidth-estimation']).start();
});

after(async () => {
  shaper.remove();
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
  if (srv) await srv.stop();
});

/** Joins the room from `who`'s page; the publisher also publishes its simulcast camera. */
async function join(who, room, publish) {
  const token = await makeToken(who, room);
  await withTimeout(
    pages[who].evaluate(async ([url, tok, pub]) => {
      const { Room, RoomEvent, VideoPresets } = LivekitClient;
      const room = new Room({
        adaptiveStream: false,
        dynacast: true,
        videoCaptureDefaults: { resolution: VideoPresets.h540.resolution },
        publishDefaults: { simulcast: true, videoSimulcastLayers: [VideoPresets.h180, VideoPresets.h360] },
      });
      window.bwe = { room, video: null };
      room.on(RoomEvent.TrackSubscribed, (track, publication) => {
        if (track.kind !== 'video') return;
        const el = track.attach();
        el.muted = true;
        document.body.appendChild(el);
        window.bwe.video = { track, publication };
      });
      await room.connect(url, tok, { autoSubscribe: true });
      if (pub) await room.localParticipant.setCameraEnabled(true);
    }, [srv.url, token, publish]),
    45000,
    `${who}: join${publish ? ' and publish the camera' : ''}`,
  );
}

/** The publisher's outbound-rtp per rid: { q: {height, bytesSent, active}, ... }. */
async function publisherLayers() {
  return pages.pub.evaluate(async () => {
    const { Track } = LivekitClient;
    const pub = window.bwe.room.localParticipant.getTrackPublication(Track.Source.Camera);
    const out = {};
    const stats = await pub.track.sender.getStats();
    stats.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.rid) {
        out[s.rid] = { height: s.frameHeight ?? 0, bytesSent: s.bytesSent, active: s.active !== false };
      }
    });
    return out;
  });
}

/** What a subscriber page decodes: { height, framesDecoded, bytesReceived } (null before). */
async function received(who) {
  return pages[who].evaluate(async () => {
    const v = window.bwe.video;
    if (!v) return null;
    const stats = await v.track.receiver.getStats();
    let out = null;
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out = { height: s.frameHeight ?? 0, framesDecoded: s.framesDecoded ?? 0, bytesReceived: s.bytesReceived };
      }
    });
    return out;
  });
}

/** The rid whose current frame height is nearest `height`. */
function ridOf(height, layers) {
  let best = null;
  for (const [rid, l] of Object.entries(layers)) {
    if (!l.height) continue;
    if (best === null || Math.abs(l.height - height) < Math.abs(layers[best].height - height)) best = rid;
  }
  return best;
}

/** Polls until `who` decodes the layer `rid` (by frame height) on two reads in a row. */
async function waitForLayer(who, rid, ms, what) {
  const deadline = Date.now() + ms;
  let streak = 0;
  let last;
  while (Date.now() < deadline) {
    const [layers, got] = await Promise.all([publisherLayers(), received(who)]);
    last = { layers, got };
    if (got && got.height > 0 && ridOf(got.height, layers) === rid) {
      streak += 1;
      if (streak >= 2) return last;
    } else {
      streak = 0;
    }
    await sleep(1000);
  }
  throw new Error(`${who}: ${what} not seen within ${ms} ms; last ${JSON.stringify(last)}`);
}

/** The ICE ports of every open connection of `who`'s page. */
async function localPorts(who) {
  const transports = await pages[who].evaluate(() => window.e2eTransports());
  return [...new Set(transports.filter((t) => t.local && t.local.port).map((t) => t.local.port))];
}

/** Whether the publisher's layer `rid` sends nothing over `ms` (inactive, or bytes flat). */
async function layerStopped(rid, ms) {
  const a = (await publisherLayers())[rid];
  await sleep(ms);
  const b = (await publisherLayers())[rid];
  return !b || !b.active || b.bytesSent === a.bytesSent;
}

async function setQuality(who, quality) {
  await pages[who].evaluate((q) => {
    window.bwe.video.publication.setVideoQuality(LivekitClient.VideoQuality[q]);
  }, quality);
}

test('simulcast layers follow each subscriber\'s bandwidth; dynacast stops unwatched layers', async () => {
  const room = uniqueRoom('simulcast-bwe');
  try {
    for (const who of ['pub', 'limited', 'free']) pages[who] = await openPage(browser, pageServer.baseUrl, who, logs);
    await join('pub', room, true);
    await join('limited', room, false);
    await join('free', room, false);

    // Three layers flow and both subscribers start on the best one.
    const deadline = Date.now() + 30000;
    let layers;
    while (Date.now() < deadline) {
      layers = await publisherLayers();
      if (['q', 'h', 'f'].every((r) => layers[r] && layers[r].height > 0)) break;
      await sleep(500);
    }
    console.log(`publisher layers ${JSON.stringify(layers)}`);
    assert.ok(['q', 'h', 'f'].every((r) => layers[r] && layers[r].height > 0), 'three simulcast layers are sent');
    assert.ok(layers.q.height < layers.h.height && layers.h.height < layers.f.height, 'distinct layer sizes');
    await waitForLayer('free', 'f', 30000, 'the unlimited subscriber on the high layer');
    await waitForLayer('limited', 'f', 30000, 'the other subscriber on the high layer before the cap');

    // Cap the limited subscriber's downlink: it drops to the low layer, the other stays high.
    const ports = await localPorts('limited');
    assert.ok(ports.length > 0, 'the limited page has a selected candidate pair');
    console.log(`capping ${ports.join(',')} to ${LIMIT_KBIT} kbit/s`);
    shaper.install();
    shaper.cap(ports);
    const capped = await waitForLayer('limited', 'q', 40000, 'the limited subscriber on the low layer');
    console.log(`limited: ${JSON.stringify(capped.got)}`);
    const free = await waitForLayer('free', 'f', 10000, 'the unlimited subscriber still on the high layer');
    console.log(`free: ${JSON.stringify(free.got)}`);
    // It stays there while capped, still decoding.
    const before = await received('limited');
    await sleep(8000);
    const held = await waitForLayer('limited', 'q', 5000, 'the limited subscriber still on the low layer');
    assert.ok(held.got.framesDecoded > before.framesDecoded + 20, 'the limited subscriber keeps decoding');

    // Lift the cap: the limited subscriber climbs back to the high layer.
    shaper.lift();
    const lifted = Date.now();
    await waitForLayer('limited', 'f', 60000, 'the limited subscriber back on the high layer after the cap');
    console.log(`limited back on the high layer after ${Date.now() - lifted} ms`);

    // Dynacast: nobody wants the high layer any more, so the publisher stops sending it.
    await setQuality('limited', 'LOW');
    await setQuality('free', 'LOW');
    const quietBy = Date.now() + 25000;
    let stopped = false;
    while (!stopped && Date.now() < quietBy) stopped = await layerStopped('f', 2000);
    assert.ok(stopped, `the publisher still sends the high layer: ${JSON.stringify(await publisherLayers())}`);
    assert.ok(!(await layerStopped('q', 2000)), 'the low layer keeps flowing');
    // One subscriber wants high again: the layer comes back at once.
    await setQuality('free', 'HIGH');
    await sleep(1500);
    assert.ok(!(await layerStopped('f', 2000)), 'the high layer is sent again');
    await waitForLayer('free', 'f', 20000, 'the subscriber that asked for high on the high layer');
  } catch (e) {
    for (const [who, lines] of Object.entries(logs)) {
      const tail = lines.map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l)).slice(-40);
      console.log(`---- ${who} console ----\n${tail.join('\n')}`);
    }
    console.log(srv.logTail(80));
    throw e;
  } finally {
    shaper.remove();
    for (const who of Object.keys(pages)) await pages[who].context().close().catch(() => {});
  }
});
