//! Admission and departure: the JoinResponse, duplicate identities, and tearing a participant
//! down (unpublishing, unsubscribing, closing its peer connections).

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;

use super::data::Channels;
use super::participant::Participant;
use super::peer::Role;
use super::room::Room;
use super::subscribe::Negotiation;
use super::{Engine, ParticipantKey, SignalSender};
use crate::auth::JoinGrant;
use crate::events::names;
use crate::time::unix_ms;

/// What a signal connection asks the engine when it opens.
pub struct JoinRequest {
    pub grant: JoinGrant,
    pub out: SignalSender,
    pub auto_subscribe: bool,
    pub protocol: i32,
    pub client_protocol: i32,
    /// Protocol v1: one peer connection, offered by the client, for publishing and subscribing.
    pub single_pc: bool,
    /// Ended subscriber m-lines carry later subscriptions (every client but Safari); otherwise
    /// each subscription gets a fresh m-line.
    pub reuses_m_lines: bool,
}

/// An admitted participant.
#[derive(Clone, Debug)]
pub struct Joined {
    pub participant: ParticipantKey,
    pub sid: String,
    /// Which of the participant's signal connections this is (see [`super::SignalKey`]).
    pub epoch: u32,
}

impl Joined {
    /// What this signal connection reports its departure with.
    pub fn signal_key(&self) -> super::SignalKey {
        super::SignalKey {
            participant: self.participant,
            epoch: self.epoch,
        }
    }
}

/// Why a join was refused; each maps to the reference server's HTTP answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoinError {
    #[error("requested room does not exist")]
    RoomNotFound,
    #[error("room is full")]
    RoomFull,
    #[error("media engine unavailable")]
    Unavailable,
    #[error("participant was removed from this room")]
    Removed,
    /// The application's gate refused: the reason, for the client.
    #[error("permissions denied: {0}")]
    Refused(String),
}

impl From<super::Unavailable> for JoinError {
    fn from(_: super::Unavailable) -> Self {
        JoinError::Unavailable
    }
}

impl JoinError {
    pub fn status(&self) -> u16 {
        match self {
            JoinError::RoomNotFound => 404,
            JoinError::RoomFull => 403,
            JoinError::Unavailable => 503,
            JoinError::Removed => 401,
            JoinError::Refused(_) => 403,
        }
    }
}

impl Engine {
    pub(super) fn join(&mut self, req: JoinRequest) -> Result<Joined, JoinError> {
        let now = self.now;
        let grant = req.grant;
        let nbf = u64::try_from(grant.claims.nbf).unwrap_or(0);
        if !self.admits(&grant.room, &grant.identity, nbf) {
            return Err(JoinError::Removed);
        }
        if !self.rooms.contains_key(&grant.room) {
            if !self.cfg.auto_create {
                return Err(JoinError::RoomNotFound);
            }
            let room = Room::new(
                &grant.room,
                self.cfg.empty_timeout,
                self.cfg.departure_timeout,
                self.now,
            );
            self.insert_room(room);
        }
        let existing = self
            .rooms
            .get(&grant.room)
            .map(|r| r.participants.clone())
            .unwrap_or_default();
        let duplicate = existing.iter().copied().find(|participant| {
            self.participants
                .get(*participant)
                .is_some_and(|p| p.identity == grant.identity)
        });
        if let Some(old) = duplicate {
            let leave = proto::LeaveRequest {
                reason: proto::DisconnectReason::DuplicateIdentity as i32,
                action: proto::leave_request::Action::Disconnect as i32,
                ..Default::default()
            };
            self.remove_participant(old, proto::DisconnectReason::DuplicateIdentity, Some(leave));
        }
        if let Some(room) = self.rooms.get(&grant.room) {
            let max = room.max_participants as usize;
            if max > 0 && room.participants.len() >= max {
                return Err(JoinError::RoomFull);
            }
        }

        let sid = crate::ids::participant_sid();
        let participant = self.participants.insert(Participant {
            sid: sid.clone(),
            identity: grant.identity.clone(),
            name: grant.name.clone(),
            metadata: grant.metadata.clone(),
            attributes: grant.attributes.clone(),
            kind: grant.kind as i32,
            permission: grant.permission.clone(),
            state: proto::participant_info::State::Joining,
            version: 1,
            joined_at_ms: unix_ms(),
            joined: now,
            room: grant.room.clone(),
            out: req.out,
            client_protocol: req.client_protocol,
            auto_subscribe: req.auto_subscribe,
            publisher: None,
            subscriber: None,
            single_pc: req
                .single_pc
                .then(|| super::single_pc::SinglePc::new(req.reuses_m_lines)),
            pending: Vec::new(),
            tracks: Vec::new(),
            downs: Vec::new(),
            neg: Negotiation {
                reuse: req.reuses_m_lines,
                ..Negotiation::default()
            },
            channels: Channels::default(),
            last_reliable_seq: 0,
            disconnect_reason: 0,
            lagging: false,
            quality: Default::default(),
            epoch: 0,
            signal_lost: None,
        });
        if let Some(room) = self.rooms.get_mut(&grant.room) {
            room.participants.push(participant);
            room.last_left = None;
        }

        let response = self.join_response(participant, &grant.room);
        let Some(p) = self.participants.get_mut(participant) else {
            return Err(JoinError::Unavailable);
        };
        p.send(Resp::Join(response));
        p.state = proto::participant_info::State::Joined;
        tracing::info!(room = %grant.room, participant = %sid, identity = %grant.identity, "participant joined");
        self.broadcast_participant(participant);

        if req.single_pc {
            let peer = self.new_peer(participant, Role::Publisher, now);
            if let Some(p) = self.participants.get_mut(participant) {
                p.publisher = Some(peer);
                p.subscriber = grant.permission.can_subscribe.then_some(peer);
            }
        }
        if grant.permission.can_subscribe {
            if !req.single_pc {
                let peer = self.new_peer(participant, Role::Subscriber, now);
                if let Some(p) = self.participants.get_mut(participant) {
                    p.subscriber = Some(peer);
                }
            }
            if req.auto_subscribe {
                let tracks: Vec<_> = self
                    .rooms
                    .get(&grant.room)
                    .map(|r| r.track_sids.values().copied().collect())
                    .unwrap_or_default();
                for tk in tracks {
                    self.subscribe(participant, tk);
                }
            }
            self.negotiate(participant);
        }
        Ok(Joined {
            participant,
            sid,
            epoch: 0,
        })
    }

    fn join_response(&self, participant: ParticipantKey, room: &str) -> proto::JoinResponse {
        let others = self
            .rooms
            .get(room)
            .map(|r| {
                r.participants
                    .iter()
                    .filter(|o| **o != participant)
                    .filter_map(|o| self.participants.get(*o))
                    .filter(|o| !o.is_hidden())
                    .map(|o| o.info(&self.tracks))
                    .collect()
            })
            .unwrap_or_default();
        let me = self.participants.get(participant);
        let can_publish = me.is_some_and(|p| p.permission.can_publish);
        proto::JoinResponse {
            room: self.room_proto(room),
            participant: me.map(|p| p.info(&self.tracks)),
            other_participants: others,
            server_version: self.cfg.server_version.clone(),
            ice_servers: Vec::new(),
            subscriber_primary: me.is_some_and(|p| p.subscriber_primary()),
            client_configuration: Some(self.client_configuration()),
            ping_timeout: self.cfg.ping_timeout_secs(),
            ping_interval: self.cfg.ping_interval_secs(),
            server_info: Some(self.server_info()),
            enabled_publish_codecs: publish_codecs(),
            fast_publish: can_publish,
            ..Default::default()
        }
    }

    /// Removes a participant: optional LeaveRequest, its tracks unpublished, its subscriptions
    /// and peer connections closed, and a DISCONNECTED update to the room.
    pub(super) fn remove_participant(
        &mut self,
        participant: ParticipantKey,
        reason: proto::DisconnectReason,
        leave: Option<proto::LeaveRequest>,
    ) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let was_active = p.state == proto::participant_info::State::Active;
        if let Some(leave) = leave {
            p.send(Resp::Leave(leave));
        }
        p.close();
        let tracks = std::mem::take(&mut p.tracks);
        let downs = std::mem::take(&mut p.downs);
        let peers = [p.publisher.take(), p.subscriber.take()];
        let room = p.room.clone();
        for tk in tracks {
            self.unpublish_track(tk, false);
        }
        for dk in downs {
            if let Some(down) = self.downs.remove(dk)
                && let Some(track) = self.tracks.get_mut(down.track)
            {
                track.downs.retain(|d| *d != dk);
            }
        }
        for peer in peers.into_iter().flatten() {
            self.remove_peer(peer);
        }
        if let Some(p) = self.participants.get_mut(participant) {
            p.state = proto::participant_info::State::Disconnected;
            p.disconnect_reason = reason as i32;
        }
        if let Some(r) = self.rooms.get_mut(&room) {
            r.participants.retain(|o| *o != participant);
        }
        // Everyone left in the room learns of the departure.
        if let Some(p) = self.participants.get_mut(participant) {
            p.version += 1;
            let info = p.info(&self.tracks);
            let hidden = p.is_hidden();
            tracing::info!(room = %room, participant = %p.sid, ?reason, "participant left");
            if !hidden {
                self.send_to_room(&room, None, false, |_| {
                    Resp::Update(proto::ParticipantUpdate {
                        participants: vec![info.clone()],
                    })
                });
            }
            let event = if was_active {
                names::PARTICIPANT_LEFT
            } else {
                names::PARTICIPANT_CONNECTION_ABORTED
            };
            self.emit(event, &room, Some(info), None);
        }
        self.participants.remove(participant);
        if let Some(r) = self.rooms.get_mut(&room)
            && r.participants.is_empty()
        {
            r.last_left = Some(self.now);
        }
    }
}

/// Codecs publishers may use; JS negotiates its publisher connection with these in mind.
fn publish_codecs() -> Vec<proto::Codec> {
    ["audio/opus", "audio/red", "video/VP8", "video/H264"]
        .into_iter()
        .map(|m| proto::Codec {
            mime: m.to_owned(),
            fmtp_line: String::new(),
        })
        .collect()
}
