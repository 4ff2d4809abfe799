//! A participant's state as the engine keeps it, how it renders as `ParticipantInfo`, and the
//! fan-out of participant updates within a room.

use std::collections::HashMap;
use std::time::Instant;

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use slotmap::SlotMap;

use super::data::Channels;
use super::publish::{PendingTrack, Track};
use super::subscribe::Negotiation;
use super::{DownKey, Engine, Outbound, ParticipantKey, PeerKey, SignalSender, TrackKey};

pub struct Participant {
    pub sid: String,
    pub identity: String,
    pub name: String,
    pub metadata: String,
    pub attributes: HashMap<String, String>,
    pub kind: i32,
    pub permission: proto::ParticipantPermission,
    pub state: proto::participant_info::State,
    pub version: u32,
    pub joined_at_ms: i64,
    pub joined: Instant,
    pub room: String,
    pub out: SignalSender,
    pub client_protocol: i32,
    pub auto_subscribe: bool,
    /// The connection carrying its published tracks (protocol v1: its only connection).
    pub publisher: Option<PeerKey>,
    /// The connection carrying its subscriptions (protocol v1: the same as `publisher`).
    pub subscriber: Option<PeerKey>,
    /// Protocol v1 (one peer connection): how subscriptions sit on the client's sections.
    pub single_pc: Option<super::single_pc::SinglePc>,
    /// AddTrack requests whose m-line has not arrived yet.
    pub pending: Vec<PendingTrack>,
    /// Published tracks, in publication order.
    pub tracks: Vec<TrackKey>,
    /// Subscriptions to other participants' tracks.
    pub downs: Vec<DownKey>,
    pub neg: Negotiation,
    pub channels: Channels,
    /// Highest reliable data sequence received from this participant.
    pub last_reliable_seq: u32,
    pub disconnect_reason: i32,
    /// Set when the outbound queue overflowed or closed; the participant is removed shortly.
    pub lagging: bool,
    /// Connection quality, from its peers' statistics.
    pub quality: super::quality::QualityState,
    /// Which signal connection is the participant's: bumped on every resume, so the old
    /// connection's departure is recognised as stale.
    pub epoch: u32,
    /// When the signal connection broke without `leave`; the participant waits for a resume.
    pub signal_lost: Option<Instant>,
}

impl Participant {
    pub fn is_hidden(&self) -> bool {
        self.permission.hidden
    }

    /// Whether the subscriber connection is the one that must connect (LiveKit's
    /// `subscriber_primary`): yes when the participant may subscribe, over two connections.
    pub fn subscriber_primary(&self) -> bool {
        self.permission.can_subscribe && self.single_pc.is_none()
    }

    /// The subscriber connection when it is a connection of its own (protocol v0); with one
    /// connection (v1) everything, data included, goes over the publisher connection.
    pub fn separate_subscriber(&self) -> Option<PeerKey> {
        self.subscriber.filter(|_| self.single_pc.is_none())
    }

    pub fn info(&self, tracks: &SlotMap<TrackKey, Track>) -> proto::ParticipantInfo {
        let track_infos: Vec<proto::TrackInfo> = self
            .tracks
            .iter()
            .filter_map(|tk| tracks.get(*tk))
            .map(|t| t.info.clone())
            .collect();
        proto::ParticipantInfo {
            sid: self.sid.clone(),
            identity: self.identity.clone(),
            state: self.state as i32,
            is_publisher: !track_infos.is_empty(),
            tracks: track_infos,
            metadata: self.metadata.clone(),
            joined_at: self.joined_at_ms / 1000,
            joined_at_ms: self.joined_at_ms,
            name: self.name.clone(),
            version: self.version,
            permission: Some(self.permission.clone()),
            kind: self.kind,
            attributes: self.attributes.clone(),
            disconnect_reason: self.disconnect_reason,
            client_protocol: self.client_protocol,
            ..Default::default()
        }
    }

    /// Queues a signal message; a full or closed queue marks the participant as lagging.
    pub fn send(&mut self, msg: Resp) {
        if self.signal_lost.is_some() {
            return; // nobody to tell; a resume sends the whole state again
        }
        let out = Outbound::Signal(Box::new(proto::SignalResponse { message: Some(msg) }));
        self.queue(out);
    }

    /// Puts `out` on the signal connection's queue. A full queue (a client that does not read)
    /// marks the participant as lagging, to be dropped; a closed one means its signal connection
    /// has already ended (a leave, a socket gone), which its departure handles.
    fn queue(&mut self, out: Outbound) {
        match self.out.try_send(out) {
            Ok(()) => {}
            Err(_) if self.lagging => {}
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(participant = %self.sid, "signal queue full; dropping participant");
                self.lagging = true;
            }
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!(participant = %self.sid, "signal connection already closed");
                self.lagging = true;
            }
        }
    }

    /// Applies a metadata update: non-empty metadata and name replace the old ones; an attribute
    /// with an empty value is deleted.
    pub fn apply_metadata(
        &mut self,
        metadata: String,
        name: String,
        attributes: HashMap<String, String>,
    ) {
        if !metadata.is_empty() {
            self.metadata = metadata;
        }
        if !name.is_empty() {
            self.name = name;
        }
        for (k, v) in attributes {
            if v.is_empty() {
                self.attributes.remove(&k);
            } else {
                self.attributes.insert(k, v);
            }
        }
    }

    /// Hands the participant's current name, metadata, attributes and permission to its
    /// signal connection, which refreshes its token from them.
    pub fn send_grants(&mut self) {
        if self.signal_lost.is_some() {
            return;
        }
        let grants = super::LiveGrants {
            name: self.name.clone(),
            metadata: self.metadata.clone(),
            attributes: self.attributes.clone(),
            permission: self.permission.clone(),
        };
        self.queue(Outbound::Grants(Box::new(grants)));
    }

    pub fn close(&mut self) {
        let _ = self.out.try_send(Outbound::Close);
    }
}

impl Engine {
    /// Bumps the participant's version and sends its info to everyone in the room who may see
    /// it (itself included, so metadata changes are echoed).
    pub(super) fn broadcast_participant(&mut self, participant: ParticipantKey) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        p.version += 1;
        let info = p.info(&self.tracks);
        let hidden = p.is_hidden();
        let room = p.room.clone();
        self.send_to_room(&room, Some(participant), hidden, |_| {
            Resp::Update(proto::ParticipantUpdate {
                participants: vec![info.clone()],
            })
        });
    }

    /// Sends a message built per recipient to the room's participants. `about` is the
    /// participant the message concerns: when it is hidden only it receives the message.
    pub(super) fn send_to_room(
        &mut self,
        room: &str,
        about: Option<ParticipantKey>,
        about_hidden: bool,
        mut build: impl FnMut(ParticipantKey) -> Resp,
    ) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        for &rk in &r.participants {
            if about_hidden && Some(rk) != about {
                continue;
            }
            if let Some(p) = self.participants.get_mut(rk) {
                p.send(build(rk));
            }
        }
    }
}
