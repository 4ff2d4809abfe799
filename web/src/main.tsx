import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Room } from 'livekit-client';
import { App } from './App';
import { api } from './api';
import { CallSession, browserAudio } from './session';
import './style.css';

// One session for the page's lifetime, created outside React.
const session = new CallSession({
  ticket: (channelId) => api.voiceJoin(channelId),
  newRoom: () => new Room({ adaptiveStream: true, dynacast: true }),
  playAudio: browserAudio,
});
// Reachable from the console and the browser e2e (e.g. `inboundAudioBytes()`).
(window as unknown as { xcordSession: CallSession }).xcordSession = session;
window.addEventListener('pagehide', () => void session.disconnect());

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App session={session} />
    </StrictMode>,
  );
}
