// A chat: a log of messages, newest at the bottom, older pages loaded on request ("Load older
// messages"), live messages from the gateway appended, and a composer. The same view serves
// channels and direct conversations (given how to load, send and recognise its messages).

import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { DmMessage, Message } from './api';
import { errorText } from './ui';

type AnyMessage = Message | DmMessage;

export const PAGE_SIZE = 25;

/** Ids grow with sending order (as numbers in decimal strings, or fixed-length strings). */
function byId_(a: { id: string }, b: { id: string }): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function describe(m: AnyMessage): string {
  if ('kind' in m && m.kind === 'call' && m.call) {
    const what = m.call.video ? 'Video call' : 'Call';
    if (m.call.state === 'ended') return `${what}, ${Math.round(m.call.durationMs / 1000)} s`;
    return `${what}: ${m.call.state.replace('_', ' ')}`;
  }
  return m.content;
}

export function Chat({
  load,
  send,
  live,
  label,
}: {
  load: (before?: string) => Promise<AnyMessage[]>;
  send: (content: string) => Promise<AnyMessage>;
  /** The newest message the gateway delivered for this chat (or null). */
  live: AnyMessage | null;
  label: string;
}) {
  const [messages, setMessages] = useState<AnyMessage[]>([]);
  const [more, setMore] = useState(false);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const logRef = useRef<HTMLDivElement>(null);

  const merge = (list: AnyMessage[]) =>
    setMessages((old) => {
      const byId = new Map(old.map((m) => [m.id, m]));
      for (const m of list) byId.set(m.id, m);
      return [...byId.values()].sort(byId_);
    });

  useEffect(() => {
    load().then(
      (page) => {
        merge(page);
        setMore(page.length >= PAGE_SIZE);
      },
      (e) => setError(errorText(e)),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    if (live) merge([live]);
  }, [live]);

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length]);

  const older = async () => {
    try {
      const page = await load(messages[0]?.id);
      merge(page);
      setMore(page.length >= PAGE_SIZE);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    try {
      merge([await send(text)]);
      setText('');
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section className="chat" aria-label={label}>
      {more && (
        <button type="button" onClick={older}>
          Load older messages
        </button>
      )}
      <div role="log" aria-label="Messages" ref={logRef} tabIndex={0} className="log">
        <ol>
        {messages.map((m) => (
          <li key={m.id} data-kind={'kind' in m ? m.kind : 'text'}>
            <strong>{m.author.displayName}</strong>{' '}
            <time dateTime={new Date(m.createdAt).toISOString()}>
              {new Date(m.createdAt).toLocaleTimeString()}
            </time>
            <p>{describe(m)}</p>
          </li>
        ))}
        </ol>
      </div>
      {error && <p role="alert">{error}</p>}
      <form onSubmit={submit} aria-label="Send a message">
        <label>
          Message
          <input value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" />
        </label>
        <button type="submit">Send</button>
      </form>
    </section>
  );
}
