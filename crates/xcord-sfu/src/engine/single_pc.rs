//! Protocol v1: one peer connection per participant, carrying its published tracks, its
//! subscriptions and its data channels. The client always offers and the server only answers.
//!
//! Subscriptions ride on the client's receive-only m-sections: each subscribed track is placed
//! on a free section of its kind when the client's next offer is answered. That answer gives the
//! section `a=msid:<PA_publisher>|<TR_track> <TR_track>` (str0m would write a random msid) and
//! answers sections that carry nothing `inactive`; every answer carries the full
//! `mid_to_track_id` map. When there are more subscriptions than free sections, or a placeable
//! subscription but no offer to answer, the client gets a `MediaSectionsRequirement` (counts of
//! sections to add; zero counts ask for a re-offer). A section whose subscription ended is
//! answered `inactive` once and is free again after that answer: browsers announce a new track
//! only on a section that goes from inactive to receiving, so it is never handed straight from
//! one track to the next (for livekit-client; for the native SDKs a released section is retired).
//! A section the client stops receiving on is retired for good.
//!
//! [`SinglePc`] is the pure bookkeeping; the `Engine` methods at the end apply it.

use std::collections::HashMap;

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use str0m::change::SdpOffer;
use str0m::media::{MediaKind, Mid};

use super::sdp::{MediaSection, SectionKind, media_sections};
use super::sdp_rewrite::{SectionPlan, present_sections};
use super::subscribe::DownState;
use super::{DownKey, Engine, ParticipantKey};

/// What one of the client's receive-only sections is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionUse {
    /// Nothing yet: the next answer may place a subscription here.
    Free,
    /// Carries this subscription.
    Carrying(DownKey),
    /// Carried a subscription that ended: the next answer presents it `inactive`, after which
    /// it is free again.
    Released,
    /// The client stopped receiving on it: never used again.
    Retired,
}

/// One receive-only m-section of the client's offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvSection {
    pub mid: Mid,
    pub kind: MediaKind,
    pub usage: SectionUse,
}

/// The single peer connection's negotiation state.
#[derive(Debug, Default)]
pub struct SinglePc {
    /// The client's receive-only sections, in the order they were first offered.
    pub sections: Vec<RecvSection>,
    /// Sections asked for with MediaSectionsRequirement and not offered yet: [audio, video].
    requested: [u32; 2],
    /// A requirement went out and no offer has arrived since.
    awaiting_offer: bool,
    /// The client has made its first offer (nothing is asked of it before).
    seen_offer: bool,
    /// Released sections become free again (the client announces new tracks on them);
    /// otherwise they are retired.
    reuse: bool,
}

fn kind_index(kind: MediaKind) -> usize {
    usize::from(kind == MediaKind::Video)
}

impl SinglePc {
    pub fn new(reuse: bool) -> Self {
        Self {
            reuse,
            ..Self::default()
        }
    }

    /// Takes in the m-sections of a client offer: new receive-only sections become free; a
    /// known section the client no longer receives on is retired, and its subscription (if any)
    /// is returned so it can be ended.
    pub fn learn_offer(&mut self, offered: &[MediaSection]) -> Vec<DownKey> {
        self.seen_offer = true;
        self.awaiting_offer = false;
        let mut ended = Vec::new();
        for s in offered {
            let kind = match s.kind {
                SectionKind::Audio => MediaKind::Audio,
                SectionKind::Video => MediaKind::Video,
                _ => continue,
            };
            if s.mid.is_empty() {
                continue;
            }
            let mid = Mid::from(s.mid.as_str());
            let wants_media = s.receiving && !s.sending;
            match self.sections.iter_mut().find(|k| k.mid == mid) {
                Some(known) if !wants_media && known.usage != SectionUse::Retired => {
                    if let SectionUse::Carrying(dk) = known.usage {
                        ended.push(dk);
                    }
                    known.usage = SectionUse::Retired;
                }
                Some(_) => {}
                None if wants_media => {
                    let requested = &mut self.requested[kind_index(kind)];
                    *requested = requested.saturating_sub(1);
                    self.sections.push(RecvSection {
                        mid,
                        kind,
                        usage: SectionUse::Free,
                    });
                }
                None => {}
            }
        }
        ended
    }

    /// Places waiting subscriptions on free sections of their kind, first come first served;
    /// returns the placements.
    pub fn place(&mut self, waiting: &[(DownKey, MediaKind)]) -> Vec<(DownKey, Mid)> {
        let plan = self.placement(waiting);
        for &(dk, i) in &plan {
            self.sections[i].usage = SectionUse::Carrying(dk);
        }
        plan.into_iter()
            .map(|(dk, i)| (dk, self.sections[i].mid))
            .collect()
    }

    /// The sections `place` would give these subscriptions, without placing them.
    pub fn would_place(&self, waiting: &[(DownKey, MediaKind)]) -> Vec<Mid> {
        self.placement(waiting)
            .into_iter()
            .map(|(_, i)| self.sections[i].mid)
            .collect()
    }

    /// (subscription, section index) for each waiting subscription a free section can take.
    fn placement(&self, waiting: &[(DownKey, MediaKind)]) -> Vec<(DownKey, usize)> {
        let mut taken = vec![false; self.sections.len()];
        let mut plan = Vec::new();
        for &(dk, kind) in waiting {
            let free = (0..self.sections.len()).find(|&i| {
                let s = &self.sections[i];
                !taken[i] && s.kind == kind && s.usage == SectionUse::Free
            });
            if let Some(i) = free {
                taken[i] = true;
                plan.push((dk, i));
            }
        }
        plan
    }

    /// The subscription on `mid` ended: the section is released.
    pub fn release(&mut self, mid: Mid) {
        if let Some(s) = self.sections.iter_mut().find(|s| s.mid == mid)
            && matches!(s.usage, SectionUse::Carrying(_))
        {
            s.usage = if self.reuse {
                SectionUse::Released
            } else {
                SectionUse::Retired
            };
        }
    }

    /// An answer went out: the sections it presented `inactive` after a release are free.
    pub fn answered(&mut self) {
        for s in &mut self.sections {
            if s.usage == SectionUse::Released {
                s.usage = SectionUse::Free;
            }
        }
    }

    fn count(&self, kind: MediaKind, usage: SectionUse) -> u32 {
        let n = self
            .sections
            .iter()
            .filter(|s| s.kind == kind && s.usage == usage)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn free(&self, kind: MediaKind) -> u32 {
        self.count(kind, SectionUse::Free)
    }

    /// What to ask of the client, given the subscriptions waiting for a section ([audio,
    /// video]) and whether the current answer no longer fits (a subscription ended):
    /// sections to add for those that cannot be placed, or a bare re-offer when they can be
    /// placed (or the answer must change) but no offer is coming. Nothing before the client's
    /// first offer, which is answered anyway.
    pub fn requirement(
        &mut self,
        waiting: [u32; 2],
        answer_stale: bool,
    ) -> Option<proto::MediaSectionsRequirement> {
        if !self.seen_offer {
            return None;
        }
        let mut need = [0u32; 2];
        let mut placeable = false;
        for (i, kind) in [MediaKind::Audio, MediaKind::Video].into_iter().enumerate() {
            let free = self.free(kind);
            // Released sections are free after the next answer: no need to add sections.
            let soon_free = free.saturating_add(self.count(kind, SectionUse::Released));
            placeable |= waiting[i] > 0 && free > 0;
            need[i] = waiting[i].saturating_sub(soon_free.saturating_add(self.requested[i]));
        }
        let reoffer = (placeable || answer_stale) && !self.awaiting_offer;
        if need == [0, 0] && !reoffer {
            return None;
        }
        self.requested[0] += need[0];
        self.requested[1] += need[1];
        self.awaiting_offer = true;
        Some(proto::MediaSectionsRequirement {
            num_audios: need[0],
            num_videos: need[1],
        })
    }
}

impl Engine {
    /// A v1 client's offer: learns its sections, places waiting subscriptions, answers (same id,
    /// full `mid_to_track_id`), publishes what it sends, then asks for more sections if needed.
    pub(super) fn on_single_pc_offer(
        &mut self,
        participant: ParticipantKey,
        sd: proto::SessionDescription,
    ) {
        let now = self.now;
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let Some(peer_key) = p.publisher else {
            return;
        };
        let offer = match SdpOffer::from_sdp_string(&sd.sdp) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(participant = %p.sid, "unparsable offer: {e}");
                return;
            }
        };
        let sections = media_sections(&sd.sdp);
        let stops: Vec<Mid> = p.neg.stops.drain(..).collect();
        let Some(single) = p.single_pc.as_mut() else {
            return;
        };
        for mid in stops {
            single.release(mid);
        }
        let ended = single.learn_offer(&sections);
        for dk in ended {
            self.detach_down(dk);
        }
        let waiting = self.waiting_downs(participant);
        let reused = self
            .participants
            .get(participant)
            .and_then(|p| p.single_pc.as_ref())
            .map(|single| single.would_place(&waiting))
            .unwrap_or_default();
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        // Sections about to carry a track get a new send stream in this answer.
        for mid in reused {
            super::subscribe::renew_send_stream(&mut peer.rtc, mid);
        }
        let answer = match peer.rtc.sdp_api().accept_offer(offer) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("offer refused: {e}");
                return;
            }
        };
        // A resumed client's offer restarts ICE: route the new ufrag at once.
        self.learn_local_ufrag(peer_key);
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        // Subscriptions ended just now queued their (already retired) sections again.
        p.neg.stops.clear();
        let Some(single) = p.single_pc.as_mut() else {
            return;
        };
        // Placed only once the offer is accepted: a refused offer leaves them waiting.
        let placed = single.place(&waiting);
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        for &(dk, mid) in &placed {
            peer.mids.insert(mid, dk);
            if let Some(down) = self.downs.get_mut(dk) {
                down.mid = Some(mid);
                down.state = DownState::Live;
            }
        }
        self.mark_dirty(peer_key);
        let (plan, mid_to_track_id) = self.section_plan(participant);
        if let Some(single) = self
            .participants
            .get_mut(participant)
            .and_then(|p| p.single_pc.as_mut())
        {
            single.answered();
        }
        let no_red = self.red_disabled_mids(participant, peer_key, &sd.sdp);
        let stereo = self.stereo_mids(participant, peer_key, &sd.sdp);
        let sdp = present_sections(&answer.to_sdp_string(), &plan);
        let sdp = super::sdp::without_red(&sdp, &no_red);
        let sdp = super::sdp::with_stereo(&sdp, &stereo);
        if let Some(p) = self.participants.get_mut(participant) {
            p.send(Resp::Answer(proto::SessionDescription {
                r#type: "answer".into(),
                sdp,
                id: sd.id,
                mid_to_track_id,
            }));
        }
        for section in &sections {
            self.apply_publisher_section(participant, peer_key, section);
        }
        for (dk, _) in placed {
            if let Some(track) = self.downs.get(dk).map(|d| d.track) {
                self.request_keyframe_for(track, None, now);
            }
        }
        self.negotiate_single_pc(participant);
    }

    /// Something changed for a v1 participant (a subscription came or went): asks its client
    /// for sections or for a re-offer when needed.
    pub(super) fn negotiate_single_pc(&mut self, participant: ParticipantKey) {
        let waiting = self.waiting_downs(participant);
        let mut counts = [0u32; 2];
        for (_, kind) in &waiting {
            counts[kind_index(*kind)] += 1;
        }
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let stops: Vec<Mid> = p.neg.stops.drain(..).collect();
        let Some(single) = p.single_pc.as_mut() else {
            return;
        };
        let answer_stale = !stops.is_empty();
        for mid in stops {
            single.release(mid);
        }
        if let Some(req) = single.requirement(counts, answer_stale) {
            tracing::debug!(participant = %p.sid, audio = req.num_audios, video = req.num_videos, "media sections requirement");
            p.send(Resp::MediaSectionsRequirement(req));
        }
    }

    /// The participant's subscriptions still waiting for a section, with their kind.
    fn waiting_downs(&self, participant: ParticipantKey) -> Vec<(DownKey, MediaKind)> {
        let Some(p) = self.participants.get(participant) else {
            return Vec::new();
        };
        p.downs
            .iter()
            .filter_map(|&dk| {
                let down = self.downs.get(dk)?;
                if down.state != DownState::Pending {
                    return None;
                }
                Some((dk, self.tracks.get(down.track)?.kind))
            })
            .collect()
    }

    /// How the answer must present each receive-only section, and the `mid_to_track_id` map of
    /// the sections that carry a track.
    fn section_plan(&self, participant: ParticipantKey) -> (SectionPlan, HashMap<String, String>) {
        let mut plan = SectionPlan::new();
        let mut mid_to_track_id = HashMap::new();
        let Some(single) = self
            .participants
            .get(participant)
            .and_then(|p| p.single_pc.as_ref())
        else {
            return (plan, mid_to_track_id);
        };
        for s in &single.sections {
            let carried = match s.usage {
                SectionUse::Carrying(dk) => self.downs.get(dk).and_then(|d| {
                    let track = self.tracks.get(d.track)?;
                    let publisher = self.participants.get(track.publisher)?;
                    Some((
                        format!("{}|{}", publisher.sid, track.info.sid),
                        track.info.sid.clone(),
                    ))
                }),
                SectionUse::Free | SectionUse::Released | SectionUse::Retired => None,
            };
            if let Some((_, track)) = &carried {
                mid_to_track_id.insert(s.mid.to_string(), track.clone());
            }
            plan.insert(s.mid.to_string(), carried);
        }
        (plan, mid_to_track_id)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::Strategy as _;
    use proto::signal_request::Message as Req;
    use slotmap::SlotMap;

    use super::*;

    fn section(kind: SectionKind, mid: &str, sending: bool, receiving: bool) -> MediaSection {
        MediaSection {
            kind,
            mid: mid.into(),
            sending,
            receiving,
            track_id: None,
            send_rids: Vec::new(),
        }
    }

    /// The JS and Rust SDKs' first offer: data, 3 audio and 3 video receive-only sections.
    fn initial_offer() -> Vec<MediaSection> {
        let mut v = vec![section(SectionKind::Application, "0", false, false)];
        for mid in ["1", "2", "3"] {
            v.push(section(SectionKind::Audio, mid, false, true));
        }
        for mid in ["4", "5", "6"] {
            v.push(section(SectionKind::Video, mid, false, true));
        }
        v
    }

    fn downs(n: usize) -> Vec<DownKey> {
        let mut keys: SlotMap<DownKey, ()> = SlotMap::with_key();
        (0..n).map(|_| keys.insert(())).collect()
    }

    #[test]
    fn places_subscriptions_on_free_sections_of_their_kind() {
        let mut pc = SinglePc::default();
        assert!(pc.learn_offer(&initial_offer()).is_empty());
        let d = downs(3);
        let placed = pc.place(&[
            (d[0], MediaKind::Video),
            (d[1], MediaKind::Audio),
            (d[2], MediaKind::Audio),
        ]);
        assert_eq!(
            placed,
            vec![
                (d[0], Mid::from("4")),
                (d[1], Mid::from("1")),
                (d[2], Mid::from("2"))
            ]
        );
        assert_eq!(pc.free(MediaKind::Audio), 1);
        assert_eq!(pc.free(MediaKind::Video), 2);
        // Nothing is waiting: nothing to ask.
        assert_eq!(pc.requirement([0, 0], false), None);
    }

    #[test]
    fn asks_for_the_missing_sections_once_and_counts_them_when_offered() {
        let mut pc = SinglePc::default();
        // Before the first offer nothing is asked: that offer is answered anyway.
        assert_eq!(pc.requirement([5, 0], false), None);
        pc.learn_offer(&initial_offer());
        let d = downs(5);
        let waiting: Vec<_> = d.iter().map(|k| (*k, MediaKind::Audio)).collect();
        assert_eq!(pc.place(&waiting).len(), 3);
        let req = pc.requirement([2, 0], false).unwrap();
        assert_eq!((req.num_audios, req.num_videos), (2, 0));
        // Asked already: no second requirement while waiting for them.
        assert_eq!(pc.requirement([2, 0], false), None);
        // One more subscription meanwhile: only the difference is asked.
        let req = pc.requirement([3, 0], false).unwrap();
        assert_eq!((req.num_audios, req.num_videos), (1, 0));
        // The client offers the three new sections.
        let mut offer = initial_offer();
        for mid in ["7", "8", "9"] {
            offer.push(section(SectionKind::Audio, mid, false, true));
        }
        pc.learn_offer(&offer);
        assert_eq!(pc.requested, [0, 0]);
        assert_eq!(pc.free(MediaKind::Audio), 3);
    }

    #[test]
    fn asks_for_a_bare_reoffer_when_a_free_section_waits_for_an_answer() {
        let mut pc = SinglePc::default();
        pc.learn_offer(&initial_offer());
        let req = pc.requirement([0, 1], false).unwrap();
        assert_eq!((req.num_audios, req.num_videos), (0, 0));
        assert_eq!(pc.requirement([0, 1], false), None, "asked once per offer");
        pc.learn_offer(&initial_offer());
        // An ended subscription also needs a new answer.
        assert!(pc.requirement([0, 0], true).is_some());
    }

    #[test]
    fn released_sections_are_free_after_an_answer_and_stopped_ones_end_their_subscription() {
        let mut pc = SinglePc::new(true);
        pc.learn_offer(&initial_offer());
        let d = downs(5);
        pc.place(&[(d[0], MediaKind::Audio), (d[1], MediaKind::Audio)]);
        pc.release(Mid::from("1"));
        // Not handed straight to the next track: section 1 must be answered inactive first.
        let placed = pc.place(&[(d[2], MediaKind::Audio)]);
        assert_eq!(placed, vec![(d[2], Mid::from("3"))]);
        // No section to add for a subscription that fits the released one.
        let req = pc.requirement([1, 0], true).unwrap();
        assert_eq!((req.num_audios, req.num_videos), (0, 0));
        // The client stops section 2 (its transceiver went inactive): that subscription ends.
        let mut offer = initial_offer();
        offer[2].receiving = false;
        assert_eq!(pc.learn_offer(&offer), vec![d[1]]);
        assert_eq!(pc.place(&[(d[3], MediaKind::Audio)]), vec![]);
        assert_eq!(pc.sections[0].usage, SectionUse::Released);
        assert_eq!(pc.sections[1].usage, SectionUse::Retired);
        // The answer presented section 1 inactive: it carries the next track; 2 never again.
        pc.answered();
        assert_eq!(
            pc.place(&[(d[3], MediaKind::Audio), (d[4], MediaKind::Audio)]),
            vec![(d[3], Mid::from("1"))]
        );
        assert_eq!(pc.sections[1].usage, SectionUse::Retired);
        // Published (sending) sections are not receive sections.
        let mut offer = initial_offer();
        offer.push(section(SectionKind::Audio, "7", true, false));
        pc.learn_offer(&offer);
        assert!(pc.sections.iter().all(|s| s.mid != Mid::from("7")));
    }

    #[test]
    fn without_reuse_a_released_section_is_retired() {
        let mut pc = SinglePc::new(false);
        pc.learn_offer(&initial_offer());
        let d = downs(2);
        pc.place(&[(d[0], MediaKind::Audio)]);
        pc.release(Mid::from("1"));
        pc.answered();
        assert_eq!(pc.sections[0].usage, SectionUse::Retired);
        assert_eq!(
            pc.place(&[(d[1], MediaKind::Audio)]),
            vec![(d[1], Mid::from("2"))]
        );
    }

    /// A v1 client's offer as Chrome sends it: data plus one audio and one video placeholder.
    const V1_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1 2\r\na=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 2C:31:1A:7D:BC:4A:24:21:58:9A:0A:5D:61:B4:12:6E:2A:5C:5C:6B:8C:5F:4B:20:61:F3:A1:0C:7E:1B:5D:22\r\n\
a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 2C:31:1A:7D:BC:4A:24:21:58:9A:0A:5D:61:B4:12:6E:2A:5C:5C:6B:8C:5F:4B:20:61:F3:A1:0C:7E:1B:5D:22\r\n\
a=setup:actpass\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 2C:31:1A:7D:BC:4A:24:21:58:9A:0A:5D:61:B4:12:6E:2A:5C:5C:6B:8C:5F:4B:20:61:F3:A1:0C:7E:1B:5D:22\r\n\
a=setup:actpass\r\na=mid:2\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n";

    fn offer(sdp: &str, id: u32) -> Req {
        Req::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp: sdp.into(),
            id,
            ..Default::default()
        })
    }

    fn drain(rx: &mut tokio::sync::mpsc::Receiver<super::super::Outbound>) -> Vec<Resp> {
        let mut out = Vec::new();
        while let Ok(super::super::Outbound::Signal(s)) = rx.try_recv() {
            out.extend(s.message);
        }
        out
    }

    #[test]
    fn a_v1_client_gets_a_v0_speakers_tracks_on_its_sections() {
        use super::super::testing::{engine, join, join_as};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let mut e = engine();
        let (speaker, _s_rx) = join(&mut e, "r", "speaker");
        for (cid, kind, source) in [
            (
                "mic-cid",
                proto::TrackType::Audio,
                proto::TrackSource::Microphone,
            ),
            (
                "cam-cid",
                proto::TrackType::Video,
                proto::TrackSource::Camera,
            ),
        ] {
            e.on_signal(
                speaker,
                Req::AddTrack(proto::AddTrackRequest {
                    cid: cid.into(),
                    r#type: kind as i32,
                    source: source as i32,
                    ..Default::default()
                }),
            );
        }
        e.on_signal(speaker, offer(super::super::sample_offer::OFFER, 1));
        let (client, mut rx) = join_as(&mut e, "r", "client", true);
        e.on_signal(client, offer(V1_OFFER, 1));
        let msgs = drain(&mut rx);
        assert!(matches!(msgs.first(), Some(Resp::Join(j)) if !j.subscriber_primary));
        let answer = msgs
            .iter()
            .find_map(|m| match m {
                Resp::Answer(a) => Some(a.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(answer.id, 1);
        let speaker_sid = e.participants[speaker].sid.clone();
        let tracks: Vec<String> = e.participants[speaker]
            .tracks
            .iter()
            .map(|tk| e.tracks[*tk].info.sid.clone())
            .collect();
        assert_eq!(tracks.len(), 2);
        assert_eq!(
            answer.mid_to_track_id.len(),
            2,
            "{:?}",
            answer.mid_to_track_id
        );
        for (mid, track) in &answer.mid_to_track_id {
            assert!(tracks.contains(track));
            let msid = format!("a=msid:{speaker_sid}|{track} {track}");
            let section = answer
                .sdp
                .split("m=")
                .find(|s| s.contains(&format!("a=mid:{mid}\r\n")))
                .unwrap();
            assert!(section.contains(&msid), "{section}");
        }
        // Both placed at once: nothing more to ask.
        assert!(
            !msgs
                .iter()
                .any(|m| matches!(m, Resp::MediaSectionsRequirement(_)))
        );
        // The subscriptions are live on the client's one connection.
        let p = &e.participants[client];
        assert_eq!(p.publisher, p.subscriber);
        assert!(
            p.downs
                .iter()
                .all(|dk| e.downs[*dk].state == DownState::Live)
        );
    }

    /// One m-section of [`firefox_offer`]: Firefox (max-bundle) gives the first section a real
    /// port and every later one port 0 with `a=bundle-only`, in re-offers too.
    fn firefox_section(kind: &str, mid: &str, first: bool, extra: &str) -> String {
        let (pts, rtpmaps) = if kind == "audio" {
            ("109", "a=rtpmap:109 opus/48000/2\r\n")
        } else {
            (
                "120 124",
                "a=fmtp:124 apt=120\r\na=rtpmap:120 VP8/90000\r\na=rtpmap:124 rtx/90000\r\n",
            )
        };
        let (port, bundle_only) = if first {
            ("9", "")
        } else {
            ("0", "a=bundle-only\r\n")
        };
        format!(
            "m={kind} {port} UDP/TLS/RTP/SAVPF {pts}\r\nc=IN IP4 0.0.0.0\r\n{rtpmaps}\
a=setup:actpass\r\na=mid:{mid}\r\n{extra}\
a=ice-ufrag:f0f1f2f3\r\na=ice-pwd:00112233445566778899aabbccddeeff\r\n\
a=rtcp-mux\r\n{bundle_only}"
        )
    }

    /// A Firefox-style v1 offer after AddTrack: three audio and three video receive-only
    /// placeholders, the data channel, then the microphone and a simulcast camera (`sendonly`,
    /// msid `{stream} {track}` with braces, rids). No `a=msid-semantic` track list.
    fn firefox_offer() -> String {
        let mut sdp = String::from(
            "v=0\r\no=mozilla...THIS_IS_SDPARTA-128.0 4711 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
a=fingerprint:sha-256 2C:31:1A:7D:BC:4A:24:21:58:9A:0A:5D:61:B4:12:6E:2A:5C:5C:6B:8C:5F:4B:20:61:F3:A1:0C:7E:1B:5D:22\r\n\
a=ice-options:trickle\r\na=msid-semantic: WMS *\r\na=group:BUNDLE 0 1 2 3 4 5 6 7 8\r\n",
        );
        for (kind, mid) in [
            ("audio", "0"),
            ("audio", "1"),
            ("audio", "2"),
            ("video", "3"),
            ("video", "4"),
            ("video", "5"),
        ] {
            sdp += &firefox_section(kind, mid, mid == "0", "a=recvonly\r\n");
        }
        sdp += "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
a=setup:actpass\r\na=mid:6\r\na=sendrecv\r\na=ice-ufrag:f0f1f2f3\r\n\
a=ice-pwd:00112233445566778899aabbccddeeff\r\na=sctp-port:5000\r\na=bundle-only\r\n";
        sdp += &firefox_section(
            "audio",
            "7",
            false,
            "a=msid:{ff-stream-1} {ff-mic}\r\na=sendonly\r\na=ssrc:1111 cname:{ff-cname}\r\n",
        );
        sdp += &firefox_section(
            "video",
            "8",
            false,
            "a=msid:{ff-stream-2} {ff-cam}\r\na=sendonly\r\n\
a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n",
        );
        sdp
    }

    #[test]
    fn a_firefox_offer_publishes_its_tracks_and_receives_on_its_bundle_only_sections() {
        use super::super::testing::{engine, join, join_as};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let mut e = engine();
        let (speaker, _s_rx) = join(&mut e, "r", "speaker");
        let add_track = |cid: &str, kind: proto::TrackType, source: proto::TrackSource| {
            Req::AddTrack(proto::AddTrackRequest {
                cid: cid.into(),
                r#type: kind as i32,
                source: source as i32,
                ..Default::default()
            })
        };
        use proto::{TrackSource as Src, TrackType as Ty};
        e.on_signal(speaker, add_track("mic-cid", Ty::Audio, Src::Microphone));
        e.on_signal(speaker, add_track("cam-cid", Ty::Video, Src::Camera));
        e.on_signal(speaker, offer(super::super::sample_offer::OFFER, 1));
        let (firefox, mut rx) = join_as(&mut e, "r", "firefox", true);
        // livekit-client names each track by its MediaStreamTrack id, braces included.
        e.on_signal(firefox, add_track("{ff-mic}", Ty::Audio, Src::Microphone));
        e.on_signal(firefox, add_track("{ff-cam}", Ty::Video, Src::Camera));
        let sdp = firefox_offer();
        if let Err(err) = SdpOffer::from_sdp_string(&sdp) {
            panic!("the test's offer must parse: {err}\n{sdp}");
        }
        e.on_signal(firefox, offer(&sdp, 1));
        let msgs = drain(&mut rx);
        let answer = msgs
            .iter()
            .find_map(|m| match m {
                Resp::Answer(a) => Some(a.clone()),
                _ => None,
            })
            .unwrap();
        // Every placeholder counts as a receive section, bundle-only ones included.
        let single = e.participants[firefox].single_pc.as_ref().unwrap();
        let mids: Vec<String> = single.sections.iter().map(|s| s.mid.to_string()).collect();
        assert_eq!(mids, ["0", "1", "2", "3", "4", "5"]);
        // Its microphone and simulcast camera are published on their own sections.
        let published: Vec<(String, String, usize)> = e.participants[firefox]
            .tracks
            .iter()
            .map(|tk| {
                let t = &e.tracks[*tk];
                (
                    t.info.mid.clone(),
                    t.info.codecs[0].cid.clone(),
                    t.layers.len(),
                )
            })
            .collect();
        assert_eq!(
            published,
            [
                ("7".to_owned(), "{ff-mic}".to_owned(), 1),
                ("8".to_owned(), "{ff-cam}".to_owned(), 3)
            ]
        );
        // The speaker's tracks ride on the first free section of their kind.
        let mut carried: Vec<(&str, &str)> = answer
            .mid_to_track_id
            .iter()
            .map(|(m, t)| (m.as_str(), &t[..2]))
            .collect();
        carried.sort();
        assert_eq!(carried, [("0", "TR"), ("3", "TR")]);
        // The other placeholders carry nothing: inactive, no stray msid from str0m.
        for mid in ["1", "2", "4", "5"] {
            let section = answer
                .sdp
                .split("m=")
                .find(|s| s.contains(&format!("a=mid:{mid}\r\n")))
                .unwrap();
            assert!(section.contains("a=inactive\r\n"), "{section}");
            assert!(!section.contains("msid"), "{section}");
        }
        assert!(
            !msgs
                .iter()
                .any(|m| matches!(m, Resp::MediaSectionsRequirement(_))),
            "three audio and three video sections are enough"
        );
    }

    #[test]
    fn reliable_data_for_a_v1_client_waits_for_its_channel() {
        use super::super::data::DataKind;
        use super::super::testing::join_as;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let mut e = super::super::testing::engine();
        let (client, _rx) = join_as(&mut e, "r", "client", true);
        e.deliver_data("r", None, &[], DataKind::Reliable, b"first");
        e.deliver_data("r", None, &[], DataKind::Lossy, b"lossy");
        let c = &e.participants[client].channels;
        assert_eq!(
            c.pending,
            vec![b"first".to_vec()],
            "reliable held, lossy not"
        );
        assert_eq!(c.pending_bytes, 5);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

        #[test]
        fn any_requests_from_a_v1_client_are_survived(
            requests in proptest::collection::vec(
                proptest::prop_oneof![
                    3 => (0u32..5).prop_map(|id| offer(V1_OFFER, id)),
                    5 => super::super::robustness::request(),
                ],
                1..16,
            ),
        ) {
            use super::super::testing::{engine, join, join_as};
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let _guard = rt.enter();
            let mut e = engine();
            let (speaker, _s_rx) = join(&mut e, "r", "speaker");
            e.on_signal(speaker, Req::AddTrack(proto::AddTrackRequest {
                cid: "mic-cid".into(),
                r#type: proto::TrackType::Audio as i32,
                source: proto::TrackSource::Microphone as i32,
                ..Default::default()
            }));
            e.on_signal(speaker, offer(super::super::sample_offer::OFFER, 1));
            let (client, _c_rx) = join_as(&mut e, "r", "client", true);
            let now = e.now;
            for r in requests {
                e.on_signal(client, r);
                e.flush_dirty(now);
            }
            proptest::prop_assert!(e.participants.contains_key(speaker), "the speaker was lost");
        }
    }
}
