//! Routing of client signal requests to the engine's handlers, and the requests small enough to
//! be handled here (leave, metadata updates).

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;

use super::{Engine, ParticipantKey};

impl Engine {
    pub(super) fn on_signal(&mut self, participant: ParticipantKey, msg: Req) {
        if !self.participants.contains_key(participant) {
            return;
        }
        match msg {
            Req::Offer(sd) => self.on_publisher_offer(participant, sd),
            Req::Answer(sd) => self.on_subscriber_answer(participant, sd),
            Req::AddTrack(req) => self.add_track(participant, req),
            Req::Mute(req) => self.on_mute(participant, req),
            Req::Subscription(req) => self.on_update_subscription(participant, req),
            Req::TrackSetting(req) => self.on_track_settings(participant, req),
            Req::Leave(_) => {
                self.remove_participant(participant, proto::DisconnectReason::ClientInitiated, None)
            }
            Req::UpdateMetadata(req) => self.on_update_metadata(participant, req),
            // ICE-lite: the client's candidates are learnt from its connectivity checks.
            Req::Trickle(_) => {}
            // Answered by the signal connection itself.
            Req::Ping(_) | Req::PingReq(_) => {}
            other => {
                tracing::debug!(request = ?std::mem::discriminant(&other), "signal request ignored");
            }
        }
    }

    fn on_update_metadata(
        &mut self,
        participant: ParticipantKey,
        req: proto::UpdateParticipantMetadata,
    ) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        if !p.permission.can_update_metadata {
            p.send(Resp::RequestResponse(proto::RequestResponse {
                request_id: req.request_id,
                reason: proto::request_response::Reason::NotAllowed as i32,
                message: "does not have permission to update own metadata".into(),
                request: Some(proto::request_response::Request::UpdateMetadata(req)),
            }));
            return;
        }
        p.apply_metadata(req.metadata, req.name, req.attributes);
        p.send_grants();
        self.broadcast_participant(participant);
    }
}
