// The live-session model: one object, outside React, for the live page in view. It reads the
// session, its stage and chat over the API, follows the live gateway events (through the
// store's event feed) and owns the LiveKit room of the session through its own `CallSession`
// (connected and disconnected explicitly: joined with the role's ticket, the microphone and
// camera turned on when the role publishes, also when a stage invitation is accepted, without
// a reconnect; published with the kind's presets from the ticket). Joining makes the live the
// user's media session (it names this window's gateway connection); leaving ends it, and when
// the media session moves elsewhere the live room is left. Views read `snapshot()` through `subscribe` and call the methods; a refusal is
// kept as `{code, message}` so the page can say precisely what happened and offer the way on
// (buy, subscribe, top up).

import { ApiError } from '../api';
import type { CallSession } from '../session';
import type { Store } from '../store';
import type { RoomOptions } from 'livekit-client';
import type { LiveApi, LiveRole, LiveSession, Profile, PublishDefaults, Stage } from './api';
import { roomOptionsOf } from './presets';
import { mergeMessages, publishes, reduceLive, roleOf } from './rules';
import type { LiveView, Refusal } from './rules';

export interface LiveSnapshot extends LiveView {
  /** The session the page shows (its id), or null. */
  id: string | null;
  me: Profile | null;
  /** The role of this window's connection (null: not joined). */
  role: LiveRole | null;
  joining: boolean;
  /** The last refusal or failure, for the page to explain. */
  error: Refusal | null;
  balance: number | null;
  /** Display names of the users the page shows. */
  names: Record<string, string>;
  /** What the caller needs before joining, from the last refusal (cleared once joined). */
  need: 'purchase' | 'subscription' | null;
}

const EMPTY: LiveSnapshot = {
  id: null,
  session: null,
  stage: null,
  messages: [],
  me: null,
  role: null,
  joining: false,
  error: null,
  balance: null,
  names: {},
  need: null,
};

export interface LiveDeps {
  api: LiveApi;
  store: Store;
  media: CallSession;
  newKey?: () => string;
  /** Waits between attempts to publish right after a role change (tests: no wait). */
  wait?: (ms: number) => Promise<void>;
}

function refusal(e: unknown): Refusal {
  if (e instanceof ApiError) return { code: e.code, message: e.message };
  return { code: 'error', message: e instanceof Error ? e.message : String(e) };
}

export class LiveModel {
  private state: LiveSnapshot = EMPTY;
  private listeners = new Set<() => void>();
  /** The purchase's Idempotency-Key, kept for a retry of the same purchase. */
  private purchaseKey: string | null = null;
  private loadingNames = new Set<string>();
  /** The publish defaults of the last ticket (the live room's options). */
  private publishDefaults: PublishDefaults | null = null;
  /** Whether the user's media session was seen on this live since the join. */
  private sawMediaSession = false;
  /** The newest media-session version seen. */
  private mediaVersion = 0;

  constructor(private readonly deps: LiveDeps) {
    deps.store.listenEvents((t, d) => this.onEvent(t, d));
  }

  get media(): CallSession {
    return this.deps.media;
  }

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  snapshot = (): LiveSnapshot => this.state;

  private set(patch: Partial<LiveSnapshot>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private fail(e: unknown): void {
    const error = refusal(e);
    const need =
      error.code === 'payment_required' || error.code === 'insufficient_funds'
        ? 'purchase'
        : error.code === 'subscription_required'
          ? 'subscription'
          : this.state.need;
    this.set({ error, need, joining: false });
  }

  private onEvent(t: string, d: Record<string, unknown>): void {
    if (!this.state.id) return;
    if (t === 'MEDIA_SESSION_UPDATE') {
      this.followMediaSession(d);
      return;
    }
    const before = this.state;
    const next = reduceLive(before, t, d);
    if (next === before) return;
    this.set({ session: next.session, stage: next.stage, messages: next.messages });
    const s = next.session;
    if (t === 'LIVE_UPDATE' && s) {
      if (s.state === 'ended' || s.state === 'failed') void this.deps.media.disconnect().then(() => this.set({ role: null }));
      // the audience changed: read it again (the broadcast does not carry it)
      if (before.session && s.viewerCount !== before.session.viewerCount) void this.refreshStage();
    }
    if (t === 'STAGE_UPDATE') void this.followStage();
    if (t === 'LIVE_MESSAGE_CREATE') this.learnNames([String(d.authorId)]);
  }

  /** Learns display names of `ids` (once each). */
  learnNames(ids: string[]): void {
    for (const id of ids) {
      if (!id || this.state.names[id] || this.loadingNames.has(id)) continue;
      this.loadingNames.add(id);
      this.deps.api.user(id).then(
        (u) => this.set({ names: { ...this.state.names, [id]: u.displayName } }),
        () => this.loadingNames.delete(id),
      );
    }
  }

  nameOf(id: string): string {
    return this.state.names[id] ?? 'someone';
  }

  /** Opens session `id`: the session, and (when allowed) its chat and stage. */
  async open(id: string): Promise<void> {
    if (this.state.id !== id) {
      await this.leave();
      this.purchaseKey = null;
      this.set({ ...EMPTY, id, names: this.state.names, me: this.state.me });
    }
    try {
      const [me, session] = await Promise.all([this.state.me ?? this.deps.api.me(), this.deps.api.get(id)]);
      if (this.state.id !== id) return;
      this.set({ me, session, error: null, names: { ...this.state.names, [me.id]: me.displayName } });
      this.learnNames([session.hostId]);
      await this.loadRoomData();
    } catch (e) {
      if (this.state.id === id) this.fail(e);
    }
  }

  /** Chat and stage (refused while the caller may not watch: then nothing is shown). */
  private async loadRoomData(): Promise<void> {
    const id = this.state.id;
    if (!id) return;
    try {
      const [messages, stage] = await Promise.all([this.deps.api.messages(id), this.deps.api.stage(id)]);
      if (this.state.id !== id) return;
      this.set({ messages: mergeMessages(this.state.messages, messages), stage });
      this.learnNames([...messages.map((m) => m.authorId), ...stageUsers(stage)]);
    } catch {
      // not entitled yet: the join says why
    }
  }

  private async refreshStage(): Promise<void> {
    const id = this.state.id;
    if (!id) return;
    try {
      const stage = await this.deps.api.stage(id);
      if (this.state.id === id) {
        this.set({ stage });
        this.learnNames(stageUsers(stage));
      }
    } catch {
      // keep what we have
    }
  }

  /** Joins the session's room in the caller's role. */
  async join(): Promise<void> {
    const id = this.state.id;
    if (!id || this.state.joining) return;
    this.set({ joining: true, error: null });
    try {
      // this window holds the live's media session (the server moves the user's media here)
      const ticket = await this.deps.api.join(id, this.deps.store.snapshot().connectionId);
      this.publishDefaults = ticket.publishDefaults ?? null;
      this.sawMediaSession = false;
      const s = this.state.session;
      const video = s?.kind === 'video_live';
      const camera = video && (ticket.role === 'host' || ticket.role === 'co_host');
      this.set({ role: ticket.role });
      const m = this.deps.store.snapshot().mediaSession;
      this.sawMediaSession = m?.type === 'live-stream' && (m.context as { liveId?: string }).liveId === id;
      this.mediaVersion = m?.version ?? 0;
      await this.deps.media.connect(ticket.room, {
        ticket,
        camera,
        muted: !publishes(ticket.role),
      });
      this.set({ joining: false, need: null });
      await this.loadRoomData();
    } catch (e) {
      this.set({ role: null });
      this.fail(e);
    }
  }

  async leave(): Promise<void> {
    if (this.state.role !== null || this.deps.media.snapshot().status !== 'idle') {
      const id = this.state.id;
      const joined = this.state.role !== null;
      await this.deps.media.disconnect();
      this.set({ role: null });
      // the user's media session ends with the live (best effort: it also ends by itself)
      if (id && joined) await this.deps.api.leave(id).catch(() => undefined);
    }
  }

  /**
   * The live room's options: its kind's publish defaults from the last ticket (see
   * `presets.ts`); `VideoPreset` is livekit-client's class.
   */
  roomOptions(VideoPresetOf: Parameters<typeof roomOptionsOf>[1]): RoomOptions {
    return this.publishDefaults ? roomOptionsOf(this.publishDefaults, VideoPresetOf) : {};
  }

  /**
   * The user's media session moved away from this live (another window joined a voice channel
   * or a call, a kick, the live ended): this window leaves the live room. Only after the session
   * was seen on this live, so an update from before the join changes nothing.
   */
  private followMediaSession(d: Record<string, unknown>): void {
    const id = this.state.id;
    if (!id || this.state.role === null) return;
    const version = typeof d.version === 'number' ? d.version : 0;
    // snapshots can cross on the wire: only the newest counts
    if (version < this.mediaVersion) return;
    this.mediaVersion = version;
    const context = (d.context ?? {}) as { liveId?: string };
    const here = d.type === 'live-stream' && context.liveId === id;
    if (here) {
      this.sawMediaSession = true;
      return;
    }
    if (!this.sawMediaSession) return;
    this.sawMediaSession = false;
    void this.deps.media.disconnect().then(() => this.set({ role: null }));
  }

  /** Closes the page's session (leaves its room). */
  async close(): Promise<void> {
    await this.leave();
    this.set({ ...EMPTY, names: this.state.names, me: this.state.me });
  }

  async refreshWallet(): Promise<void> {
    try {
      this.set({ balance: (await this.deps.api.wallet()).balance });
    } catch (e) {
      this.fail(e);
    }
  }

  /** Adds coins (development servers only: others refuse with `forbidden`). */
  async topUp(amount: number): Promise<void> {
    try {
      this.set({ balance: (await this.deps.api.topUp(amount)).balance, error: null });
    } catch (e) {
      this.fail(e);
    }
  }

  /** Buys the pay-per-view session (the same key on a retry), then joins. */
  async purchase(): Promise<void> {
    const id = this.state.id;
    if (!id) return;
    this.purchaseKey ??= this.deps.newKey ? this.deps.newKey() : crypto.randomUUID();
    try {
      const bought = await this.deps.api.purchase(id, this.purchaseKey);
      this.set({ balance: bought.balance, error: null });
    } catch (e) {
      const r = refusal(e);
      if (r.code !== 'already_purchased') {
        if (r.code === 'insufficient_funds') {
          // a new attempt after a top-up is a new purchase
          this.purchaseKey = null;
          await this.refreshWallet();
        }
        this.fail(e);
        return;
      }
    }
    await this.join();
  }

  /** Subscribes to the host, then joins. */
  async subscribeToHost(): Promise<void> {
    const s = this.state.session;
    if (!s) return;
    try {
      const done = await this.deps.api.subscribe(s.hostId);
      this.set({ balance: done.balance, error: null });
    } catch (e) {
      if (refusal(e).code === 'insufficient_funds') await this.refreshWallet();
      this.fail(e);
      return;
    }
    await this.join();
  }

  /** The host starts the session. */
  async start(): Promise<void> {
    await this.act(async (id) => this.set({ session: await this.deps.api.start(id) }));
  }

  /** The host ends the session (everyone is disconnected). */
  async end(): Promise<void> {
    await this.act(async (id) => {
      this.set({ session: await this.deps.api.end(id) });
      await this.leave();
    });
  }

  private async act(f: (id: string) => Promise<void>): Promise<void> {
    const id = this.state.id;
    if (!id) return;
    try {
      await f(id);
      this.set({ error: null });
    } catch (e) {
      this.fail(e);
    }
  }

  private stageAct(f: (id: string) => Promise<Stage>): Promise<void> {
    return this.act(async (id) => {
      const stage = await f(id);
      this.set({ stage: { ...stage, audience: stage.audience ?? this.state.stage?.audience } });
      await this.followStage();
    });
  }

  raiseHand = () => this.stageAct((id) => this.deps.api.raiseHand(id));
  lowerHand = () => this.stageAct((id) => this.deps.api.lowerHand(id));
  invite = (userId: string) => this.stageAct((id) => this.deps.api.invite(id, userId));
  accept = () => this.stageAct((id) => this.deps.api.accept(id));
  toAudience = (userId: string) => this.stageAct((id) => this.deps.api.toAudience(id, userId));

  kick = (userId: string) => this.act((id) => this.deps.api.kick(id, userId).then(() => this.refreshStage()));
  ban = (userId: string) => this.act((id) => this.deps.api.ban(id, userId).then(() => this.refreshStage()));
  mute = (userId: string) => this.act((id) => this.deps.api.mute(id, userId).then(() => undefined));
  deleteMessage = (messageId: string) =>
    this.act(async (id) => {
      await this.deps.api.deleteMessage(id, messageId);
      this.set({ messages: this.state.messages.filter((m) => m.id !== messageId) });
    });

  async send(content: string): Promise<boolean> {
    const id = this.state.id;
    if (!id) return false;
    try {
      const m = await this.deps.api.send(id, content);
      this.set({ messages: mergeMessages(this.state.messages, [m]), error: null });
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /**
   * Makes this window's media follow the caller's stage role: going on stage turns the
   * microphone (and in a live video the camera) on, on the same connection; going back to the
   * audience turns them off. The SFU applies the permission as the server grants it, which may
   * reach the SDK just after the answer: publishing is tried a few times.
   */
  private async followStage(): Promise<void> {
    const { me, session, stage, role } = this.state;
    if (!me || !session || !stage || role === null || role === 'host') return;
    const next = roleOf(stage, session.kind, me.id);
    if (next === role) return;
    this.set({ role: next });
    const media = this.deps.media;
    if (publishes(next)) {
      await this.retry(async () => {
        if (media.snapshot().muted) await media.setMuted(false);
        if (next === 'co_host' && session.kind === 'video_live' && !media.snapshot().camera) await media.setCamera(true);
      });
    } else {
      if (media.snapshot().camera) await media.setCamera(false).catch(() => undefined);
      if (!media.snapshot().muted) await media.setMuted(true).catch(() => undefined);
    }
  }

  private async retry(f: () => Promise<void>): Promise<void> {
    const wait = this.deps.wait ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let last: unknown = null;
    for (let i = 0; i < 8; i++) {
      try {
        await f();
        return;
      } catch (e) {
        last = e;
        await wait(250);
      }
    }
    this.fail(last);
  }
}

function stageUsers(stage: Stage): string[] {
  return [
    ...stage.roles.map((r) => r.userId),
    ...stage.hands.map((h) => h.userId),
    ...stage.invites.map((i) => i.userId),
    ...(stage.audience ?? []),
  ];
}

export type { LiveSession };
