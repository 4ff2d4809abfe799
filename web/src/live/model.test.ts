// The live model with a scripted API and a stand-in for its room (the browser e2e drives the
// real ones): the purchase flow with its idempotency key, refusals kept for the page, joining in
// the ticket's role, publishing after a stage promotion without a reconnect, and leaving the
// room when the session fails.

import { describe, expect, it } from 'vitest';
import { VideoPreset } from 'livekit-client';
import { ApiError } from '../api';
import type { CallSession, SessionState } from '../session';
import { Store } from '../store';
import type { LiveApi, LiveSession, Profile, PublishDefaults, Stage } from './api';
import { LiveModel } from './model';

const ME: Profile = {
  id: 'me',
  handle: 'me',
  displayName: 'Me',
  avatarGradient: ['#000000', '#ffffff'],
  isCreator: false,
  subscriptionPriceCoins: null,
};

const SESSION: LiveSession = {
  id: 's1',
  hostId: 'h',
  kind: 'audio_room',
  title: 'Talk',
  access: 'pay_per_view',
  priceCoins: 25,
  state: 'live',
  maxViewers: null,
  maxDurationSeconds: null,
  viewerCount: 0,
  peakViewers: 0,
  startedAt: 1,
  endedAt: null,
  endReason: null,
};

const AUDIO_ROOM: PublishDefaults = {
  preset: 'audio_room',
  video: null,
  audio: { maxBitrate: 128000, stereo: true, dtx: false, red: true },
};

const MEDIA = {
  version: 1,
  epoch: 4,
  controls: { muted: false, deafened: false, camera: false, screenShare: false },
  connection: 'connecting',
  owner: null,
  participants: [],
  incomingCalls: [],
  pip: { enabled: false, x: 0, y: 0, width: 0, height: 0, minimized: false },
};

const STAGE: Stage = { sessionId: 's1', hands: [], invites: [], roles: [{ userId: 'h', role: 'host' }] };

class FakeMedia {
  calls: string[] = [];
  state = { status: 'idle', muted: false, camera: false } as SessionState;
  failMic = 0;
  subscribe = () => () => undefined;
  snapshot = () => this.state;
  async connect(room: string, opts: { camera?: boolean; muted?: boolean }) {
    this.calls.push(`connect ${room} camera=${!!opts.camera} muted=${!!opts.muted}`);
    this.state = { ...this.state, status: 'connected', muted: !!opts.muted, camera: !!opts.camera };
  }
  async disconnect() {
    this.calls.push('disconnect');
    this.state = { ...this.state, status: 'idle' };
  }
  async setMuted(m: boolean) {
    if (!m && this.failMic > 0) {
      this.failMic--;
      throw new Error('insufficient permissions');
    }
    this.calls.push(`muted=${m}`);
    this.state = { ...this.state, muted: m };
  }
  async setCamera(on: boolean) {
    this.calls.push(`camera=${on}`);
    this.state = { ...this.state, camera: on };
  }
}

function setup(script: Partial<LiveApi> = {}) {
  const log: string[] = [];
  let balance = 10;
  let bought = false;
  const api = {
    me: async () => ME,
    user: async (id: string) => ({ ...ME, id, displayName: `User ${id}` }),
    get: async () => SESSION,
    messages: async () => [],
    stage: async () => STAGE,
    wallet: async () => ({ balance, entries: [] }),
    topUp: async (amount: number) => {
      balance += amount;
      return { balance, entries: [] };
    },
    join: async () => {
      if (!bought) throw new ApiError(402, 'payment_required', 'buy it first');
      return { url: 'ws://x', token: 't', room: 'live_s1', role: 'listener' as const, publishDefaults: AUDIO_ROOM };
    },
    purchase: async (_id: string, key: string) => {
      log.push(`purchase ${key}`);
      if (balance < 25) throw new ApiError(402, 'insufficient_funds', 'costs 25');
      balance -= 25;
      bought = true;
      return { purchase: { id: 'p1' }, balance };
    },
    ...script,
  } as unknown as LiveApi;
  const store = new Store();
  const media = new FakeMedia();
  let n = 0;
  const model = new LiveModel({
    api,
    store,
    media: media as unknown as CallSession,
    newKey: () => `key${++n}`,
    wait: async () => undefined,
  });
  return { model, store, media, log };
}

describe('LiveModel', () => {
  it('refuses an unpaid join, buys with a fresh key after a top-up, then joins hidden and silent', async () => {
    const { model, media, log } = setup();
    await model.open('s1');
    expect(model.snapshot().session?.title).toBe('Talk');
    await model.join();
    expect(model.snapshot().error?.code).toBe('payment_required');
    expect(model.snapshot().role).toBeNull();
    await model.purchase();
    expect(model.snapshot().error?.code).toBe('insufficient_funds');
    expect(model.snapshot().balance).toBe(10);
    await model.topUp(100);
    expect(model.snapshot().balance).toBe(110);
    expect(model.snapshot().need).toBe('purchase');
    await model.purchase();
    expect(log).toEqual(['purchase key1', 'purchase key2']);
    expect(model.snapshot().error).toBeNull();
    expect(model.snapshot().balance).toBe(85);
    expect(model.snapshot().role).toBe('listener');
    expect(model.snapshot().need).toBeNull();
    expect(media.calls).toEqual(['connect live_s1 camera=false muted=true']);
  });

  it('retries a purchase that failed on the way with the same key', async () => {
    let first = true;
    const { model, log } = setup({
      purchase: async (_id: string, key: string) => {
        log.push(`purchase ${key}`);
        if (first) {
          first = false;
          throw new Error('network down');
        }
        throw new ApiError(409, 'already_purchased', 'bought');
      },
      join: async () => ({ url: 'ws://x', token: 't', room: 'live_s1', role: 'listener' as const, publishDefaults: AUDIO_ROOM }),
    } as Partial<LiveApi>);
    await model.open('s1');
    await model.purchase();
    expect(model.snapshot().error?.message).toBe('network down');
    await model.purchase();
    expect(log).toEqual(['purchase key1', 'purchase key1']);
    // bought before: straight in
    expect(model.snapshot().role).toBe('listener');
  });

  it('publishes its microphone when promoted to speaker, on the same connection, retrying until permitted', async () => {
    const { model, store, media } = setup({
      join: async () => ({ url: 'ws://x', token: 't', room: 'live_s1', role: 'listener' as const, publishDefaults: AUDIO_ROOM }),
    } as Partial<LiveApi>);
    await model.open('s1');
    await model.join();
    media.failMic = 2;
    store.event('STAGE_UPDATE', {
      ...STAGE,
      roles: [...STAGE.roles, { userId: 'me', role: 'speaker' }],
    });
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(model.snapshot().role).toBe('speaker');
    expect(media.calls).toEqual(['connect live_s1 camera=false muted=true', 'muted=false']);
    // back to the audience: silent again
    store.event('STAGE_UPDATE', { ...STAGE });
    await new Promise((r) => setTimeout(r, 0));
    expect(model.snapshot().role).toBe('listener');
    expect(media.calls.at(-1)).toBe('muted=true');
  });

  it('leaves the room when the session fails, and keeps why', async () => {
    const { model, store, media } = setup({
      join: async () => ({ url: 'ws://x', token: 't', room: 'live_s1', role: 'listener' as const, publishDefaults: AUDIO_ROOM }),
    } as Partial<LiveApi>);
    await model.open('s1');
    await model.join();
    store.event('LIVE_UPDATE', { ...SESSION, id: 'other', state: 'failed' });
    expect(media.calls).not.toContain('disconnect');
    store.event('LIVE_UPDATE', { ...SESSION, state: 'failed', endReason: 'media_room_closed' });
    await new Promise((r) => setTimeout(r, 0));
    expect(media.calls).toContain('disconnect');
    expect(model.snapshot().session?.endReason).toBe('media_room_closed');
    expect(model.snapshot().role).toBeNull();
  });

  it('publishes with the presets of the ticket, names this window when joining, and ends the media session on leave', async () => {
    const joins: (string | null | undefined)[] = [];
    const left: string[] = [];
    const { model, store, media } = setup({
      join: async (_id: string, connectionId?: string | null) => {
        joins.push(connectionId);
        return { url: 'ws://x', token: 't', room: 'live_s1', role: 'speaker' as const, publishDefaults: AUDIO_ROOM };
      },
      leave: async (id: string) => {
        left.push(id);
      },
    } as Partial<LiveApi>);
    store.ready({ sessionId: 'conn-1', user: ME });
    await model.open('s1');
    expect(model.roomOptions(VideoPreset)).toEqual({});
    await model.join();
    expect(joins).toEqual(['conn-1']);
    const options = model.roomOptions(VideoPreset);
    expect(options.publishDefaults).toMatchObject({ audioPreset: { maxBitrate: 128000 }, forceStereo: true, dtx: false, red: true });
    expect(options.audioCaptureDefaults).toMatchObject({ channelCount: 2, echoCancellation: false });
    await model.leave();
    expect(media.calls.at(-1)).toBe('disconnect');
    expect(left).toEqual(['s1']);
  });

  it('leaves the live room when the media session moves elsewhere, not for an update from before', async () => {
    const { model, store, media } = setup({
      join: async () => ({ url: 'ws://x', token: 't', room: 'live_s1', role: 'listener' as const, publishDefaults: AUDIO_ROOM }),
    } as Partial<LiveApi>);
    await model.open('s1');
    await model.join();
    // an update from before the join (still in a channel) changes nothing
    store.event('MEDIA_SESSION_UPDATE', { ...MEDIA, version: 1, type: 'server-voice', context: { channelId: 'c1' } });
    expect(media.calls).not.toContain('disconnect');
    store.event('MEDIA_SESSION_UPDATE', { ...MEDIA, version: 3, type: 'live-stream', context: { liveId: 's1' } });
    // a late snapshot from before crosses it on the wire: still nothing
    store.event('MEDIA_SESSION_UPDATE', { ...MEDIA, version: 2, type: 'server-voice', context: { channelId: 'c1' } });
    expect(media.calls).not.toContain('disconnect');
    // another window joined a voice channel: the live room is left
    store.event('MEDIA_SESSION_UPDATE', { ...MEDIA, version: 4, epoch: 5, type: 'server-voice', context: { channelId: 'c1' } });
    await new Promise((r) => setTimeout(r, 0));
    expect(media.calls).toContain('disconnect');
    expect(model.snapshot().role).toBeNull();
  });
});
