// The server's publish defaults as livekit-client Room options: an audio room's hi-fi stereo
// Opus without DTX, a broadcast's simulcast ladder under its top encoding.

import { VideoPreset } from 'livekit-client';
import { describe, expect, it } from 'vitest';
import type { PublishDefaults } from './api';
import { roomOptionsOf } from './presets';

const AUDIO_ROOM: PublishDefaults = {
  preset: 'audio_room',
  video: null,
  audio: { maxBitrate: 128000, stereo: true, dtx: false, red: true },
};

const VIDEO_LIVE: PublishDefaults = {
  preset: 'video_live',
  video: {
    top: { width: 1920, height: 1080, maxBitrate: 3000000, maxFramerate: 30 },
    simulcastLayers: [
      { width: 1280, height: 720, maxBitrate: 1200000, maxFramerate: 30 },
      { width: 640, height: 360, maxBitrate: 400000, maxFramerate: 30 },
    ],
  },
  audio: { maxBitrate: 64000, stereo: false, dtx: true, red: true },
};

describe('roomOptionsOf', () => {
  it('sends an audio room as stereo music at its bitrate, DTX off and RED on, captured unprocessed', () => {
    const o = roomOptionsOf(AUDIO_ROOM, VideoPreset);
    expect(o.publishDefaults).toEqual({ audioPreset: { maxBitrate: 128000 }, forceStereo: true, dtx: false, red: true });
    expect(o.audioCaptureDefaults).toEqual({ channelCount: 2, echoCancellation: false, noiseSuppression: false, autoGainControl: false });
    expect(o.videoCaptureDefaults).toBeUndefined();
  });

  it('sends a broadcast as a 1080p top layer over 720p and 360p simulcast layers', () => {
    const o = roomOptionsOf(VIDEO_LIVE, VideoPreset);
    const p = o.publishDefaults;
    expect(p?.videoEncoding).toEqual({ maxBitrate: 3000000, maxFramerate: 30 });
    expect(p?.simulcast).toBe(true);
    expect(p?.videoSimulcastLayers?.map((l) => [l.height, l.encoding.maxBitrate])).toEqual([
      [720, 1200000],
      [360, 400000],
    ]);
    expect(p?.audioPreset).toEqual({ maxBitrate: 64000 });
    expect(o.videoCaptureDefaults?.resolution).toEqual({ width: 1920, height: 1080, frameRate: 30 });
    expect(o.audioCaptureDefaults).toBeUndefined();
  });
});
