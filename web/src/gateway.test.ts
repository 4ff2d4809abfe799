// The gateway client against scripted sockets: identify, heartbeats at the server's interval,
// events into the store, and after a drop a resume from the last sequence (or a new identify).

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Gateway } from './gateway';
import { Store } from './store';

class FakeSocket {
  static OPEN = 1;
  readyState = 1;
  sent: Record<string, unknown>[] = [];
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  send(s: string) {
    this.sent.push(JSON.parse(s));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  receive(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

describe('Gateway', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', FakeSocket);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  function setup() {
    const sockets: FakeSocket[] = [];
    const store = new Store();
    const gw = new Gateway({
      url: 'ws://x/api/v1/gateway',
      token: () => 'TOKEN',
      kind: 'overlay',
      store,
      newSocket: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s as unknown as WebSocket;
      },
    });
    gw.start();
    return { sockets, store, gw };
  }

  it('identifies with its kind, heartbeats, and feeds Ready and events to the store', () => {
    const { sockets, store } = setup();
    const ws = sockets[0];
    ws.receive({ op: 'hello', d: { heartbeatInterval: 1000 } });
    expect(ws.sent).toEqual([{ op: 'identify', d: { token: 'TOKEN', kind: 'overlay' } }]);
    vi.advanceTimersByTime(2500);
    expect(ws.sent.filter((f) => f.op === 'heartbeat')).toHaveLength(2);
    ws.receive({ op: 'ready', d: { sessionId: 'S1', user: { id: 'u' }, communities: [] } });
    expect(store.snapshot()).toMatchObject({ ready: true, connectionId: 'S1' });
    ws.receive({ op: 'event', t: 'COMMUNITY_CREATE', s: 1, d: { id: 'c', name: 'C', channels: [], members: [] } });
    expect(store.snapshot().communities.map((c) => c.name)).toEqual(['C']);
  });

  it('after a drop, resumes from the last sequence; an invalid session identifies again', () => {
    const { sockets } = setup();
    sockets[0].receive({ op: 'hello', d: { heartbeatInterval: 1000 } });
    sockets[0].receive({ op: 'ready', d: { sessionId: 'S1' } });
    sockets[0].receive({ op: 'event', t: 'X', s: 7, d: {} });
    sockets[0].close();
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(600);
    expect(sockets).toHaveLength(2);
    sockets[1].receive({ op: 'hello', d: { heartbeatInterval: 1000 } });
    expect(sockets[1].sent).toEqual([{ op: 'resume', d: { token: 'TOKEN', sessionId: 'S1', seq: 7 } }]);
    sockets[1].receive({ op: 'invalid_session', d: { reason: 'gone' } });
    expect(sockets[1].sent[1]).toEqual({ op: 'identify', d: { token: 'TOKEN', kind: 'overlay' } });
  });

  it('stop closes for good', () => {
    const { sockets, gw } = setup();
    gw.stop();
    vi.advanceTimersByTime(60000);
    expect(sockets).toHaveLength(1);
  });
});
