// RoomService over JSON Twirp (livekit-server-sdk RoomServiceClient) against xcord, with
// @livekit/rtc-node participants observing every effect. A fresh room per test, on the runner's
// default server.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  AudioFrame,
  AudioSource,
  DisconnectReason,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  dispose,
} from '@livekit/rtc-node';
import { DataPacket_Kind, RoomServiceClient, TrackType } from 'livekit-server-sdk';
import { API_KEY, API_SECRET, HTTP_URL, URL, makeToken, sleep, uniqueRoom, waitForEvent, withTimeout } from './lk.mjs';

const RATE = 48000;
const svc = new RoomServiceClient(HTTP_URL, API_KEY, API_SECRET);

after(async () => {
  await dispose();
});

/** Records every `event` on `emitter` from now on; `wait(pred)` resolves with the first match. */
function recorder(emitter, event) {
  const seen = [];
  const waiters = [];
  emitter.on(event, (...args) => {
    seen.push(args);
    for (const w of [...waiters]) {
      if (w.pred(...args)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(args);
      }
    }
  });
  return {
    seen,
    wait(pred = () => true, ms = 10000, what = event) {
      const hit = seen.find((a) => pred(...a));
      if (hit) return Promise.resolve(hit);
      return withTimeout(new Promise((resolve) => waiters.push({ pred, resolve })), ms, `${what} (saw ${seen.length} other '${event}')`);
    },
  };
}

async function enter(identity, roomName, room = new Room()) {
  await withTimeout(room.connect(URL, await makeToken(identity, roomName)), 30000, `${identity} connect`);
  return room;
}

/** Publishes a 440 Hz tone; returns { publication, stop }. */
async function publishTone(room) {
  const source = new AudioSource(RATE, 1);
  const track = LocalAudioTrack.createAudioTrack('tone', source);
  let stopped = false;
  const spc = RATE / 100;
  const loop = (async () => {
    let n = 0;
    const start = performance.now();
    while (!stopped) {
      const buf = new Int16Array(spc);
      for (let i = 0; i < spc; i++) buf[i] = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * 440 * (n + i)) / RATE));
      n += spc;
      await source.captureFrame(new AudioFrame(buf, RATE, 1, spc));
      const ahead = (n / RATE) * 1000 - (performance.now() - start);
      if (ahead > 100) await sleep(ahead - 100);
    }
  })();
  const publication = await withTimeout(
    room.localParticipant.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE })),
    20000,
    'publishTrack',
  );
  return {
    publication,
    stop: async () => {
      stopped = true;
      await loop.catch(() => {});
    },
  };
}

async function leaveAll(...rooms) {
  for (const r of rooms) {
    if (r) await withTimeout(r.disconnect(), 10000, 'disconnect').catch(() => {});
  }
}

async function expectServerError(promise, status, code, what) {
  let res;
  try {
    res = await promise;
  } catch (e) {
    assert.equal(e.status, status, `${what}: HTTP status ${e.status} (${e.message})`);
    assert.equal(e.code, code, `${what}: Twirp code ${e.code} (${e.message})`);
    return e;
  }
  assert.fail(`${what}: expected ${code} (${status}), the call succeeded with ${JSON.stringify(res)}`);
}

async function until(check, what, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(100);
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

test('create, list, update metadata, list and get participants', async () => {
  const name = uniqueRoom('node-rs');
  let a;
  let b;
  let tone;
  try {
    const created = await svc.createRoom({ name, emptyTimeout: 60, maxParticipants: 5, metadata: 'm0' });
    assert.equal(created.name, name);
    assert.match(created.sid, /^RM_/);
    assert.equal(created.metadata, 'm0');
    assert.equal(created.maxParticipants, 5);
    assert.equal(created.emptyTimeout, 60);

    const listed = await svc.listRooms([name]);
    assert.deepEqual(listed.map((r) => r.sid), [created.sid], 'listRooms([name])');
    assert.ok((await svc.listRooms()).some((r) => r.name === name), 'listRooms() does not list the room');
    assert.deepEqual(await svc.listRooms([uniqueRoom('node-none')]), [], 'listRooms of an unknown name');

    a = await enter('node-a', name);
    assert.equal(a.metadata, 'm0', 'participant sees the created room metadata');
    tone = await publishTone(a);
    b = new Room();
    const bMeta = recorder(b, RoomEvent.RoomMetadataChanged);
    const aMeta = recorder(a, RoomEvent.RoomMetadataChanged);
    await enter('node-b', name, b);

    const updated = await svc.updateRoomMetadata(name, 'm1');
    assert.equal(updated.metadata, 'm1');
    assert.equal(updated.sid, created.sid);
    await aMeta.wait((m) => m === 'm1', 10000, 'A: RoomMetadataChanged m1');
    await bMeta.wait((m) => m === 'm1', 10000, 'B: RoomMetadataChanged m1');
    assert.equal(b.metadata, 'm1');

    const ps = await until(async () => {
      const list = await svc.listParticipants(name);
      return list.length === 2 ? list : null;
    }, 'listParticipants to show both');
    const byId = Object.fromEntries(ps.map((p) => [p.identity, p]));
    assert.deepEqual(Object.keys(byId).sort(), ['node-a', 'node-b']);
    assert.equal(byId['node-a'].sid, a.localParticipant.sid);
    assert.equal(byId['node-b'].sid, b.localParticipant.sid);

    const got = await svc.getParticipant(name, 'node-a');
    assert.equal(got.identity, 'node-a');
    assert.equal(got.sid, a.localParticipant.sid);
    assert.deepEqual(got.tracks.map((t) => t.sid), [tone.publication.sid], 'A has its audio track');
    assert.equal(got.tracks[0].type, TrackType.AUDIO);
    await expectServerError(svc.getParticipant(name, 'nobody'), 404, 'not_found', 'getParticipant of an unknown identity');
  } finally {
    await tone?.stop();
    await leaveAll(a, b);
  }
});

test('mutePublishedTrack mutes the publisher and others see it', async () => {
  const name = uniqueRoom('node-rs-mute');
  let a;
  let b;
  let tone;
  try {
    a = await enter('node-a', name);
    tone = await publishTone(a);
    const sid = tone.publication.sid;
    b = new Room();
    const bSub = recorder(b, RoomEvent.TrackSubscribed);
    const bMuted = recorder(b, RoomEvent.TrackMuted);
    const aMuted = recorder(a, RoomEvent.TrackMuted);
    await enter('node-b', name, b);
    await bSub.wait((_t, pub, p) => p.identity === 'node-a' && pub.sid === sid, 20000, 'B subscribed to A');

    const track = await svc.mutePublishedTrack(name, 'node-a', sid, true);
    assert.equal(track.sid, sid);
    assert.equal(track.muted, true, 'returned track is not muted');
    await aMuted.wait((pub, p) => p.identity === 'node-a' && pub.sid === sid, 10000, 'A: TrackMuted of its own track');
    assert.equal(a.localParticipant.trackPublications.get(sid)?.muted, true, "A's local publication is not muted");
    const [pub] = await bMuted.wait((pub, p) => p.identity === 'node-a' && pub.sid === sid, 10000, 'B: TrackMuted');
    assert.equal(pub.muted, true);
    const info = await svc.getParticipant(name, 'node-a');
    assert.equal(info.tracks.find((t) => t.sid === sid)?.muted, true, 'getParticipant: track not muted');
  } finally {
    await tone?.stop();
    await leaveAll(a, b);
  }
});

test('updateParticipant metadata, name and attributes reach the others', async () => {
  const name = uniqueRoom('node-rs-upd');
  let a;
  let b;
  try {
    a = await enter('node-a', name);
    b = new Room();
    const meta = recorder(b, RoomEvent.ParticipantMetadataChanged);
    const nameEv = recorder(b, RoomEvent.ParticipantNameChanged);
    const attrs = recorder(b, RoomEvent.ParticipantAttributesChanged);
    await enter('node-b', name, b);
    await until(() => b.remoteParticipants.has('node-a'), 'B to see A');

    const info = await svc.updateParticipant(name, 'node-a', {
      metadata: 'meta-node',
      name: 'Node A',
      attributes: { role: 'host', team: 'blue' },
    });
    assert.equal(info.metadata, 'meta-node');
    assert.equal(info.name, 'Node A');
    assert.deepEqual({ ...info.attributes }, { role: 'host', team: 'blue' });

    const isA = (_v, p) => p.identity === 'node-a';
    const [m] = await meta.wait(isA, 10000, 'B: ParticipantMetadataChanged');
    assert.equal(m, 'meta-node');
    const [n] = await nameEv.wait(isA, 10000, 'B: ParticipantNameChanged');
    assert.equal(n, 'Node A');
    const [changed] = await attrs.wait(isA, 10000, 'B: ParticipantAttributesChanged');
    assert.deepEqual(changed, { role: 'host', team: 'blue' });
    const ra = b.remoteParticipants.get('node-a');
    assert.equal(ra.metadata, 'meta-node');
    assert.equal(ra.name, 'Node A');
    assert.deepEqual({ ...ra.attributes }, { role: 'host', team: 'blue' });
  } finally {
    await leaveAll(a, b);
  }
});

test('sendData reaches participants without a sender; destinationIdentities is honoured', async () => {
  const name = uniqueRoom('node-rs-data');
  let a;
  let b;
  try {
    a = new Room();
    b = new Room();
    const got = { a: recorder(a, RoomEvent.DataReceived), b: recorder(b, RoomEvent.DataReceived) };
    await enter('node-a', name, a);
    await enter('node-b', name, b);
    const enc = (s) => new TextEncoder().encode(s);
    const is = (topic, text) => (data, _p, _k, t) => t === topic && Buffer.from(data).toString() === text;

    await svc.sendData(name, enc('hello-from-server'), DataPacket_Kind.RELIABLE, { topic: 'node-srv' });
    for (const who of ['a', 'b']) {
      const [, participant] = await got[who].wait(is('node-srv', 'hello-from-server'), 10000, `${who}: server data`);
      assert.equal(participant, undefined, `${who}: server data came with sender ${participant?.identity}`);
    }

    await svc.sendData(name, enc('just-b'), DataPacket_Kind.RELIABLE, {
      topic: 'node-direct',
      destinationIdentities: ['node-b'],
    });
    await svc.sendData(name, enc('fence'), DataPacket_Kind.RELIABLE, { topic: 'node-fence' });
    await got.b.wait(is('node-direct', 'just-b'), 10000, 'b: addressed data');
    await got.a.wait(is('node-fence', 'fence'), 10000, 'a: fence');
    await got.b.wait(is('node-fence', 'fence'), 10000, 'b: fence');
    await sleep(1000);
    assert.equal(got.a.seen.filter((x) => x[3] === 'node-direct').length, 0, 'A got data addressed only to B');
  } finally {
    await leaveAll(a, b);
  }
});

test('removeParticipant disconnects with PARTICIPANT_REMOVED; deleteRoom with ROOM_DELETED', async () => {
  const name = uniqueRoom('node-rs-rm');
  let a;
  let b;
  let c;
  try {
    await svc.createRoom({ name });
    a = new Room();
    b = new Room();
    c = new Room();
    const aGone = recorder(a, RoomEvent.ParticipantDisconnected);
    const disc = { a: recorder(a, RoomEvent.Disconnected), b: recorder(b, RoomEvent.Disconnected), c: recorder(c, RoomEvent.Disconnected) };
    await enter('node-a', name, a);
    await enter('node-b', name, b);
    await enter('node-c', name, c);

    await svc.removeParticipant(name, 'node-b');
    const [reason] = await disc.b.wait(() => true, 10000, 'B: Disconnected');
    assert.equal(reason, DisconnectReason.PARTICIPANT_REMOVED, `B disconnected with reason ${DisconnectReason[reason]}`);
    await aGone.wait((p) => p.identity === 'node-b', 10000, 'A: ParticipantDisconnected B');
    const left = await until(async () => {
      const ps = (await svc.listParticipants(name)).map((p) => p.identity).sort();
      return ps.length === 2 ? ps : null;
    }, 'listParticipants without B');
    assert.deepEqual(left, ['node-a', 'node-c']);
    assert.equal(disc.a.seen.length + disc.c.seen.length, 0, 'others were disconnected by the removal');

    await svc.deleteRoom(name);
    for (const who of ['a', 'c']) {
      const [r] = await disc[who].wait(() => true, 10000, `${who}: Disconnected`);
      assert.equal(r, DisconnectReason.ROOM_DELETED, `${who} disconnected with reason ${DisconnectReason[r]}`);
    }
    assert.deepEqual(await svc.listRooms([name]), [], 'the deleted room is still listed');
  } finally {
    await leaveAll(a, b, c);
  }
});
