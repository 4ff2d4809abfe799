// The pages: sign-in, home (communities), a community (channels), a channel (the call).
// Thin views: data comes from the API on navigation, call state from the session model.

import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { api, ApiError, storeToken, storedToken } from './api';
import type { CommunityView, Community, User } from './api';
import { currentPath, navigate, subscribePath } from './router';
import type { CallSession } from './session';
import { CallView } from './CallView';

function Link({ to, children }: { to: string; children: ReactNode }) {
  return (
    <a
      href={to}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

function errorText(e: unknown): string {
  return e instanceof ApiError || e instanceof Error ? e.message : String(e);
}

export function App({ session }: { session: CallSession }) {
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
      .then(setUser)
      .catch(() => storeToken(null))
      .finally(() => setChecked(true));
  }, []);

  if (!checked) return <p>Loading…</p>;
  if (!user) return <SignIn onSignedIn={setUser} />;

  const signOut = async () => {
    await session.disconnect();
    await api.logout().catch(() => undefined);
    storeToken(null);
    setUser(null);
    navigate('/');
  };

  const parts = path.split('/').filter(Boolean);
  let page: ReactNode;
  if (parts[0] === 'c' && parts[1] && parts[2]) {
    page = <ChannelPage key={path} communityId={parts[1]} channelId={parts[2]} session={session} />;
  } else if (parts[0] === 'c' && parts[1]) {
    page = <CommunityPage key={path} communityId={parts[1]} />;
  } else if (parts[0] === 'invite' && parts[1]) {
    page = <Home initialInvite={decodeURIComponent(parts[1])} />;
  } else {
    page = <Home />;
  }
  return (
    <div className="app">
      <header>
        <Link to="/">xcord</Link>
        <span className="me">
          <span className="avatar small" style={gradientStyle(user.avatarGradient)} aria-hidden="true" />
          {user.displayName}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>{page}</main>
    </div>
  );
}

export function gradientStyle(g: [string, string]) {
  return { background: `linear-gradient(135deg, ${g[0]}, ${g[1]})` };
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

function Home({ initialInvite = '' }: { initialInvite?: string }) {
  const [communities, setCommunities] = useState<Community[] | null>(null);
  const [name, setName] = useState('');
  const [invite, setInvite] = useState(initialInvite);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.myCommunities().then(setCommunities, (e) => setError(errorText(e)));
  }, []);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const c = await api.createCommunity(name);
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
      navigate(`/c/${c.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <>
      <h1>Communities</h1>
      {error && <p role="alert">{error}</p>}
      <nav aria-label="Communities">
        <ul>
          {communities?.map((c) => (
            <li key={c.id}>
              <Link to={`/c/${c.id}`}>{c.name}</Link>
            </li>
          ))}
        </ul>
        {communities?.length === 0 && <p>No community yet: create one or join one by invite.</p>}
      </nav>
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

function CommunityPage({ communityId }: { communityId: string }) {
  const [view, setView] = useState<CommunityView | null>(null);
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'voice' | 'video' | 'text'>('voice');
  const [invite, setInvite] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    api.community(communityId).then(setView, (e) => setError(errorText(e)));
  }, [communityId]);
  useEffect(load, [load]);

  const createChannel = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.createChannel(communityId, name, kind);
      setName('');
      load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const createInvite = async () => {
    try {
      const inv = await api.createInvite(communityId);
      setInvite(inv.code);
    } catch (err) {
      setError(errorText(err));
    }
  };

  if (!view) return error ? <p role="alert">{error}</p> : <p>Loading…</p>;
  return (
    <>
      <h1>{view.name}</h1>
      {error && <p role="alert">{error}</p>}
      <nav aria-label="Channels">
        <ul>
          {view.channels.map((ch) => (
            <li key={ch.id} className={`channel ${ch.kind}`}>
              <Link to={`/c/${communityId}/${ch.id}`}>{ch.name}</Link>
            </li>
          ))}
        </ul>
      </nav>
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

function ChannelPage({
  communityId,
  channelId,
  session,
}: {
  communityId: string;
  channelId: string;
  session: CallSession;
}) {
  const [view, setView] = useState<CommunityView | null>(null);
  const state = useSyncExternalStore(session.subscribe, session.snapshot);
  useEffect(() => {
    api.community(communityId).then(setView, () => setView(null));
  }, [communityId]);
  const channel = view?.channels.find((c) => c.id === channelId);
  const here = state.channelId === channelId && state.status !== 'idle';

  return (
    <>
      <p>
        <Link to={`/c/${communityId}`}>{view?.name ?? 'Back'}</Link>
      </p>
      <h1>{channel?.name ?? 'Channel'}</h1>
      {channel && channel.kind === 'text' && <p>Text chat comes in a later version.</p>}
      {channel && channel.kind !== 'text' && !here && (
        <button type="button" onClick={() => void session.connect(channelId, { camera: channel.kind === 'video' })}>
          Join
        </button>
      )}
      {channel && channel.kind !== 'text' && !window.isSecureContext && (
        <p>
          This page is not a secure context, so the browser keeps the microphone and camera from it:
          open it as http://127.0.0.1 or http://localhost, or over HTTPS.
        </p>
      )}
      {here && <CallView session={session} state={state} />}
      {state.error && <p role="alert">{state.error}</p>}
    </>
  );
}
