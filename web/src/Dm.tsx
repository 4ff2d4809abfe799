// A direct conversation: the other person, "Start voice call" and "Start video call", the call
// when it is this conversation's, and the chat.

import { useEffect, useState } from 'react';
import { api } from './api';
import { CallView } from './CallView';
import { Chat, PAGE_SIZE } from './Chat';
import { MediaError } from './Chrome';
import type { Client } from './client';
import { isActive } from './calls';
import { otherParty } from './store';
import { Avatar, useGateway } from './ui';

export function DmPage({ client, conversationId }: { client: Client; conversationId: string }) {
  const g = useGateway(client);
  const conv = g.conversations.find((c) => c.id === conversationId);
  const [fetched, setFetched] = useState<typeof conv>(undefined);
  useEffect(() => {
    if (!conv) api.conversation(conversationId).then(setFetched, () => undefined);
  }, [conv, conversationId]);
  const conversation = conv ?? fetched;
  if (!conversation) return <p>Loading…</p>;
  const other = otherParty(conversation, g.user?.id ?? '');
  const m = g.mediaSession;
  const here = isActive(m) && m?.context.conversationId === conversationId;
  const live =
    g.lastMessage && 'conversationId' in g.lastMessage && g.lastMessage.conversationId === conversationId
      ? g.lastMessage
      : null;
  return (
    <div className="dm">
      <h1>
        <Avatar gradient={other.avatarGradient} small /> {other.displayName}
      </h1>
      {!here && (
        <div className="call-buttons">
          <button type="button" onClick={() => void client.media.startCall(conversationId, false)}>
            Start voice call
          </button>
          <button type="button" onClick={() => void client.media.startCall(conversationId, true)}>
            Start video call
          </button>
        </div>
      )}
      {here && <CallView client={client} />}
      <MediaError client={client} />
      <Chat
        label={`Conversation with ${other.displayName}`}
        load={(before) => api.dmMessages(conversationId, before, PAGE_SIZE)}
        send={(content) => api.sendDm(conversationId, content)}
        live={live}
      />
    </div>
  );
}
