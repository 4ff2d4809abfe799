//! Subscriptions: one `DownTrack` per (subscriber, track), the subscriber connection's
//! offer/answer cycle (one offer outstanding at a time; changes made meanwhile go into the next
//! offer), and the subscriber's own choices (UpdateSubscription, UpdateTrackSettings).
//!
//! m-lines are reused (for every client but Safari, as the reference server does). Protocol v0
//! here, v1 in `single_pc`: an ended subscription's m-line goes `inactive` in the next offer
//! and, once the client has answered that, carries the next new subscription of its kind,
//! presented with the new track's msid (clients announce a track again on a section that goes
//! from inactive to receiving) and a new send stream (new SSRC, as from a new sender: native
//! libwebrtc receivers play nothing from a reactivated line that keeps its old SSRC). Such a
//! subscriber's SDP holds at most as many m-lines as it ever had simultaneous subscriptions,
//! whatever the churn.

use std::collections::HashMap;

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, Reliability};
use str0m::media::{Direction, MediaKind, Mid};

use super::forward::DownForward;
use super::sdp_rewrite::{SectionPlan, present_sections};
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
    /// m-lines whose subscription ended: made inactive in the next offer (v0), or presented
    /// inactive in the next answer (v1).
    pub stops: Vec<Mid>,
    /// Inactive m-lines that can carry a new subscription (v0).
    pub spare: Vec<SpareMid>,
    /// The msid each reused m-line carries (v0): str0m keeps writing the one it was created
    /// with, so every offer is rewritten with these.
    pub msids: HashMap<Mid, (String, String)>,
    /// Ended m-lines are reused (the client announces new tracks on them); otherwise they are
    /// stopped and every subscription gets a new one.
    pub reuse: bool,
}

/// An inactive m-line of the subscriber connection (v0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpareMid {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The client has answered an offer showing the line inactive: it may carry a new track.
    pub ready: bool,
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
        // Someone new watches: its share of the bandwidth, then the layers the publisher sends.
        self.allocate_bandwidth(peer, self.now);
        self.update_dynacast(tk, self.now);
        Some(dk)
    }

    /// Removes a subscription everywhere and queues its m-line to be made inactive; returns the
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
        let ended: Vec<(Mid, MediaKind)> = p
            .neg
            .stops
            .drain(..)
            .filter_map(|mid| Some((mid, peer.rtc.media(mid)?.kind())))
            .collect();
        // Ready spare lines carry new subscriptions of their kind, each with a new send stream
        // announced in this offer (as a new sender would have).
        let picks: Vec<Option<Mid>> = additions
            .iter()
            .map(|(_, kind, ..)| {
                let i = p
                    .neg
                    .spare
                    .iter()
                    .position(|s| s.ready && s.kind == *kind)?;
                Some(p.neg.spare.remove(i).mid)
            })
            .collect();
        for &mid in picks.iter().flatten() {
            renew_send_stream(&mut peer.rtc, mid);
        }
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
        for (mid, kind) in ended {
            if !p.neg.reuse {
                api.stop_media(mid);
                continue;
            }
            api.set_direction(mid, Direction::Inactive);
            p.neg.spare.push(SpareMid {
                mid,
                kind,
                ready: false,
            });
        }
        let mut added = Vec::with_capacity(additions.len());
        for ((dk, kind, stream_id, track_id), pick) in additions.into_iter().zip(picks) {
            let mid = match pick {
                Some(mid) => {
                    api.set_direction(mid, Direction::SendOnly);
                    p.neg.msids.insert(mid, (stream_id, track_id));
                    mid
                }
                None => api.add_media(
                    kind,
                    Direction::SendOnly,
                    Some(stream_id),
                    Some(track_id),
                    None,
                ),
            };
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
        // Reused lines name their track; spare ones name none (str0m keeps writing the msid a
        // line was created with, and two sections must not claim one track).
        let mut plan: SectionPlan = p
            .neg
            .msids
            .iter()
            .map(|(mid, msid)| (mid.to_string(), Some(msid.clone())))
            .collect();
        for spare in &p.neg.spare {
            plan.insert(spare.mid.to_string(), None);
        }
        p.neg.pending_sdp = present_sections(&offer.to_sdp_string(), &plan);
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
        // The client has seen every spare line inactive now.
        for spare in &mut p.neg.spare {
            spare.ready = true;
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
        self.allocate_bandwidth(peer_key, now);
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
            let peer = down.peer;
            if resumed {
                down.fwd.resume();
                self.request_keyframe_for(tk, None, now);
            }
            self.allocate_bandwidth(peer, now);
            self.update_dynacast(tk, now);
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

/// Gives a reused m-line a new send stream: a new SSRC (and RTX SSRC), announced in the next
/// offer or answer, so the client sees a new source on the line, as it would from a new sender.
/// (libwebrtc's native receivers play nothing when a reactivated line keeps its old SSRC.)
pub(super) fn renew_send_stream(rtc: &mut Rtc, mid: Mid) {
    let mut api = rtc.direct_api();
    let Some(old) = api.stream_tx_by_mid(mid, None) else {
        return;
    };
    let (ssrc, rtx) = (old.ssrc(), old.rtx());
    api.remove_stream_tx(ssrc);
    let new_ssrc = api.new_ssrc();
    let new_rtx = rtx.map(|_| api.new_ssrc());
    api.declare_stream_tx(new_ssrc, new_rtx, mid, None);
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
