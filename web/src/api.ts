// The control plane's HTTP API (README "The application backend"): typed fetch helpers.
// The session token lives in localStorage; every call sends it as a bearer token.

export interface User {
  id: string;
  handle: string;
  displayName: string;
  avatarGradient: [string, string];
}

/** A user as a media session shows them. */
export interface Person {
  id: string;
  displayName: string;
  avatarGradient: string[];
}

export interface Channel {
  id: string;
  communityId: string;
  name: string;
  kind: 'text' | 'voice' | 'video';
  userLimit: number;
  position: number;
  createdAt: number;
}

export interface Community {
  id: string;
  name: string;
  ownerId: string;
}

export interface Member {
  communityId: string;
  user: User;
  roleIds: string[];
  joinedAt: number;
}

export interface CommunityView extends Community {
  channels: Channel[];
  members: Member[];
}

export interface Message {
  id: string;
  channelId: string;
  communityId: string;
  author: User;
  content: string;
  createdAt: number;
  editedAt: number | null;
}

export interface DmMessage {
  id: string;
  conversationId: string;
  author: User;
  content: string;
  createdAt: number;
  editedAt: number | null;
  kind: 'text' | 'call';
  call?: { id: string; state: string; video: boolean; durationMs: number } | null;
}

export interface Conversation {
  id: string;
  participants: User[];
  createdAt: number;
  lastMessageAt: number | null;
}

export interface IncomingCall {
  callId: string;
  from: Person;
  video: boolean;
  /** When it started ringing (server clock, Unix ms); 0 when the server did not say. */
  ringingSince?: number;
  expiresAt: number;
}

export interface SessionParticipant {
  userId: string;
  displayName: string;
  avatarGradient: string[];
  muted: boolean;
  /** Their session is deafened (and so muted too). */
  deafened?: boolean;
  speaking: boolean;
  camera: boolean;
  screenShare: boolean;
  local: boolean;
}

export type SessionType = 'idle' | 'dm-voice' | 'dm-video' | 'server-voice' | 'server-video' | 'live-stream' | 'screen-share';
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';

/** The user's one media session (README "Calls and the global media session"). */
export interface MediaSession {
  version: number;
  epoch: number;
  type: SessionType;
  context: {
    callId?: string | null;
    conversationId?: string | null;
    otherUser?: Person | null;
    communityId?: string | null;
    communityName?: string | null;
    channelId?: string | null;
    channelName?: string | null;
  };
  controls: { muted: boolean; deafened: boolean; camera: boolean; screenShare: boolean };
  connection: ConnectionState;
  owner: { connectionId: string; kind: string } | null;
  participants: SessionParticipant[];
  incomingCalls: IncomingCall[];
  pip: { enabled: boolean; x: number; y: number; width: number; height: number; minimized: boolean };
}

export interface Call {
  id: string;
  conversationId: string;
  callerId: string;
  calleeId: string;
  video: boolean;
  state: string;
  ringExpiresAt: number;
}

/** A media-session command without its id and epoch (the client adds them). */
export type Command =
  | { type: 'start_call'; conversationId: string; video: boolean; connectionId?: string }
  | { type: 'accept_call'; callId: string; connectionId?: string }
  | { type: 'decline_call'; callId: string }
  | { type: 'join_channel'; channelId: string; connectionId?: string }
  | { type: 'leave' }
  | { type: 'set_mute'; muted: boolean }
  | { type: 'set_deafen'; deafened: boolean }
  | { type: 'set_camera'; enabled: boolean }
  | { type: 'set_screen_share'; enabled: boolean }
  | { type: 'set_pip'; enabled: boolean; x: number; y: number; width: number; height: number; minimized: boolean }
  | { type: 'claim_owner'; connectionId: string }
  | { type: 'report_connection'; connectionId: string; state: ConnectionState };

export interface CommandAnswer {
  result: { call?: Call | null };
  session: MediaSession;
}

export interface Invite {
  code: string;
  communityId: string;
}

/** A voice join ticket: where the SFU is, the access token, the room name. */
export interface VoiceTicket {
  url: string;
  token: string;
  room: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'xcord.token';

export function storedToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null) localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

export async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = { ...extraHeaders };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const resp = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    let code = 'error';
    let message = `${resp.status} ${resp.statusText}`;
    try {
      const err = await resp.json();
      code = err.code ?? code;
      message = err.message ?? message;
    } catch {
      // not JSON
    }
    throw new ApiError(resp.status, code, message);
  }
  if (resp.status === 204) return undefined as T;
  return (await resp.json()) as T;
}

interface SessionResponse {
  token: string;
  user: User;
}

export const api = {
  register: (handle: string, displayName: string, password: string) =>
    call<SessionResponse>('POST', '/auth/register', { handle, displayName, password }),
  login: (handle: string, password: string) =>
    call<SessionResponse>('POST', '/auth/login', { handle, password }),
  logout: () => call<void>('POST', '/auth/logout'),
  me: () => call<User>('GET', '/users/@me'),
  myCommunities: () => call<Community[]>('GET', '/users/@me/communities'),
  community: (id: string) => call<CommunityView>('GET', `/communities/${id}`),
  createCommunity: (name: string) => call<CommunityView>('POST', '/communities', { name }),
  createChannel: (communityId: string, name: string, kind: Channel['kind']) =>
    call<Channel>('POST', `/communities/${communityId}/channels`, { name, kind }),
  createInvite: (communityId: string) =>
    call<Invite>('POST', `/communities/${communityId}/invites`, {}),
  joinByInvite: (code: string) => call<CommunityView>('POST', `/invites/${encodeURIComponent(code)}`),
  voiceJoin: (channelId: string) => call<VoiceTicket>('POST', `/channels/${channelId}/voice/join`),
  voiceSelf: (flags: { selfMute?: boolean; selfDeaf?: boolean }) => call<unknown>('PATCH', '/voice/@me', flags),
  messages: (channelId: string, before?: string, limit = 50) =>
    call<Message[]>('GET', `/channels/${channelId}/messages?limit=${limit}${before ? `&before=${before}` : ''}`),
  sendMessage: (channelId: string, content: string) =>
    call<Message>('POST', `/channels/${channelId}/messages`, { content }),
  conversation: (id: string) => call<Conversation>('GET', `/conversations/${id}`),
  openConversation: (userId: string) => call<Conversation>('POST', '/conversations', { userId }),
  dmMessages: (conversationId: string, before?: string, limit = 50) =>
    call<DmMessage[]>(
      'GET',
      `/conversations/${conversationId}/messages?limit=${limit}${before ? `&before=${before}` : ''}`,
    ),
  sendDm: (conversationId: string, content: string) =>
    call<DmMessage>('POST', `/conversations/${conversationId}/messages`, { content }),
  command: (body: Command & { id: string; epoch?: number }) =>
    call<CommandAnswer>('POST', '/media-session/commands', body),
};
