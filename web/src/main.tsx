import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { api, storedToken } from './api';
import type { Client } from './client';
import { Gateway } from './gateway';
import { MediaController, browserSiblings } from './media';
import { Ringtone, follow } from './ringtone';
import { CallSession, browserAudio } from './session';
import { Store } from './store';
import { loadLivekit } from './lk';
import { liveApi } from './live/api';
import { LiveModel } from './live/model';
import './style.css';

// One of each for the page's lifetime, created outside React.
const store = new Store();
const session = new CallSession({
  ticket: (channelId) => api.voiceJoin(channelId),
  // livekit-client is its own chunk, loaded with the first call (prefetched on call pages)
  newRoom: async () => {
    const { Room } = await loadLivekit();
    return new Room({ adaptiveStream: true, dynacast: true });
  },
  playAudio: browserAudio,
});
const overlay = location.pathname === '/overlay';
const gateway = new Gateway({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/gateway`,
  token: storedToken,
  kind: overlay ? 'overlay' : 'main',
  store,
});
const media = new MediaController({
  store,
  session,
  command: api.command,
  siblings: browserSiblings(),
  holdsMedia: !overlay,
});
const ringtone = new Ringtone();
follow(store, ringtone);
// Live sessions have a room of their own (README "Live broadcasts and audio rooms").
const live: LiveModel = new LiveModel({
  api: liveApi,
  store,
  media: new CallSession({
    ticket: () => Promise.reject(new Error('a live room is joined with its ticket')),
    // published with the session kind's presets (the ticket's publishDefaults)
    newRoom: async () => {
      const { Room, VideoPreset } = await loadLivekit();
      return new Room({ adaptiveStream: true, dynacast: true, ...live.roomOptions(VideoPreset) });
    },
    playAudio: browserAudio,
  }),
});
const client: Client = { store, gateway, session, media, ringtone, live };

// Reachable from the console and the browser e2e (e.g. `xcordSession.inboundAudioBytes()`).
Object.assign(window, { xcordSession: session, xcordClient: client, xcordLive: live });
window.addEventListener('pagehide', () => {
  gateway.stop();
  void session.disconnect();
  void live.media.disconnect();
});

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App client={client} />
    </StrictMode>,
  );
}
