// The picture-in-picture window: when the window holding the call's media shows another page,
// the call goes on in a floating window — a region named "Picture in picture" — that can be
// dragged (pointer or arrow keys on "Move picture in picture"), resized (the corner handle, or
// its arrow keys), minimised, closed back into the current-call bar, and, where the browser has
// Document Picture-in-Picture, popped out of the browser. What it shows depends on the call: the
// shared screen, the stream, the speaking camera, or the voice participants. Its place goes to
// the server with `set_pip`, and comes back from the session's snapshot after a reload.

import { useEffect, useRef, useState } from 'react';
import type { KeyboardEvent as ReactKeyboardEvent, PointerEvent as ReactPointerEvent } from 'react';
import { createPortal } from 'react-dom';
import type { MediaSession } from './api';
import { VideoOf } from './CallView';
import type { Client } from './client';
import { sessionTitle } from './calls';
import type { PipVariant, Rect, Viewport } from './pip';
import { MINIMIZED_HEIGHT, arrow, clamp, dragged, pipCommand, rectOf, resized, sessionPath, showsPip, variantOf } from './pip';
import type { SessionState } from './session';
import { Avatar, Link, useGateway, useSession } from './ui';

/** The browser's Document Picture-in-Picture, where it has one (Chromium 116+). */
interface DocumentPip {
  requestWindow(opts: { width: number; height: number }): Promise<Window>;
  window: Window | null;
}

export function documentPip(): DocumentPip | null {
  const d = (window as unknown as { documentPictureInPicture?: DocumentPip }).documentPictureInPicture;
  return d ?? null;
}

const viewport = (): Viewport => ({ width: window.innerWidth, height: window.innerHeight });

/** How long after the last key press a keyboard move is sent to the server. */
const KEY_SETTLE_MS = 400;

export function PictureInPicture({ client, path }: { client: Client; path: string }) {
  const g = useGateway(client);
  const m = g.mediaSession;
  if (!m || !showsPip(m, g.connectionId, path)) return null;
  return <PipWindow client={client} m={m} />;
}

function PipWindow({ client, m }: { client: Client; m: MediaSession }) {
  const state = useSession(client);
  const [rect, setRect] = useState<Rect>(() => rectOf(m, viewport()));
  const [popout, setPopout] = useState<Window | null>(null);
  const moving = useRef(false);
  const settle = useRef<ReturnType<typeof setTimeout> | null>(null);
  const minimized = m.pip.minimized;
  const { x, y, width, height } = m.pip;

  // the server's place (another window moved it, or it came with the page) unless moving now
  useEffect(() => {
    if (!moving.current) setRect(rectOf(m, viewport()));
  }, [x, y, width, height]);

  useEffect(() => {
    const onResize = () => setRect((r) => clamp(r, viewport()));
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);

  // coming back to the call's page (or leaving it) closes a popped-out window
  useEffect(() => () => popout?.close(), [popout]);
  useEffect(
    () => () => {
      if (settle.current) clearTimeout(settle.current);
    },
    [],
  );

  const save = (r: Rect, min = minimized) => void client.media.setPip(pipCommand(r, min));

  const pointer = (e: ReactPointerEvent<HTMLElement>, how: (start: Rect, dx: number, dy: number, v: Viewport) => Rect) => {
    if (e.button !== 0) return;
    e.preventDefault();
    const el = e.currentTarget;
    el.setPointerCapture(e.pointerId);
    const start = rect;
    const [sx, sy] = [e.clientX, e.clientY];
    let last = start;
    moving.current = true;
    const move = (ev: PointerEvent) => {
      last = how(start, ev.clientX - sx, ev.clientY - sy, viewport());
      setRect(last);
    };
    const up = () => {
      el.removeEventListener('pointermove', move);
      el.removeEventListener('pointerup', up);
      el.removeEventListener('pointercancel', up);
      moving.current = false;
      if (last !== start) save(last);
    };
    el.addEventListener('pointermove', move);
    el.addEventListener('pointerup', up);
    el.addEventListener('pointercancel', up);
  };

  const keys = (e: ReactKeyboardEvent<HTMLElement>, how: (start: Rect, dx: number, dy: number, v: Viewport) => Rect) => {
    const d = arrow(e.key, e.shiftKey);
    if (!d) return;
    e.preventDefault();
    const next = how(rect, d[0], d[1], viewport());
    setRect(next);
    moving.current = true;
    if (settle.current) clearTimeout(settle.current);
    settle.current = setTimeout(() => {
      moving.current = false;
      save(next);
    }, KEY_SETTLE_MS);
  };

  const dpip = documentPip();
  const popOut = async () => {
    if (!dpip) return;
    try {
      const w = await dpip.requestWindow({ width: rect.width, height: rect.height });
      copyStyles(document, w.document);
      w.document.title = sessionTitle(m);
      w.addEventListener('pagehide', () => setPopout(null), { once: true });
      setPopout(w);
    } catch {
      // refused (no user gesture, or already open): stay in the page
    }
  };

  const content = (
    <PipContent client={client} m={m} state={state} minimized={minimized && !popout} popped={!!popout} />
  );
  if (popout) {
    return (
      <>
        <section aria-label="Picture in picture" className="pip popped-notice" data-popped="true">
          <span>{sessionTitle(m)} is in a window of its own.</span>
          <button type="button" onClick={() => popout.close()}>
            Back into the page
          </button>
        </section>
        {createPortal(content, popout.document.body)}
      </>
    );
  }

  const shown = minimized ? { ...rect, height: MINIMIZED_HEIGHT } : rect;
  return (
    <section
      aria-label="Picture in picture"
      className="pip"
      data-variant={variantOf(m, state.screenShare || state.screens.length > 0)}
      data-minimized={minimized}
      style={{ left: shown.x, top: shown.y, width: shown.width, height: shown.height }}
    >
      <div className="pip-bar">
        <button
          type="button"
          className="pip-move"
          aria-label="Move picture in picture"
          title="Drag, or use the arrow keys"
          onPointerDown={(e) => pointer(e, dragged)}
          onKeyDown={(e) => keys(e, dragged)}
        >
          ⠿
        </button>
        <Link to={sessionPath(m) ?? '/'} label={`Back to ${sessionTitle(m)}`}>
          {sessionTitle(m)}
        </Link>
        <button
          type="button"
          aria-pressed={minimized}
          onClick={() => save(rect, !minimized)}
          title={minimized ? 'Show the picture' : 'Keep only the controls'}
        >
          Minimise
        </button>
        {dpip && (
          <button type="button" onClick={() => void popOut()}>
            Pop out
          </button>
        )}
        <button
          type="button"
          aria-label="Close picture in picture"
          onClick={() => void client.media.setPip(pipCommand(rect, minimized, false))}
        >
          ✕
        </button>
      </div>
      {content}
      {!minimized && (
        <button
          type="button"
          className="pip-resize"
          aria-label="Resize picture in picture"
          title="Drag, or use the arrow keys"
          onPointerDown={(e) => pointer(e, resized)}
          onKeyDown={(e) => keys(e, resized)}
        />
      )}
    </section>
  );
}

/** Copies the page's styles into a popped-out window (it starts with none). */
function copyStyles(from: Document, to: Document): void {
  for (const sheet of Array.from(from.styleSheets)) {
    try {
      const style = to.createElement('style');
      style.textContent = Array.from(sheet.cssRules)
        .map((r) => r.cssText)
        .join('\n');
      to.head.appendChild(style);
    } catch {
      // a sheet whose rules cannot be read: link it instead
      if (sheet.href) {
        const link = to.createElement('link');
        link.rel = 'stylesheet';
        link.href = sheet.href;
        to.head.appendChild(link);
      }
    }
  }
}

function PipContent({
  client,
  m,
  state,
  minimized,
  popped,
}: {
  client: Client;
  m: MediaSession;
  state: SessionState;
  minimized: boolean;
  popped: boolean;
}) {
  const live = state.status !== 'idle';
  const variant: PipVariant = variantOf(m, state.screenShare || state.screens.length > 0);
  const controls = live
    ? { muted: state.muted, deafened: state.deafened }
    : { muted: m.controls.muted, deafened: m.controls.deafened };
  return (
    <div className={popped ? 'pip-body popped' : 'pip-body'} data-variant={variant}>
      {popped && <h1 className="pip-title">{sessionTitle(m)}</h1>}
      {!minimized && <Picture m={m} state={state} variant={variant} />}
      <div className="pip-controls" role="toolbar" aria-label="Picture in picture controls">
        <button type="button" aria-pressed={controls.muted} onClick={() => void client.media.setMute(!controls.muted)}>
          Mute
        </button>
        <button
          type="button"
          aria-pressed={controls.deafened}
          onClick={() => void client.media.setDeafen(!controls.deafened)}
        >
          Deafen
        </button>
        <button type="button" className="leave" onClick={() => void client.media.leave()}>
          Leave
        </button>
      </div>
    </div>
  );
}

/** The picture: what matters most in this kind of session. */
function Picture({ m, state, variant }: { m: MediaSession; state: SessionState; variant: PipVariant }) {
  if (variant === 'screen') {
    const screen = state.screens.find((s) => !s.isLocal) ?? state.screens[0];
    if (screen) {
      return (
        <figure className="pip-picture" role="group" aria-label={`Screen of ${screen.name}`}>
          <VideoOf track={screen.video} />
        </figure>
      );
    }
  }
  if (variant === 'video' || variant === 'stream' || variant === 'screen') {
    // the speaking camera, else the first remote one with video, else anyone's
    const remote = state.tiles.filter((t) => !t.isLocal);
    const tile =
      remote.find((t) => t.speaking && t.video) ??
      remote.find((t) => t.video) ??
      state.tiles.find((t) => t.video) ??
      remote[0] ??
      null;
    if (tile) {
      return (
        <figure className="pip-picture" role="group" aria-label={tile.name} data-speaking={tile.speaking}>
          {tile.video ? <VideoOf track={tile.video} /> : <Avatar gradient={tile.gradient} />}
          {variant === 'stream' && <span className="live-badge">LIVE</span>}
          <figcaption>{tile.name}</figcaption>
        </figure>
      );
    }
  }
  // voice (or nothing to show yet): everyone, the speaking ones marked
  return (
    <ul className="pip-people" aria-label="In the call">
      {m.participants.map((p) => (
        <li key={p.userId} data-speaking={p.speaking}>
          <Avatar gradient={p.avatarGradient} small />
          <span>{p.displayName}</span>
          {p.speaking && <span className="visually-hidden"> (speaking)</span>}
        </li>
      ))}
    </ul>
  );
}
