// What surrounds every page once signed in: the sidebar (communities, direct messages), the
// "Current call" bar shown away from the call's own page (where no picture-in-picture window
// shows it), and the media error line.

import { useSyncExternalStore } from 'react';
import type { Client } from './client';
import { isOwner, sessionTitle } from './calls';
import { pipEnabled, sessionPath, showsPip } from './pip';
import { otherParty } from './store';

export { sessionPath };
import { Avatar, Link, useGateway } from './ui';

export function Sidebar({ client }: { client: Client }) {
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
export function SessionBar({ client, path }: { client: Client; path: string }) {
  const g = useGateway(client);
  const m = g.mediaSession;
  const where = sessionPath(m);
  // where the picture-in-picture window shows the call, it is this bar too
  if (!m || !where || where === path || showsPip(m, g.connectionId, path)) return null;
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
      {owner && !pipEnabled(m) && (
        <button type="button" onClick={() => void client.media.setPip({ ...m.pip, enabled: true })}>
          Show picture in picture
        </button>
      )}
      <button type="button" className="leave" onClick={() => void client.media.leave()}>
        Leave
      </button>
    </section>
  );
}

export function MediaError({ client }: { client: Client }) {
  const error = useSyncExternalStore(client.media.subscribeError, () => client.media.error());
  return error ? <p role="alert">{error}</p> : null;
}

