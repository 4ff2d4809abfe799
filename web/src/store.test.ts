// The gateway reducer: Ready replaces the state; each event changes only what it names.

import { describe, expect, it } from 'vitest';
import type { Channel, CommunityView, MediaSession, User } from './api';
import { EMPTY, Store, occupants, reduceEvent, reduceReady, serverNow, speakingIn } from './store';
import type { VoiceState } from './store';

const user = (id: string, name: string): User => ({
  id,
  handle: name.toLowerCase(),
  displayName: name,
  avatarGradient: ['#000000', '#ffffff'],
});
const alice = user('a', 'Alice');
const bob = user('b', 'Bob');
const lounge: Channel = { id: 'ch1', communityId: 'c1', name: 'Lounge', kind: 'voice', userLimit: 0, position: 1, createdAt: 1 };
const community: CommunityView = {
  id: 'c1',
  name: 'Tea',
  ownerId: 'a',
  channels: [lounge],
  members: [
    { communityId: 'c1', user: alice, roleIds: [], joinedAt: 1 },
    { communityId: 'c1', user: bob, roleIds: [], joinedAt: 2 },
  ],
};
const vs = (userId: string, channelId: string, joinedAt: number): VoiceState => ({
  userId,
  channelId,
  participantSid: `PA_${userId}`,
  selfMute: false,
  selfDeaf: false,
  serverMute: false,
  serverDeaf: false,
  camera: false,
  screenShare: false,
  joinedAt,
});
const session = (version: number, extra: Partial<MediaSession> = {}): MediaSession => ({
  version,
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

const ready = () =>
  reduceReady({
    sessionId: 'conn1',
    user: alice,
    communities: [community],
    voiceStates: [vs('b', 'ch1', 20), vs('a', 'ch1', 10)],
    conversations: [],
    mediaSession: session(3),
  });

describe('reduceReady', () => {
  it('takes the connection id, communities and voice states grouped per channel in join order', () => {
    const s = ready();
    expect(s.ready).toBe(true);
    expect(s.connectionId).toBe('conn1');
    expect(s.voice.ch1.map((v) => v.userId)).toEqual(['a', 'b']);
    expect(occupants(s, lounge).map((o) => o.user?.displayName)).toEqual(['Alice', 'Bob']);
  });

  it("keeps the server's clock offset, so countdowns run on the server's time", () => {
    const s = reduceReady({ serverTime: 1_000_500 }, 1_000_000);
    expect(s.clockOffset).toBe(500);
    expect(serverNow(s, 2_000_000)).toBe(2_000_500);
    expect(reduceReady({}, 1_000_000).clockOffset).toBe(0);
  });

  it('takes the offset against the midpoint of identify and Ready, not against the late arrival', () => {
    // identify left at 1_000_000, Ready (stamped 1_000_500 on the server) arrived 1 s later: the
    // server's clock is taken as at 1_000_500 local, the midpoint, so the offset is 0, not -500.
    const s = reduceReady({ serverTime: 1_000_500 }, 1_001_000, 1_000_000);
    expect(s.clockOffset).toBe(0);
    // a send time after the arrival (a clock step) falls back to the arrival
    expect(reduceReady({ serverTime: 1_000_500 }, 1_000_000, 1_000_900).clockOffset).toBe(500);
  });
});

describe('reduceEvent', () => {
  it('VOICE_SPEAKING keeps who speaks per channel; nobody speaking forgets the channel', () => {
    let s = reduceEvent(EMPTY, 'VOICE_SPEAKING', { channelId: 'ch1', userIds: ['u2', 'u1'] });
    s = reduceEvent(s, 'VOICE_SPEAKING', { channelId: 'ch2', userIds: ['u3'] });
    expect(s.speaking).toEqual({ ch1: ['u2', 'u1'], ch2: ['u3'] });
    expect([...speakingIn(s, 'ch1', null)]).toEqual(['u2', 'u1']);
    s = reduceEvent(s, 'VOICE_SPEAKING', { channelId: 'ch1', userIds: [] });
    expect(s.speaking).toEqual({ ch2: ['u3'] });
    expect(speakingIn(s, 'ch1', null).size).toBe(0);
  });

  it("in the channel this window's room is in, the live room's speakers win", () => {
    const s = {
      ...reduceEvent(EMPTY, 'VOICE_SPEAKING', { channelId: 'ch1', userIds: ['u2'] }),
      mediaSession: { context: { channelId: 'ch1' } } as MediaSession,
    };
    expect([...speakingIn(s, 'ch1', ['u1'])]).toEqual(['u1']);
    expect([...speakingIn(s, 'ch2', ['u1'])]).toEqual([]);
  });

  it('a voice state update moves a user between channels; a leave removes them', () => {
    let s = ready();
    s = reduceEvent(s, 'VOICE_STATE_UPDATE', { ...vs('b', 'ch2', 30), previousChannelId: 'ch1' });
    expect(s.voice.ch1.map((v) => v.userId)).toEqual(['a']);
    expect(s.voice.ch2.map((v) => v.userId)).toEqual(['b']);
    s = reduceEvent(s, 'VOICE_STATE_UPDATE', { userId: 'a', channelId: null, previousChannelId: 'ch1' });
    expect(s.voice.ch1).toBeUndefined();
    s = reduceEvent(s, 'VOICE_STATE_UPDATE', { ...vs('b', 'ch2', 30), selfMute: true });
    expect(s.voice.ch2).toHaveLength(1);
    expect(s.voice.ch2[0].selfMute).toBe(true);
  });

  it('channels, members and communities follow their events', () => {
    let s = ready();
    s = reduceEvent(s, 'CHANNEL_CREATE', { ...lounge, id: 'ch0', name: 'First', position: 0 });
    expect(s.communities[0].channels.map((c) => c.name)).toEqual(['First', 'Lounge']);
    s = reduceEvent(s, 'CHANNEL_DELETE', { id: 'ch0', communityId: 'c1' });
    expect(s.communities[0].channels.map((c) => c.name)).toEqual(['Lounge']);
    const carol = user('c', 'Carol');
    s = reduceEvent(s, 'MEMBER_ADD', { communityId: 'c1', user: carol, roleIds: [], joinedAt: 3 });
    expect(s.communities[0].members.map((m) => m.user.displayName)).toEqual(['Alice', 'Bob', 'Carol']);
    s = reduceEvent(s, 'MEMBER_REMOVE', { communityId: 'c1', userId: 'b' });
    expect(s.communities[0].members.map((m) => m.user.displayName)).toEqual(['Alice', 'Carol']);
    // removed themselves: the community goes
    s = reduceEvent(s, 'MEMBER_REMOVE', { communityId: 'c1', userId: 'a' });
    expect(s.communities).toEqual([]);
  });

  it('keeps the newest media session snapshot when they cross', () => {
    let s = ready();
    s = reduceEvent(s, 'MEDIA_SESSION_UPDATE', session(5, { type: 'dm-voice' }) as never);
    s = reduceEvent(s, 'MEDIA_SESSION_UPDATE', session(4) as never);
    expect(s.mediaSession?.version).toBe(5);
    expect(s.mediaSession?.type).toBe('dm-voice');
  });

  it('a connect ticket is kept until taken', () => {
    const store = new Store();
    store.ready({ sessionId: 'x', user: alice });
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 't', room: 'dm_1', epoch: 7 });
    expect(store.takeConnect()).toEqual({ url: 'ws://sfu', token: 't', room: 'dm_1', epoch: 7 });
    expect(store.takeConnect()).toBeNull();
  });

  it('unknown events change nothing', () => {
    const s = ready();
    expect(reduceEvent(s, 'SOMETHING_NEW', {})).toBe(s);
    expect(reduceEvent(EMPTY, 'VOICE_STATE_UPDATE', { userId: 'a', channelId: null })).toMatchObject({ voice: {} });
  });
});
