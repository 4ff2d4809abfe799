// The live-session API (README "Live broadcasts and audio rooms", issue 12): the contract's
// types and paths, exactly as the server names them.

import { call } from '../api';
import type { User } from '../api';

export type LiveKind = 'video_live' | 'audio_room';
export type LiveAccess = 'public' | 'subscribers_only' | 'pay_per_view';
export type LiveState = 'scheduled' | 'live' | 'ended' | 'failed';
export type LiveRole = 'host' | 'co_host' | 'speaker' | 'viewer' | 'listener';

export interface LiveSession {
  id: string;
  hostId: string;
  kind: LiveKind;
  title: string;
  access: LiveAccess;
  priceCoins: number;
  state: LiveState;
  maxViewers: number | null;
  maxDurationSeconds: number | null;
  viewerCount: number;
  peakViewers: number;
  startedAt: number | null;
  endedAt: number | null;
  endReason: string | null;
}

export interface VideoLayer {
  width: number;
  height: number;
  maxBitrate: number;
  maxFramerate: number;
}

/** How to publish in a session's kind (the server's bitrate presets). */
export interface PublishDefaults {
  preset: LiveKind;
  video: { top: VideoLayer; simulcastLayers: VideoLayer[] } | null;
  audio: { maxBitrate: number; stereo: boolean; dtx: boolean; red: boolean };
}

export interface LiveTicket {
  url: string;
  token: string;
  room: string;
  role: LiveRole;
  publishDefaults: PublishDefaults;
}

export interface Stage {
  sessionId: string;
  hands: { userId: string; raisedAt: number }[];
  invites: { userId: string; invitedBy: string; invitedAt: number }[];
  roles: { userId: string; role: LiveRole }[];
  /** Audience members in the room (GET …/stage only; see the README). */
  audience?: string[];
}

export interface LiveMessage {
  id: string;
  sessionId: string;
  authorId: string;
  content: string;
  createdAt: number;
}

export interface Wallet {
  balance: number;
  entries: { id: string; amount: number; balanceAfter: number; reason: string; reference: string | null; createdAt: number }[];
}

/** A user with the creator fields of the profile. */
export interface Profile extends User {
  isCreator: boolean;
  subscriptionPriceCoins: number | null;
}

export interface NewLive {
  kind: LiveKind;
  title: string;
  access: LiveAccess;
  priceCoins?: number;
  maxViewers?: number;
  maxDurationSeconds?: number;
}

const L = (id: string, rest = '') => `/live/${encodeURIComponent(id)}${rest}`;
const U = (id: string) => encodeURIComponent(id);
const reason = (r?: string) => (r ? { reason: r } : undefined);

export const liveApi = {
  me: () => call<Profile>('GET', '/users/@me'),
  user: (id: string) => call<Profile>('GET', `/users/${U(id)}`),
  becomeCreator: () => call<Profile>('PATCH', '/users/@me', { isCreator: true }),
  list: () => call<LiveSession[]>('GET', '/live?state=live'),
  get: (id: string) => call<LiveSession>('GET', L(id)),
  create: (body: NewLive) => call<LiveSession>('POST', '/live', body),
  start: (id: string) => call<LiveSession>('POST', L(id, '/start')),
  end: (id: string) => call<LiveSession>('POST', L(id, '/end')),
  join: (id: string, connectionId?: string | null) =>
    call<LiveTicket>('POST', L(id, '/join'), connectionId ? { connectionId } : undefined),
  leave: (id: string) => call<void>('POST', L(id, '/leave')),
  purchase: (id: string, key: string) =>
    call<{ purchase: { id: string }; balance: number }>('POST', L(id, '/purchase'), undefined, { 'Idempotency-Key': key }),
  wallet: () => call<Wallet>('GET', '/wallet'),
  topUp: (amount: number) => call<Wallet>('POST', '/wallet/topups', { amount }),
  subscribe: (creatorId: string) => call<{ balance: number }>('PUT', `/creators/${U(creatorId)}/subscription`),
  stage: (id: string) => call<Stage>('GET', L(id, '/stage')),
  raiseHand: (id: string) => call<Stage>('PUT', L(id, '/hand')),
  lowerHand: (id: string) => call<Stage>('DELETE', L(id, '/hand')),
  invite: (id: string, userId: string) => call<Stage>('POST', L(id, `/stage/${U(userId)}/invite`)),
  accept: (id: string) => call<Stage>('POST', L(id, '/stage/invite/accept')),
  toAudience: (id: string, userId: string) => call<Stage>('DELETE', L(id, `/stage/${U(userId)}`)),
  kick: (id: string, userId: string, why?: string) =>
    call<unknown>('POST', L(id, `/participants/${U(userId)}/kick`), reason(why)),
  ban: (id: string, userId: string, why?: string) => call<unknown>('PUT', L(id, `/bans/${U(userId)}`), reason(why)),
  mute: (id: string, userId: string, why?: string) =>
    call<unknown>('POST', L(id, `/participants/${U(userId)}/mute`), reason(why)),
  messages: (id: string) => call<LiveMessage[]>('GET', L(id, '/messages')),
  send: (id: string, content: string) => call<LiveMessage>('POST', L(id, '/messages'), { content }),
  deleteMessage: (id: string, messageId: string) => call<void>('DELETE', L(id, `/messages/${U(messageId)}`)),
};

export type LiveApi = typeof liveApi;
