// LiveKit signal protocol v1 (`/rtc/v1`, one peer connection) with the Node SDK
// (@livekit/rtc-node, LiveKit's Rust SDK inside), which tries `/rtc/v1` first and falls back to
// `/rtc` only on a 404. For each server setting (v1 on, the default; `--no-signal-v1`), a
// publisher sends a 440 Hz tone and a data message; a subscriber must hear the tone and get the
// message; the server log must show both joins over the expected protocol (every admitted join
// logs `participant joined over signal` with `protocol="v1"|"v0"` and the identity).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
} from '@livekit/rtc-node';
import { makeToken, sleep, uniqueRoom, waitForEvent, withTimeout } from './lk.mjs';
import { XcordServer } from './xcord-server.mjs';

const RATE = 48000;
const TONE_HZ = 440;

after(async () => {
  await dispose();
});

/** identity → protocols of its joins, in order, from a server log. */
function joinsByIdentity(log) {
  const out = {};
  const re = /participant joined over signal.*?protocol="?(v[01])"?.*?identity="?([^\s"]+)"?/g;
  for (const m of log.matchAll(re)) (out[m[2]] ??= []).push(m[1]);
  return out;
}

function startTone(source) {
  let stopped = false;
  const spc = RATE / 100;
  const done = (async () => {
    let n = 0;
    const start = performance.now();
    while (!stopped) {
      const buf = new Int16Array(spc);
      for (let i = 0; i < spc; i++) {
        buf[i] = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * TONE_HZ * (n + i)) / RATE));
      }
      n += spc;
      await source.captureFrame(new AudioFrame(buf, RATE, 1, spc));
      const ahead = (n / RATE) * 1000 - (performance.now() - start);
      if (ahead > 100) await sleep(ahead - 100);
    }
  })();
  return async () => {
    stopped = true;
    await done.catch(() => {});
  };
}

/** The zero-crossing frequency of one audible second, after half an audible second. */
async function heardFrequency(track) {
  const stream = new AudioStream(track, { sampleRate: RATE, numChannels: 1 });
  const reader = stream.getReader();
  let skip = RATE / 2;
  const samples = [];
  try {
    while (samples.length < RATE) {
      const { value: frame, done } = await reader.read();
      if (done) throw new Error('audio stream ended');
      const peak = frame.data.reduce((m, s) => Math.max(m, Math.abs(s)), 0);
      if (peak < 300) continue;
      if (skip > 0) {
        skip -= frame.data.length;
        continue;
      }
      samples.push(...frame.data);
    }
  } finally {
    reader.releaseLock();
    await stream.cancel().catch(() => {});
  }
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1] < 0 && samples[i] >= 0) crossings++;
  return crossings / (samples.length / RATE);
}

async function toneAndDataReachSubscriber(srv, roomName) {
  const pub = new Room();
  const sub = new Room();
  let stopTone = async () => {};
  try {
    await withTimeout(sub.connect(srv.url, await makeToken('node-sub', roomName)), 30000, 'subscriber connect');
    const subscribed = waitForEvent(
      sub,
      RoomEvent.TrackSubscribed,
      (tr, _pubn, p) => p.identity === 'node-pub' && tr.kind === TrackKind.KIND_AUDIO,
      30000,
      'subscriber: TrackSubscribed for node-pub audio',
    );
    subscribed.catch(() => {});
    await withTimeout(pub.connect(srv.url, await makeToken('node-pub', roomName)), 30000, 'publisher connect');
    const source = new AudioSource(RATE, 1);
    const track = LocalAudioTrack.createAudioTrack('tone', source);
    stopTone = startTone(source);
    await withTimeout(
      pub.localParticipant.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE })),
      20000,
      'publishTrack',
    );
    const [remoteTrack] = await subscribed;
    const freq = await withTimeout(heardFrequency(remoteTrack), 20000, 'subscriber: audible audio');
    assert.ok(Math.abs(freq - TONE_HZ) <= 10, `heard ${freq.toFixed(1)} Hz, expected ${TONE_HZ} Hz`);

    const payload = new TextEncoder().encode(`v1-data-${roomName}`);
    const received = waitForEvent(
      sub,
      RoomEvent.DataReceived,
      (data, _p, _k, topic) => topic === 'e2e-v1' && Buffer.from(data).equals(Buffer.from(payload)),
      15000,
      'subscriber: DataReceived',
    );
    received.catch(() => {});
    await pub.localParticipant.publishData(payload, { reliable: true, topic: 'e2e-v1' });
    const [, participant] = await received;
    assert.equal(participant?.identity, 'node-pub');
  } finally {
    await stopTone();
    await withTimeout(pub.disconnect(), 10000, 'pub disconnect').catch(() => {});
    await withTimeout(sub.disconnect(), 10000, 'sub disconnect').catch(() => {});
  }
}

for (const [name, args, want] of [
  ['v1 on: both join over /rtc/v1 without falling back', [], 'v1'],
  ['v1 off: both fall back to /rtc', ['--no-signal-v1'], 'v0'],
]) {
  test(`rtc-node ${name}`, async () => {
    const srv = await new XcordServer(`node-${want}`, args).start();
    try {
      await toneAndDataReachSubscriber(srv, uniqueRoom(`node-${want}`));
      const joins = joinsByIdentity(readFileSync(srv.logPath, 'utf8'));
      assert.deepEqual(joins['node-pub'], [want], JSON.stringify(joins));
      assert.deepEqual(joins['node-sub'], [want], JSON.stringify(joins));
    } catch (e) {
      console.log(srv.logTail());
      throw e;
    } finally {
      await srv.stop();
    }
  });
}
