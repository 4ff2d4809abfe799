// The session model against a scripted stand-in for the LiveKit Room (the real one needs a
// browser and an SFU: the browser e2e covers that). Checks the state the views render.

import { describe, expect, it } from 'vitest';
import { ConnectionQuality, RoomEvent, Track } from 'livekit-client';
import type { RemoteTrack, Room } from 'livekit-client';
import { CallSession } from './session';
import type { AudioSink } from './session';

type Handler = (...args: unknown[]) => void;

class FakeParticipant {
  isSpeaking = false;
  connectionQuality = ConnectionQuality.Unknown;
  pubs = new Map<string, { isMuted: boolean; track: unknown; trackSid: string }>();
  constructor(
    public identity: string,
    public name: string,
    public metadata = '',
  ) {}
  getTrackPublication(source: Track.Source) {
    return this.pubs.get(source);
  }
}

class FakeLocal extends FakeParticipant {
  calls: string[] = [];
  async setMicrophoneEnabled(on: boolean) {
    this.calls.push(`mic:${on}`);
    this.pubs.set(Track.Source.Microphone, { isMuted: !on, track: {}, trackSid: 'TR_mic' });
  }
  async setCameraEnabled(on: boolean) {
    this.calls.push(`camera:${on}`);
    if (on) this.pubs.set(Track.Source.Camera, { isMuted: false, track: { kind: 'video' }, trackSid: 'TR_cam' });
    else this.pubs.delete(Track.Source.Camera);
  }
  async setScreenShareEnabled(on: boolean) {
    this.calls.push(`screen:${on}`);
    if (on) this.pubs.set(Track.Source.ScreenShare, { isMuted: false, track: { kind: 'video' }, trackSid: 'TR_scr' });
    else this.pubs.delete(Track.Source.ScreenShare);
  }
}

class FakeRoom {
  handlers = new Map<string, Handler[]>();
  localParticipant = new FakeLocal('me', 'Alice');
  remoteParticipants = new Map<string, FakeParticipant>();
  connectedTo: [string, string] | null = null;
  disconnects = 0;
  connectGate: Promise<void> = Promise.resolve();
  on(ev: string, h: Handler) {
    this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), h]);
    return this;
  }
  emit(ev: string, ...args: unknown[]) {
    for (const h of this.handlers.get(ev) ?? []) h(...args);
  }
  async connect(url: string, token: string) {
    await this.connectGate;
    this.connectedTo = [url, token];
  }
  async disconnect() {
    this.disconnects++;
  }
  active: Record<string, string> = { audioinput: 'mic1', videoinput: 'cam1', audiooutput: 'spk1' };
  getActiveDevice(kind: string) {
    return this.active[kind];
  }
  async switchActiveDevice(kind: string, id: string) {
    this.active[kind] = id;
    return true;
  }
  join(p: FakeParticipant) {
    this.remoteParticipants.set(p.identity, p);
    this.emit(RoomEvent.ParticipantConnected, p);
  }
}

function setup(opts: { ticketFails?: boolean; connectGate?: Promise<void>; micFails?: boolean } = {}) {
  const rooms: FakeRoom[] = [];
  const tickets: string[] = [];
  const sinks: { muted: boolean; stopped: boolean }[] = [];
  const session = new CallSession({
    ticket: async (channelId) => {
      tickets.push(channelId);
      if (opts.ticketFails) throw new Error('channel_full');
      return { url: 'ws://sfu', token: `tok-${channelId}`, room: `vc_${channelId}` };
    },
    newRoom: () => {
      const r = new FakeRoom();
      if (opts.connectGate) r.connectGate = opts.connectGate;
      if (opts.micFails) {
        r.localParticipant.setMicrophoneEnabled = async () => {
          throw new Error('NotAllowedError: permission denied');
        };
      }
      rooms.push(r);
      return r as unknown as Room;
    },
    listDevices: async (kind) => [
      { deviceId: `${kind === 'audioinput' ? 'mic' : kind === 'videoinput' ? 'cam' : 'spk'}1`, label: 'First' },
      { deviceId: `${kind === 'audioinput' ? 'mic' : kind === 'videoinput' ? 'cam' : 'spk'}2`, label: '' },
    ],
    playAudio: (): AudioSink => {
      const s = { muted: false, stopped: false };
      sinks.push(s);
      return { setMuted: (m) => (s.muted = m), stop: () => (s.stopped = true) };
    },
  });
  const seen: string[] = [];
  session.subscribe(() => {
    const st = session.snapshot().status;
    if (seen[seen.length - 1] !== st) seen.push(st);
  });
  return { session, rooms, tickets, sinks, seen };
}

describe('CallSession', () => {
  it('connects with the ticket of the channel and shows the local tile', async () => {
    const { session, rooms, tickets, seen } = setup();
    await session.connect('42');
    expect(tickets).toEqual(['42']);
    expect(rooms[0].connectedTo).toEqual(['ws://sfu', 'tok-42']);
    expect(rooms[0].localParticipant.calls).toEqual(['mic:true']);
    expect(seen).toEqual(['connecting', 'connected']);
    const st = session.snapshot();
    expect(st.channelId).toBe('42');
    expect(st.tiles.map((t) => [t.name, t.isLocal, t.micMuted])).toEqual([['Alice', true, false]]);
  });

  it('adds and removes remote tiles, named from the token name or the metadata', async () => {
    const { session, rooms } = setup();
    await session.connect('1');
    const room = rooms[0];
    room.join(new FakeParticipant('u2', 'Bob'));
    room.join(
      new FakeParticipant('u3', '', JSON.stringify({ displayName: 'Carol', avatarGradient: ['#111111', '#222222'] })),
    );
    let tiles = session.snapshot().tiles;
    expect(tiles.map((t) => t.name)).toEqual(['Alice', 'Bob', 'Carol']);
    expect(tiles[2].gradient).toEqual(['#111111', '#222222']);
    room.remoteParticipants.delete('u2');
    room.emit(RoomEvent.ParticipantDisconnected);
    tiles = session.snapshot().tiles;
    expect(tiles.map((t) => t.name)).toEqual(['Alice', 'Carol']);
  });

  it('deafen silences every remote audio track, later ones too, and mutes the microphone', async () => {
    const { session, rooms, sinks } = setup();
    await session.connect('1');
    const room = rooms[0];
    const bob = new FakeParticipant('u2', 'Bob');
    room.join(bob);
    room.emit(RoomEvent.TrackSubscribed, { kind: Track.Kind.Audio } as RemoteTrack, { trackSid: 'TR_a' }, bob);
    await session.setDeafened(true);
    expect(sinks[0].muted).toBe(true);
    expect(session.snapshot()).toMatchObject({ deafened: true, muted: true });
    room.emit(RoomEvent.TrackSubscribed, { kind: Track.Kind.Audio } as RemoteTrack, { trackSid: 'TR_b' }, bob);
    expect(sinks[1].muted).toBe(true);
    await session.setDeafened(false);
    expect(sinks.map((s) => s.muted)).toEqual([false, false]);
    room.emit(RoomEvent.TrackUnsubscribed, {}, { trackSid: 'TR_a' }, bob);
    expect(sinks[0].stopped).toBe(true);
  });

  it('camera and mute go to the local participant', async () => {
    const { session, rooms } = setup();
    await session.connect('1', { camera: true });
    expect(session.snapshot().camera).toBe(true);
    expect(session.snapshot().tiles[0].video).not.toBeNull();
    await session.setCamera(false);
    await session.setMuted(true);
    expect(rooms[0].localParticipant.calls).toEqual(['mic:true', 'camera:true', 'camera:false', 'mic:false']);
    expect(session.snapshot()).toMatchObject({ camera: false, muted: true });
    expect(session.snapshot().tiles[0]).toMatchObject({ video: null, micMuted: true });
  });

  it('leave disconnects the room and stops its audio', async () => {
    const { session, rooms, sinks } = setup();
    await session.connect('1');
    const bob = new FakeParticipant('u2', 'Bob');
    rooms[0].join(bob);
    rooms[0].emit(RoomEvent.TrackSubscribed, { kind: Track.Kind.Audio } as RemoteTrack, { trackSid: 'TR_a' }, bob);
    await session.disconnect();
    expect(rooms[0].disconnects).toBe(1);
    expect(sinks[0].stopped).toBe(true);
    expect(session.snapshot()).toMatchObject({ status: 'idle', tiles: [], channelId: null });
  });

  it('a leave while connecting wins over the connect that finishes later', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { session, rooms } = setup({ connectGate: gate });
    const pending = session.connect('2');
    while (rooms.length === 0) await new Promise((r) => setTimeout(r, 1));
    expect(session.snapshot().status).toBe('connecting');
    await session.disconnect();
    release();
    await pending;
    expect(session.snapshot().status).toBe('idle');
    expect(rooms[0].disconnects).toBe(1);
    expect(rooms[0].localParticipant.calls).toEqual([]);
  });

  it('switching channels leaves the first room', async () => {
    const { session, rooms } = setup();
    await session.connect('1');
    await session.connect('2');
    expect(rooms[0].disconnects).toBe(1);
    expect(session.snapshot()).toMatchObject({ status: 'connected', channelId: '2' });
  });

  it('a refused ticket ends disconnected with the reason', async () => {
    const { session, rooms, seen } = setup({ ticketFails: true });
    await session.connect('9');
    expect(rooms).toEqual([]);
    expect(seen).toEqual(['connecting', 'disconnected']);
    expect(session.snapshot().error).toBe('channel_full');
  });

  it('a microphone that cannot start leaves the user in the call, muted, with the reason', async () => {
    const { session, rooms } = setup({ micFails: true });
    await session.connect('1');
    expect(rooms[0].disconnects).toBe(0);
    expect(session.snapshot()).toMatchObject({ status: 'connected', muted: true });
    expect(session.snapshot().error).toMatch(/^microphone unavailable: NotAllowedError/);
  });

  it('a server-side disconnect clears the tiles', async () => {
    const { session, rooms } = setup();
    await session.connect('1');
    rooms[0].emit(RoomEvent.Disconnected);
    expect(session.snapshot()).toMatchObject({ status: 'disconnected', tiles: [] });
  });

  it('connects with a given ticket (the media session), muted when the session is', async () => {
    const { session, rooms, tickets } = setup();
    await session.connect('dm_1', { ticket: { url: 'ws://other', token: 'tok-dm' }, muted: true, deafened: true });
    expect(tickets).toEqual([]);
    expect(rooms[0].connectedTo).toEqual(['ws://other', 'tok-dm']);
    expect(rooms[0].localParticipant.calls).toEqual([]);
    expect(session.snapshot()).toMatchObject({ status: 'connected', muted: true, deafened: true, channelId: 'dm_1' });
  });

  it('screen shares are kept apart from the camera tiles', async () => {
    const { session, rooms } = setup();
    await session.connect('1');
    const bob = new FakeParticipant('u2', 'Bob');
    bob.pubs.set(Track.Source.ScreenShare, { isMuted: false, track: { kind: 'video' }, trackSid: 'TR_s' });
    rooms[0].join(bob);
    expect(session.snapshot().screens.map((s) => [s.name, s.isLocal])).toEqual([['Bob', false]]);
    await session.setScreenShare(true);
    expect(session.snapshot().screenShare).toBe(true);
    expect(session.snapshot().screens.map((s) => [s.name, s.isLocal])).toEqual([
      ['Alice', true],
      ['Bob', false],
    ]);
    expect(session.snapshot().tiles.map((t) => t.video)).toEqual([null, null]);
  });

  it('a refused screen capture leaves sharing off, with the reason', async () => {
    const { session, rooms } = setup();
    await session.connect('1');
    rooms[0].localParticipant.setScreenShareEnabled = async () => {
      throw new Error('NotAllowedError');
    };
    await session.setScreenShare(true);
    expect(session.snapshot().screenShare).toBe(false);
    expect(session.snapshot().error).toMatch(/^screen share unavailable/);
  });

  it("shows each participant's connection quality", async () => {
    const { session, rooms } = setup();
    await session.connect('1');
    const bob = new FakeParticipant('u2', 'Bob');
    rooms[0].join(bob);
    expect(session.snapshot().tiles[1].quality).toBe('unknown');
    bob.connectionQuality = ConnectionQuality.Poor;
    rooms[0].emit(RoomEvent.ConnectionQualityChanged, ConnectionQuality.Poor, bob);
    expect(session.snapshot().tiles[1].quality).toBe('poor');
  });

  it('reconnecting and reconnected are shown', async () => {
    const { session, rooms, seen } = setup();
    await session.connect('1');
    rooms[0].emit(RoomEvent.Reconnecting);
    expect(session.snapshot().status).toBe('reconnecting');
    rooms[0].emit(RoomEvent.Reconnected);
    expect(seen).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('lists devices with the ones in use, and switches during the call', async () => {
    const { session, rooms } = setup();
    await session.connect('1');
    await session.refreshDevices();
    const st = session.snapshot();
    expect(st.devices.audioinput).toEqual([
      { deviceId: 'mic1', label: 'First' },
      { deviceId: 'mic2', label: 'audioinput 2' },
    ]);
    expect(st.activeDevices).toEqual({ audioinput: 'mic1', videoinput: 'cam1', audiooutput: 'spk1' });
    await session.switchDevice('audiooutput', 'spk2');
    expect(rooms[0].active.audiooutput).toBe('spk2');
    expect(session.snapshot().activeDevices.audiooutput).toBe('spk2');
  });
});
