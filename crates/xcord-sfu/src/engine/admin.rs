//! Room service operations (LiveKit's RoomService), run on the engine thread: rooms, their
//! settings and metadata, and acting on participants (remove, mute, permissions, subscriptions,
//! server-sent data), and why they fail ([`RoomServiceError`]).

#![allow(deprecated)] // UserPacket/DataPacket still carry fields clients read.

use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;

use super::data::DataKind;
use super::room::Room;
use super::{Engine, ParticipantKey};
use crate::auth::may_publish_source;

/// Why a room service call failed; each maps onto a Twirp error code.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RoomServiceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("media engine unavailable")]
    Unavailable,
}

impl From<super::Unavailable> for RoomServiceError {
    fn from(_: super::Unavailable) -> Self {
        RoomServiceError::Unavailable
    }
}

type Result<T> = std::result::Result<T, RoomServiceError>;

impl Engine {
    fn participant_by_identity(&self, room: &str, identity: &str) -> Result<ParticipantKey> {
        let r = self
            .rooms
            .get(room)
            .ok_or_else(|| RoomServiceError::NotFound("requested room does not exist".into()))?;
        r.participants
            .iter()
            .copied()
            .find(|participant| {
                self.participants
                    .get(*participant)
                    .is_some_and(|p| p.identity == identity)
            })
            .ok_or_else(|| RoomServiceError::NotFound("participant not found".into()))
    }

    pub(crate) fn admin_create_room(
        &mut self,
        req: proto::CreateRoomRequest,
    ) -> Result<proto::Room> {
        if req.name.is_empty() {
            return Err(RoomServiceError::InvalidArgument(
                "room name is required".into(),
            ));
        }
        if req.name.len() > 256 {
            return Err(RoomServiceError::InvalidArgument(
                "room name is too long".into(),
            ));
        }
        if !self.rooms.contains_key(&req.name) {
            let secs = |v: u32, default: Duration| {
                if v > 0 {
                    Duration::from_secs(u64::from(v))
                } else {
                    default
                }
            };
            let mut room = Room::new(
                &req.name,
                secs(req.empty_timeout, self.cfg.empty_timeout),
                secs(req.departure_timeout, self.cfg.departure_timeout),
                self.now,
            );
            room.max_participants = req.max_participants;
            room.metadata = req.metadata;
            self.insert_room(room);
        }
        self.room_proto(&req.name)
            .ok_or_else(|| RoomServiceError::NotFound("requested room does not exist".into()))
    }

    pub(crate) fn admin_list_rooms(&self, names: &[String]) -> Vec<proto::Room> {
        let mut rooms: Vec<proto::Room> = self
            .rooms
            .keys()
            .filter(|n| names.is_empty() || names.contains(n))
            .filter_map(|n| self.room_proto(n))
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    pub(crate) fn room_exists(&self, name: &str) -> bool {
        self.rooms.contains_key(name)
    }

    pub(crate) fn admin_delete_room(&mut self, name: &str) -> Result<()> {
        let room = self
            .rooms
            .get(name)
            .ok_or_else(|| RoomServiceError::NotFound("requested room does not exist".into()))?;
        let leave = proto::LeaveRequest {
            reason: proto::DisconnectReason::RoomDeleted as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            ..Default::default()
        };
        for participant in room.participants.clone() {
            self.remove_participant(
                participant,
                proto::DisconnectReason::RoomDeleted,
                Some(leave.clone()),
            );
        }
        self.close_room(name);
        Ok(())
    }

    pub(crate) fn admin_update_room_metadata(
        &mut self,
        name: &str,
        metadata: String,
    ) -> Result<proto::Room> {
        let room = self
            .rooms
            .get_mut(name)
            .ok_or_else(|| RoomServiceError::NotFound("requested room does not exist".into()))?;
        room.metadata = metadata;
        let proto = self
            .room_proto(name)
            .ok_or_else(|| RoomServiceError::NotFound("requested room does not exist".into()))?;
        let update = proto.clone();
        self.send_to_room(name, None, false, |_| {
            Resp::RoomUpdate(proto::RoomUpdate {
                room: Some(update.clone()),
            })
        });
        Ok(proto)
    }

    pub(crate) fn admin_list_participants(
        &self,
        name: &str,
    ) -> Result<Vec<proto::ParticipantInfo>> {
        let room = self
            .rooms
            .get(name)
            .ok_or_else(|| RoomServiceError::NotFound("requested room does not exist".into()))?;
        Ok(room
            .participants
            .iter()
            .filter_map(|participant| self.participants.get(*participant))
            .map(|p| p.info(&self.tracks))
            .collect())
    }

    pub(crate) fn admin_get_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<proto::ParticipantInfo> {
        let participant = self.participant_by_identity(room, identity)?;
        self.participants
            .get(participant)
            .map(|p| p.info(&self.tracks))
            .ok_or_else(|| RoomServiceError::NotFound("participant not found".into()))
    }

    pub(crate) fn admin_remove_participant(&mut self, room: &str, identity: &str) -> Result<()> {
        let participant = self.participant_by_identity(room, identity)?;
        let leave = proto::LeaveRequest {
            reason: proto::DisconnectReason::ParticipantRemoved as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            ..Default::default()
        };
        self.remove_participant(
            participant,
            proto::DisconnectReason::ParticipantRemoved,
            Some(leave),
        );
        Ok(())
    }

    /// Removes `identity` from `room` if present and refuses the tokens issued to it until now
    /// for as long as they can live (`token_lifetime`): what the server does when someone loses
    /// the right to be there.
    pub(crate) fn admin_revoke_participant(
        &mut self,
        room: &str,
        identity: &str,
        token_lifetime: std::time::Duration,
    ) {
        self.revoked
            .deny(room, identity, crate::time::unix_ms(), token_lifetime);
        match self.admin_remove_participant(room, identity) {
            Ok(()) | Err(RoomServiceError::NotFound(_)) => {}
            Err(e) => tracing::warn!(room, identity, "revoked participant not removed: {e}"),
        }
    }

    /// Whether a token for `identity` in `room` valid from `nbf_s` is still admitted.
    pub(crate) fn admits(&mut self, room: &str, identity: &str, nbf_s: u64) -> bool {
        self.revoked
            .admits(room, identity, nbf_s, crate::time::unix_ms())
    }

    pub(crate) fn admin_mute_track(
        &mut self,
        req: &proto::MuteRoomTrackRequest,
    ) -> Result<proto::TrackInfo> {
        let participant = self.participant_by_identity(&req.room, &req.identity)?;
        let p = self
            .participants
            .get_mut(participant)
            .ok_or_else(|| RoomServiceError::NotFound("participant not found".into()))?;
        let tk = p
            .tracks
            .iter()
            .copied()
            .find(|tk| {
                self.tracks
                    .get(*tk)
                    .is_some_and(|t| t.info.sid == req.track_sid)
            })
            .ok_or_else(|| RoomServiceError::NotFound("track not found".into()))?;
        p.send(Resp::Mute(proto::MuteTrackRequest {
            sid: req.track_sid.clone(),
            muted: req.muted,
        }));
        let track = self
            .tracks
            .get_mut(tk)
            .ok_or_else(|| RoomServiceError::NotFound("track not found".into()))?;
        let changed = track.info.muted != req.muted;
        track.info.muted = req.muted;
        let info = track.info.clone();
        if changed {
            self.broadcast_participant(participant);
        }
        Ok(info)
    }

    pub(crate) fn admin_update_participant(
        &mut self,
        req: proto::UpdateParticipantRequest,
    ) -> Result<proto::ParticipantInfo> {
        let participant = self.participant_by_identity(&req.room, &req.identity)?;
        let p = self
            .participants
            .get_mut(participant)
            .ok_or_else(|| RoomServiceError::NotFound("participant not found".into()))?;
        p.apply_metadata(req.metadata, req.name, req.attributes);
        if let Some(permission) = req.permission {
            self.apply_permission(participant, permission);
        }
        if let Some(p) = self.participants.get_mut(participant) {
            p.send_grants();
        }
        self.broadcast_participant(participant);
        self.admin_get_participant(&req.room, &req.identity)
    }

    /// Applies new permissions live: tracks the participant may no longer publish are
    /// unpublished (and the client told), and subscriptions end when subscribing is revoked.
    fn apply_permission(
        &mut self,
        participant: ParticipantKey,
        permission: proto::ParticipantPermission,
    ) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        p.permission = permission.clone();
        let tracks = p.tracks.clone();
        let forbidden: Vec<_> = tracks
            .into_iter()
            .filter(|tk| {
                self.tracks.get(*tk).is_some_and(|t| {
                    let source = proto::TrackSource::try_from(t.info.source)
                        .unwrap_or(proto::TrackSource::Unknown);
                    !may_publish_source(&permission, source)
                })
            })
            .collect();
        for tk in forbidden {
            let Some((sid, peer, mid)) = self
                .tracks
                .get(tk)
                .map(|t| (t.info.sid.clone(), t.peer, t.mid))
            else {
                continue;
            };
            if let Some(peer) = self.peers.get_mut(peer) {
                peer.retired_mids.push(mid);
            }
            self.unpublish_track(tk, false);
            if let Some(p) = self.participants.get_mut(participant) {
                p.send(Resp::TrackUnpublished(proto::TrackUnpublishedResponse {
                    track_sid: sid,
                }));
            }
        }
        if !permission.can_subscribe {
            let downs = self
                .participants
                .get(participant)
                .map(|p| p.downs.clone())
                .unwrap_or_default();
            let any = !downs.is_empty();
            for dk in downs {
                self.detach_down(dk);
            }
            if any {
                self.negotiate(participant);
            }
        }
    }

    pub(crate) fn admin_update_subscriptions(
        &mut self,
        req: proto::UpdateSubscriptionsRequest,
    ) -> Result<()> {
        let participant = self.participant_by_identity(&req.room, &req.identity)?;
        self.on_update_subscription(
            participant,
            proto::UpdateSubscription {
                track_sids: req.track_sids,
                subscribe: req.subscribe,
                participant_tracks: req.participant_tracks,
            },
        );
        Ok(())
    }

    pub(crate) fn admin_send_data(&mut self, req: proto::SendDataRequest) -> Result<()> {
        if !self.rooms.contains_key(&req.room) {
            return Err(RoomServiceError::NotFound(
                "requested room does not exist".into(),
            ));
        }
        if !req.nonce.is_empty() && req.nonce.len() != 16 {
            return Err(RoomServiceError::InvalidArgument(
                "nonce should be 16-bytes or not present".into(),
            ));
        }
        let kind = if req.kind == proto::data_packet::Kind::Lossy as i32 {
            DataKind::Lossy
        } else {
            DataKind::Reliable
        };
        let mut destinations = req.destination_identities.clone();
        if !req.destination_sids.is_empty()
            && let Some(room) = self.rooms.get(&req.room)
        {
            for participant in &room.participants {
                if let Some(p) = self.participants.get(*participant)
                    && req.destination_sids.contains(&p.sid)
                {
                    destinations.push(p.identity.clone());
                }
            }
        }
        let packet = proto::DataPacket {
            kind: req.kind,
            destination_identities: destinations.clone(),
            value: Some(proto::data_packet::Value::User(proto::UserPacket {
                payload: req.data,
                topic: req.topic,
                nonce: req.nonce,
                destination_identities: destinations.clone(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let encoded = prost::Message::encode_to_vec(&packet);
        self.deliver_data(&req.room, None, &destinations, kind, &encoded);
        Ok(())
    }
}

impl Engine {
    /// Tells every participant the server is going away (they reconnect elsewhere or later),
    /// closes their connections and the rooms.
    pub(crate) fn shutdown(&mut self) {
        let leave = proto::LeaveRequest {
            can_reconnect: true,
            reason: proto::DisconnectReason::ServerShutdown as i32,
            action: proto::leave_request::Action::Reconnect as i32,
            ..Default::default()
        };
        let everyone: Vec<ParticipantKey> = self.participants.keys().collect();
        for participant in everyone {
            self.remove_participant(
                participant,
                proto::DisconnectReason::ServerShutdown,
                Some(leave.clone()),
            );
        }
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        for name in rooms {
            self.close_room(&name);
        }
    }
}
