// Pure rules of the live views: badges and counts as text, precise messages for the server's
// refusals, who may act on whom (the server's rule: host > co_host > speaker > audience), the
// caller's place on the stage, and the reducer of the live gateway events. No I/O; unit-tested.

import type { LiveAccess, LiveKind, LiveMessage, LiveRole, LiveSession, Stage } from './api';

export function accessBadge(access: LiveAccess, priceCoins: number): string {
  switch (access) {
    case 'public':
      return 'Free';
    case 'subscribers_only':
      return 'Subscribers only';
    case 'pay_per_view':
      return `Pay-per-view · ${priceCoins} ${priceCoins === 1 ? 'coin' : 'coins'}`;
  }
}

export function kindLabel(kind: LiveKind): string {
  return kind === 'video_live' ? 'Video broadcast' : 'Audio room';
}

/** "3 watching" / "1 listening" (an audio room's audience listens). */
export function countText(kind: LiveKind, count: number): string {
  return `${count} ${kind === 'video_live' ? 'watching' : 'listening'}`;
}

const END_REASONS: Record<string, string> = {
  host_ended: 'the host ended it',
  cancelled: 'it was cancelled before it started',
  max_duration: 'it reached its maximum duration',
  host_never_connected: "the host's media never connected",
  host_connection_lost: "the host's media connection was lost",
  media_room_closed: 'the media server closed its room',
};

/** What the page says about a session that is not live. */
export function stateText(s: LiveSession): string | null {
  const why = s.endReason ? (END_REASONS[s.endReason] ?? s.endReason) : null;
  switch (s.state) {
    case 'scheduled':
      return 'Not live yet: the host has not started it.';
    case 'live':
      return null;
    case 'ended':
      return `This session has ended${why ? `: ${why}` : ''}.`;
    case 'failed':
      return `This session failed${why ? `: ${why}` : ''}.${
        s.access === 'pay_per_view' ? ' Purchases are refunded in full.' : ''
      }`;
  }
}

export interface Refusal {
  code: string;
  message: string;
}

/** The precise text for a refusal (the server's code), given what the page knows. */
export function refusalText(r: Refusal, s: LiveSession | null, balance: number | null = null): string {
  switch (r.code) {
    case 'not_live':
      return s?.state === 'scheduled'
        ? 'This session is not live yet: the host has not started it.'
        : 'This session is not live any more.';
    case 'payment_required':
      return `This session is pay-per-view: buy it for ${s?.priceCoins ?? '?'} coins to watch.`;
    case 'insufficient_funds':
      return `Not enough coins: this costs ${s?.priceCoins ?? '?'} coins${
        balance === null ? '' : ` and your balance is ${balance}`
      }.`;
    case 'subscription_required':
      return "This session is for the host's subscribers: subscribe to watch.";
    case 'banned':
      return "You are banned from this host's live sessions.";
    case 'session_full':
      return 'This session is full: it has reached its maximum audience.';
    case 'already_purchased':
      return 'You already bought this session.';
    case 'rate_limited':
      return 'You are sending messages too fast: wait a few seconds.';
    case 'forbidden':
      return `Not allowed: ${r.message}`;
    default:
      return r.message;
  }
}

const RANK: Record<LiveRole, number> = { host: 3, co_host: 2, speaker: 1, viewer: 0, listener: 0 };

/** Whether `actor` may moderate `target` (mute, kick, ban, take off the stage). */
export function mayActOn(actor: LiveRole | null, target: LiveRole): boolean {
  if (actor !== 'host' && actor !== 'co_host') return false;
  return RANK[actor] > RANK[target];
}

export function isManager(role: LiveRole | null): boolean {
  return role === 'host' || role === 'co_host';
}

/** Whether `role` publishes (host, co-host, speaker). */
export function publishes(role: LiveRole | null): boolean {
  return role === 'host' || role === 'co_host' || role === 'speaker';
}

export type StagePlace = 'host' | 'on_stage' | 'invited' | 'hand_raised' | 'audience';

/** Where `userId` is on the stage. */
export function placeOf(stage: Stage | null, userId: string): StagePlace {
  if (!stage) return 'audience';
  const role = stage.roles.find((r) => r.userId === userId)?.role;
  if (role === 'host') return 'host';
  if (role) return 'on_stage';
  if (stage.invites.some((i) => i.userId === userId)) return 'invited';
  if (stage.hands.some((h) => h.userId === userId)) return 'hand_raised';
  return 'audience';
}

/** `userId`'s role from the stage (the audience's when not on it). */
export function roleOf(stage: Stage | null, kind: LiveKind, userId: string): LiveRole {
  const role = stage?.roles.find((r) => r.userId === userId)?.role;
  return role ?? (kind === 'video_live' ? 'viewer' : 'listener');
}

/** What a live page holds from the server. */
export interface LiveView {
  session: LiveSession | null;
  stage: Stage | null;
  messages: LiveMessage[];
}

/** One gateway event; events of other sessions leave the view as it is. */
export function reduceLive(v: LiveView, t: string, d: Record<string, unknown>): LiveView {
  const id = v.session?.id;
  if (!id) return v;
  switch (t) {
    case 'LIVE_UPDATE':
      return d.id === id ? { ...v, session: d as unknown as LiveSession } : v;
    case 'STAGE_UPDATE': {
      if (d.sessionId !== id) return v;
      // the broadcast has no audience list: keep the one the page read
      const stage = d as unknown as Stage;
      return { ...v, stage: { ...stage, audience: stage.audience ?? v.stage?.audience } };
    }
    case 'LIVE_MESSAGE_CREATE': {
      const m = d as unknown as LiveMessage;
      if (m.sessionId !== id || v.messages.some((x) => x.id === m.id)) return v;
      return { ...v, messages: mergeMessages(v.messages, [m]) };
    }
    case 'LIVE_MESSAGE_DELETE':
      if (d.sessionId !== id) return v;
      return { ...v, messages: v.messages.filter((m) => m.id !== d.id) };
    default:
      return v;
  }
}

/** Messages by id (ids grow with sending order), without duplicates. */
export function mergeMessages(a: LiveMessage[], b: LiveMessage[]): LiveMessage[] {
  const byId = new Map(a.map((m) => [m.id, m]));
  for (const m of b) byId.set(m.id, m);
  return [...byId.values()].sort((x, y) => x.id.length - y.id.length || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}
