// The room view: participant tiles (video or the avatar gradient; speaking, muted, deafened and
// connection quality shown), screen shares apart and focusable, the controls, device selection
// and a reconnecting banner. In the owner window the tiles come from the live `Room`; in a
// follower window from the server's snapshot, with "Move call here" to take the media over.

import { useEffect, useId, useRef, useState } from 'react';
import type { VideoTrack } from 'livekit-client';
import type { Client } from './client';
import type { MediaSession } from './api';
import type { DeviceKind, Quality, SessionState } from './session';
import { openOverlay } from './Overlay';
import { Avatar, useGateway, useSession } from './ui';

/** What a tile shows, whichever side it comes from. */
interface TileModel {
  id: string;
  name: string;
  gradient: string[];
  video: VideoTrack | null;
  muted: boolean;
  deafened: boolean;
  speaking: boolean;
  quality: Quality;
  isLocal: boolean;
}

export function VideoOf({ track, label }: { track: VideoTrack; label?: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    track.attach(el);
    return () => {
      track.detach(el);
    };
  }, [track]);
  return <video ref={ref} autoPlay playsInline muted aria-label={label} />;
}

const QUALITY_TEXT: Record<Quality, string> = {
  excellent: 'excellent connection',
  good: 'good connection',
  poor: 'poor connection',
  lost: 'connection lost',
  unknown: '',
};

function TileView({ tile }: { tile: TileModel }) {
  return (
    <figure
      role="group"
      aria-label={tile.name}
      className="tile"
      data-speaking={tile.speaking}
      data-mic-muted={tile.muted}
      data-deafened={tile.deafened}
      data-quality={tile.quality}
      data-local={tile.isLocal}
    >
      {tile.video ? <VideoOf track={tile.video} /> : <Avatar gradient={tile.gradient} />}
      <figcaption>
        {tile.name}
        {tile.muted && (
          <span className="icon" role="img" aria-label="microphone muted">
            🔇
          </span>
        )}
        {tile.deafened && (
          <span className="icon" role="img" aria-label="deafened">
            🎧
          </span>
        )}
        {tile.quality !== 'unknown' && (
          <span className={`quality ${tile.quality}`} role="img" aria-label={QUALITY_TEXT[tile.quality]} />
        )}
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

const DEVICE_LABEL: Record<DeviceKind, string> = {
  audioinput: 'Microphone',
  videoinput: 'Camera device',
  audiooutput: 'Speaker',
};

function DevicePicker({ client, state }: { client: Client; state: SessionState }) {
  return (
    <fieldset className="devices">
      <legend>Devices</legend>
      {(['audioinput', 'videoinput', 'audiooutput'] as DeviceKind[]).map((kind) => (
        <label key={kind}>
          {DEVICE_LABEL[kind]}
          <select
            value={state.activeDevices[kind]}
            disabled={state.devices[kind].length === 0}
            onChange={(e) => void client.session.switchDevice(kind, e.target.value)}
          >
            {state.devices[kind].length === 0 && <option value="">none</option>}
            {state.devices[kind].map((d) => (
              <option key={d.deviceId} value={d.deviceId}>
                {d.label}
              </option>
            ))}
          </select>
        </label>
      ))}
    </fieldset>
  );
}

function statusText(owner: boolean, state: SessionState, m: MediaSession): string {
  if (owner && state.status !== 'idle') {
    switch (state.status) {
      case 'connected':
        return 'Connected';
      case 'connecting':
        return 'Connecting…';
      case 'reconnecting':
        return 'Reconnecting…';
      default:
        return 'Disconnected';
    }
  }
  if (owner) return 'Connecting…';
  return `${m.connection[0].toUpperCase()}${m.connection.slice(1)} in another window`;
}

export function CallView({ client }: { client: Client }) {
  const g = useGateway(client);
  const state = useSession(client);
  const [focused, setFocused] = useState<string | null>(null);
  const bannerId = useId();
  const m = g.mediaSession;
  if (!m || m.type === 'idle') return null;
  const owner = client.media.isOwner();
  const live = owner && state.status !== 'idle';
  const deafOf = (userId: string) =>
    m.participants.some((p) => p.userId === userId && p.deafened) ||
    Object.values(g.voice)
      .flat()
      .some((v) => v.userId === userId && (v.selfDeaf || v.serverDeaf));
  const speaking = new Set(m.participants.filter((p) => p.speaking).map((p) => p.userId));

  const tiles: TileModel[] = live
    ? state.tiles.map((t) => ({
        id: t.identity,
        name: t.name,
        gradient: t.gradient,
        video: t.video,
        muted: t.micMuted,
        deafened: t.isLocal ? state.deafened : deafOf(t.identity),
        speaking: t.speaking,
        quality: t.quality,
        isLocal: t.isLocal,
      }))
    : m.participants.map((p) => ({
        id: p.userId,
        name: p.displayName,
        gradient: p.avatarGradient,
        video: null,
        muted: p.muted,
        deafened: p.local ? m.controls.deafened : deafOf(p.userId),
        speaking: speaking.has(p.userId),
        quality: 'unknown',
        isLocal: p.local,
      }));
  const screens = live ? state.screens : [];
  const focusedScreen = screens.find((s) => s.identity === focused) ?? null;
  const controls = live
    ? { muted: state.muted, deafened: state.deafened, camera: state.camera, screenShare: state.screenShare }
    : m.controls;

  return (
    <section aria-label="Call" className="call">
      <p role="status">{statusText(owner, state, m)}</p>
      {live && state.status === 'reconnecting' && (
        <p role="alert" className="banner" aria-labelledby={bannerId}>
          <strong id={bannerId}>Reconnecting…</strong> The connection to the server was lost; you stay in the
          call and the controls keep working.
        </p>
      )}
      {!owner && (
        <p className="follower">
          This call's media is in another window.{' '}
          <button type="button" onClick={() => void client.media.claim()}>
            Move call here
          </button>
        </p>
      )}
      {screens.length > 0 && (
        <section aria-label="Screen shares" className="screens">
          {focusedScreen && (
            <figure className="screen focused" role="group" aria-label={`Screen of ${focusedScreen.name}, focused`}>
              <VideoOf track={focusedScreen.video} />
              <button type="button" onClick={() => setFocused(null)}>
                Unfocus
              </button>
            </figure>
          )}
          <ul>
            {screens.map((s) => (
              <li key={s.identity}>
                <button
                  type="button"
                  className="screen"
                  aria-pressed={focused === s.identity}
                  aria-label={`Screen of ${s.name}`}
                  onClick={() => setFocused(focused === s.identity ? null : s.identity)}
                >
                  <VideoOf track={s.video} />
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <div className="grid">
        {tiles.map((t) => (
          <TileView key={t.id} tile={t} />
        ))}
      </div>
      <div className="controls" role="toolbar" aria-label="Call controls">
        <Toggle name="Mute" pressed={controls.muted} onToggle={(v) => void client.media.setMute(v)} />
        <Toggle name="Deafen" pressed={controls.deafened} onToggle={(v) => void client.media.setDeafen(v)} />
        <Toggle name="Camera" pressed={controls.camera} onToggle={(v) => void client.media.setCamera(v)} />
        <Toggle
          name="Share screen"
          pressed={controls.screenShare}
          onToggle={(v) => void client.media.setScreenShare(v)}
        />
        <button type="button" className="leave" onClick={() => void client.media.leave()}>
          Leave
        </button>
        <button type="button" onClick={openOverlay}>
          Open overlay
        </button>
      </div>
      {live && <DevicePicker client={client} state={state} />}
      {state.error && live && <p role="alert">{state.error}</p>}
    </section>
  );
}
