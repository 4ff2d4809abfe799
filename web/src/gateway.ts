// The realtime gateway connection (`/api/v1/gateway`, README "Gateway WebSocket"): hello →
// identify → Ready, then sequenced events; heartbeats at the server's interval; after a drop,
// resume from the last sequence (or identify again when the server says the session is gone),
// with a bounded backoff. Everything it hears goes to the `Store`; it holds no other state.

import type { Store } from './store';

export type ConnectionKind = 'main' | 'overlay' | 'mobile';

export interface GatewayDeps {
  url: string;
  token: () => string | null;
  kind: ConnectionKind;
  store: Store;
  newSocket?: (url: string) => WebSocket;
}

interface Frame {
  op: string;
  t?: string;
  s?: number;
  d?: Record<string, unknown>;
}

export class Gateway {
  private ws: WebSocket | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private sessionId: string | null = null;
  private seq = 0;
  private attempts = 0;
  /** When the last identify left (Ready's clock offset is taken against the round trip). */
  private identifiedAt: number | undefined = undefined;
  private stopped = true;

  constructor(private readonly deps: GatewayDeps) {}

  /** Connects (and keeps reconnecting) until `stop`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.sessionId = null;
    this.seq = 0;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.clearHeartbeat();
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  }

  private clearHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private open(): void {
    const token = this.deps.token();
    if (!token || this.stopped) return;
    const ws = (this.deps.newSocket ?? ((u) => new WebSocket(u)))(this.deps.url);
    this.ws = ws;
    ws.onmessage = (ev) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      this.onFrame(ws, frame, token);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearHeartbeat();
      if (this.stopped) return;
      const delay = Math.min(30000, 500 * 2 ** this.attempts++);
      this.retry = setTimeout(() => this.open(), delay);
    };
  }

  private send(ws: WebSocket, frame: object): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  private onFrame(ws: WebSocket, f: Frame, token: string): void {
    switch (f.op) {
      case 'hello': {
        const interval = Number(f.d?.heartbeatInterval) || 15000;
        this.clearHeartbeat();
        this.heartbeat = setInterval(() => this.send(ws, { op: 'heartbeat' }), interval);
        if (this.sessionId) {
          this.send(ws, { op: 'resume', d: { token, sessionId: this.sessionId, seq: this.seq } });
        } else {
          this.identifiedAt = Date.now();
          this.send(ws, { op: 'identify', d: { token, kind: this.deps.kind } });
        }
        break;
      }
      case 'ready':
        this.attempts = 0;
        this.seq = 0;
        this.sessionId = typeof f.d?.sessionId === 'string' ? f.d.sessionId : null;
        this.deps.store.ready(f.d ?? {}, this.identifiedAt);
        break;
      case 'resumed':
        this.attempts = 0;
        break;
      case 'invalid_session':
        this.sessionId = null;
        this.seq = 0;
        this.identifiedAt = Date.now();
        this.send(ws, { op: 'identify', d: { token, kind: this.deps.kind } });
        break;
      case 'event':
        if (typeof f.s === 'number') this.seq = f.s;
        if (f.t) this.deps.store.event(f.t, f.d ?? {});
        break;
      case 'error':
        if (f.d?.code === 'unauthorized') this.stop();
        break;
      default:
        break;
    }
  }
}
