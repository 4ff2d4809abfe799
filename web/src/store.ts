// The gateway state: what the Ready snapshot and the events after it say (communities with their
// channels and members, voice states per channel, direct conversations, the media session). The
// reducer is pure (`reduceReady`, `reduceEvent`), so it is unit-tested without a socket; the
// `Store` wraps it for views (`subscribe`/`snapshot`, read through useSyncExternalStore).

import type { Channel, CommunityView, Conversation, DmMessage, Member, Message, User, MediaSession } from './api';

/** One person connected to a voice or video channel (the server's voice state). */
export interface VoiceState {
  userId: string;
  channelId: string;
  participantSid: string;
  selfMute: boolean;
  selfDeaf: boolean;
  serverMute: boolean;
  serverDeaf: boolean;
  camera: boolean;
  screenShare: boolean;
  joinedAt: number;
}

/** What MEDIA_SESSION_CONNECT tells the owner connection: where to connect its `Room`. */
export interface ConnectTicket {
  url: string;
  token: string;
  room: string;
  epoch: number;
}

export interface GatewayState {
  ready: boolean;
  user: User | null;
  /** This window's gateway connection (Ready's `sessionId`): what `owner.connectionId` names. */
  connectionId: string | null;
  communities: CommunityView[];
  /** Voice states by channel id, in join order. */
  voice: Record<string, VoiceState[]>;
  /** Who speaks in each voice or video channel (VOICE_SPEAKING: user ids, loudest first). */
  speaking: Record<string, string[]>;
  conversations: Conversation[];
  mediaSession: MediaSession | null;
  /** The last MEDIA_SESSION_CONNECT this connection got (cleared when it is used up). */
  connect: ConnectTicket | null;
  /** Bumped on each chat message, so open chats know to append. */
  lastMessage: Message | DmMessage | null;
  /** The server's clock minus this one's (ms), from Ready's `serverTime`. */
  clockOffset: number;
}

export const EMPTY: GatewayState = {
  ready: false,
  user: null,
  connectionId: null,
  communities: [],
  voice: {},
  speaking: {},
  conversations: [],
  mediaSession: null,
  connect: null,
  lastMessage: null,
  clockOffset: 0,
};

function groupVoice(states: VoiceState[]): Record<string, VoiceState[]> {
  const voice: Record<string, VoiceState[]> = {};
  for (const s of states) (voice[s.channelId] ??= []).push(s);
  for (const list of Object.values(voice)) list.sort((a, b) => a.joinedAt - b.joinedAt);
  return voice;
}

/** The server's time now, as far as this client can tell. */
export function serverNow(state: GatewayState, now: number = Date.now()): number {
  return now + state.clockOffset;
}

/** Ready replaces everything; `now` is when it arrived and `sentAt` when the identify that
 * asked for it left: the server stamped `serverTime` in between, so the clock offset is taken
 * against the midpoint (not against the arrival, which puts the server's clock behind by the
 * whole delay and makes countdowns show more time than the server allows). */
export function reduceReady(d: Record<string, unknown>, now: number = Date.now(), sentAt?: number): GatewayState {
  const local = sentAt !== undefined && sentAt <= now ? (sentAt + now) / 2 : now;
  return {
    ...EMPTY,
    ready: true,
    user: (d.user as User) ?? null,
    connectionId: typeof d.sessionId === 'string' ? d.sessionId : null,
    communities: (d.communities as CommunityView[]) ?? [],
    voice: groupVoice((d.voiceStates as VoiceState[]) ?? []),
    conversations: (d.conversations as Conversation[]) ?? [],
    mediaSession: (d.mediaSession as MediaSession) ?? null,
    clockOffset: typeof d.serverTime === 'number' ? d.serverTime - local : 0,
  };
}

function withoutUser(voice: Record<string, VoiceState[]>, userId: string): Record<string, VoiceState[]> {
  const next: Record<string, VoiceState[]> = {};
  for (const [ch, list] of Object.entries(voice)) {
    const kept = list.filter((s) => s.userId !== userId);
    if (kept.length) next[ch] = kept;
  }
  return next;
}

function mapCommunity(
  s: GatewayState,
  id: string,
  f: (c: CommunityView) => CommunityView,
): CommunityView[] {
  return s.communities.map((c) => (c.id === id ? f(c) : c));
}

/** One event after Ready; unknown events leave the state as it is. */
export function reduceEvent(s: GatewayState, t: string, d: Record<string, unknown>): GatewayState {
  switch (t) {
    case 'VOICE_STATE_UPDATE': {
      const userId = String(d.userId);
      // one voice state per user: a move takes them out of the old channel
      let voice = withoutUser(s.voice, userId);
      if (typeof d.channelId === 'string') {
        const list = [...(voice[d.channelId] ?? []), d as unknown as VoiceState];
        list.sort((a, b) => a.joinedAt - b.joinedAt);
        voice = { ...voice, [d.channelId]: list };
      }
      return { ...s, voice };
    }
    case 'VOICE_SPEAKING': {
      const channelId = String(d.channelId);
      const ids = Array.isArray(d.userIds) ? d.userIds.map(String) : [];
      const speaking = { ...s.speaking };
      if (ids.length) speaking[channelId] = ids;
      else delete speaking[channelId];
      return { ...s, speaking };
    }
    case 'COMMUNITY_CREATE': {
      const view = d as unknown as CommunityView;
      return { ...s, communities: [...s.communities.filter((c) => c.id !== view.id), view] };
    }
    case 'COMMUNITY_UPDATE':
      return { ...s, communities: mapCommunity(s, String(d.id), (c) => ({ ...c, name: String(d.name ?? c.name) })) };
    case 'COMMUNITY_DELETE':
      return { ...s, communities: s.communities.filter((c) => c.id !== d.id) };
    case 'CHANNEL_CREATE':
    case 'CHANNEL_UPDATE': {
      const ch = d as unknown as Channel;
      return {
        ...s,
        communities: mapCommunity(s, ch.communityId, (c) => {
          const channels = [...c.channels.filter((x) => x.id !== ch.id), ch];
          channels.sort((a, b) => a.position - b.position || a.createdAt - b.createdAt);
          return { ...c, channels };
        }),
      };
    }
    case 'CHANNEL_DELETE':
      return {
        ...s,
        communities: mapCommunity(s, String(d.communityId), (c) => ({
          ...c,
          channels: c.channels.filter((x) => x.id !== d.id),
        })),
      };
    case 'MEMBER_ADD':
    case 'MEMBER_UPDATE': {
      const m = d as unknown as Member;
      return {
        ...s,
        communities: mapCommunity(s, m.communityId, (c) => ({
          ...c,
          members: [...c.members.filter((x) => x.user.id !== m.user.id), m],
        })),
      };
    }
    case 'MEMBER_REMOVE': {
      if (d.userId === s.user?.id) {
        return { ...s, communities: s.communities.filter((c) => c.id !== d.communityId) };
      }
      return {
        ...s,
        communities: mapCommunity(s, String(d.communityId), (c) => ({
          ...c,
          members: c.members.filter((x) => x.user.id !== d.userId),
        })),
      };
    }
    case 'CONVERSATION_CREATE': {
      const conv = d as unknown as Conversation;
      return { ...s, conversations: [...s.conversations.filter((c) => c.id !== conv.id), conv] };
    }
    case 'MESSAGE_CREATE':
      return { ...s, lastMessage: d as unknown as Message };
    case 'DM_MESSAGE_CREATE': {
      const m = d as unknown as DmMessage;
      return {
        ...s,
        lastMessage: m,
        conversations: s.conversations.map((c) =>
          c.id === m.conversationId ? { ...c, lastMessageAt: m.createdAt } : c,
        ),
      };
    }
    case 'MEDIA_SESSION_UPDATE': {
      const next = d as unknown as MediaSession;
      // snapshots can cross on the wire: keep the newest
      if (s.mediaSession && next.version < s.mediaSession.version) return s;
      return { ...s, mediaSession: next };
    }
    case 'MEDIA_SESSION_CONNECT':
      return { ...s, connect: d as unknown as ConnectTicket };
    default:
      return s;
  }
}

/** The people in a channel, in join order, with their user record when a community lists it. */
export function occupants(s: GatewayState, channel: Channel): { state: VoiceState; user: User | null }[] {
  const community = s.communities.find((c) => c.id === channel.communityId);
  return (s.voice[channel.id] ?? []).map((state) => ({
    state,
    user: community?.members.find((m) => m.user.id === state.userId)?.user ?? null,
  }));
}

/** Who speaks in a channel: the live room's view when this window is in it, else the server's. */
export function speakingIn(s: GatewayState, channelId: string, live: string[] | null): Set<string> {
  if (live && s.mediaSession?.context.channelId === channelId) return new Set(live);
  return new Set(s.speaking[channelId] ?? []);
}

/** The other person of a direct conversation. */
export function otherParty(conv: Conversation, me: string): User {
  return conv.participants.find((p) => p.id !== me) ?? conv.participants[0];
}

export class Store {
  private state: GatewayState = EMPTY;
  private listeners = new Set<() => void>();
  private eventListeners = new Set<(t: string, d: Record<string, unknown>) => void>();

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  snapshot = (): GatewayState => this.state;

  private set(next: GatewayState): void {
    if (next === this.state) return;
    this.state = next;
    for (const l of this.listeners) l();
  }

  ready(d: Record<string, unknown>, sentAt?: number): void {
    this.set(reduceReady(d, Date.now(), sentAt));
  }

  event(t: string, d: Record<string, unknown>): void {
    this.set(reduceEvent(this.state, t, d));
    for (const l of this.eventListeners) l(t, d);
  }

  /** Every gateway event as it arrives (for models with state of their own: live sessions). */
  listenEvents = (l: (t: string, d: Record<string, unknown>) => void): (() => void) => {
    this.eventListeners.add(l);
    return () => this.eventListeners.delete(l);
  };

  /** A command's answer carries the session snapshot too. */
  mediaSession(m: MediaSession): void {
    this.set(reduceEvent(this.state, 'MEDIA_SESSION_UPDATE', m as unknown as Record<string, unknown>));
  }

  takeConnect(): ConnectTicket | null {
    const c = this.state.connect;
    if (c) this.state = { ...this.state, connect: null };
    return c;
  }

  reset(): void {
    this.set(EMPTY);
  }
}
