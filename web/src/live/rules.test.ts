// The live views' pure rules: badges, counts, precise refusal texts, who may act on whom, the
// caller's place on the stage, and the reducer of the live gateway events.

import { describe, expect, it } from 'vitest';
import type { LiveMessage, LiveSession, Stage } from './api';
import { accessBadge, countText, mayActOn, placeOf, reduceLive, refusalText, roleOf, stateText } from './rules';

const session = (patch: Partial<LiveSession> = {}): LiveSession => ({
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
  ...patch,
});

const stage = (patch: Partial<Stage> = {}): Stage => ({
  sessionId: 's1',
  hands: [],
  invites: [],
  roles: [{ userId: 'h', role: 'host' }],
  ...patch,
});

const msg = (id: string, sessionId = 's1'): LiveMessage => ({ id, sessionId, authorId: 'u', content: id, createdAt: 0 });

describe('badges and counts', () => {
  it('names the access and the price', () => {
    expect(accessBadge('public', 0)).toBe('Free');
    expect(accessBadge('subscribers_only', 0)).toBe('Subscribers only');
    expect(accessBadge('pay_per_view', 1)).toBe('Pay-per-view · 1 coin');
    expect(accessBadge('pay_per_view', 25)).toBe('Pay-per-view · 25 coins');
  });
  it('counts watchers or listeners by kind', () => {
    expect(countText('video_live', 3)).toBe('3 watching');
    expect(countText('audio_room', 1)).toBe('1 listening');
  });
});

describe('refusals and states', () => {
  it('says precisely why a join was refused', () => {
    expect(refusalText({ code: 'not_live', message: '' }, session({ state: 'scheduled' }))).toBe(
      'This session is not live yet: the host has not started it.',
    );
    expect(refusalText({ code: 'not_live', message: '' }, session({ state: 'ended' }))).toBe(
      'This session is not live any more.',
    );
    expect(refusalText({ code: 'payment_required', message: '' }, session())).toBe(
      'This session is pay-per-view: buy it for 25 coins to watch.',
    );
    expect(refusalText({ code: 'insufficient_funds', message: '' }, session(), 10)).toBe(
      'Not enough coins: this costs 25 coins and your balance is 10.',
    );
    expect(refusalText({ code: 'subscription_required', message: '' }, session())).toMatch(/subscribers/);
    expect(refusalText({ code: 'banned', message: '' }, session())).toMatch(/banned/);
    expect(refusalText({ code: 'session_full', message: '' }, session())).toMatch(/full/);
    expect(refusalText({ code: 'weird', message: 'as the server says' }, null)).toBe('as the server says');
  });
  it('explains an end or a failure, with the refund of a paid one', () => {
    expect(stateText(session())).toBeNull();
    expect(stateText(session({ state: 'ended', endReason: 'max_duration' }))).toBe(
      'This session has ended: it reached its maximum duration.',
    );
    expect(stateText(session({ state: 'failed', endReason: 'host_connection_lost' }))).toBe(
      "This session failed: the host's media connection was lost. Purchases are refunded in full.",
    );
    expect(stateText(session({ access: 'public', state: 'failed', endReason: 'media_room_closed' }))).toBe(
      'This session failed: the media server closed its room.',
    );
  });
});

describe('moderation ranks', () => {
  it('host > co_host > speaker > audience; only moderators act, on lower roles', () => {
    expect(mayActOn('host', 'co_host')).toBe(true);
    expect(mayActOn('host', 'listener')).toBe(true);
    expect(mayActOn('host', 'host')).toBe(false);
    expect(mayActOn('co_host', 'speaker')).toBe(true);
    expect(mayActOn('co_host', 'viewer')).toBe(true);
    expect(mayActOn('co_host', 'co_host')).toBe(false);
    expect(mayActOn('co_host', 'host')).toBe(false);
    expect(mayActOn('speaker', 'listener')).toBe(false);
    expect(mayActOn(null, 'listener')).toBe(false);
  });
});

describe('the stage', () => {
  it("finds the caller's place and role", () => {
    const s = stage({
      hands: [{ userId: 'a', raisedAt: 1 }, { userId: 'b', raisedAt: 2 }],
      invites: [{ userId: 'b', invitedBy: 'h', invitedAt: 3 }],
      roles: [
        { userId: 'h', role: 'host' },
        { userId: 'c', role: 'speaker' },
      ],
    });
    expect(placeOf(s, 'h')).toBe('host');
    expect(placeOf(s, 'a')).toBe('hand_raised');
    expect(placeOf(s, 'b')).toBe('invited');
    expect(placeOf(s, 'c')).toBe('on_stage');
    expect(placeOf(s, 'd')).toBe('audience');
    expect(placeOf(null, 'd')).toBe('audience');
    expect(roleOf(s, 'audio_room', 'c')).toBe('speaker');
    expect(roleOf(s, 'audio_room', 'd')).toBe('listener');
    expect(roleOf(s, 'video_live', 'd')).toBe('viewer');
  });
});

describe('reduceLive', () => {
  const v = { session: session(), stage: stage({ audience: ['x'] }), messages: [msg('2')] };
  it("follows this session's updates only", () => {
    expect(reduceLive(v, 'LIVE_UPDATE', { ...session({ id: 'other', viewerCount: 9 }) })).toBe(v);
    expect(reduceLive(v, 'LIVE_UPDATE', { ...session({ viewerCount: 9 }) }).session?.viewerCount).toBe(9);
    expect(reduceLive({ ...v, session: null }, 'LIVE_UPDATE', { ...session() }).session).toBeNull();
  });
  it('keeps the audience the page read when the stage changes', () => {
    const next = reduceLive(v, 'STAGE_UPDATE', { ...stage({ hands: [{ userId: 'x', raisedAt: 5 }] }) });
    expect(next.stage?.hands).toHaveLength(1);
    expect(next.stage?.audience).toEqual(['x']);
    expect(reduceLive(v, 'STAGE_UPDATE', { ...stage({ sessionId: 'other' }) })).toBe(v);
  });
  it('orders messages by id, ignores repeats, and drops deleted ones', () => {
    let next = reduceLive(v, 'LIVE_MESSAGE_CREATE', { ...msg('1') });
    next = reduceLive(next, 'LIVE_MESSAGE_CREATE', { ...msg('3') });
    expect(reduceLive(next, 'LIVE_MESSAGE_CREATE', { ...msg('3') })).toBe(next);
    expect(reduceLive(next, 'LIVE_MESSAGE_CREATE', { ...msg('4', 'other') })).toBe(next);
    expect(next.messages.map((m) => m.id)).toEqual(['1', '2', '3']);
    next = reduceLive(next, 'LIVE_MESSAGE_DELETE', { id: '2', sessionId: 's1' });
    expect(next.messages.map((m) => m.id)).toEqual(['1', '3']);
  });
});
