// A screen share under a capped downlink keeps its resolution and loses frame rate first
// (VP8 temporal layers), with livekit-client's defaults in headless Chromium.
//
// One page shares its (fake, 1920x1080) screen with livekit-client's default options: VP8,
// simulcast `q` (960x540) and `h` (1920x1080) at 15 fps, each encoded by Chromium with three
// temporal layers (`L1T3`); `dynacast` on. Two pages subscribe. The "limited" subscriber's
// downlink is capped (see shaper.mjs) at CAP_SHARE of the rate the publisher sends the
// full-resolution layer at: that carries the layer's base temporal layer (a third to two fifths
// of its rate) but not all of it (the fake screen's rate varies from run to run, 250-700
// kbit/s, hence a share rather than a fixed rate). The limited subscriber must keep decoding
// 1080p frames, at least one temporal layer's worth of frame rate (FPS_STEP) below what it had
// before the cap, and climb at least one temporal layer again once the cap is lifted.
//
// The frame rates before the cap and after it is lifted are not required to be the full 15
// fps: on a loaded two-core machine the delay-based estimate of even an unlimited subscriber
// often stays just under what the full-rate layer needs, which holds it at T1 (7.5 fps) or T0
// (3.75 fps) for tens of seconds; the harness tests (`engine/harness_tests/temporal.rs`) check
// every step exactly on a pinned estimate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeToken, sleep, uniqueRoom, withTimeout } from '../lk.mjs';
import { XcordServer } from '../xcord-server.mjs';
import { LoopbackShaper } from './shaper.mjs';
import { launchChromium, openPage, servePage } from './test-page.mjs';

/// The cap, as a share of the full-resolution layer's rate.
const CAP_SHARE = 0.75;
/// Frame rate one temporal layer adds at least (T0 3.75 fps, T1 another 3.75, T2 7.5 of 15).
const FPS_STEP = 3;
let shaper = null;

let pageServer;
let browser;
let srv;
const pages = {};
const logs = {};

before(async () => {
  pageServer = await servePage();
  browser = await launchChromium();
  srv = await new XcordServer('screen-temporal', ['--bandwidth-estimation']).start();
});

after(async () => {
  if (shaper) shaper.remove();
  if (browser) await browser.close().catch(() => {});
  if (pageServer) pageServer.close();
  if (srv) await srv.stop();
});

/** Joins the room from `who`'s page; the publisher also shares its screen. */
async function join(who, room, share) {
  const token = await makeToken(who, room);
  await withTimeout(
    pages[who].evaluate(async ([url, tok, pub]) => {
      const { Room, RoomEvent } = LivekitClient;
      const room = new Room({ adaptiveStream: false, dynacast: true });
      window.screen_ = { room, video: null };
      room.on(RoomEvent.TrackSubscribed, (track) => {
        if (track.kind !== 'video') return;
        const el = track.attach();
        el.muted = true;
        document.body.appendChild(el);
        window.screen_.video = track;
      });
      await room.connect(url, tok, { autoSubscribe: true });
      if (pub) await room.localParticipant.setScreenShareEnabled(true);
    }, [srv.url, token, share]),
    45000,
    `${who}: join${share ? ' and share the screen' : ''}`,
  );
}

/** The publisher's outbound-rtp per rid: { q: {height, fps, mode, bytesSent, at}, ... }. */
async function publisherLayers() {
  return pages.pub.evaluate(async () => {
    const { Track } = LivekitClient;
    const pub = window.screen_.room.localParticipant.getTrackPublication(Track.Source.ScreenShare);
    const out = {};
    (await pub.track.sender.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.rid) {
        out[s.rid] = { height: s.frameHeight ?? 0, fps: s.framesPerSecond ?? 0, mode: s.scalabilityMode, bytesSent: s.bytesSent, at: performance.now() };
      }
    });
    return out;
  });
}

/** What a subscriber decodes: { height, framesDecoded, at } (null before the track). */
async function received(who) {
  return pages[who].evaluate(async () => {
    const v = window.screen_.video;
    if (!v) return null;
    let out = null;
    (await v.receiver.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out = { height: s.frameHeight ?? 0, framesDecoded: s.framesDecoded ?? 0, bytes: s.bytesReceived, at: performance.now() };
      }
    });
    return out;
  });
}

/** `who`'s decoded frame rate over `ms`, and the frame height at its end. */
async function frameRate(who, ms) {
  const a = await received(who);
  await sleep(ms);
  const b = await received(who);
  const secs = (b.at - a.at) / 1000;
  return {
    fps: (b.framesDecoded - a.framesDecoded) / secs,
    kbps: ((b.bytes - a.bytes) * 8) / secs / 1000,
    height: b.height,
  };
}

/** Polls until `pred(frameRate)` holds on two reads in a row; the last read. */
async function waitForRate(who, pred, ms, what) {
  const deadline = Date.now() + ms;
  let streak = 0;
  let last;
  while (Date.now() < deadline) {
    last = await frameRate(who, 3000);
    console.log(`${who}: ${JSON.stringify(last)}`);
    streak = pred(last) ? streak + 1 : 0;
    if (streak >= 2) return last;
  }
  throw new Error(`${who}: ${what} not seen within ${ms} ms; last ${JSON.stringify(last)}`);
}

/** The ICE ports of every open connection of `who`'s page. */
async function localPorts(who) {
  const transports = await pages[who].evaluate(() => window.e2eTransports());
  return [...new Set(transports.filter((t) => t.local && t.local.port).map((t) => t.local.port))];
}

test('a capped subscriber keeps the screen share\'s resolution and loses frame rate first', async () => {
  const room = uniqueRoom('screen-temporal');
  try {
    for (const who of ['pub', 'limited', 'free']) pages[who] = await openPage(browser, pageServer.baseUrl, who, logs);
    await join('pub', room, true);
    await join('limited', room, false);
    await join('free', room, false);

    // Both layers flow, each with three temporal layers.
    const deadline = Date.now() + 30000;
    let layers;
    while (Date.now() < deadline) {
      layers = await publisherLayers();
      if (['q', 'h'].every((r) => layers[r] && layers[r].height > 0)) break;
      await sleep(500);
    }
    console.log(`publisher layers ${JSON.stringify(layers)}`);
    assert.ok(layers.q.height > 0 && layers.h.height > layers.q.height, 'two simulcast layers');
    assert.equal(layers.h.mode, 'L1T3', 'three temporal layers');
    const full = layers.h.height;

    // Both subscribers on the full-resolution layer, the limited one with at least T0 and T1.
    await waitForRate('free', (r) => r.height === full, 60000, 'the unlimited subscriber at full resolution');
    const before = await waitForRate(
      'limited',
      (r) => r.height === full && r.fps >= 2 * FPS_STEP,
      60000,
      'the other subscriber at full resolution with two temporal layers or more before the cap',
    );

    // The full-resolution layer's rate as the publisher sends it.
    const a = (await publisherLayers()).h;
    await sleep(4000);
    const b = (await publisherLayers()).h;
    const fullKbps = ((b.bytesSent - a.bytesSent) * 8) / (b.at - a.at);
    const limit = Math.round(fullKbps * CAP_SHARE);
    const ports = await localPorts('limited');
    assert.ok(ports.length > 0, 'the limited page has a selected candidate pair');
    console.log(`full layer ${Math.round(fullKbps)} kbit/s; capping ${ports.join(',')} to ${limit} kbit/s`);
    shaper = new LoopbackShaper(limit);
    shaper.install();
    shaper.cap(ports);
    // Full resolution, at least one temporal layer fewer, still decoding.
    const capped = await waitForRate(
      'limited',
      (r) => r.height === full && r.fps >= 2 && r.fps <= before.fps - FPS_STEP,
      45000,
      'the limited subscriber at full resolution and a reduced frame rate',
    );
    console.log(`limited before the cap: ${JSON.stringify(before)}; under it: ${JSON.stringify(capped)}`);
    const freeNow = await frameRate('free', 3000);
    assert.equal(freeNow.height, full, `the unlimited subscriber keeps the full resolution: ${JSON.stringify(freeNow)}`);

    // Lifted: the frame rate climbs again, at the same resolution.
    shaper.lift();
    const lifted = Date.now();
    const back = await waitForRate(
      'limited',
      (r) => r.height === full && r.fps >= capped.fps + FPS_STEP,
      60000,
      'the limited subscriber a temporal layer higher after the cap',
    );
    console.log(`limited at ${back.fps.toFixed(1)} fps after ${Date.now() - lifted} ms`);
  } catch (e) {
    for (const [who, lines] of Object.entries(logs)) {
      const tail = lines.map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l)).slice(-40);
      console.log(`---- ${who} console ----\n${tail.join('\n')}`);
    }
    console.log(srv.logTail(80));
    throw e;
  } finally {
    if (shaper) shaper.remove();
    for (const who of Object.keys(pages)) await pages[who].context().close().catch(() => {});
  }
});
