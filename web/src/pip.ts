// Pure rules of the picture-in-picture window: when it shows, which kind of session it shows
// (a video call, a stream, a screen share, or voice), where it sits (the session's `pip` as
// the server keeps it, kept inside the viewport), and how dragging, resizing and the arrow keys
// move it. No DOM here, so they are unit-tested directly.

import type { MediaSession } from './api';
import { isActive, isOwner } from './calls';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Viewport {
  width: number;
  height: number;
}

/** What the floating window shows. */
export type PipVariant = 'video' | 'stream' | 'screen' | 'voice';

export const MIN_WIDTH = 200;
export const MIN_HEIGHT = 120;
export const DEFAULT_WIDTH = 320;
export const DEFAULT_HEIGHT = 200;
/** Height of the window when minimised (the title bar and the controls). */
export const MINIMIZED_HEIGHT = 44;
const MARGIN = 16;
/** How far one arrow key press moves or resizes (pixels); with Shift, ten times as far. */
export const KEY_STEP = 10;

/** Where the session's page is: its DM or its channel. */
export function sessionPath(m: MediaSession | null): string | null {
  if (!m || !isActive(m)) return null;
  if (m.context.conversationId) return `/dm/${m.context.conversationId}`;
  if (m.context.communityId && m.context.channelId) return `/c/${m.context.communityId}/${m.context.channelId}`;
  return null;
}

/**
 * Whether this window shows the session in picture-in-picture: it holds the session's media,
 * the page shown is not the session's own, and the user has not turned it off (a session that
 * never stored a place — width 0 — has it on).
 */
export function showsPip(m: MediaSession | null, connectionId: string | null, path: string): boolean {
  const where = sessionPath(m);
  if (!m || !where || where === path) return false;
  if (!isOwner(m, connectionId)) return false;
  return pipEnabled(m);
}

export function pipEnabled(m: MediaSession): boolean {
  return m.pip.enabled || m.pip.width === 0;
}

/** The kind of picture: a screen share wins, then a stream, then video, else voice. */
export function variantOf(m: MediaSession, sharing: boolean): PipVariant {
  if (sharing || m.type === 'screen-share' || m.participants.some((p) => p.screenShare)) return 'screen';
  if (m.type === 'live-stream') return 'stream';
  if (m.type === 'dm-video' || m.type === 'server-video' || m.participants.some((p) => p.camera)) return 'video';
  return 'voice';
}

/** Bottom right, the default size (smaller when the viewport is). */
export function defaultRect(v: Viewport): Rect {
  const width = Math.max(MIN_WIDTH, Math.min(DEFAULT_WIDTH, v.width - 2 * MARGIN));
  const height = Math.max(MIN_HEIGHT, Math.min(DEFAULT_HEIGHT, v.height - 2 * MARGIN));
  return clamp({ x: v.width - width - MARGIN, y: v.height - height - MARGIN, width, height }, v);
}

/** Keeps a rectangle at least its minimum size, no larger than the viewport, and inside it. */
export function clamp(r: Rect, v: Viewport): Rect {
  const width = Math.round(Math.max(MIN_WIDTH, Math.min(r.width, Math.max(MIN_WIDTH, v.width))));
  const height = Math.round(Math.max(MIN_HEIGHT, Math.min(r.height, Math.max(MIN_HEIGHT, v.height))));
  const x = Math.round(Math.max(0, Math.min(r.x, v.width - width)));
  const y = Math.round(Math.max(0, Math.min(r.y, v.height - height)));
  return { x, y, width, height };
}

/** The place the server keeps, or the default when there is none. */
export function rectOf(m: MediaSession, v: Viewport): Rect {
  const p = m.pip;
  if (p.width <= 0 || p.height <= 0) return defaultRect(v);
  return clamp({ x: p.x, y: p.y, width: p.width, height: p.height }, v);
}

/** Moved by a pointer drag of (dx, dy) from where the drag started. */
export function dragged(start: Rect, dx: number, dy: number, v: Viewport): Rect {
  return clamp({ ...start, x: start.x + dx, y: start.y + dy }, v);
}

/** Resized from its bottom-right corner by (dx, dy). */
export function resized(start: Rect, dx: number, dy: number, v: Viewport): Rect {
  const width = Math.min(start.width + dx, v.width - start.x);
  const height = Math.min(start.height + dy, v.height - start.y);
  return clamp({ ...start, width, height }, v);
}

const ARROWS: Record<string, [number, number]> = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

/** The arrow key's direction, or null for any other key. */
export function arrow(key: string, shift: boolean): [number, number] | null {
  const d = ARROWS[key];
  if (!d) return null;
  const step = shift ? KEY_STEP * 10 : KEY_STEP;
  return [d[0] * step, d[1] * step];
}

/** The `set_pip` command for a place. */
export function pipCommand(r: Rect, minimized: boolean, enabled = true) {
  return { type: 'set_pip' as const, enabled, x: r.x, y: r.y, width: r.width, height: r.height, minimized };
}
