// The incoming-call dialog: every call ringing for the user (from the media session snapshot),
// each with the caller's name and avatar gradient, voice or video, a countdown to the server's
// `expiresAt`, and Accept / Decline. During a session further calls queue here (call waiting):
// accepting one ends the current call.

import { useEffect, useState } from 'react';
import type { Client } from './client';
import { formatCountdown, isActive, secondsLeft } from './calls';
import { navigate } from './router';
import { Avatar, useGateway } from './ui';

function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function IncomingCallDialog({ client }: { client: Client }) {
  const g = useGateway(client);
  // Counted on the server's clock: `expiresAt` is one of its instants.
  const now = useNow(250) + g.clockOffset;
  const m = g.mediaSession;
  const calls = (m?.incomingCalls ?? []).filter((c) => c.expiresAt > now);
  if (calls.length === 0) return null;
  const busy = isActive(m);

  const accept = async (callId: string) => {
    const answer = await client.media.accept(callId);
    const conv = answer?.session.context.conversationId;
    if (conv) navigate(`/dm/${conv}`);
  };

  return (
    <div className="dialog-backdrop">
      <div role="dialog" aria-label="Incoming call" aria-modal="false" className="incoming">
        <h2>Incoming call</h2>
        {busy && <p>You are in a call: accepting ends it.</p>}
        <div className="calls">
          {calls.map((c) => (
            <div key={c.callId} className="call-item" role="group" aria-label={c.from.displayName} data-call-id={c.callId}>
              <Avatar gradient={c.from.avatarGradient} />
              <div>
                <strong>{c.from.displayName}</strong>
                <span className="kind">{c.video ? 'Video call' : 'Voice call'}</span>
                <span className="countdown" data-countdown={secondsLeft(c.expiresAt, now, c.ringingSince)}>
                  {formatCountdown(secondsLeft(c.expiresAt, now, c.ringingSince))}
                </span>
              </div>
              <button type="button" className="accept" onClick={() => void accept(c.callId)}>
                Accept
              </button>
              <button type="button" className="decline" onClick={() => void client.media.decline(c.callId)}>
                Decline
              </button>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
