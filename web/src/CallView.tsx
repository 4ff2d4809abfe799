// The call: a grid of participant tiles and the controls. Reads the session snapshot only.

import { useEffect, useRef } from 'react';
import type { CallSession, SessionState, Tile } from './session';
import { gradientStyle } from './App';

function TileView({ tile }: { tile: Tile }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || !tile.video) return;
    tile.video.attach(el);
    return () => {
      tile.video?.detach(el);
    };
  }, [tile.video]);
  return (
    <figure
      role="group"
      aria-label={tile.name}
      className="tile"
      data-speaking={tile.speaking}
      data-mic-muted={tile.micMuted}
      data-local={tile.isLocal}
    >
      {tile.video ? (
        <video ref={ref} autoPlay playsInline muted />
      ) : (
        <div className="avatar" style={gradientStyle(tile.gradient)} aria-hidden="true" />
      )}
      <figcaption>
        {tile.name}
        {tile.micMuted && <span aria-label="microphone muted"> 🔇</span>}
      </figcaption>
    </figure>
  );
}

function Toggle({ name, pressed, onToggle }: { name: string; pressed: boolean; onToggle: (v: boolean) => void }) {
  return (
    <button type="button" aria-pressed={pressed} onClick={() => onToggle(!pressed)}>
      {name}
    </button>
  );
}

export function CallView({ session, state }: { session: CallSession; state: SessionState }) {
  return (
    <section aria-label="Call" className="call">
      <p role="status">{state.status === 'connected' ? 'Connected' : state.status === 'connecting' ? 'Connecting…' : 'Disconnected'}</p>
      <div className="grid">
        {state.tiles.map((t) => (
          <TileView key={t.identity} tile={t} />
        ))}
      </div>
      <div className="controls" role="toolbar" aria-label="Call controls">
        <Toggle name="Mute" pressed={state.muted} onToggle={(v) => void session.setMuted(v)} />
        <Toggle name="Deafen" pressed={state.deafened} onToggle={(v) => void session.setDeafened(v)} />
        <Toggle name="Camera" pressed={state.camera} onToggle={(v) => void session.setCamera(v)} />
        <button type="button" className="leave" onClick={() => void session.disconnect()}>
          Leave
        </button>
      </div>
    </section>
  );
}
