// Pure rules of calls and the media session, derived from the server's snapshot: the countdown
// of an incoming call, what the ringtone should play, who owns the media connection, the
// session's name. No timers and no DOM here, so they are unit-tested directly.

import type { MediaSession } from './api';

/**
 * Whole seconds until `expiresAt` (rounded up, never below 0). `now` is this client's estimate
 * of the server's clock, which can lag it by part of a round trip; with `ringingSince` (when the
 * ringing started, on the server's clock) the countdown never shows more than the ring lasts.
 */
export function secondsLeft(expiresAt: number, now: number, ringingSince?: number): number {
  const from = ringingSince ? Math.max(now, ringingSince) : now;
  return Math.max(0, Math.ceil((expiresAt - from) / 1000));
}

/** "0:27" */
export function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function isActive(m: MediaSession | null): boolean {
  return !!m && m.type !== 'idle';
}

/**
 * What the ringtone plays: `ring` for a call ringing while the user is free, `waiting` (a soft
 * tone) for one ringing during a session, `none` otherwise. Calls past their `expiresAt` do not
 * count. Derived from the snapshot only, so an answer anywhere stops it everywhere.
 */
export function ringMode(m: MediaSession | null, now: number): 'none' | 'ring' | 'waiting' {
  const ringing = (m?.incomingCalls ?? []).filter((c) => c.expiresAt > now);
  if (ringing.length === 0) return 'none';
  return isActive(m) ? 'waiting' : 'ring';
}

/** Whether this window's gateway connection holds the media connection. */
export function isOwner(m: MediaSession | null, connectionId: string | null): boolean {
  return !!connectionId && !!m?.owner && m.owner.connectionId === connectionId;
}

/** The name a session is shown by: the other person of a call, or the channel. */
export function sessionTitle(m: MediaSession | null): string {
  if (!m || m.type === 'idle') return '';
  if (m.context.otherUser) return `${m.type === 'dm-video' ? 'Video call' : 'Call'} with ${m.context.otherUser.displayName}`;
  return m.context.channelName ?? 'Voice';
}
