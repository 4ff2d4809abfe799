// The plain-string copies of livekit-client's enum values are the SDK's values.

import { describe, expect, it } from 'vitest';
import { ConnectionQuality, RoomEvent, Track } from 'livekit-client';
import { EV, KIND_AUDIO, QUALITY, SOURCE } from './lkconst';

describe('lkconst', () => {
  it('room events', () => {
    for (const [k, v] of Object.entries(EV)) expect(v).toBe(RoomEvent[k as keyof typeof RoomEvent]);
  });
  it('sources, kinds and qualities', () => {
    for (const [k, v] of Object.entries(SOURCE)) expect(v).toBe(Track.Source[k as keyof typeof Track.Source]);
    expect(KIND_AUDIO).toBe(Track.Kind.Audio);
    for (const [k, v] of Object.entries(QUALITY)) expect(v).toBe(ConnectionQuality[k as keyof typeof ConnectionQuality]);
  });
});
