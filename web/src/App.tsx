// The pages: sign-in, home (communities and direct messages), a community (channels with who is
// in each voice channel, members), a channel (text chat, or the call), a direct conversation
// (chat, call buttons, the call). Thin views: state comes from the gateway store, the session
// model and the media controller (client.ts); data not in the store comes from the API.

import { useEffect, useState, useSyncExternalStore } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { api, storeToken, storedToken } from './api';
import type { Channel, CommunityView, MediaSession, User } from './api';
import { CallView } from './CallView';
import { Chat, PAGE_SIZE } from './Chat';
import type { Client } from './client';
import { isActive, isOwner, sessionTitle, speakingIds } from './calls';
import { IncomingCallDialog } from './IncomingCall';
import { prefetchLivekit } from './lk';
import { currentPath, navigate, subscribePath } from './router';
import { occupants, otherParty } from './store';
import type { GatewayState } from './store';
import { Avatar, Link, errorText, useGateway, useSession } from './ui';

export function App({ client }: { client: Client }) {
  const path = useSyncExternalStore(subscribePath, currentPath);
  const [user, setUser] = useState<User | null>(null);
  const [checked, setChecked] = useState(false);

  useEffect(() => {
    if (!storedToken()) {
      setChecked(true);
      return;
    }
    api
      .me()
      .then((u) => {
        setUser(u);
        client.gateway.start();
      })
      .catch(() => storeToken(null))
      .finally(() => setChecked(true));
  }, [client]);

  // signed in: fetch the media SDK in the background, before any call needs it
  useEffect(() => {
    if (user) prefetchLivekit();
  }, [user]);

  if (!checked) return <p>Loading…</p>;
  if (!user)
    return (
      <SignIn
        onSignedIn={(u) => {
          setUser(u);
          client.gateway.start();
        }}
      />
    );

  const signOut = async () => {
    await client.media.leave().catch(() => undefined);
    client.gateway.stop();
    client.store.reset();
    await api.logout().catch(() => undefined);
    storeToken(null);
    setUser(null);
    navigate('/');
  };

  const parts = path.split('/').filter(Boolean);
  let page: ReactNode;
  if (parts[0] === 'c' && parts[1]) {
    page = <CommunityPage key={parts[1]} client={client} communityId={parts[1]} channelId={parts[2] ?? null} />;
  } else if (parts[0] === 'dm' && parts[1]) {
    page = <DmPage key={parts[1]} client={client} conversationId={parts[1]} />;
  } else if (parts[0] === 'invite' && parts[1]) {
    page = <Home client={client} initialInvite={decodeURIComponent(parts[1])} />;
  } else {
    page = <Home client={client} />;
  }
  return (
    <div className="app">
      <header>
        <Link to="/">xcord</Link>
        <span className="me">
          <Avatar gradient={user.avatarGradient} small />
          {user.displayName}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <div className="body">
        <Sidebar client={client} />
        <main>{page}</main>
      </div>
      <SessionBar client={client} path={path} />
      <IncomingCallDialog client={client} />
    </div>
  );
}

function SignIn({ onSignedIn }: { onSignedIn: (u: User) => void }) {
  const [handle, setHandle] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const create = (e.nativeEvent as SubmitEvent).submitter?.getAttribute('value') === 'create';
    setBusy(true);
    setError(null);
    try {
      const s = create
        ? await api.register(handle, displayName || handle, password)
        : await api.login(handle, password);
      storeToken(s.token);
      onSignedIn(s.user);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <h1>xcord</h1>
      <form onSubmit={submit}>
        <label>
          Handle
          <input value={handle} onChange={(e) => setHandle(e.target.value)} autoComplete="username" required />
        </label>
        <label>
          Password
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="current-password"
            required
          />
        </label>
        <label>
          Display name
          <input
            value={displayName}
            onChange={(e) => setDisplayName(e.target.value)}
            aria-describedby="display-name-hint"
          />
        </label>
        <small id="display-name-hint">Only when creating an account.</small>
        {error && <p role="alert">{error}</p>}
        <div className="buttons">
          <button type="submit" value="signin" disabled={busy}>
            Sign in
          </button>
          <button type="submit" value="create" disabled={busy}>
            Create account
          </button>
        </div>
      </form>
    </main>
  );
}

/** Where the session's page is: its DM or its channel. */
function sessionPath(m: MediaSession | null): string | null {
  if (!m || !isActive(m)) return null;
  if (m.context.conversationId) return `/dm/${m.context.conversationId}`;
  if (m.context.communityId && m.context.channelId) return `/c/${m.context.communityId}/${m.context.channelId}`;
  return null;
}

function Sidebar({ client }: { client: Client }) {
  const g = useGateway(client);
  const me = g.user?.id ?? '';
  return (
    <aside className="sidebar">
      <nav aria-label="Communities">
        <ul>
          {g.communities.map((c) => (
            <li key={c.id}>
              <Link to={`/c/${c.id}`}>{c.name}</Link>
            </li>
          ))}
        </ul>
      </nav>
      <nav aria-label="Direct messages">
        <ul>
          {g.conversations.map((c) => {
            const other = otherParty(c, me);
            return (
              <li key={c.id}>
                <Avatar gradient={other.avatarGradient} small />
                <Link to={`/dm/${c.id}`}>{other.displayName}</Link>
              </li>
            );
          })}
        </ul>
      </nav>
    </aside>
  );
}

/** The current call, when the page shown is not its own: where it is, and how to get it back. */
function SessionBar({ client, path }: { client: Client; path: string }) {
  const g = useGateway(client);
  const m = g.mediaSession;
  const where = sessionPath(m);
  if (!m || !where || where === path) return null;
  const owner = isOwner(m, g.connectionId);
  return (
    <section aria-label="Current call" className="session-bar">
      <Link to={where}>{sessionTitle(m)}</Link>
      <span>{m.connection}</span>
      {!owner && (
        <button type="button" onClick={() => void client.media.claim()}>
          Move call here
        </button>
      )}
      <button type="button" className="leave" onClick={() => void client.media.leave()}>
        Leave
      </button>
    </section>
  );
}

function Home({ client, initialInvite = '' }: { client: Client; initialInvite?: string }) {
  const g = useGateway(client);
  const [name, setName] = useState('');
  const [invite, setInvite] = useState(initialInvite);
  const [error, setError] = useState<string | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const c = await api.createCommunity(name);
      client.store.event('COMMUNITY_CREATE', c as unknown as Record<string, unknown>);
      navigate(`/c/${c.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const join = async (e: FormEvent) => {
    e.preventDefault();
    try {
      // a pasted link works as well as the bare code
      const code = invite.trim().split('/').filter(Boolean).pop() ?? '';
      const c = await api.joinByInvite(code);
      client.store.event('COMMUNITY_CREATE', c as unknown as Record<string, unknown>);
      navigate(`/c/${c.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <>
      <h1>Communities</h1>
      {error && <p role="alert">{error}</p>}
      {g.ready && g.communities.length === 0 && <p>No community yet: create one or join one by invite.</p>}
      <form onSubmit={create} aria-label="Create a community">
        <label>
          Community name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <button type="submit">Create community</button>
      </form>
      <form onSubmit={join} aria-label="Join by invite">
        <label>
          Invite code or link
          <input value={invite} onChange={(e) => setInvite(e.target.value)} required />
        </label>
        <button type="submit">Join community</button>
      </form>
    </>
  );
}

function ChannelList({ client, community, g }: { client: Client; community: CommunityView; g: GatewayState }) {
  const state = useSession(client);
  const m = g.mediaSession;
  const live = isOwner(m, g.connectionId) && state.status !== 'idle' ? client.session.speakingIdentities() : null;
  const speaking = speakingIds(m, live);
  return (
    <nav aria-label="Channels" className="channels">
      <ul>
        {community.channels.map((ch) => {
          const people = ch.kind === 'text' ? [] : occupants(g, ch);
          const here = m?.context.channelId === ch.id;
          return (
            <li key={ch.id} className={`channel ${ch.kind}`}>
              <span aria-hidden="true">{ch.kind === 'text' ? '#' : ch.kind === 'video' ? '📹' : '🔊'} </span>
              <Link to={`/c/${community.id}/${ch.id}`}>{ch.name}</Link>
              {people.length > 0 && (
                <ul aria-label={`In ${ch.name}`} className="occupants">
                  {people.map(({ state: v, user }) => {
                    const talking = here && speaking.has(v.userId);
                    return (
                      <li key={v.userId} data-speaking={talking} data-user-id={v.userId}>
                        <Avatar gradient={user?.avatarGradient ?? []} small />
                        <span className="name">{user?.displayName ?? v.userId}</span>
                        {talking && <span className="visually-hidden"> (speaking)</span>}
                        {(v.selfMute || v.serverMute) && (
                          <span role="img" aria-label="muted">
                            🔇
                          </span>
                        )}
                        {(v.selfDeaf || v.serverDeaf) && (
                          <span role="img" aria-label="deafened">
                            🎧
                          </span>
                        )}
                        {v.camera && (
                          <span role="img" aria-label="camera on">
                            📹
                          </span>
                        )}
                        {v.screenShare && (
                          <span role="img" aria-label="sharing screen">
                            🖥
                          </span>
                        )}
                      </li>
                    );
                  })}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function MemberList({ community, me }: { community: CommunityView; me: string }) {
  const [error, setError] = useState<string | null>(null);
  const message = async (userId: string) => {
    try {
      const conv = await api.openConversation(userId);
      navigate(`/dm/${conv.id}`);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <aside aria-label="Members" className="members">
      <h2>Members</h2>
      {error && <p role="alert">{error}</p>}
      <ul>
        {community.members.map((mem) => (
          <li key={mem.user.id}>
            <Avatar gradient={mem.user.avatarGradient} small />
            <span className="name">{mem.user.displayName}</span>
            {mem.user.id !== me && (
              <button type="button" onClick={() => void message(mem.user.id)}>
                Message {mem.user.displayName}
              </button>
            )}
          </li>
        ))}
      </ul>
    </aside>
  );
}

function CommunityPage({
  client,
  communityId,
  channelId,
}: {
  client: Client;
  communityId: string;
  channelId: string | null;
}) {
  const g = useGateway(client);
  const community = g.communities.find((c) => c.id === communityId);
  if (!community) return g.ready ? <p role="alert">No such community.</p> : <p>Loading…</p>;
  const channel = channelId ? community.channels.find((c) => c.id === channelId) : undefined;
  return (
    <div className="community">
      <div className="community-side">
        <p>
          <Link to={`/c/${community.id}`}>{community.name}</Link>
        </p>
        <ChannelList client={client} community={community} g={g} />
      </div>
      <div className="community-main">
        {channel ? (
          <ChannelView key={channel.id} client={client} channel={channel} />
        ) : channelId ? (
          <p role="alert">No such channel.</p>
        ) : (
          <CommunityHome client={client} community={community} />
        )}
      </div>
      <MemberList community={community} me={g.user?.id ?? ''} />
    </div>
  );
}

function CommunityHome({ client, community }: { client: Client; community: CommunityView }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'voice' | 'video' | 'text'>('voice');
  const [invite, setInvite] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const createChannel = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const ch = await api.createChannel(community.id, name, kind);
      client.store.event('CHANNEL_CREATE', ch as unknown as Record<string, unknown>);
      setName('');
    } catch (err) {
      setError(errorText(err));
    }
  };
  const createInvite = async () => {
    try {
      const inv = await api.createInvite(community.id);
      setInvite(inv.code);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <>
      <h1>{community.name}</h1>
      {error && <p role="alert">{error}</p>}
      <form onSubmit={createChannel} aria-label="Create a channel">
        <label>
          Channel name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
            <option value="voice">Voice</option>
            <option value="video">Video</option>
            <option value="text">Text</option>
          </select>
        </label>
        <button type="submit">Create channel</button>
      </form>
      <section aria-label="Invite">
        <button type="button" onClick={createInvite}>
          Create invite
        </button>
        {invite && (
          <p>
            Invite code: <output aria-label="Invite code">{invite}</output> (link:{' '}
            <code>{`${location.origin}/invite/${invite}`}</code>)
          </p>
        )}
      </section>
    </>
  );
}

function ChannelView({ client, channel }: { client: Client; channel: Channel }) {
  const g = useGateway(client);
  const m = g.mediaSession;
  const here = isActive(m) && m?.context.channelId === channel.id;
  const live = g.lastMessage && 'channelId' in g.lastMessage && g.lastMessage.channelId === channel.id ? g.lastMessage : null;
  return (
    <>
      <h1>{channel.name}</h1>
      {channel.kind === 'text' && (
        <Chat
          label={`Chat in ${channel.name}`}
          load={(before) => api.messages(channel.id, before, PAGE_SIZE)}
          send={(content) => api.sendMessage(channel.id, content)}
          live={live}
        />
      )}
      {channel.kind !== 'text' && !here && (
        <button type="button" onClick={() => void client.media.joinChannel(channel.id, channel.kind === 'video')}>
          Join
        </button>
      )}
      {channel.kind !== 'text' && !window.isSecureContext && (
        <p>
          This page is not a secure context, so the browser keeps the microphone and camera from it: open it as
          http://127.0.0.1 or http://localhost, or over HTTPS.
        </p>
      )}
      {here && <CallView client={client} />}
      <MediaError client={client} />
    </>
  );
}

function MediaError({ client }: { client: Client }) {
  const error = useSyncExternalStore(client.media.subscribeError, () => client.media.error());
  return error ? <p role="alert">{error}</p> : null;
}

function DmPage({ client, conversationId }: { client: Client; conversationId: string }) {
  const g = useGateway(client);
  const conv = g.conversations.find((c) => c.id === conversationId);
  const [fetched, setFetched] = useState<typeof conv>(undefined);
  useEffect(() => {
    if (!conv) api.conversation(conversationId).then(setFetched, () => undefined);
  }, [conv, conversationId]);
  const conversation = conv ?? fetched;
  if (!conversation) return <p>Loading…</p>;
  const other = otherParty(conversation, g.user?.id ?? '');
  const m = g.mediaSession;
  const here = isActive(m) && m?.context.conversationId === conversationId;
  const live =
    g.lastMessage && 'conversationId' in g.lastMessage && g.lastMessage.conversationId === conversationId
      ? g.lastMessage
      : null;
  return (
    <div className="dm">
      <h1>
        <Avatar gradient={other.avatarGradient} small /> {other.displayName}
      </h1>
      {!here && (
        <div className="call-buttons">
          <button type="button" onClick={() => void client.media.startCall(conversationId, false)}>
            Start voice call
          </button>
          <button type="button" onClick={() => void client.media.startCall(conversationId, true)}>
            Start video call
          </button>
        </div>
      )}
      {here && <CallView client={client} />}
      <MediaError client={client} />
      <Chat
        label={`Conversation with ${other.displayName}`}
        load={(before) => api.dmMessages(conversationId, before, PAGE_SIZE)}
        send={(content) => api.sendDm(conversationId, content)}
        live={live}
      />
    </div>
  );
}
