//! Subscriptions: one `DownTrack` per (subscriber, track), the subscriber connection's
//! offer/answer cycle (one offer outstanding at a time; changes made meanwhile go into the next
//! offer), and the subscriber's own choices (UpdateSubscription, UpdateTrackSettings).

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, Reliability};
use str0m::media::{Direction, MediaKind, Mid};

use super::forward::DownForward;
use super::{DownKey, Engine, ParticipantKey, PeerKey, TrackKey};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownState {
    /// Waiting to be added to the next subscriber offer.
    Pending,
    /// In an offer the client has not answered yet.
    Offered,
    /// Negotiated: media flows.
    Live,
}

pub struct DownTrack {
    pub track: TrackKey,
    pub subscriber: ParticipantKey,
    pub peer: PeerKey,
    pub mid: Option<Mid>,
    pub state: DownState,
    pub fwd: DownForward,
}

/// The subscriber connection's negotiation state.
#[derive(Default)]
pub struct Negotiation {
    pub pending: Option<(SdpPendingOffer, u32)>,
    /// The outstanding offer's SDP, to send again if the client never saw it (a resume).
    pub pending_sdp: String,
    /// The next offer restarts ICE (new credentials, same DTLS and media).
    pub ice_restart: bool,
    pub last_id: u32,
    /// Something changed while an offer was outstanding.
    pub again: bool,
    pub channels_added: bool,
    /// m-lines to stop in the next offer.
    pub stops: Vec<Mid>,
}

impl Engine {
    /// Subscribes `sub` to `tk` unless it already is (or it is its own track).
    pub(super) fn subscribe(&mut self, sub: ParticipantKey, tk: TrackKey) -> Option<DownKey> {
        let p = self.participants.get(sub)?;
        let peer = p.subscriber?;
        let track = self.tracks.get(tk)?;
        if track.publisher == sub
            || track
                .downs
                .iter()
                .any(|d| self.downs.get(*d).is_some_and(|d| d.subscriber == sub))
        {
            return None;
        }
        let dk = self.downs.insert(DownTrack {
            track: tk,
            subscriber: sub,
            peer,
            mid: None,
            state: DownState::Pending,
            fwd: DownForward::new(),
        });
        if let Some(t) = self.tracks.get_mut(tk) {
            t.downs.push(dk);
        }
        if let Some(p) = self.participants.get_mut(sub) {
            p.downs.push(dk);
        }
        Some(dk)
    }

    /// Removes a subscription everywhere and queues its m-line to be stopped; returns the
    /// subscriber, whose connection needs renegotiating.
    pub(super) fn detach_down(&mut self, dk: DownKey) -> Option<ParticipantKey> {
        let down = self.downs.remove(dk)?;
        if let Some(t) = self.tracks.get_mut(down.track) {
            t.downs.retain(|d| *d != dk);
        }
        if let Some(mid) = down.mid
            && let Some(peer) = self.peers.get_mut(down.peer)
        {
            peer.mids.remove(&mid);
        }
        let p = self.participants.get_mut(down.subscriber)?;
        p.downs.retain(|d| *d != dk);
        if let Some(mid) = down.mid {
            p.neg.stops.push(mid);
        }
        Some(down.subscriber)
    }

    /// Sends the subscriber a new offer with every pending change, unless one is outstanding.
    pub(super) fn negotiate(&mut self, participant: ParticipantKey) {
        let Some(p) = self.participants.get(participant) else {
            return;
        };
        if p.single_pc.is_some() {
            return self.negotiate_single_pc(participant);
        }
        let Some(peer_key) = p.subscriber else {
            return;
        };
        if p.neg.pending.is_some() {
            if let Some(p) = self.participants.get_mut(participant) {
                p.neg.again = true;
            }
            return;
        }
        // What the offer must add: (subscription, kind, stream id, track id).
        let additions: Vec<(DownKey, MediaKind, String, String)> = p
            .downs
            .iter()
            .filter_map(|&dk| {
                let down = self
                    .downs
                    .get(dk)
                    .filter(|d| d.state == DownState::Pending)?;
                let track = self.tracks.get(down.track)?;
                let publisher = self.participants.get(track.publisher)?;
                let stream_id = format!("{}|{}", publisher.sid, track.info.sid);
                Some((dk, track.kind, stream_id, track.info.sid.clone()))
            })
            .collect();
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        let mut api = peer.rtc.sdp_api();
        if std::mem::take(&mut p.neg.ice_restart) {
            // Registered before the offer leaves: the client's checks may beat its answer.
            let creds = api.ice_restart(true);
            peer.old_ufrags.push(creds.ufrag.clone());
            self.by_ufrag.insert(creds.ufrag, peer_key);
        }
        if !p.neg.channels_added {
            p.neg.channels_added = true;
            p.channels.sub_reliable = Some(api.add_channel_with_config(ChannelConfig {
                label: super::data::RELIABLE.into(),
                ordered: true,
                reliability: Reliability::Reliable,
                ..Default::default()
            }));
            p.channels.sub_lossy = Some(api.add_channel_with_config(ChannelConfig {
                label: super::data::LOSSY.into(),
                ordered: false,
                reliability: Reliability::MaxRetransmits { retransmits: 0 },
                ..Default::default()
            }));
        }
        for mid in p.neg.stops.drain(..) {
            api.stop_media(mid);
        }
        let mut added = Vec::with_capacity(additions.len());
        for (dk, kind, stream_id, track_id) in additions {
            let mid = api.add_media(
                kind,
                Direction::SendOnly,
                Some(stream_id),
                Some(track_id),
                None,
            );
            added.push((dk, mid));
        }
        let applied = api.apply();
        for &(dk, mid) in &added {
            peer.mids.insert(mid, dk);
            if let Some(down) = self.downs.get_mut(dk) {
                down.mid = Some(mid);
                down.state = DownState::Offered;
            }
        }
        let Some((offer, pending)) = applied else {
            return;
        };
        p.neg.last_id += 1;
        let id = p.neg.last_id;
        p.neg.pending = Some((pending, id));
        p.neg.pending_sdp = offer.to_sdp_string();
        p.send(Resp::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp: p.neg.pending_sdp.clone(),
            id,
            ..Default::default()
        }));
        self.mark_dirty(peer_key);
    }

    pub(super) fn on_subscriber_answer(
        &mut self,
        participant: ParticipantKey,
        sd: proto::SessionDescription,
    ) {
        let now = self.now;
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let matches = p
            .neg
            .pending
            .as_ref()
            .is_some_and(|(_, id)| sd.id == 0 || sd.id == *id);
        if !matches {
            tracing::debug!(participant = %p.sid, id = sd.id, "stale subscriber answer ignored");
            return;
        }
        let Some((pending, _)) = p.neg.pending.take() else {
            return;
        };
        let Some(peer_key) = p.subscriber else {
            return;
        };
        let answer = match SdpAnswer::from_sdp_string(&sd.sdp) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("unparsable subscriber answer: {e}");
                return;
            }
        };
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        if let Err(e) = peer.rtc.sdp_api().accept_answer(pending, answer) {
            tracing::warn!("subscriber answer refused: {e}");
            return;
        }
        let downs = p.downs.clone();
        self.mark_dirty(peer_key);
        for dk in downs {
            let Some(down) = self.downs.get_mut(dk) else {
                continue;
            };
            if down.state == DownState::Offered {
                down.state = DownState::Live;
                let track = down.track;
                self.request_keyframe_for(track, None, now);
            }
        }
        if let Some(p) = self.participants.get_mut(participant)
            && std::mem::take(&mut p.neg.again)
        {
            self.negotiate(participant);
        }
    }

    pub(super) fn on_update_subscription(
        &mut self,
        participant: ParticipantKey,
        us: proto::UpdateSubscription,
    ) {
        let Some(p) = self.participants.get(participant) else {
            return;
        };
        let room = p.room.clone();
        let sids: Vec<String> = us
            .track_sids
            .into_iter()
            .chain(
                us.participant_tracks
                    .into_iter()
                    .flat_map(|pt| pt.track_sids),
            )
            .collect();
        let mut changed = false;
        for sid in sids {
            let tk = self
                .rooms
                .get(&room)
                .and_then(|r| r.track_sids.get(&sid).copied());
            let Some(tk) = tk else {
                if us.subscribe
                    && let Some(p) = self.participants.get_mut(participant)
                {
                    p.send(Resp::SubscriptionResponse(proto::SubscriptionResponse {
                        track_sid: sid,
                        err: proto::SubscriptionError::SeTrackNotfound as i32,
                    }));
                }
                continue;
            };
            if us.subscribe {
                changed |= self.subscribe(participant, tk).is_some();
            } else if let Some(dk) = self.down_of(participant, tk) {
                changed |= self.detach_down(dk).is_some();
            }
        }
        if changed {
            self.negotiate(participant);
        }
    }

    pub(super) fn on_track_settings(
        &mut self,
        participant: ParticipantKey,
        s: proto::UpdateTrackSettings,
    ) {
        let Some(p) = self.participants.get(participant) else {
            return;
        };
        let room = p.room.clone();
        let now = self.now;
        for sid in &s.track_sids {
            let Some(tk) = self
                .rooms
                .get(&room)
                .and_then(|r| r.track_sids.get(sid).copied())
            else {
                continue;
            };
            let Some(dk) = self.down_of(participant, tk) else {
                continue;
            };
            let Some(track) = self.tracks.get(tk) else {
                continue;
            };
            let max_quality = requested_quality(&track.info, &s);
            let Some(down) = self.downs.get_mut(dk) else {
                continue;
            };
            let resumed = down.fwd.disabled && !s.disabled;
            down.fwd.disabled = s.disabled;
            down.fwd.max_quality = max_quality;
            if resumed {
                down.fwd.resume();
                self.request_keyframe_for(tk, None, now);
            }
        }
    }

    pub(super) fn down_of(&self, sub: ParticipantKey, tk: TrackKey) -> Option<DownKey> {
        let p = self.participants.get(sub)?;
        p.downs
            .iter()
            .copied()
            .find(|dk| self.downs.get(*dk).is_some_and(|d| d.track == tk))
    }
}

/// The highest layer quality worth sending for a subscriber's requested size (the smallest layer
/// at least 90 % of the requested height), or its explicit quality when no size is given.
fn requested_quality(info: &proto::TrackInfo, s: &proto::UpdateTrackSettings) -> i32 {
    let high = proto::VideoQuality::High as i32;
    if s.width == 0 && s.height == 0 {
        return if s.quality == proto::VideoQuality::Off as i32 {
            high
        } else {
            s.quality.min(high)
        };
    }
    let mut layers: Vec<&proto::VideoLayer> =
        info.codecs.iter().flat_map(|c| c.layers.iter()).collect();
    layers.sort_by_key(|l| l.quality);
    let portrait = info.height > info.width;
    for l in layers {
        let (have, want) = if portrait {
            (l.width, s.width)
        } else {
            (l.height, s.height)
        };
        if have > 0 && f64::from(have) >= 0.9 * f64::from(want) {
            return l.quality;
        }
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> proto::TrackInfo {
        let layer = |q: proto::VideoQuality, w, h| proto::VideoLayer {
            quality: q as i32,
            width: w,
            height: h,
            ..Default::default()
        };
        proto::TrackInfo {
            width: 1280,
            height: 720,
            codecs: vec![proto::SimulcastCodecInfo {
                layers: vec![
                    layer(proto::VideoQuality::Low, 320, 180),
                    layer(proto::VideoQuality::Medium, 640, 360),
                    layer(proto::VideoQuality::High, 1280, 720),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn picks_smallest_sufficient_layer() {
        let s = |w, h| proto::UpdateTrackSettings {
            width: w,
            height: h,
            ..Default::default()
        };
        assert_eq!(
            requested_quality(&info(), &s(300, 170)),
            proto::VideoQuality::Low as i32
        );
        assert_eq!(
            requested_quality(&info(), &s(640, 340)),
            proto::VideoQuality::Medium as i32
        );
        assert_eq!(
            requested_quality(&info(), &s(1920, 1080)),
            proto::VideoQuality::High as i32
        );
        let explicit = proto::UpdateTrackSettings {
            quality: proto::VideoQuality::Low as i32,
            ..Default::default()
        };
        assert_eq!(
            requested_quality(&info(), &explicit),
            proto::VideoQuality::Low as i32
        );
    }
}
