// The publishing presets the server hands out with every live join (`publishDefaults`, README
// "Live broadcasts and audio rooms": bitrate presets) turned into livekit-client's publish
// defaults for the live room: the audio bitrate, stereo, DTX and RED, and for a broadcast the
// camera's top encoding and its lower simulcast layers.

import type { RoomOptions, VideoPreset } from 'livekit-client';
import type { PublishDefaults } from './api';

type VideoPresetClass = new (width: number, height: number, maxBitrate: number, maxFramerate?: number) => VideoPreset;

/** The Room options that publish as `p` says (`VideoPreset`: livekit-client's class). */
export function roomOptionsOf(p: PublishDefaults, VideoPresetOf: VideoPresetClass): RoomOptions {
  const audio = {
    audioPreset: { maxBitrate: p.audio.maxBitrate },
    forceStereo: p.audio.stereo,
    dtx: p.audio.dtx,
    red: p.audio.red,
  };
  const options: RoomOptions = { publishDefaults: audio };
  if (p.video) {
    const v = p.video;
    options.publishDefaults = {
      ...audio,
      simulcast: v.simulcastLayers.length > 0,
      videoEncoding: { maxBitrate: v.top.maxBitrate, maxFramerate: v.top.maxFramerate },
      videoSimulcastLayers: v.simulcastLayers.map((l) => new VideoPresetOf(l.width, l.height, l.maxBitrate, l.maxFramerate)),
    };
    options.videoCaptureDefaults = { resolution: { width: v.top.width, height: v.top.height, frameRate: v.top.maxFramerate } };
  }
  if (p.audio.stereo) {
    // music: two channels, as played, without voice processing
    options.audioCaptureDefaults = { channelCount: 2, echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  }
  return options;
}
