// A community: its channels (with who is in each voice channel, and who speaks: live in the
// channel this window is in, from VOICE_SPEAKING in the others), its members
// ("Message <name>" opens the DM), and the page of one channel (text chat, or Join and the
// call); without a channel, creating channels and invites.

import { useState } from 'react';
import type { FormEvent } from 'react';
import { api } from './api';
import type { Channel, CommunityView } from './api';
import { CallView } from './CallView';
import { Chat, PAGE_SIZE } from './Chat';
import { MediaError } from './Chrome';
import type { Client } from './client';
import { isActive, isOwner } from './calls';
import { navigate } from './router';
import { occupants, speakingIn } from './store';
import type { GatewayState } from './store';
import { Avatar, Link, errorText, useGateway, useSession } from './ui';

function ChannelList({ client, community, g }: { client: Client; community: CommunityView; g: GatewayState }) {
  const state = useSession(client);
  const m = g.mediaSession;
  const live = isOwner(m, g.connectionId) && state.status !== 'idle' ? client.session.speakingIdentities() : null;

  return (
    <nav aria-label="Channels" className="channels">
      <ul>
        {community.channels.map((ch) => {
          const people = ch.kind === 'text' ? [] : occupants(g, ch);
          const speaking = speakingIn(g, ch.id, live);
          return (
            <li key={ch.id} className={`channel ${ch.kind}`}>
              <span aria-hidden="true">{ch.kind === 'text' ? '#' : ch.kind === 'video' ? '📹' : '🔊'} </span>
              <Link to={`/c/${community.id}/${ch.id}`}>{ch.name}</Link>
              {people.length > 0 && (
                <ul aria-label={`In ${ch.name}`} className="occupants">
                  {people.map(({ state: v, user }) => {
                    const talking = speaking.has(v.userId);
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

export function CommunityPage({
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

