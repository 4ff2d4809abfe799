// The voice/video session model: one object, outside React, that owns the LiveKit `Room` of
// the call the user is in. `connect` and `disconnect` are explicit (never tied to a render or
// an effect); views read `snapshot()` through `subscribe` (useSyncExternalStore) and call the
// methods. Remote audio is played by <audio> elements the model owns, so deafen is one switch.
// It also keeps what the room view shows beside the tiles: screen shares (apart from the
// cameras), each participant's connection quality, the reconnecting state, and the devices.

import type { ConnectionQuality, Participant, RemoteTrack, Room, VideoTrack } from 'livekit-client';
import { EV, KIND_AUDIO, QUALITY, SOURCE } from './lkconst';
import type { VoiceTicket } from './api';

export type Status = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
export type Quality = 'excellent' | 'good' | 'poor' | 'lost' | 'unknown';
export type DeviceKind = 'audioinput' | 'videoinput' | 'audiooutput';

export interface Device {
  deviceId: string;
  label: string;
}

/** A screen share, shown apart from the camera tiles. */
export interface ScreenTile {
  identity: string;
  name: string;
  isLocal: boolean;
  video: VideoTrack;
}

/** One person in the call, as a tile shows them. */
export interface Tile {
  identity: string;
  name: string;
  isLocal: boolean;
  gradient: [string, string];
  /** The camera track when it is published and not muted. */
  video: VideoTrack | null;
  micMuted: boolean;
  speaking: boolean;
  quality: Quality;
}

export interface SessionState {
  status: Status;
  channelId: string | null;
  tiles: Tile[];
  muted: boolean;
  deafened: boolean;
  camera: boolean;
  screenShare: boolean;
  screens: ScreenTile[];
  devices: Record<DeviceKind, Device[]>;
  activeDevices: Record<DeviceKind, string>;
  error: string | null;
}

/** What the model needs from the outside: a join ticket, a room, an audio sink. */
export interface SessionDeps {
  /** The ticket for a key when `connect` is not given one (a channel's voice join). */
  ticket(channelId: string): Promise<VoiceTicket>;
  /** A new room (livekit-client may still be loading: a promise then). */
  newRoom(): Room | Promise<Room>;
  /** Plays a remote audio track; returns what stops it and a setter for deafen. */
  playAudio(track: RemoteTrack): AudioSink;
  /** Lists media devices (tests); default: livekit-client's `Room.getLocalDevices`. */
  listDevices?(kind: DeviceKind): Promise<{ deviceId: string; label: string }[]>;
}

export interface AudioSink {
  setMuted(muted: boolean): void;
  stop(): void;
}

const IDLE: SessionState = {
  status: 'idle',
  channelId: null,
  tiles: [],
  muted: false,
  deafened: false,
  camera: false,
  screenShare: false,
  screens: [],
  devices: { audioinput: [], videoinput: [], audiooutput: [] },
  activeDevices: { audioinput: '', videoinput: '', audiooutput: '' },
  error: null,
};

function qualityOf(q: ConnectionQuality | undefined): Quality {
  switch (q) {
    case QUALITY.Excellent:
      return 'excellent';
    case QUALITY.Good:
      return 'good';
    case QUALITY.Poor:
      return 'poor';
    case QUALITY.Lost:
      return 'lost';
    default:
      return 'unknown';
  }
}

const DEFAULT_GRADIENT: [string, string] = ['#5865f2', '#eb459e'];

function profile(p: Participant): { name: string; gradient: [string, string] } {
  let name = p.name || p.identity;
  let gradient = DEFAULT_GRADIENT;
  try {
    const meta = p.metadata ? JSON.parse(p.metadata) : null;
    if (meta && typeof meta.displayName === 'string' && !p.name) name = meta.displayName;
    if (meta && Array.isArray(meta.avatarGradient) && meta.avatarGradient.length === 2) {
      gradient = [String(meta.avatarGradient[0]), String(meta.avatarGradient[1])];
    }
  } catch {
    // metadata that is not JSON: keep the defaults
  }
  return { name, gradient };
}

function tileOf(p: Participant, isLocal: boolean): Tile {
  const cam = p.getTrackPublication(SOURCE.Camera);
  const mic = p.getTrackPublication(SOURCE.Microphone);
  const video = cam && !cam.isMuted && cam.track ? (cam.track as VideoTrack) : null;
  return {
    identity: p.identity,
    ...profile(p),
    isLocal,
    video,
    micMuted: !mic || mic.isMuted,
    speaking: p.isSpeaking,
    quality: qualityOf(p.connectionQuality),
  };
}

function screenOf(p: Participant, isLocal: boolean): ScreenTile | null {
  const pub = p.getTrackPublication(SOURCE.ScreenShare);
  if (!pub || pub.isMuted || !pub.track) return null;
  return { identity: p.identity, name: profile(p).name, isLocal, video: pub.track as VideoTrack };
}

export class CallSession {
  private state: SessionState = IDLE;
  private room: Room | null = null;
  private sinks = new Map<string, AudioSink>();
  private listeners = new Set<() => void>();
  /** Bumped by every connect and disconnect, so a late connect result is dropped. */
  private generation = 0;

  constructor(private readonly deps: SessionDeps) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = (): SessionState => this.state;

  private set(patch: Partial<SessionState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private refresh = (): void => {
    const room = this.room;
    if (!room) return;
    const tiles = [tileOf(room.localParticipant, true)];
    const screens: ScreenTile[] = [];
    const local = screenOf(room.localParticipant, true);
    if (local) screens.push(local);
    for (const p of room.remoteParticipants.values()) {
      tiles.push(tileOf(p, false));
      const sc = screenOf(p, false);
      if (sc) screens.push(sc);
    }
    this.set({ tiles, screens });
  };

  /**
   * Joins a room (leaving the current one first): with `ticket` (what the media session's
   * MEDIA_SESSION_CONNECT gave), else with the channel's own voice ticket for `key`.
   */
  async connect(
    key: string,
    opts: { camera?: boolean; muted?: boolean; deafened?: boolean; ticket?: { url: string; token: string } } = {},
  ): Promise<void> {
    await this.disconnect();
    const gen = ++this.generation;
    this.set({ ...IDLE, status: 'connecting', channelId: key, deafened: !!opts.deafened });
    try {
      const ticket = opts.ticket ?? (await this.deps.ticket(key));
      if (gen !== this.generation) return;
      const room = await this.deps.newRoom();
      if (gen !== this.generation) return;
      this.room = room;
      this.watch(room, gen);
      await room.connect(ticket.url, ticket.token);
      if (gen !== this.generation) return;
      this.set({ status: 'connected' });
      this.refresh();
      await this.startDevices(room, gen, !!opts.camera, !!opts.muted);
      void this.refreshDevices();
    } catch (e) {
      if (gen !== this.generation) return;
      const room = this.room;
      this.room = null;
      await room?.disconnect();
      this.set({ status: 'disconnected', error: e instanceof Error ? e.message : String(e) });
    }
  }

  /**
   * Turns the microphone (and the camera) on. A device that cannot start (none, refused, an
   * insecure page) leaves the user in the call, listening, with the reason shown.
   */
  private async startDevices(room: Room, gen: number, camera: boolean, muted: boolean): Promise<void> {
    const problems: string[] = [];
    try {
      if (!muted) await room.localParticipant.setMicrophoneEnabled(true);
    } catch (e) {
      problems.push(`microphone unavailable: ${e instanceof Error ? e.message : String(e)}`);
    }
    let cameraOn = false;
    if (camera) {
      try {
        await room.localParticipant.setCameraEnabled(true);
        cameraOn = true;
      } catch (e) {
        problems.push(`camera unavailable: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (gen !== this.generation) return;
    this.set({
      muted: muted || problems.some((p) => p.startsWith('microphone')),
      camera: cameraOn,
      error: problems.length ? problems.join('; ') : null,
    });
    this.refresh();
  }

  private watch(room: Room, gen: number): void {
    const live = () => gen === this.generation;
    const refresh = () => live() && this.refresh();
    for (const ev of [
      EV.ParticipantConnected,
      EV.ParticipantDisconnected,
      EV.TrackPublished,
      EV.TrackUnpublished,
      EV.TrackMuted,
      EV.TrackUnmuted,
      EV.LocalTrackPublished,
      EV.LocalTrackUnpublished,
      EV.ActiveSpeakersChanged,
      EV.ParticipantNameChanged,
      EV.ParticipantMetadataChanged,
      EV.ConnectionQualityChanged,
    ]) {
      room.on(ev, refresh);
    }
    room.on(EV.Reconnecting, () => live() && this.set({ status: 'reconnecting' }));
    room.on(EV.SignalReconnecting, () => live() && this.set({ status: 'reconnecting' }));
    room.on(EV.Reconnected, () => {
      if (!live()) return;
      this.set({ status: 'connected' });
      this.refresh();
    });
    room.on(EV.MediaDevicesChanged, () => live() && void this.refreshDevices());
    room.on(EV.ActiveDeviceChanged, () => live() && void this.refreshDevices());
    room.on(EV.TrackSubscribed, (track, pub, participant) => {
      if (!live()) return;
      if (track.kind === KIND_AUDIO) {
        const sink = this.deps.playAudio(track);
        sink.setMuted(this.state.deafened);
        this.sinks.set(`${participant.identity}/${pub.trackSid}`, sink);
      }
      this.refresh();
    });
    room.on(EV.TrackUnsubscribed, (_track, pub, participant) => {
      if (!live()) return;
      const key = `${participant.identity}/${pub.trackSid}`;
      this.sinks.get(key)?.stop();
      this.sinks.delete(key);
      this.refresh();
    });
    room.on(EV.Disconnected, () => {
      if (!live()) return;
      this.stopSinks();
      this.room = null;
      this.set({ status: 'disconnected', tiles: [] });
    });
  }

  private stopSinks(): void {
    for (const s of this.sinks.values()) s.stop();
    this.sinks.clear();
  }

  /** Leaves the call; the model is idle again. */
  async disconnect(): Promise<void> {
    this.generation++;
    const room = this.room;
    this.room = null;
    this.stopSinks();
    if (this.state.status !== 'idle') this.set({ ...IDLE });
    await room?.disconnect();
  }

  async setMuted(muted: boolean): Promise<void> {
    if (!this.room) return;
    await this.room.localParticipant.setMicrophoneEnabled(!muted);
    this.set({ muted });
    this.refresh();
  }

  /** Deafened: no remote audio plays, and the microphone is muted with it (as in Discord). */
  async setDeafened(deafened: boolean): Promise<void> {
    if (!this.room) return;
    for (const s of this.sinks.values()) s.setMuted(deafened);
    this.set({ deafened });
    if (deafened && !this.state.muted) await this.setMuted(true);
  }

  async setCamera(on: boolean): Promise<void> {
    if (!this.room) return;
    await this.room.localParticipant.setCameraEnabled(on);
    this.set({ camera: on });
    this.refresh();
  }

  /** Starts or stops sharing the screen (the browser asks which screen). */
  async setScreenShare(on: boolean): Promise<void> {
    if (!this.room) return;
    try {
      await this.room.localParticipant.setScreenShareEnabled(on);
      this.set({ screenShare: on, error: null });
    } catch (e) {
      this.set({ screenShare: false, error: `screen share unavailable: ${e instanceof Error ? e.message : String(e)}` });
    }
    this.refresh();
  }

  /** Lists the devices of each kind and which one is in use. */
  async refreshDevices(): Promise<void> {
    const room = this.room;
    const kinds: DeviceKind[] = ['audioinput', 'videoinput', 'audiooutput'];
    const devices = { ...IDLE.devices };
    const activeDevices = { ...IDLE.activeDevices };
    for (const kind of kinds) {
      try {
        const list = this.deps.listDevices ? await this.deps.listDevices(kind) : await browserDevices(kind);
        devices[kind] = list.map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${kind} ${i + 1}` }));
      } catch {
        devices[kind] = [];
      }
      activeDevices[kind] = room?.getActiveDevice(kind) ?? devices[kind][0]?.deviceId ?? '';
    }
    if (room !== this.room) return;
    this.set({ devices, activeDevices });
  }

  /** Switches the microphone, camera or speaker, also during a call. */
  async switchDevice(kind: DeviceKind, deviceId: string): Promise<void> {
    if (!this.room) return;
    try {
      await this.room.switchActiveDevice(kind, deviceId);
      this.set({ activeDevices: { ...this.state.activeDevices, [kind]: deviceId } });
    } catch (e) {
      this.set({ error: `cannot use that device: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  /** The identities the room says are speaking, or null without a room. */
  speakingIdentities(): string[] | null {
    return this.room ? this.state.tiles.filter((t) => t.speaking).map((t) => t.identity) : null;
  }

  /** Bytes received on the subscriber connection so far (tests and diagnostics). */
  async inboundAudioBytes(): Promise<number> {
    let total = 0;
    for (const p of this.room?.remoteParticipants.values() ?? []) {
      const track = p.getTrackPublication(SOURCE.Microphone)?.track;
      if (track && 'getReceiverStats' in track) {
        const stats = await (track as { getReceiverStats(): Promise<{ bytesReceived?: number } | undefined> }).getReceiverStats();
        total += stats?.bytesReceived ?? 0;
      }
    }
    return total;
  }
}

/** The browser's devices of one kind (the labels need a granted permission). */
async function browserDevices(kind: DeviceKind): Promise<{ deviceId: string; label: string }[]> {
  const all = await navigator.mediaDevices.enumerateDevices();
  return all.filter((d) => d.kind === kind && d.deviceId !== '');
}

/** The browser's audio sink: a hidden <audio> element per remote track. */
export function browserAudio(track: RemoteTrack): AudioSink {
  const el = track.attach() as HTMLAudioElement;
  el.hidden = true;
  document.body.appendChild(el);
  return {
    setMuted: (m) => {
      el.muted = m;
    },
    stop: () => {
      track.detach(el);
      el.remove();
    },
  };
}
