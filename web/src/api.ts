// The control plane's HTTP API (README "The application backend"): typed fetch helpers.
// The session token lives in localStorage; every call sends it as a bearer token.

export interface User {
  id: string;
  handle: string;
  displayName: string;
  avatarGradient: [string, string];
}

export interface Channel {
  id: string;
  communityId: string;
  name: string;
  kind: 'text' | 'voice' | 'video';
}

export interface Community {
  id: string;
  name: string;
  ownerId: string;
}

export interface CommunityView extends Community {
  channels: Channel[];
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

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
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
};
