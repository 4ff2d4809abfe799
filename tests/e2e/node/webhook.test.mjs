// Webhooks received in Node: the test starts its own xcord server with --webhook-url pointing at
// an HTTP server in this process, which validates every request with livekit-server-sdk's
// WebhookReceiver and answers 500 to the first two deliveries. Scenario: CreateRoom
// (departureTimeout 1), an @livekit/rtc-node participant joins, publishes audio, unpublishes and
// leaves, the room closes.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { AudioSource, LocalAudioTrack, Room, TrackPublishOptions, TrackSource, dispose } from '@livekit/rtc-node';
import { RoomServiceClient, TrackType, WebhookReceiver } from 'livekit-server-sdk';
import { API_KEY, API_SECRET, makeToken, sleep, uniqueRoom, withTimeout } from './lk.mjs';
import { HOST, XcordServer } from './xcord-server.mjs';

after(async () => {
  await dispose();
});

/** HTTP receiver: records { t, status, contentType, authorization, body, event | error }. */
async function startReceiver(failFirst) {
  const receiver = new WebhookReceiver(API_KEY, API_SECRET);
  const requests = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString('utf8');
    const rec = {
      t: performance.now(),
      contentType: req.headers['content-type'] ?? '',
      authorization: req.headers.authorization ?? '',
      body,
      event: null,
      error: null,
    };
    try {
      rec.event = await receiver.receive(body, rec.authorization);
      const validBefore = requests.filter((r) => r.event).length;
      rec.status = validBefore < failFirst ? 500 : 200;
    } catch (e) {
      rec.error = String(e?.message ?? e);
      rec.status = 401;
    }
    requests.push(rec);
    res.writeHead(rec.status, { 'Content-Type': 'text/plain' });
    res.end(rec.status === 200 ? 'ok' : 'no');
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const url = `http://${HOST}:${server.address().port}/hook`;
  const summary = () =>
    requests.map((r) => (r.event ? `${r.event.event}(${r.event.id})->${r.status}` : `INVALID[${r.error}]->${r.status}`)).join(', ');
  const waitFor = async (name, ms) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (requests.some((r) => r.status === 200 && r.event.event === name)) return;
      await sleep(100);
    }
    assert.fail(`timed out after ${ms} ms waiting for webhook ${name}; received: ${summary() || 'nothing'}`);
  };
  return { url, requests, summary, waitFor, close: () => new Promise((r) => server.close(r)) };
}

test('webhooks arrive signed, in order, with stable ids across redeliveries', async () => {
  const name = uniqueRoom('node-wh');
  const hooks = await startReceiver(2);
  const srv = new XcordServer('node-webhook', ['--webhook-url', hooks.url]);
  let room;
  let ok = false;
  try {
    await srv.start();
    const svc = new RoomServiceClient(srv.httpUrl, API_KEY, API_SECRET);
    const tStart = Date.now() / 1000;
    const created = await svc.createRoom({ name, departureTimeout: 1 });
    await hooks.waitFor('room_started', 15000);

    room = new Room();
    await withTimeout(room.connect(srv.url, await makeToken('node-hook', name)), 30000, 'connect');
    const pSid = room.localParticipant.sid;
    const source = new AudioSource(48000, 1);
    const track = LocalAudioTrack.createAudioTrack('mic', source);
    const pub = await withTimeout(
      room.localParticipant.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE })),
      20000,
      'publishTrack',
    );
    await hooks.waitFor('track_published', 15000);
    await room.localParticipant.unpublishTrack(pub.sid);
    await hooks.waitFor('track_unpublished', 15000);
    await withTimeout(room.disconnect(), 10000, 'disconnect');
    room = null;
    await hooks.waitFor('room_finished', 30000);
    await sleep(1000);
    const tEnd = Date.now() / 1000;

    const reqs = hooks.requests;
    console.log(`webhook deliveries: ${hooks.summary()}`);
    const invalid = reqs.filter((r) => r.error);
    assert.deepEqual(invalid.map((r) => r.error), [], 'WebhookReceiver refused deliveries');
    for (const r of reqs) {
      assert.equal(r.contentType.split(';')[0].trim(), 'application/webhook+json');
      assert.ok(!/^bearer/i.test(r.authorization), 'Authorization must be the bare JWT');
      assert.equal(r.event.room?.name, name);
    }
    // the first event was refused twice and redelivered unchanged
    assert.deepEqual(reqs.slice(0, 3).map((r) => r.status), [500, 500, 200]);
    assert.equal(new Set(reqs.slice(0, 3).map((r) => r.event.id)).size, 1, 'a redelivery changed the id');
    assert.equal(new Set(reqs.slice(0, 3).map((r) => r.body)).size, 1, 'a redelivery changed the body');
    assert.ok(reqs.slice(3).every((r) => r.status === 200));

    const byId = new Map();
    for (const r of reqs) {
      if (!byId.has(r.event.id)) byId.set(r.event.id, []);
      byId.get(r.event.id).push(r);
    }
    for (const [id, group] of byId) {
      assert.equal(new Set(group.map((g) => g.body)).size, 1, `id ${id} used for different bodies`);
      assert.equal(group.filter((g) => g.status === 200).length, 1, `id ${id} acknowledged more or less than once`);
    }
    const events = [...byId.values()].map((g) => g[0].event);
    assert.deepEqual(
      events.map((e) => e.event),
      ['room_started', 'participant_joined', 'track_published', 'track_unpublished', 'participant_left', 'room_finished'],
    );
    const ev = Object.fromEntries(events.map((e) => [e.event, e]));
    for (const e of events) {
      assert.match(e.id, /^EV_/);
      const at = Number(e.createdAt);
      assert.ok(at >= tStart - 5 && at <= tEnd + 5, `${e.event} createdAt ${at}`);
      assert.equal(e.room.sid, created.sid, `${e.event}: room sid`);
    }
    for (const n of ['participant_joined', 'track_published', 'track_unpublished', 'participant_left']) {
      assert.equal(ev[n].participant?.identity, 'node-hook', `${n}: participant identity`);
      assert.equal(ev[n].participant?.sid, pSid, `${n}: participant sid`);
    }
    for (const n of ['track_published', 'track_unpublished']) {
      assert.equal(ev[n].track?.sid, pub.sid, `${n}: track sid`);
      assert.equal(ev[n].track?.type, TrackType.AUDIO, `${n}: track type`);
    }
    ok = true;
  } finally {
    if (room) await withTimeout(room.disconnect(), 10000, 'disconnect').catch(() => {});
    const wasAlive = srv.alive();
    await srv.stop();
    await hooks.close();
    if (!ok || !wasAlive) console.log(srv.logTail());
    if (ok) assert.ok(wasAlive, 'the webhook server died during the test');
  }
});
