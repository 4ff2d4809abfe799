// The picture-in-picture rules: when it shows, which picture, and where it sits.
import { describe, expect, it } from 'vitest';
import type { MediaSession, SessionParticipant } from './api';
import {
  DEFAULT_HEIGHT,
  DEFAULT_WIDTH,
  MIN_HEIGHT,
  MIN_WIDTH,
  arrow,
  clamp,
  defaultRect,
  dragged,
  pipCommand,
  rectOf,
  resized,
  sessionPath,
  showsPip,
  variantOf,
} from './pip';

const mine = { connectionId: 'me', kind: 'main' };
const snap = (extra: Partial<MediaSession> = {}): MediaSession => ({
  version: 1,
  epoch: 1,
  type: 'dm-voice',
  context: { conversationId: 'conv1' },
  controls: { muted: false, deafened: false, camera: false, screenShare: false },
  connection: 'connected',
  owner: mine,
  participants: [],
  incomingCalls: [],
  pip: { enabled: false, x: 0, y: 0, width: 0, height: 0, minimized: false },
  ...extra,
});
const person = (extra: Partial<SessionParticipant> = {}): SessionParticipant => ({
  userId: 'u2',
  displayName: 'Bob',
  avatarGradient: ['#000', '#fff'],
  muted: false,
  speaking: false,
  camera: false,
  screenShare: false,
  local: false,
  ...extra,
});
const screen = { width: 1280, height: 720 };

describe('showsPip', () => {
  it('shows in the window holding the media, away from the session page', () => {
    const m = snap();
    expect(sessionPath(m)).toBe('/dm/conv1');
    expect(showsPip(m, 'me', '/')).toBe(true);
    expect(showsPip(m, 'me', '/dm/conv1')).toBe(false);
    // a follower window has the current-call bar instead
    expect(showsPip(m, 'other', '/')).toBe(false);
    expect(showsPip(snap({ type: 'idle', context: {} }), 'me', '/')).toBe(false);
    expect(showsPip(null, 'me', '/')).toBe(false);
  });

  it('a channel session is at its channel page; turned off, it does not show', () => {
    const m = snap({ type: 'server-voice', context: { communityId: 'c1', channelId: 'ch1' } });
    expect(sessionPath(m)).toBe('/c/c1/ch1');
    expect(showsPip(m, 'me', '/c/c1')).toBe(true);
    const off = snap({ pip: { enabled: false, x: 10, y: 10, width: 300, height: 200, minimized: false } });
    expect(showsPip(off, 'me', '/')).toBe(false);
    const on = snap({ pip: { enabled: true, x: 10, y: 10, width: 300, height: 200, minimized: false } });
    expect(showsPip(on, 'me', '/')).toBe(true);
  });
});

describe('variantOf', () => {
  it('screen share before stream before video before voice', () => {
    expect(variantOf(snap(), false)).toBe('voice');
    expect(variantOf(snap({ type: 'dm-video' }), false)).toBe('video');
    expect(variantOf(snap({ participants: [person({ camera: true })] }), false)).toBe('video');
    expect(variantOf(snap({ type: 'live-stream' }), false)).toBe('stream');
    expect(variantOf(snap({ type: 'dm-video', participants: [person({ screenShare: true })] }), false)).toBe('screen');
    expect(variantOf(snap({ type: 'live-stream' }), true)).toBe('screen');
    expect(variantOf(snap({ type: 'screen-share' }), false)).toBe('screen');
  });
});

describe('where the window sits', () => {
  it('defaults to the bottom right corner, at the default size', () => {
    expect(defaultRect(screen)).toEqual({ x: 1280 - DEFAULT_WIDTH - 16, y: 720 - DEFAULT_HEIGHT - 16, width: DEFAULT_WIDTH, height: DEFAULT_HEIGHT });
    expect(rectOf(snap(), screen)).toEqual(defaultRect(screen));
  });

  it("takes the server's place, kept inside the viewport", () => {
    const m = snap({ pip: { enabled: true, x: 40, y: 50, width: 400, height: 240, minimized: false } });
    expect(rectOf(m, screen)).toEqual({ x: 40, y: 50, width: 400, height: 240 });
    // placed on a wider screen before: pulled back in
    expect(rectOf(m, { width: 420, height: 260 })).toEqual({ x: 20, y: 20, width: 400, height: 240 });
  });

  it('clamps to the minimum size and to the viewport', () => {
    expect(clamp({ x: -50, y: -5, width: 10, height: 10 }, screen)).toEqual({ x: 0, y: 0, width: MIN_WIDTH, height: MIN_HEIGHT });
    expect(clamp({ x: 5000, y: 5000, width: 9000, height: 9000 }, screen)).toEqual({ x: 0, y: 0, width: 1280, height: 720 });
  });

  it('a drag moves it, never out of the viewport; a resize grows it from its corner', () => {
    const start = { x: 100, y: 100, width: 320, height: 200 };
    expect(dragged(start, 30, -20, screen)).toEqual({ x: 130, y: 80, width: 320, height: 200 });
    expect(dragged(start, -500, 5000, screen)).toEqual({ x: 0, y: 520, width: 320, height: 200 });
    expect(resized(start, 80, 40, screen)).toEqual({ x: 100, y: 100, width: 400, height: 240 });
    expect(resized(start, -1000, -1000, screen)).toEqual({ x: 100, y: 100, width: MIN_WIDTH, height: MIN_HEIGHT });
    // the corner stops at the viewport's edge; the window does not move
    expect(resized(start, 5000, 5000, screen)).toEqual({ x: 100, y: 100, width: 1180, height: 620 });
  });

  it('arrow keys step 10 pixels, 100 with Shift; other keys do nothing', () => {
    expect(arrow('ArrowLeft', false)).toEqual([-10, 0]);
    expect(arrow('ArrowDown', true)).toEqual([0, 100]);
    expect(arrow('Enter', false)).toBeNull();
  });

  it('the set_pip command carries the place', () => {
    expect(pipCommand({ x: 1, y: 2, width: 300, height: 200 }, true)).toEqual({
      type: 'set_pip',
      enabled: true,
      x: 1,
      y: 2,
      width: 300,
      height: 200,
      minimized: true,
    });
    expect(pipCommand({ x: 1, y: 2, width: 300, height: 200 }, false, false).enabled).toBe(false);
  });
});
