// The overlay window (`/overlay`): a compact follower view for use over a game — a browser
// pop-up now, a desktop window later. It shows the call or channel's name, how many are in it
// and who is speaking (from the server's snapshot), with Mute, Deafen and Leave. It holds no
// media connection: its gateway connection identifies as `overlay` and every control is a
// media-session command that the window holding the media follows.

import type { Client } from './client';
import { isActive, sessionTitle } from './calls';
import { useGateway } from './ui';

/** Opens the overlay as a small pop-up window (one per browser: the same name reuses it). */
export function openOverlay(): void {
  window.open('/overlay', 'xcord-overlay', 'popup,width=360,height=260');
}

export function Overlay({ client }: { client: Client }) {
  const g = useGateway(client);
  const m = g.mediaSession;
  if (!g.ready) return <p role="status">Connecting…</p>;
  if (!m || !isActive(m)) {
    return (
      <main className="overlay" aria-label="Overlay">
        <p role="status">Not in a call.</p>
      </main>
    );
  }
  const speaking = m.participants.filter((p) => p.speaking);
  const count = m.participants.length;
  return (
    <main className="overlay" aria-label="Overlay">
      <h1>{sessionTitle(m)}</h1>
      <p>
        <span data-testid="participant-count">
          {count} {count === 1 ? 'person' : 'people'}
        </span>
        {' · '}
        <span>{m.connection}</span>
      </p>
      <section aria-label="Speaking" aria-live="polite" className="overlay-speaking">
        {speaking.length === 0 ? (
          <p>Nobody is speaking.</p>
        ) : (
          <ul>
            {speaking.map((p) => (
              <li key={p.userId} data-speaking="true">
                {p.displayName}
              </li>
            ))}
          </ul>
        )}
      </section>
      <div className="controls" role="toolbar" aria-label="Call controls">
        <button type="button" aria-pressed={m.controls.muted} onClick={() => void client.media.setMute(!m.controls.muted)}>
          Mute
        </button>
        <button
          type="button"
          aria-pressed={m.controls.deafened}
          onClick={() => void client.media.setDeafen(!m.controls.deafened)}
        >
          Deafen
        </button>
        <button type="button" className="leave" onClick={() => void client.media.leave()}>
          Leave
        </button>
      </div>
    </main>
  );
}
