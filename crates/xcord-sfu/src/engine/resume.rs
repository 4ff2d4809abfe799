//! Resume. A connected participant whose signal connection breaks without `leave` is kept for
//! `resume_window` while its media goes on. A reconnect (`reconnect=1`) takes it back over a
//! new signal connection — same sid, tracks and subscriptions — answered with
//! ReconnectResponse, the room's whole state, and an ICE restart of the subscriber connection
//! (the client restarts its publisher connection itself). A stale connection's departure
//! (an older epoch) is ignored.

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;

use super::{Engine, Joined, ParticipantKey, SignalKey, SignalSender};
use crate::auth::JoinGrant;

/// What a signal connection with `reconnect=1` asks the engine.
pub struct ResumeRequest {
    pub grant: JoinGrant,
    /// The participant sid the client resumes (`sid` parameter), if it sent one.
    pub sid: Option<String>,
    pub out: SignalSender,
}

/// Why a resume was refused: the client must join again.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResumeError {
    #[error("no such participant to resume")]
    Unknown,
    #[error("media engine unavailable")]
    Unavailable,
}

impl Engine {
    /// What clients are told about resuming (in JoinResponse and ReconnectResponse).
    pub(super) fn client_configuration(&self) -> proto::ClientConfiguration {
        let resume = if self.cfg.resume_window.is_zero() {
            proto::ClientConfigSetting::Disabled
        } else {
            proto::ClientConfigSetting::Enabled
        };
        proto::ClientConfiguration {
            resume_connection: resume as i32,
            ..Default::default()
        }
    }

    pub(super) fn server_info(&self) -> proto::ServerInfo {
        proto::ServerInfo {
            edition: proto::server_info::Edition::Standard as i32,
            version: self.cfg.server_version.clone(),
            protocol: 17,
            node_id: self.cfg.node_id.clone(),
            ..Default::default()
        }
    }

    /// A signal connection ended. Leaving, a failed upgrade, or a participant whose media never
    /// connected: removed now. A connected participant that lost its connection: kept for a
    /// resume until `resume_window` has passed.
    pub(super) fn on_signal_closed(&mut self, signal: SignalKey, reason: proto::DisconnectReason) {
        let now = self.now;
        let window = self.cfg.resume_window;
        let Some(p) = self.participants.get_mut(signal.participant) else {
            return;
        };
        if p.epoch != signal.epoch {
            tracing::debug!(participant = %p.sid, "an older signal connection closed");
            return;
        }
        let resumable = reason == proto::DisconnectReason::SignalClose
            && !window.is_zero()
            && p.state == proto::participant_info::State::Active
            && !p.lagging;
        if resumable {
            tracing::info!(participant = %p.sid, "signal connection lost; kept for a resume");
            p.signal_lost = Some(now);
            return;
        }
        self.remove_participant(signal.participant, reason, None);
    }

    /// Participants whose resume window has passed.
    pub(super) fn resume_expired(&self) -> Vec<ParticipantKey> {
        let window = self.cfg.resume_window;
        self.participants
            .iter()
            .filter(|(_, p)| {
                p.signal_lost
                    .is_some_and(|lost| self.now.saturating_duration_since(lost) >= window)
            })
            .map(|(k, _)| k)
            .collect()
    }

    pub(super) fn resume(&mut self, req: ResumeRequest) -> Result<Joined, ResumeError> {
        let grant = req.grant;
        let room = self.rooms.get(&grant.room).ok_or(ResumeError::Unknown)?;
        let key = room
            .participants
            .iter()
            .copied()
            .find(|k| {
                self.participants.get(*k).is_some_and(|p| {
                    p.identity == grant.identity
                        && !p.lagging
                        && req.sid.as_ref().is_none_or(|sid| *sid == p.sid)
                })
            })
            .ok_or(ResumeError::Unknown)?;
        let reconnect = proto::ReconnectResponse {
            ice_servers: Vec::new(),
            client_configuration: Some(self.client_configuration()),
            server_info: Some(self.server_info()),
            last_message_seq: 0,
        };
        let everyone: Vec<proto::ParticipantInfo> = room
            .participants
            .iter()
            .filter_map(|k| self.participants.get(*k))
            .filter(|o| !o.is_hidden() || o.identity == grant.identity)
            .map(|o| o.info(&self.tracks))
            .collect();
        let room_info = self.room_proto(&grant.room);
        let p = self.participants.get_mut(key).ok_or(ResumeError::Unknown)?;
        // The old connection's queue is dropped here: it closes, and reports an older epoch.
        p.out = req.out;
        p.epoch += 1;
        p.signal_lost = None;
        p.send(Resp::Reconnect(proto::ReconnectResponse {
            last_message_seq: p.last_reliable_seq,
            ..reconnect
        }));
        p.send(Resp::Update(proto::ParticipantUpdate {
            participants: everyone,
        }));
        p.send(Resp::RoomUpdate(proto::RoomUpdate { room: room_info }));
        let joined = Joined {
            participant: key,
            sid: p.sid.clone(),
            epoch: p.epoch,
        };
        tracing::info!(participant = %p.sid, epoch = p.epoch, "participant resumed");
        self.restart_subscriber_ice(key);
        Ok(joined)
    }

    /// Sends the subscriber connection an ICE-restart offer. An offer the client may never have
    /// seen goes out again first; the restart follows its answer.
    fn restart_subscriber_ice(&mut self, participant: ParticipantKey) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        // v1: one connection, whose ICE restart the client's own re-offer brings.
        if p.subscriber.is_none() || p.single_pc.is_some() {
            return;
        }
        p.neg.ice_restart = true;
        if let Some((_, id)) = &p.neg.pending {
            let offer = proto::SessionDescription {
                r#type: "offer".into(),
                sdp: p.neg.pending_sdp.clone(),
                id: *id,
                ..Default::default()
            };
            p.neg.again = true;
            p.send(Resp::Offer(offer));
            return;
        }
        self.negotiate(participant);
    }
}
