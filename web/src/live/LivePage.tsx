// A live session's page (`/live/<id>`): the host view (camera/microphone preview, go live,
// audience count, end), the viewer view (watch or listen as a hidden member of the audience,
// with the way in when access is refused: buy with the wallet, top up on a development server,
// subscribe), the audio room's stage (speakers, listeners, raised hands, invitations with the
// two-sided consent, back to the audience, moderation for the host and co-hosts) and the live
// chat. State is the `LiveModel`'s (outside React); the views are thin.

import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { FormEvent } from 'react';
import type { VideoTrack } from 'livekit-client';
import type { Tile } from '../session';
import { Avatar, Link } from '../ui';
import type { LiveRole } from './api';
import type { LiveModel, LiveSnapshot } from './model';
import { accessBadge, countText, isManager, kindLabel, mayActOn, placeOf, refusalText, roleOf, stateText } from './rules';

function useLive(model: LiveModel): LiveSnapshot {
  return useSyncExternalStore(model.subscribe, model.snapshot);
}

function useMedia(model: LiveModel) {
  return useSyncExternalStore(model.media.subscribe, model.media.snapshot);
}

function VideoOf({ track, label }: { track: VideoTrack; label: string }) {
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

const ROLE_TEXT: Record<LiveRole, string> = {
  host: 'Host',
  co_host: 'Co-host',
  speaker: 'Speaker',
  viewer: 'Viewer',
  listener: 'Listener',
};

function StageTile({ tile, name, role }: { tile: Tile | null; name: string; role: LiveRole }) {
  return (
    <figure
      role="group"
      aria-label={name}
      className="tile"
      data-role={role}
      data-speaking={tile?.speaking ?? false}
      data-mic-muted={tile?.micMuted ?? true}
    >
      {tile?.video ? <VideoOf track={tile.video} label={`Video of ${name}`} /> : <Avatar gradient={tile?.gradient ?? []} />}
      <figcaption>
        {name} <span className="badge">{ROLE_TEXT[role]}</span>
        {(tile?.micMuted ?? true) && (
          <span className="icon" role="img" aria-label="microphone muted">
            🔇
          </span>
        )}
      </figcaption>
    </figure>
  );
}

function ModButtons({ model, userId, name, role, mine }: { model: LiveModel; userId: string; name: string; role: LiveRole; mine: LiveRole | null }) {
  if (!mayActOn(mine, role)) return null;
  const onStage = role === 'co_host' || role === 'speaker';
  return (
    <span className="mod">
      {onStage && (
        <button type="button" onClick={() => void model.toAudience(userId)}>
          Move {name} to audience
        </button>
      )}
      <button type="button" onClick={() => void model.mute(userId)}>
        Mute {name}
      </button>
      <button type="button" onClick={() => void model.kick(userId)}>
        Remove {name}
      </button>
      <button type="button" onClick={() => void model.ban(userId)}>
        Ban {name}
      </button>
    </span>
  );
}

/** Speakers on stage with their live tiles, hands, invitations and the audience. */
function StagePanel({ model, snap }: { model: LiveModel; snap: LiveSnapshot }) {
  const media = useMedia(model);
  const { stage, session, me } = snap;
  if (!stage || !session || !me) return null;
  const tiles = new Map(media.tiles.map((t) => [t.identity, t]));
  const mine = snap.role;
  const name = (id: string) => model.nameOf(id);
  const onStage = new Set(stage.roles.map((r) => r.userId));
  const audience = (stage.audience ?? []).filter((u) => !onStage.has(u));
  const audio = session.kind === 'audio_room';
  return (
    <section aria-label="Stage" className="stage">
      <h2>{audio ? 'On stage' : 'Broadcasters'}</h2>
      <div className="grid" role="list" aria-label="Speakers">
        {stage.roles.map((r) => (
          <div role="listitem" key={r.userId}>
            <StageTile tile={tiles.get(r.userId) ?? null} name={name(r.userId)} role={r.role} />
            <ModButtons model={model} userId={r.userId} name={name(r.userId)} role={r.role} mine={mine} />
          </div>
        ))}
      </div>
      <h3>Raised hands</h3>
      {stage.hands.length === 0 ? (
        <p>No hands raised.</p>
      ) : (
        <ol aria-label="Raised hands">
          {stage.hands.map((h) => (
            <li key={h.userId}>
              ✋ {name(h.userId)}
              {isManager(mine) && !stage.invites.some((i) => i.userId === h.userId) && (
                <button type="button" onClick={() => void model.invite(h.userId)}>
                  Invite {name(h.userId)} to stage
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
      {stage.invites.length > 0 && (
        <>
          <h3>Invited</h3>
          <ul aria-label="Invited to stage">
            {stage.invites.map((i) => (
              <li key={i.userId}>
                {name(i.userId)}, invited by {name(i.invitedBy)}: waiting for them to accept
              </li>
            ))}
          </ul>
        </>
      )}
      {stage.audience && (
        <>
          <h3>{audio ? 'Listeners' : 'Audience'}</h3>
          <ul aria-label={audio ? 'Listeners' : 'Audience'} className="listeners">
            {audience.map((u) => (
              <li key={u}>
                {name(u)}
                {isManager(mine) && !stage.invites.some((i) => i.userId === u) && (
                  <button type="button" onClick={() => void model.invite(u)}>
                    Invite {name(u)} to stage
                  </button>
                )}
                <ModButtons model={model} userId={u} name={name(u)} role={audio ? 'listener' : 'viewer'} mine={mine} />
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** The caller's own stage controls: raise a hand, accept or decline, leave the stage. */
function MyStage({ model, snap }: { model: LiveModel; snap: LiveSnapshot }) {
  const { stage, me, role, session } = snap;
  if (!stage || !me || !session || role === null || role === 'host') return null;
  const place = placeOf(stage, me.id);
  const guest = session.kind === 'video_live' ? 'as a guest co-host' : 'to speak';
  return (
    <div className="my-stage" role="group" aria-label="Your place on stage">
      {place === 'audience' && (
        <button type="button" aria-pressed={false} onClick={() => void model.raiseHand()}>
          Raise hand
        </button>
      )}
      {place === 'hand_raised' && (
        <button type="button" aria-pressed={true} onClick={() => void model.lowerHand()}>
          Raise hand
        </button>
      )}
      {place === 'invited' && (
        <div role="alertdialog" aria-label="Invitation to the stage" aria-describedby="invite-text">
          <p id="invite-text">You are invited on stage {guest}.</p>
          <button type="button" className="accept" onClick={() => void model.accept()}>
            Accept invitation
          </button>
          <button type="button" className="decline" onClick={() => void model.toAudience(me.id)}>
            Decline invitation
          </button>
        </div>
      )}
      {place === 'on_stage' && (
        <button type="button" onClick={() => void model.toAudience(me.id)}>
          Leave stage
        </button>
      )}
    </div>
  );
}

function LiveChat({ model, snap }: { model: LiveModel; snap: LiveSnapshot }) {
  const [text, setText] = useState('');
  const logRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [snap.messages.length]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    if (await model.send(text)) setText('');
  };
  const me = snap.me?.id ?? '';
  const authorRole = (id: string) => (snap.session ? roleOf(snap.stage, snap.session.kind, id) : 'viewer');
  return (
    <section className="chat live-chat" aria-label="Live chat">
      <div role="log" aria-label="Live chat messages" ref={logRef} tabIndex={0} className="log">
        <ol>
          {snap.messages.map((m) => (
            <li key={m.id}>
              <strong>{model.nameOf(m.authorId)}</strong>{' '}
              <time dateTime={new Date(m.createdAt).toISOString()}>{new Date(m.createdAt).toLocaleTimeString()}</time>
              <p>{m.content}</p>
              {(m.authorId === me || mayActOn(snap.role, authorRole(m.authorId))) && (
                <button type="button" onClick={() => void model.deleteMessage(m.id)}>
                  Delete message from {model.nameOf(m.authorId)}
                </button>
              )}
            </li>
          ))}
        </ol>
      </div>
      {snap.session?.state === 'live' && (
        <form onSubmit={submit} aria-label="Send to live chat">
          <label>
            Chat message
            <input value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" maxLength={500} />
          </label>
          <button type="submit">Send</button>
        </form>
      )}
    </section>
  );
}

/** What a refused viewer can do about it: buy (with the wallet), top up, subscribe. */
function WayIn({ model, snap, dev }: { model: LiveModel; snap: LiveSnapshot; dev: boolean }) {
  const s = snap.session;
  if (!s) return null;
  if (snap.need === 'purchase') {
    return (
      <section aria-label="Buy this session" className="purchase">
        <p>
          Price: {s.priceCoins} coins. Your balance: {snap.balance ?? '…'} coins.
        </p>
        <button type="button" onClick={() => void model.purchase()}>
          Buy for {s.priceCoins} coins
        </button>
        {dev && (
          <button type="button" onClick={() => void model.topUp(Math.max(s.priceCoins, 100))}>
            Add {Math.max(s.priceCoins, 100)} coins (development)
          </button>
        )}
      </section>
    );
  }
  if (snap.need === 'subscription') {
    return (
      <section aria-label="Subscribe" className="purchase">
        <p>Your balance: {snap.balance ?? '…'} coins.</p>
        <button type="button" onClick={() => void model.subscribeToHost()}>
          Subscribe to {model.nameOf(s.hostId)}
        </button>
      </section>
    );
  }
  return null;
}

export function LivePage({ model, sessionId }: { model: LiveModel; sessionId: string }) {
  const snap = useLive(model);
  const media = useMedia(model);
  const [dev, setDev] = useState(false);

  useEffect(() => {
    void model.open(sessionId);
  }, [model, sessionId]);
  // leaving the page leaves the room
  useEffect(() => () => void model.close(), [model]);
  useEffect(() => {
    if (snap.need) {
      void model.refreshWallet();
      // only a development server accepts a top-up (others refuse it, which the page says)
      setDev(true);
    }
  }, [model, snap.need]);

  const s = snap.session;
  if (!s || snap.id !== sessionId) {
    return (
      <>
        <h1>Live session</h1>
        {snap.error ? <p role="alert">{refusalText(snap.error, null)}</p> : <p>Loading…</p>}
        <Link to="/live">Back to the live directory</Link>
      </>
    );
  }
  const me = snap.me?.id ?? '';
  const host = s.hostId === me;
  const joined = snap.role !== null && media.status !== 'idle' && media.status !== 'disconnected';
  const over = s.state === 'ended' || s.state === 'failed';
  const audio = s.kind === 'audio_room';
  const hostTile = media.tiles.find((t) => t.identity === s.hostId) ?? null;
  const local = media.tiles.find((t) => t.isLocal) ?? null;
  const guests = media.tiles.filter((t) => !t.isLocal && t.identity !== s.hostId && t.video);

  return (
    <article className="live" aria-labelledby="live-title">
      <header className="live-head">
        <h1 id="live-title">{s.title}</h1>
        <span className="badge kind">{kindLabel(s.kind)}</span>
        <span className={`badge access ${s.access}`}>{accessBadge(s.access, s.priceCoins)}</span>
        {s.state === 'live' && <span className="badge live-dot">LIVE</span>}
        <span className="count" role="status" aria-label="Audience count">
          {countText(s.kind, s.viewerCount)} · peak {s.peakViewers}
        </span>
      </header>
      <p>
        Hosted by {host ? 'you' : model.nameOf(s.hostId)}. <Link to="/live">All live sessions</Link>
      </p>
      {stateText(s) && (
        <p role={over ? 'alert' : 'note'} className={over ? 'banner' : ''}>
          {stateText(s)}
        </p>
      )}
      {snap.error && <p role="alert">{refusalText(snap.error, s, snap.balance)}</p>}
      {media.error && joined && <p role="alert">{media.error}</p>}

      {host ? (
        <section aria-label="Host controls" className="controls">
          {!joined && !over && (
            <button type="button" disabled={snap.joining} onClick={() => void model.join()}>
              {audio ? 'Open microphone' : 'Open camera and microphone'}
            </button>
          )}
          {s.state === 'scheduled' && (
            <button type="button" className="accept" onClick={() => void model.start()}>
              Go live
            </button>
          )}
          {joined && (
            <button type="button" aria-pressed={media.muted} onClick={() => void model.media.setMuted(!media.muted)}>
              Mute
            </button>
          )}
          {joined && !audio && (
            <button type="button" aria-pressed={!media.camera} onClick={() => void model.media.setCamera(!media.camera)}>
              Camera off
            </button>
          )}
          {!over && (
            <button type="button" className="leave" onClick={() => void model.end()}>
              End session
            </button>
          )}
        </section>
      ) : (
        !over && (
          <section aria-label="Viewer controls" className="controls">
            {!joined && (
              <button type="button" disabled={snap.joining || s.state !== 'live'} onClick={() => void model.join()}>
                {audio ? 'Listen' : 'Watch'}
              </button>
            )}
            {joined && (
              <button type="button" onClick={() => void model.leave()}>
                Leave
              </button>
            )}
            {joined && (snap.role === 'speaker' || snap.role === 'co_host') && (
              <button type="button" aria-pressed={media.muted} onClick={() => void model.media.setMuted(!media.muted)}>
                Mute
              </button>
            )}
          </section>
        )
      )}
      {!host && <WayIn model={model} snap={snap} dev={dev} />}
      {joined && <p>You are in as: {ROLE_TEXT[snap.role ?? 'viewer']}</p>}

      {!audio && joined && (
        <section aria-label="Broadcast" className="broadcast">
          {host && local?.video && <VideoOf track={local.video} label="Your camera preview" />}
          {!host && hostTile?.video && <VideoOf track={hostTile.video} label={`Broadcast of ${model.nameOf(s.hostId)}`} />}
          {!host && !hostTile?.video && <p>Waiting for the host's video…</p>}
          {guests.map((g) => (
            <VideoOf key={g.identity} track={g.video as VideoTrack} label={`Video of ${model.nameOf(g.identity)}`} />
          ))}
        </section>
      )}
      {joined && <MyStage model={model} snap={snap} />}
      {(audio || isManager(snap.role) || (snap.stage?.roles.length ?? 0) > 1) && joined && (
        <StagePanel model={model} snap={snap} />
      )}
      <LiveChat model={model} snap={snap} />
    </article>
  );
}
