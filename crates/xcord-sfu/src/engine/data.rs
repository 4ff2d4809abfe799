//! Data channels: `_reliable` and `_lossy` in both directions. Packets from a publisher's
//! channels are checked (canPublishData), stamped with the sender's identity and sid, and
//! written to each recipient's channel of the same kind (the subscriber connection's, or the
//! publisher connection's for participants without one).
#![allow(deprecated)] // LiveKit's wire format still carries (and clients read) deprecated fields.

use livekit_protocol as proto;
use prost::Message;
use str0m::channel::ChannelId;

use super::peer::Role;
use super::{Engine, ParticipantKey, PeerKey};

pub const RELIABLE: &str = "_reliable";
pub const LOSSY: &str = "_lossy";
/// Reliable bytes held for a participant whose subscriber channel is not open yet.
const MAX_PENDING_BYTES: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    Reliable,
    Lossy,
}

/// A participant's data channels.
#[derive(Default)]
pub struct Channels {
    pub sub_reliable: Option<ChannelId>,
    pub sub_lossy: Option<ChannelId>,
    pub sub_open: bool,
    pub pub_reliable: Option<ChannelId>,
    pub pub_lossy: Option<ChannelId>,
    /// Reliable packets waiting for the subscriber channel to open.
    pub pending: Vec<Vec<u8>>,
    pub pending_bytes: usize,
}

impl Channels {
    fn kind_of(&self, role: Role, id: ChannelId) -> Option<DataKind> {
        let (r, l) = match role {
            Role::Publisher => (self.pub_reliable, self.pub_lossy),
            Role::Subscriber => (self.sub_reliable, self.sub_lossy),
        };
        if r == Some(id) {
            Some(DataKind::Reliable)
        } else if l == Some(id) {
            Some(DataKind::Lossy)
        } else {
            None
        }
    }
}

impl Engine {
    pub(super) fn on_channel_open(&mut self, peer_key: PeerKey, id: ChannelId, label: &str) {
        let Some(peer) = self.peers.get(peer_key) else {
            return;
        };
        let role = peer.role;
        let Some(p) = self.participants.get_mut(peer.participant) else {
            return;
        };
        match (role, label) {
            (Role::Publisher, RELIABLE) => {
                p.channels.pub_reliable = Some(id);
                // Protocol v1: the client's own channel is where its reliable data waits.
                let participant = peer.participant;
                self.flush_pending_data(participant);
            }
            (Role::Publisher, LOSSY) => p.channels.pub_lossy = Some(id),
            (Role::Subscriber, RELIABLE) => {
                p.channels.sub_open = true;
                let participant = peer.participant;
                self.flush_pending_data(participant);
            }
            _ => {}
        }
    }

    pub(super) fn on_channel_close(&mut self, peer_key: PeerKey, id: ChannelId) {
        let Some(peer) = self.peers.get(peer_key) else {
            return;
        };
        let role = peer.role;
        let Some(p) = self.participants.get_mut(peer.participant) else {
            return;
        };
        match (role, p.channels.kind_of(role, id)) {
            (Role::Publisher, Some(DataKind::Reliable)) => p.channels.pub_reliable = None,
            (Role::Publisher, Some(DataKind::Lossy)) => p.channels.pub_lossy = None,
            (Role::Subscriber, Some(DataKind::Reliable)) => p.channels.sub_open = false,
            _ => {}
        }
    }

    pub(super) fn on_channel_data(&mut self, peer_key: PeerKey, id: ChannelId, bytes: &[u8]) {
        let Some(peer) = self.peers.get(peer_key) else {
            return;
        };
        let (sender, role) = (peer.participant, peer.role);
        let Some(p) = self.participants.get_mut(sender) else {
            return;
        };
        let Some(kind) = p.channels.kind_of(role, id) else {
            return;
        };
        if !p.permission.can_publish_data {
            return;
        }
        let Ok(mut packet) = proto::DataPacket::decode(bytes) else {
            tracing::debug!(participant = %p.sid, "undecodable data packet dropped");
            return;
        };
        if kind == DataKind::Reliable && packet.sequence > 0 {
            if packet.sequence <= p.last_reliable_seq {
                return;
            }
            p.last_reliable_seq = packet.sequence;
        }
        use proto::data_packet::Value;
        match &packet.value {
            Some(Value::Transcription(_))
                if p.kind != proto::participant_info::Kind::Agent as i32 =>
            {
                return;
            }
            Some(Value::Metrics(_)) | None => return,
            _ => {}
        }
        let identity = if p.is_hidden() {
            String::new()
        } else {
            p.identity.clone()
        };
        packet.kind = match kind {
            DataKind::Reliable => proto::data_packet::Kind::Reliable,
            DataKind::Lossy => proto::data_packet::Kind::Lossy,
        } as i32;
        packet.participant_identity = identity.clone();
        packet.participant_sid = p.sid.clone();
        let mut destinations = std::mem::take(&mut packet.destination_identities);
        if let Some(Value::User(user)) = &mut packet.value {
            user.participant_identity = identity;
            user.participant_sid = p.sid.clone();
            if destinations.is_empty() {
                destinations = user.destination_identities.clone();
            }
            user.destination_identities = destinations.clone();
        }
        packet.destination_identities = destinations.clone();
        let encoded = packet.encode_to_vec();
        let room = p.room.clone();
        self.deliver_data(&room, Some(sender), &destinations, kind, &encoded);
    }

    /// Writes an encoded DataPacket to the room's participants (all but `sender`, or only the
    /// named identities).
    pub(crate) fn deliver_data(
        &mut self,
        room: &str,
        sender: Option<ParticipantKey>,
        destinations: &[String],
        kind: DataKind,
        encoded: &[u8],
    ) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let recipients: Vec<ParticipantKey> = r
            .participants
            .iter()
            .copied()
            .filter(|rk| Some(*rk) != sender)
            .filter(|rk| {
                destinations.is_empty()
                    || self
                        .participants
                        .get(*rk)
                        .is_some_and(|p| destinations.contains(&p.identity))
            })
            .collect();
        for rk in recipients {
            self.send_data(rk, kind, encoded);
        }
    }

    fn send_data(&mut self, rk: ParticipantKey, kind: DataKind, encoded: &[u8]) {
        let Some(p) = self.participants.get_mut(rk) else {
            return;
        };
        let subscriber = p.separate_subscriber();
        let single_pc = p.single_pc.is_some();
        let c = &mut p.channels;
        let target = match (subscriber, kind) {
            (Some(peer), DataKind::Reliable) if c.sub_open => c.sub_reliable.map(|id| (peer, id)),
            (Some(peer), DataKind::Lossy) if c.sub_open => c.sub_lossy.map(|id| (peer, id)),
            (Some(_), DataKind::Reliable) => {
                if c.pending_bytes + encoded.len() <= MAX_PENDING_BYTES {
                    c.pending_bytes += encoded.len();
                    c.pending.push(encoded.to_vec());
                }
                None
            }
            (Some(_), DataKind::Lossy) => None,
            // Protocol v1 before the client's `_reliable` channel is open: held as above.
            (None, DataKind::Reliable) if single_pc && c.pub_reliable.is_none() => {
                if c.pending_bytes + encoded.len() <= MAX_PENDING_BYTES {
                    c.pending_bytes += encoded.len();
                    c.pending.push(encoded.to_vec());
                }
                None
            }
            (None, DataKind::Reliable) => p.publisher.zip(c.pub_reliable),
            (None, DataKind::Lossy) => p.publisher.zip(c.pub_lossy),
        };
        let Some((peer_key, id)) = target else { return };
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        if let Some(mut ch) = peer.rtc.channel(id)
            && let Err(e) = ch.write(true, encoded)
        {
            tracing::debug!("data channel write: {e}");
        }
        self.mark_dirty(peer_key);
    }

    /// Sends reliable data held while the participant's subscriber channel (protocol v1: its
    /// own `_reliable` channel) was opening.
    pub(super) fn flush_pending_data(&mut self, participant: ParticipantKey) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let open = if p.single_pc.is_some() {
            p.channels.pub_reliable.is_some()
        } else {
            p.channels.sub_open
        };
        if !open {
            return;
        }
        let pending = std::mem::take(&mut p.channels.pending);
        p.channels.pending_bytes = 0;
        for bytes in pending {
            self.send_data(participant, DataKind::Reliable, &bytes);
        }
    }
}
