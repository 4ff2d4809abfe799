// The app: signed out, the sign-in page; signed in, the chrome (sidebar, current-call bar, the
// incoming-call dialog, the picture-in-picture window) around the page the path names — home, a community or one of its
// channels, a direct conversation. Thin views: state comes from the gateway store, the session
// model and the media controller (client.ts); data not in the store comes from the API.

import { useEffect, useState, useSyncExternalStore } from 'react';
import type { ReactNode } from 'react';
import { api, storeToken, storedToken } from './api';
import type { User } from './api';
import { SessionBar, Sidebar } from './Chrome';
import type { Client } from './client';
import { CommunityPage } from './Community';
import { DmPage } from './Dm';
import { Home } from './Home';
import { IncomingCallDialog } from './IncomingCall';
import { Overlay } from './Overlay';
import { PictureInPicture } from './Pip';
import { LiveDirectory } from './live/LiveDirectory';
import { LivePage } from './live/LivePage';
import { prefetchLivekit } from './lk';
import { currentPath, navigate, subscribePath } from './router';
import { SignIn } from './SignIn';
import { Avatar, Link } from './ui';

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

  // the overlay window: its own compact page, no chrome
  if (path === '/overlay') return <Overlay client={client} />;

  const parts = path.split('/').filter(Boolean);
  let page: ReactNode;
  if (parts[0] === 'c' && parts[1]) {
    page = <CommunityPage key={parts[1]} client={client} communityId={parts[1]} channelId={parts[2] ?? null} />;
  } else if (parts[0] === 'dm' && parts[1]) {
    page = <DmPage key={parts[1]} client={client} conversationId={parts[1]} />;
  } else if (parts[0] === 'live') {
    page = parts[1] ? <LivePage model={client.live} sessionId={parts[1]} /> : <LiveDirectory />;
  } else if (parts[0] === 'invite' && parts[1]) {
    page = <Home client={client} initialInvite={decodeURIComponent(parts[1])} />;
  } else {
    page = <Home client={client} />;
  }
  return (
    <div className="app">
      <header>
        <Link to="/">xcord</Link>
        <Link to="/live">Live</Link>
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
      <PictureInPicture client={client} path={path} />
      <IncomingCallDialog client={client} />
    </div>
  );
}

