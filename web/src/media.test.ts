// The media controller against the real gateway store, a recording stand-in for the call model
// and a scripted command endpoint: who connects, who gives the room up, what is reported, and
// that the media lands in the window where the person clicked.

import { describe, expect, it, vi } from 'vitest';
import type { Command, CommandAnswer, MediaSession } from './api';
import { MediaController, REPORT_RETRY_MS } from './media';
import type { CallSession, SessionState, Status } from './session';
import { Store } from './store';

const snap = (extra: Partial<MediaSession> = {}): MediaSession => ({
  version: 1,
  epoch: 1,
  type: 'idle',
  context: {},
  controls: { muted: false, deafened: false, camera: false, screenShare: false },
  connection: 'disconnected',
  owner: null,
  participants: [],
  incomingCalls: [],
  pip: { enabled: false, x: 0, y: 0, width: 0, height: 0, minimized: false },
  ...extra,
});

class FakeSession {
  calls: string[] = [];
  state = { status: 'idle' as Status, muted: false, deafened: false, camera: false, screenShare: false };
  private listeners = new Set<() => void>();
  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  snapshot = () => this.state as unknown as SessionState;
  set(patch: Partial<FakeSession['state']>) {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }
  async connect(key: string, opts: { ticket?: { token: string }; muted?: boolean; camera?: boolean }) {
    this.calls.push(`connect:${key}:${opts.ticket?.token}:muted=${!!opts.muted}:camera=${!!opts.camera}`);
    this.set({ status: 'connected', muted: !!opts.muted, camera: !!opts.camera });
  }
  async disconnect() {
    this.calls.push('disconnect');
    this.set({ status: 'idle' });
  }
  async setMuted(m: boolean) {
    this.calls.push(`mute:${m}`);
    this.set({ muted: m });
  }
  async setDeafened(d: boolean) {
    this.calls.push(`deafen:${d}`);
    this.set({ deafened: d, muted: d || this.state.muted });
  }
  async setCamera(c: boolean) {
    this.calls.push(`camera:${c}`);
    this.set({ camera: c });
  }
  async setScreenShare(on: boolean) {
    this.calls.push(`screen:${on}`);
    this.set({ screenShare: on });
  }
}

type Sent = Command & { id: string; epoch?: number };

function setup(answer: (cmd: Sent) => MediaSession = () => snap()) {
  const store = new Store();
  const session = new FakeSession();
  const sent: Sent[] = [];
  let n = 0;
  const media = new MediaController({
    store,
    session: session as unknown as CallSession,
    newId: () => `cmd${++n}`,
    command: async (cmd) => {
      sent.push(cmd);
      return { result: {}, session: answer(cmd) } as CommandAnswer;
    },
  });
  store.ready({ sessionId: 'me', user: { id: 'u1' }, mediaSession: snap() });
  return { store, session, sent, media };
}

const mine = { connectionId: 'me', kind: 'main' };
const theirs = { connectionId: 'other', kind: 'main' };
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('MediaController', () => {
  it('connects the room on MEDIA_SESSION_CONNECT with the session controls, and reports connected', async () => {
    const { store, session, sent } = setup();
    store.mediaSession(snap({ version: 2, epoch: 3, type: 'dm-video', owner: mine, controls: { muted: true, deafened: false, camera: true, screenShare: false } }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 3 });
    await tick();
    expect(session.calls).toEqual(['connect:dm_1:T:muted=true:camera=true']);
    expect(sent.map((c) => [c.type, 'state' in c ? c.state : '', c.epoch])).toEqual([['report_connection', 'connected', 3]]);
    expect(sent[0]).toMatchObject({ connectionId: 'me', id: 'cmd1' });
  });

  it('a connection report the server did not get is sent again', async () => {
    vi.useFakeTimers();
    try {
      let failures = 1;
      const { store, sent } = setup((cmd) => {
        if (cmd.type === 'report_connection' && failures-- > 0) throw new Error('network');
        return snap();
      });
      store.mediaSession(snap({ version: 2, epoch: 3, type: 'dm-video', owner: mine }));
      store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 3 });
      await vi.advanceTimersByTimeAsync(0);
      expect(sent.filter((c) => c.type === 'report_connection')).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(REPORT_RETRY_MS);
      const reports = sent.filter((c) => c.type === 'report_connection');
      expect(reports.map((c) => ['state' in c ? c.state : '', c.epoch])).toEqual([['connected', 3], ['connected', 3]]);
      // delivered now: no further copies
      await vi.advanceTimersByTimeAsync(REPORT_RETRY_MS * 3);
      expect(sent.filter((c) => c.type === 'report_connection')).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a connect that arrives before the snapshot naming this window the owner is kept', async () => {
    const { store, session } = setup();
    store.mediaSession(snap({ version: 2, epoch: 2, type: 'dm-voice', owner: theirs }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 3 });
    store.event('PING', {});
    await tick();
    expect(session.calls).toEqual(['connect:dm_1:T:muted=false:camera=false']);
    store.mediaSession(snap({ version: 3, epoch: 3, type: 'dm-voice', owner: mine }));
    await tick();
    expect(session.calls).not.toContain('disconnect');
  });

  it('gives the room up when another window claims the session, or when it ends', async () => {
    for (const next of [
      snap({ version: 3, epoch: 4, type: 'dm-voice', owner: theirs }),
      snap({ version: 3, epoch: 4, type: 'idle', owner: null }),
    ]) {
      const { store, session } = setup();
      store.mediaSession(snap({ version: 2, epoch: 3, type: 'dm-voice', owner: mine }));
      store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 3 });
      await tick();
      store.mediaSession(next);
      await tick();
      expect(session.calls).toEqual(['connect:dm_1:T:muted=false:camera=false', 'disconnect']);
    }
  });

  it('leaves a live room to the live page, and gives its call room up when the session moves to a live', async () => {
    const { store, session } = setup();
    store.mediaSession(snap({ version: 2, epoch: 3, type: 'server-voice', owner: mine }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'vc_1', epoch: 3 });
    await tick();
    // joined a live in this window: still the owner, but the live page holds that room
    store.mediaSession(snap({ version: 3, epoch: 5, type: 'live-stream', owner: mine }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'L', room: 'live_1', epoch: 5 });
    await tick();
    expect(session.calls).toEqual(['connect:vc_1:T:muted=false:camera=false', 'disconnect']);
  });

  it('the owner applies controls a follower changed', async () => {
    const { store, session } = setup();
    store.mediaSession(snap({ version: 2, epoch: 3, type: 'server-voice', owner: mine }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'vc_1', epoch: 3 });
    await tick();
    store.mediaSession(
      snap({ version: 3, epoch: 3, type: 'server-voice', owner: mine, controls: { muted: true, deafened: false, camera: true, screenShare: false } }),
    );
    await tick();
    expect(session.calls.slice(1)).toEqual(['mute:true', 'camera:true']);
  });

  it('a follower sends commands and touches no room', async () => {
    const { store, session, sent, media } = setup((cmd) =>
      snap({ version: 5, epoch: 3, type: 'dm-voice', owner: theirs, controls: { muted: cmd.type === 'set_mute', deafened: false, camera: false, screenShare: false } }),
    );
    store.mediaSession(snap({ version: 2, epoch: 3, type: 'dm-voice', owner: theirs }));
    await media.setMute(true);
    expect(session.calls).toEqual([]);
    expect(sent.map((c) => c.type)).toEqual(['set_mute']);
    expect(media.isOwner()).toBe(false);
  });

  it('starting, accepting and joining name this window as the one that acted, and claim nothing', async () => {
    const { sent, media } = setup(() => snap({ version: 2, epoch: 2, type: 'dm-voice', owner: mine }));
    await media.startCall('conv1', false);
    await media.accept('call1');
    await media.joinChannel('ch1', false);
    expect(sent.map((c) => [c.type, 'connectionId' in c ? c.connectionId : ''])).toEqual([
      ['start_call', 'me'],
      ['accept_call', 'me'],
      ['join_channel', 'me'],
    ]);
  });

  it('no claim when the server already chose this window; a refusal is kept as the error', async () => {
    const { sent, media } = setup((cmd) => {
      if (cmd.type === 'decline_call') throw new Error('call is not ringing');
      return snap({ version: 2, epoch: 2, type: 'dm-voice', owner: mine });
    });
    await media.accept('call1');
    expect(sent.map((c) => c.type)).toEqual(['accept_call']);
    await media.decline('call2');
    expect(media.error()).toBe('call is not ringing');
  });

  it("the owner's own mute is not undone by a snapshot sent before its command", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const store = new Store();
    const session = new FakeSession();
    const media = new MediaController({
      store,
      session: session as unknown as CallSession,
      command: async () => {
        await gate;
        return { result: {}, session: snap({ version: 9, epoch: 3, type: 'dm-voice', owner: mine, controls: { muted: true, deafened: false, camera: false, screenShare: false } }) };
      },
    });
    store.ready({ sessionId: 'me', mediaSession: snap({ version: 2, epoch: 3, type: 'dm-voice', owner: mine }) });
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 3 });
    await tick();
    const pending = media.setMute(true);
    await tick();
    // an unrelated snapshot (e.g. someone speaking) still says unmuted
    store.mediaSession(snap({ version: 3, epoch: 3, type: 'dm-voice', owner: mine }));
    await tick();
    release();
    await pending;
    expect(session.calls.filter((c) => c.startsWith('mute'))).toEqual(['mute:true']);
    expect(session.state.muted).toBe(true);
  });

  function withSiblings() {
    const store = new Store();
    const session = new FakeSession();
    const timers: { f: () => void; at: number }[] = [];
    let now = 0;
    let deliver: (msg: { type: 'claiming'; connectionId: string }) => void = () => {};
    const posted: string[] = [];
    new MediaController({
      store,
      session: session as unknown as CallSession,
      command: async () => ({ result: {}, session: snap() }),
      now: () => now,
      setTimer: (f, ms) => timers.push({ f, at: now + ms }),
      siblings: { post: (m) => posted.push(m.connectionId), onMessage: (f) => (deliver = f) },
    });
    store.ready({ sessionId: 'me', mediaSession: snap() });
    const advance = (ms: number) => {
      now += ms;
      for (const t of timers.splice(0).filter((t) => t.at <= now)) t.f();
    };
    return { store, session, deliver: (m: { type: 'claiming'; connectionId: string }) => deliver(m), advance, posted };
  }

  it('holds a ticket while a sibling window claims the session, and drops it when the claim lands', async () => {
    const { store, session, deliver, advance } = withSiblings();
    deliver({ type: 'claiming', connectionId: 'sibling' });
    store.mediaSession(snap({ version: 2, epoch: 2, type: 'dm-voice', owner: mine }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 2 });
    await tick();
    expect(session.calls).toEqual([]);
    store.mediaSession(snap({ version: 3, epoch: 3, type: 'dm-voice', owner: { connectionId: 'sibling', kind: 'main' } }));
    advance(3000);
    await tick();
    expect(session.calls).toEqual([]);
  });

  it('joins with a held ticket when the sibling never took the session', async () => {
    const { store, session, deliver, advance } = withSiblings();
    deliver({ type: 'claiming', connectionId: 'sibling' });
    store.mediaSession(snap({ version: 2, epoch: 2, type: 'dm-voice', owner: mine }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 2 });
    advance(3000);
    await tick();
    expect(session.calls).toEqual(['connect:dm_1:T:muted=false:camera=false']);
  });

  it('the owner joins again when its room is dropped while the session is still its own', async () => {
    const { store, session, advance } = withSiblings();
    store.mediaSession(snap({ version: 2, epoch: 2, type: 'dm-voice', owner: mine }));
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 2 });
    await tick();
    session.set({ status: 'disconnected' });
    advance(500);
    await tick();
    expect(session.calls).toEqual(['connect:dm_1:T:muted=false:camera=false', 'connect:dm_1:T:muted=false:camera=false']);
    // no rejoin once another window owns it
    store.mediaSession(snap({ version: 3, epoch: 3, type: 'dm-voice', owner: theirs }));
    session.set({ status: 'disconnected' });
    advance(5000);
    await tick();
    expect(session.calls.filter((c) => c.startsWith('connect'))).toHaveLength(2);
  });

  it('deafen is one command (the server mutes too); undeafening unmutes', async () => {
    const { sent, media } = setup(() => snap({ version: 2, epoch: 2, type: 'server-voice', owner: theirs }));
    await media.setDeafen(true);
    expect(sent.map((c) => c.type)).toEqual(['set_deafen']);
    await media.setDeafen(false);
    expect(sent.map((c) => [c.type, 'muted' in c ? c.muted : 'deafened' in c ? c.deafened : null])).toEqual([
      ['set_deafen', true],
      ['set_deafen', false],
      ['set_mute', false],
    ]);
  });

  it('controls that changed while the room was connecting are applied once it is connected', async () => {
    const store = new Store();
    const session = new FakeSession();
    session.connect = async (key: string) => {
      session.calls.push(`connect:${key}`);
      session.set({ status: 'connecting' });
    };
    new MediaController({ store, session: session as unknown as CallSession, command: async () => ({ result: {}, session: snap() }) });
    store.ready({ sessionId: 'me', mediaSession: snap({ version: 1, epoch: 2, type: 'dm-video', owner: mine }) });
    store.event('MEDIA_SESSION_CONNECT', { url: 'ws://sfu', token: 'T', room: 'dm_1', epoch: 2 });
    store.mediaSession(
      snap({ version: 2, epoch: 2, type: 'dm-video', owner: mine, controls: { muted: false, deafened: false, camera: true, screenShare: false } }),
    );
    await tick();
    expect(session.calls).toEqual(['connect:dm_1']);
    session.set({ status: 'connected' });
    await tick();
    expect(session.calls).toEqual(['connect:dm_1', 'camera:true']);
  });
});
