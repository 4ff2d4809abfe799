// The values of livekit-client's enums this client uses, as plain strings typed as the SDK's
// enum members: with them nothing outside the call itself imports the SDK as a value, so
// livekit-client is a separate chunk loaded when a call starts (or prefetched on a call page).
// lkconst.test.ts checks every value against the SDK.

import type { ConnectionQuality, RoomEvent, Track } from 'livekit-client';

export const EV = {
  ParticipantConnected: 'participantConnected' as RoomEvent.ParticipantConnected,
  ParticipantDisconnected: 'participantDisconnected' as RoomEvent.ParticipantDisconnected,
  TrackPublished: 'trackPublished' as RoomEvent.TrackPublished,
  TrackUnpublished: 'trackUnpublished' as RoomEvent.TrackUnpublished,
  TrackMuted: 'trackMuted' as RoomEvent.TrackMuted,
  TrackUnmuted: 'trackUnmuted' as RoomEvent.TrackUnmuted,
  LocalTrackPublished: 'localTrackPublished' as RoomEvent.LocalTrackPublished,
  LocalTrackUnpublished: 'localTrackUnpublished' as RoomEvent.LocalTrackUnpublished,
  ActiveSpeakersChanged: 'activeSpeakersChanged' as RoomEvent.ActiveSpeakersChanged,
  ParticipantNameChanged: 'participantNameChanged' as RoomEvent.ParticipantNameChanged,
  ParticipantMetadataChanged: 'participantMetadataChanged' as RoomEvent.ParticipantMetadataChanged,
  ConnectionQualityChanged: 'connectionQualityChanged' as RoomEvent.ConnectionQualityChanged,
  Reconnecting: 'reconnecting' as RoomEvent.Reconnecting,
  SignalReconnecting: 'signalReconnecting' as RoomEvent.SignalReconnecting,
  Reconnected: 'reconnected' as RoomEvent.Reconnected,
  MediaDevicesChanged: 'mediaDevicesChanged' as RoomEvent.MediaDevicesChanged,
  ActiveDeviceChanged: 'activeDeviceChanged' as RoomEvent.ActiveDeviceChanged,
  TrackSubscribed: 'trackSubscribed' as RoomEvent.TrackSubscribed,
  TrackUnsubscribed: 'trackUnsubscribed' as RoomEvent.TrackUnsubscribed,
  Disconnected: 'disconnected' as RoomEvent.Disconnected,
} satisfies Partial<Record<keyof typeof RoomEvent, string>>;

export const SOURCE = {
  Camera: 'camera' as Track.Source.Camera,
  Microphone: 'microphone' as Track.Source.Microphone,
  ScreenShare: 'screen_share' as Track.Source.ScreenShare,
};

export const KIND_AUDIO = 'audio' as Track.Kind.Audio;

export const QUALITY = {
  Excellent: 'excellent' as ConnectionQuality.Excellent,
  Good: 'good' as ConnectionQuality.Good,
  Poor: 'poor' as ConnectionQuality.Poor,
  Lost: 'lost' as ConnectionQuality.Lost,
};
