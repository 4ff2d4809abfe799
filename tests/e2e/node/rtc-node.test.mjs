// xcord SFU against the official Node SDK (@livekit/rtc-node; tokens from livekit-server-sdk).
// A publisher sends a 440 Hz tone; a subscriber must receive audible audio at that pitch, and a
// data message with the publisher's identity as sender.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  DataPacketKind,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
} from '@livekit/rtc-node';
import { URL, makeToken, sleep, uniqueRoom, waitForEvent, withTimeout } from './lk.mjs';

const RATE = 48000;
const TONE_HZ = 440;

after(async () => {
  await dispose();
});

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

/** Reads frames until `seconds` of audible audio were seen (after `skip` audible seconds). */
async function collectAudible(track, seconds, skip) {
  const stream = new AudioStream(track, { sampleRate: RATE, numChannels: 1 });
  const want = seconds * RATE;
  let skipLeft = skip * RATE;
  const chunks = [];
  let got = 0;
  let frames = 0;
  const reader = stream.getReader();
  try {
    while (got < want) {
      const { value: frame, done } = await reader.read();
      if (done) throw new Error(`audio stream ended after ${frames} frames`);
      frames++;
      const d = frame.data;
      let peak = 0;
      for (const s of d) peak = Math.max(peak, Math.abs(s));
      if (peak < 300) continue; // silence (nothing received yet)
      if (skipLeft > 0) {
        skipLeft -= d.length;
        continue;
      }
      chunks.push(Int16Array.from(d));
      got += d.length;
    }
  } finally {
    reader.releaseLock();
    await stream.cancel().catch(() => {});
  }
  const all = new Int16Array(got);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return { samples: all, frames };
}

function analyse(samples) {
  let sumsq = 0;
  let crossings = 0;
  for (let i = 0; i < samples.length; i++) {
    sumsq += samples[i] * samples[i];
    if (i > 0 && samples[i - 1] < 0 && samples[i] >= 0) crossings++;
  }
  return { rms: Math.sqrt(sumsq / samples.length), freq: crossings / (samples.length / RATE) };
}

test('audio and data from a Node publisher reach a Node subscriber', async (t) => {
  const roomName = uniqueRoom('node');
  const pub = new Room();
  const sub = new Room();
  let stopTone = async () => {};
  try {
    await withTimeout(pub.connect(URL, await makeToken('node-pub', roomName)), 30000, 'publisher connect');
    const source = new AudioSource(RATE, 1);
    const track = LocalAudioTrack.createAudioTrack('tone', source);
    stopTone = startTone(source);
    await withTimeout(
      pub.localParticipant.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE })),
      20000,
      'publishTrack',
    );

    const subscribed = waitForEvent(
      sub,
      RoomEvent.TrackSubscribed,
      (tr, _pubn, p) => p.identity === 'node-pub' && tr.kind === TrackKind.KIND_AUDIO,
      30000,
      'subscriber: TrackSubscribed for node-pub audio',
    );
    subscribed.catch(() => {});
    await withTimeout(sub.connect(URL, await makeToken('node-sub', roomName)), 30000, 'subscriber connect');
    const [remoteTrack] = await subscribed;

    const { samples, frames } = await withTimeout(
      collectAudible(remoteTrack, 1, 0.5),
      20000,
      'subscriber: 1.5 s of audible audio',
    );
    const { rms, freq } = analyse(samples);
    t.diagnostic(`received ${frames} frames; rms ${rms.toFixed(0)}, zero-crossing frequency ${freq.toFixed(1)} Hz`);
    assert.ok(rms > 1000, `received audio too quiet: rms ${rms.toFixed(0)}`);
    assert.ok(Math.abs(freq - TONE_HZ) <= 10, `received tone at ${freq.toFixed(1)} Hz, expected ${TONE_HZ} Hz`);

    const payload = new TextEncoder().encode(`hello-from-node-${roomName}`);
    const received = waitForEvent(
      sub,
      RoomEvent.DataReceived,
      (data, participant, _kind, topic) => topic === 'e2e-node' && Buffer.from(data).equals(Buffer.from(payload)),
      15000,
      'subscriber: DataReceived',
    );
    received.catch(() => {});
    await pub.localParticipant.publishData(payload, { reliable: true, topic: 'e2e-node' });
    const [, participant, kind] = await received;
    assert.equal(participant?.identity, 'node-pub', 'data message has the wrong sender identity');
    assert.equal(kind, DataPacketKind.KIND_RELIABLE, 'data message has the wrong kind');
  } finally {
    await stopTone();
    await withTimeout(pub.disconnect(), 10000, 'pub disconnect').catch(() => {});
    await withTimeout(sub.disconnect(), 10000, 'sub disconnect').catch(() => {});
  }
});
