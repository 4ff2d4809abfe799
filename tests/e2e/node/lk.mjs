// Shared settings and helpers for the Node end-to-end tests.
import { randomBytes } from 'node:crypto';
import { AccessToken } from 'livekit-server-sdk';

export const URL = process.env.LIVEKIT_URL ?? 'ws://10.99.0.1:7880';
export const HTTP_URL = process.env.XCORD_HTTP ?? URL.replace(/^ws/, 'http');
export const API_KEY = process.env.LIVEKIT_API_KEY ?? 'devkey';
export const API_SECRET = process.env.LIVEKIT_API_SECRET ?? 'secret';

export function uniqueRoom(prefix) {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function makeToken(identity, room, grants = {}) {
  const at = new AccessToken(API_KEY, API_SECRET, { identity, name: identity, ttl: '10m' });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true, ...grants });
  return at.toJwt();
}

/** Rejects after `ms` with a message naming what timed out. */
export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Resolves with the args of the first `event` on `emitter` for which `pred(...args)` is true. */
export function waitForEvent(emitter, event, pred, ms, what) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => {
      if (pred(...args)) resolve(args);
    };
    emitter.on(event, handler);
  });
  return withTimeout(p, ms, what ?? event).finally(() => emitter.off(event, handler));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
