// The media controller: binds the server's media session (the gateway `Store`) to this window's
// `CallSession`. Every window sends commands (start, accept, decline, join, leave, mute, deafen,
// camera, screen share, claim); only the owner window — the one the server sent
// MEDIA_SESSION_CONNECT — holds the LiveKit `Room`, applies the snapshot's controls to it and
// reports its connection state. A window that stops being the owner (another claimed, the
// session ended) disconnects its room. Views call its methods and read the store and the session.
//
// Two races between windows of one browser are handled here. A start, accept or join names this
// window's gateway connection, so the server makes it the owner; it first tells its sibling
// windows (BroadcastChannel `xcord-media`), and a sibling that gets a ticket meanwhile (a claim
// by hand, say) holds it briefly instead of joining, then drops it when the claim lands.
// And when an owner's room is dropped anyway (a late join of the same identity
// replaces it: DUPLICATE_IDENTITY), the owner joins again with its ticket, a few times.

import type { Command, CommandAnswer, ConnectionState, MediaSession } from './api';
import { isActive, isOwner } from './calls';
import type { CallSession, Status } from './session';
import type { ConnectTicket, Store } from './store';

/** How long a failed connection report waits before it is sent again. */
export const REPORT_RETRY_MS = 2000;

/** How windows of one browser tell each other that one is taking the session. */
export interface SiblingChannel {
  post(msg: { type: 'claiming'; connectionId: string }): void;
  onMessage(f: (msg: { type: 'claiming'; connectionId: string }) => void): void;
}

export interface MediaDeps {
  store: Store;
  session: CallSession;
  command(body: Command & { id: string; epoch?: number }): Promise<CommandAnswer>;
  newId?(): string;
  siblings?: SiblingChannel;
  /**
   * False in a window that never holds media (the overlay): it sends commands only, and a
   * ticket the server sends it anyway is left unused.
   */
  holdsMedia?: boolean;
  now?(): number;
  setTimer?(f: () => void, ms: number): void;
}

/** How long a ticket is held while a sibling window claims the session. */
export const CLAIM_GRACE_MS = 3000;
/** Joins again after an unexpected drop, at most this many times per ticket. */
const REJOINS = 3;

/** The BroadcastChannel between windows of this origin (none where unsupported). */
export function browserSiblings(): SiblingChannel | undefined {
  if (typeof BroadcastChannel === 'undefined') return undefined;
  const ch = new BroadcastChannel('xcord-media');
  return {
    post: (msg) => ch.postMessage(msg),
    onMessage: (f) => {
      ch.onmessage = (ev) => {
        if (ev.data && ev.data.type === 'claiming') f(ev.data);
      };
    },
  };
}

function reportState(s: Status): ConnectionState {
  switch (s) {
    case 'connecting':
      return 'connecting';
    case 'connected':
      return 'connected';
    case 'reconnecting':
      return 'reconnecting';
    default:
      return 'disconnected';
  }
}

export class MediaController {
  /** The epoch of the ticket this window's room was connected with (null: no room). */
  private roomEpoch: number | null = null;
  private reported: { epoch: number; state: ConnectionState } | null = null;
  private lastError: string | null = null;
  /** Control commands of this window still in flight: the snapshot lags behind them. */
  private pending = 0;
  private errorListeners = new Set<() => void>();

  /** Until when a sibling window is claiming the session (ms). */
  private siblingClaimUntil = 0;
  private heldTicket: ConnectTicket | null = null;
  private ticket: ConnectTicket | null = null;
  private rejoins = 0;
  /** Controls are being applied to the room (one pass at a time). */
  private applying = false;

  constructor(private readonly deps: MediaDeps) {
    deps.store.subscribe(() => this.sync());
    deps.session.subscribe(() => {
      this.report();
      this.rejoinIfDropped();
      // the snapshot may have changed while the room was connecting
      const m = this.media;
      if (m && this.roomEpoch !== null && isActive(m) && this.isOwner()) void this.applyControls(m);
    });
    deps.siblings?.onMessage((msg) => {
      if (msg.connectionId !== this.connectionId) this.siblingClaimUntil = this.now() + CLAIM_GRACE_MS;
    });
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  private later(f: () => void, ms: number): void {
    if (this.deps.setTimer) this.deps.setTimer(f, ms);
    else setTimeout(f, ms);
  }

  private get media(): MediaSession | null {
    return this.deps.store.snapshot().mediaSession;
  }

  private get connectionId(): string | null {
    return this.deps.store.snapshot().connectionId;
  }

  /** Whether this window holds (or should hold) the media connection. */
  isOwner(): boolean {
    return isOwner(this.media, this.connectionId);
  }

  error(): string | null {
    return this.lastError;
  }

  subscribeError = (l: () => void): (() => void) => {
    this.errorListeners.add(l);
    return () => this.errorListeners.delete(l);
  };

  private setError(e: unknown): void {
    this.lastError = e === null ? null : e instanceof Error ? e.message : String(e);
    for (const l of this.errorListeners) l();
  }

  /** Follows the store: connect on a ticket, disconnect when no longer the owner, apply controls. */
  private sync(): void {
    const store = this.deps.store;
    const ticket = store.snapshot().connect;
    if (ticket) {
      store.takeConnect();
      if (this.deps.holdsMedia === false) return;
      // a live room is the live page's own: it joins with its ticket (live/model.ts)
      if (ticket.room.startsWith('live_')) return;
      const wait = this.siblingClaimUntil - this.now();
      if (wait > 0) {
        // a sibling window is taking the session: join only if it still is ours afterwards
        this.heldTicket = ticket;
        this.later(() => this.releaseHeld(ticket), wait);
        return;
      }
      this.connectRoom(ticket);
      return;
    }
    const m = this.media;
    if (this.heldTicket && m && (m.epoch > this.heldTicket.epoch || !this.isOwner())) this.heldTicket = null;
    if (this.roomEpoch === null) return;
    const epoch = m?.epoch ?? 0;
    // a live-stream session's room is the live page's: this window's call room is left
    const stillMine = isActive(m) && m?.type !== 'live-stream' && this.isOwner();
    if (!stillMine && epoch > this.roomEpoch) {
      this.roomEpoch = null;
      this.ticket = null;
      void this.deps.session.disconnect();
      return;
    }
    if (stillMine && m) void this.applyControls(m);
  }

  private releaseHeld(ticket: ConnectTicket): void {
    if (this.heldTicket !== ticket) return;
    this.heldTicket = null;
    const m = this.media;
    if (isActive(m) && this.isOwner() && (m?.epoch ?? 0) <= ticket.epoch) this.connectRoom(ticket);
  }

  /** The owner's room was dropped while the session is still its own: join again. */
  private rejoinIfDropped(): void {
    const ticket = this.ticket;
    if (!ticket || this.roomEpoch !== ticket.epoch) return;
    if (this.deps.session.snapshot().status !== 'disconnected') return;
    const m = this.media;
    if (!isActive(m) || !this.isOwner() || (m?.epoch ?? 0) > ticket.epoch) return;
    if (this.rejoins >= REJOINS) return;
    this.rejoins++;
    this.later(() => {
      if (this.ticket === ticket && this.roomEpoch === ticket.epoch && this.deps.session.snapshot().status === 'disconnected') {
        this.connectRoom(ticket, true);
      }
    }, 500 * this.rejoins);
  }

  private connectRoom(ticket: ConnectTicket, rejoin = false): void {
    const c = this.media?.controls;
    if (!rejoin) this.rejoins = 0;
    this.ticket = ticket;
    this.roomEpoch = ticket.epoch;
    this.reported = null;
    void this.deps.session.connect(ticket.room, {
      ticket,
      camera: c?.camera ?? false,
      muted: c?.muted ?? false,
      deafened: c?.deafened ?? false,
    });
  }

  /** The owner makes its room match the snapshot's controls (a follower may have changed them). */
  private async applyControls(m: MediaSession): Promise<void> {
    const s = this.deps.session;
    const st = s.snapshot();
    if (st.status !== 'connected' || this.pending > 0 || this.applying) return;
    this.applying = true;
    try {
      if (m.controls.deafened !== st.deafened) await s.setDeafened(m.controls.deafened);
      const muted = m.controls.muted || m.controls.deafened;
      if (muted !== s.snapshot().muted) await s.setMuted(muted);
      if (m.controls.camera !== s.snapshot().camera) await s.setCamera(m.controls.camera);
      if (!m.controls.screenShare && s.snapshot().screenShare) await s.setScreenShare(false);
    } finally {
      this.applying = false;
    }
    // the snapshot may have moved on meanwhile
    const now = this.media;
    if (now && now !== m && isActive(now) && this.isOwner()) void this.applyControls(now);
  }

  /** The owner tells the server how its media connection is. */
  private report(): void {
    const id = this.connectionId;
    if (this.roomEpoch === null || !id || !this.isOwner()) return;
    const state = reportState(this.deps.session.snapshot().status);
    const epoch = this.roomEpoch;
    if (this.reported && this.reported.epoch === epoch && this.reported.state === state) return;
    const attempt = { epoch, state };
    this.reported = attempt;
    void this.send({ type: 'report_connection', connectionId: id, state }, epoch).catch(() => {
      // Not delivered (the request failed): forget it and try again, unless a newer report
      // has been made meanwhile. The server needs the report to elect and keep the owner.
      if (this.reported !== attempt) return;
      this.reported = null;
      setTimeout(() => this.report(), REPORT_RETRY_MS);
    });
  }

  private async send(cmd: Command, epoch?: number): Promise<CommandAnswer> {
    const id = this.deps.newId ? this.deps.newId() : crypto.randomUUID();
    const answer = await this.deps.command({ ...cmd, id, ...(epoch === undefined ? {} : { epoch }) });
    this.deps.store.mediaSession(answer.session);
    return answer;
  }

  /** Sends a command; a refusal is shown, not thrown. */
  private async run(cmd: Command): Promise<CommandAnswer | null> {
    try {
      const answer = await this.send(cmd);
      this.setError(null);
      return answer;
    } catch (e) {
      this.setError(e);
      return null;
    }
  }

  /**
   * Starts, accepts or joins, naming this window's connection: the server makes the window where
   * the person clicked the owner. Sibling windows are told first, so one that gets a ticket
   * meanwhile holds it instead of joining.
   */
  private async startHere(
    cmd: Extract<Command, { type: 'start_call' | 'accept_call' | 'join_channel' }>,
  ): Promise<CommandAnswer | null> {
    const id = this.connectionId;
    if (id) this.deps.siblings?.post({ type: 'claiming', connectionId: id });
    return this.run(id ? { ...cmd, connectionId: id } : cmd);
  }

  startCall(conversationId: string, video: boolean) {
    return this.startHere({ type: 'start_call', conversationId, video });
  }

  accept(callId: string) {
    return this.startHere({ type: 'accept_call', callId });
  }

  decline(callId: string) {
    return this.run({ type: 'decline_call', callId });
  }

  async joinChannel(channelId: string, video: boolean) {
    const answer = await this.startHere({ type: 'join_channel', channelId });
    if (answer && video) await this.setCamera(true);
    return answer;
  }

  async leave() {
    this.ticket = null;
    if (this.roomEpoch !== null) {
      this.roomEpoch = null;
      void this.deps.session.disconnect();
    }
    return this.run({ type: 'leave' });
  }

  /** Where the picture-in-picture window is, kept in the session (`set_pip`). */
  setPip(pip: { enabled: boolean; x: number; y: number; width: number; height: number; minimized: boolean }) {
    return this.run({ type: 'set_pip', ...pip });
  }

  /** Moves the media connection to this window. */
  claim() {
    const id = this.connectionId;
    if (id) this.deps.siblings?.post({ type: 'claiming', connectionId: id });
    return id ? this.run({ type: 'claim_owner', connectionId: id }) : Promise.resolve(null);
  }

  // Controls: the owner applies them at once (within the click, which screen capture needs);
  // everyone sends the command, and the owner follows the snapshot afterwards.
  private async control<T>(f: () => Promise<T>): Promise<T> {
    this.pending++;
    try {
      return await f();
    } finally {
      this.pending--;
      // the snapshots that came meanwhile were not applied: apply the newest now
      const m = this.media;
      if (this.pending === 0 && m && this.roomEpoch !== null && isActive(m) && this.isOwner()) {
        void this.applyControls(m);
      }
    }
  }

  setMute(muted: boolean) {
    return this.control(async () => {
      if (this.roomEpoch !== null) await this.deps.session.setMuted(muted);
      return this.run({ type: 'set_mute', muted });
    });
  }

  setDeafen(deafened: boolean) {
    return this.control(async () => {
      if (this.roomEpoch !== null) {
        await this.deps.session.setDeafened(deafened);
        if (!deafened) await this.deps.session.setMuted(false);
      }
      // the server mutes a deafened user (and, in a channel, updates the voice state)
      const answer = await this.run({ type: 'set_deafen', deafened });
      // undeafening unmutes, as it muted
      return deafened || !answer ? answer : this.run({ type: 'set_mute', muted: false });
    });
  }

  setCamera(enabled: boolean) {
    return this.control(async () => {
      if (this.roomEpoch !== null) await this.deps.session.setCamera(enabled);
      return this.run({ type: 'set_camera', enabled });
    });
  }

  setScreenShare(enabled: boolean) {
    return this.control(async () => {
      if (this.roomEpoch !== null) {
        await this.deps.session.setScreenShare(enabled);
        if (enabled && !this.deps.session.snapshot().screenShare) return null;
      }
      return this.run({ type: 'set_screen_share', enabled });
    });
  }
}
