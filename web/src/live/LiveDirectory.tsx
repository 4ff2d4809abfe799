// The live directory (`/live`): who is live now, each with its kind, access badge and audience
// count, a link to watch; and "Go live" for creators (a video broadcast or an audio room, its
// access and price), which creates the session and opens its host view.

import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { navigate } from '../router';
import { Link, errorText } from '../ui';
import { liveApi } from './api';
import type { LiveAccess, LiveKind, LiveSession, Profile } from './api';
import { accessBadge, countText, kindLabel } from './rules';

function GoLive({ me, onCreator }: { me: Profile; onCreator: (p: Profile) => void }) {
  const [title, setTitle] = useState('');
  const [kind, setKind] = useState<LiveKind>('video_live');
  const [access, setAccess] = useState<LiveAccess>('public');
  const [price, setPrice] = useState('10');
  const [error, setError] = useState<string | null>(null);
  if (!me.isCreator) {
    return (
      <section aria-labelledby="go-live">
        <h2 id="go-live">Go live</h2>
        <p>Only creators host live sessions.</p>
        {error && <p role="alert">{error}</p>}
        <button
          type="button"
          onClick={() => liveApi.becomeCreator().then(onCreator, (e) => setError(errorText(e)))}
        >
          Become a creator
        </button>
      </section>
    );
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const s = await liveApi.create({
        kind,
        title,
        access,
        ...(access === 'pay_per_view' ? { priceCoins: Number(price) } : {}),
      });
      navigate(`/live/${s.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="go-live">
      <h2 id="go-live">Go live</h2>
      {error && <p role="alert">{error}</p>}
      <form onSubmit={submit} aria-label="Go live">
        <label>
          Title
          <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={100} />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as LiveKind)}>
            <option value="video_live">Video broadcast</option>
            <option value="audio_room">Audio room</option>
          </select>
        </label>
        <label>
          Access
          <select value={access} onChange={(e) => setAccess(e.target.value as LiveAccess)}>
            <option value="public">Free</option>
            <option value="subscribers_only">Subscribers only</option>
            <option value="pay_per_view">Pay-per-view</option>
          </select>
        </label>
        {access === 'pay_per_view' && (
          <label>
            Price in coins
            <input type="number" min={1} max={1000000} value={price} onChange={(e) => setPrice(e.target.value)} required />
          </label>
        )}
        <button type="submit">Create session</button>
      </form>
    </section>
  );
}

export function LiveDirectory() {
  const [sessions, setSessions] = useState<LiveSession[] | null>(null);
  const [hosts, setHosts] = useState<Record<string, string>>({});
  const [me, setMe] = useState<Profile | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stop = false;
    const load = () =>
      liveApi.list().then(
        (list) => {
          if (stop) return;
          setSessions(list);
          for (const id of new Set(list.map((s) => s.hostId))) {
            liveApi.user(id).then((u) => !stop && setHosts((h) => ({ ...h, [id]: u.displayName })), () => undefined);
          }
        },
        (e) => !stop && setError(errorText(e)),
      );
    void load();
    liveApi.me().then((p) => !stop && setMe(p), () => undefined);
    // counts move: refresh now and then
    const timer = setInterval(load, 5000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, []);

  return (
    <>
      <h1>Live</h1>
      {error && <p role="alert">{error}</p>}
      <section aria-labelledby="live-now">
        <h2 id="live-now">Live now</h2>
        {sessions && sessions.length === 0 && <p>Nobody is live right now.</p>}
        <ul className="live-list" aria-label="Live sessions">
          {(sessions ?? []).map((s) => (
            <li key={s.id} className="live-card">
              <Link to={`/live/${s.id}`}>{s.title}</Link>
              <span className="host">{hosts[s.hostId] ?? ''}</span>
              <span className="badge kind">{kindLabel(s.kind)}</span>
              <span className={`badge access ${s.access}`}>{accessBadge(s.access, s.priceCoins)}</span>
              <span className="count">{countText(s.kind, s.viewerCount)}</span>
            </li>
          ))}
        </ul>
      </section>
      {me && <GoLive me={me} onCreator={setMe} />}
    </>
  );
}
