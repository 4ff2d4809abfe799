// The pure call rules: the countdown, what the ringtone plays, ownership and speaking.

import { describe, expect, it } from 'vitest';
import type { MediaSession } from './api';
import { formatCountdown, isOwner, ringMode, secondsLeft, sessionTitle } from './calls';

const base = (extra: Partial<MediaSession> = {}): MediaSession => ({
  version: 1,
  epoch: 1,
  type: 'idle',
  context: {},
  controls: { muted: false, deafened: false, camera: false, screenShare: false },
  connection: 'disconnected',
  owner: null,
  participants: [],
  incomingCalls: [],
  pip: { enabled: false, x: 0, y: 0, width: 0, height: 0, minimized: false },
  ...extra,
});
const caller = { id: 'a', displayName: 'Alice', avatarGradient: ['#111111', '#222222'] };

describe('countdown', () => {
  it('counts whole seconds up to expiresAt, rounding up, never below zero', () => {
    expect(secondsLeft(30_000, 0)).toBe(30);
    expect(secondsLeft(30_000, 500)).toBe(30);
    expect(secondsLeft(30_000, 1_000)).toBe(29);
    expect(secondsLeft(30_000, 29_999)).toBe(1);
    expect(secondsLeft(30_000, 30_000)).toBe(0);
    expect(secondsLeft(30_000, 99_000)).toBe(0);
    // a client whose clock estimate lags the server's never shows more than the ring lasts
    expect(secondsLeft(45_000, -20, 0)).toBe(46);
    expect(secondsLeft(45_000, -20, 1)).toBe(45);
    expect(secondsLeft(45_001, -20, 1)).toBe(45);
    expect(secondsLeft(45_001, 2_001, 1)).toBe(43);
  });
  it('formats as m:ss', () => {
    expect(formatCountdown(30)).toBe('0:30');
    expect(formatCountdown(5)).toBe('0:05');
    expect(formatCountdown(75)).toBe('1:15');
    expect(formatCountdown(-3)).toBe('0:00');
  });
});

describe('ringMode', () => {
  const ringing = [{ callId: 'c1', from: caller, video: false, expiresAt: 10_000 }];
  it('rings while a call is ringing and the user is free', () => {
    expect(ringMode(base({ incomingCalls: ringing }), 0)).toBe('ring');
  });
  it('plays the waiting tone during a session (call waiting)', () => {
    expect(ringMode(base({ type: 'dm-voice', incomingCalls: ringing }), 0)).toBe('waiting');
  });
  it('stops when the call is gone from the snapshot (answered anywhere) or expired', () => {
    expect(ringMode(base({ type: 'dm-voice' }), 0)).toBe('none');
    expect(ringMode(base({ incomingCalls: ringing }), 10_000)).toBe('none');
    expect(ringMode(null, 0)).toBe('none');
  });
});

describe('ownership', () => {
  const owned = base({ type: 'dm-voice', owner: { connectionId: 'me', kind: 'main' } });
  it('the window whose connection is the owner holds the room', () => {
    expect(isOwner(owned, 'me')).toBe(true);
    expect(isOwner(owned, 'other')).toBe(false);
    expect(isOwner(owned, null)).toBe(false);
  });
});

describe('speaking and titles', () => {
  const m = base({
    type: 'server-voice',
    context: { channelName: 'Lounge' },
    participants: [
      { userId: 'a', displayName: 'A', avatarGradient: [], muted: false, speaking: true, camera: false, screenShare: false, local: true },
      { userId: 'b', displayName: 'B', avatarGradient: [], muted: false, speaking: false, camera: false, screenShare: false, local: false },
    ],
  });
  it('names the session by the other person or the channel', () => {
    expect(sessionTitle(m)).toBe('Lounge');
    expect(sessionTitle(base({ type: 'dm-video', context: { otherUser: caller } }))).toBe('Video call with Alice');
    expect(sessionTitle(base())).toBe('');
  });
});
