//! Publishing: AddTrack → TrackPublished, publisher offers answered with the same id, m-lines
//! matched to pending tracks by `a=msid` track id, mute state, and unpublishing.
#![allow(deprecated)] // LiveKit's wire format still carries (and clients read) deprecated fields.

use std::time::Instant;

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use str0m::change::SdpOffer;
use str0m::format::CodecSpec;
use str0m::media::{MediaKind, Mid, Rid};
use str0m::rtp::Ssrc;

use super::peer::Role;
use super::sdp::{MediaSection, SectionKind, media_sections};
use super::{DownKey, Engine, ParticipantKey, PeerKey, TrackKey};
use crate::auth::{may_publish_source, source_fits_type};

/// A track announced by AddTrack whose m-line has not been seen yet.
pub struct PendingTrack {
    pub cid: String,
    /// Extra cids (simulcast codecs) that may name the m-line.
    pub alt_cids: Vec<String>,
    pub info: proto::TrackInfo,
}

/// One simulcast encoding (or the only one) of a published track.
pub struct Layer {
    pub rid: Option<Rid>,
    /// `VideoQuality` of the layer; layers are kept sorted low → high.
    pub quality: i32,
    pub ssrc: Option<Ssrc>,
    pub last_seen: Option<Instant>,
    pub last_keyframe_request: Option<Instant>,
    /// Its measured incoming rate.
    pub rate: super::bwe::RateMeter,
    /// The rate the publisher declared for it (`VideoLayer.bitrate`), if any.
    pub advertised_bps: Option<u64>,
    /// Its VP8 temporal layers, as its packets describe them.
    pub temporal: super::temporal::TemporalLayers,
}

impl Layer {
    fn new(rid: Option<Rid>, quality: i32, advertised: &[proto::VideoLayer]) -> Self {
        let advertised_bps = advertised
            .iter()
            .find(|l| l.quality == quality && l.bitrate > 0)
            .map(|l| u64::from(l.bitrate));
        Self {
            rid,
            quality,
            ssrc: None,
            last_seen: None,
            last_keyframe_request: None,
            rate: Default::default(),
            advertised_bps,
            temporal: Default::default(),
        }
    }

    /// What forwarding this layer costs in bit/s: measured, else declared, else a default.
    pub fn cost(&self) -> u64 {
        let default = usize::try_from(self.quality)
            .ok()
            .and_then(|q| super::bwe::VIDEO_DEFAULT_BPS.get(q).copied())
            .unwrap_or(super::bwe::VIDEO_DEFAULT_BPS[2]);
        self.rate.bps().or(self.advertised_bps).unwrap_or(default)
    }

    /// What forwarding its temporal layers up to `t` costs in bit/s.
    pub fn temporal_cost(&self, t: u8) -> u64 {
        (self.cost() as f64 * self.temporal.share(t)) as u64
    }
}

/// A published track and who receives it.
pub struct Track {
    pub info: proto::TrackInfo,
    pub publisher: ParticipantKey,
    pub peer: PeerKey,
    pub mid: Mid,
    pub kind: MediaKind,
    pub layers: Vec<Layer>,
    pub downs: Vec<DownKey>,
    /// Publisher payload type → codec, filled as payload types appear.
    pub codecs: Vec<(u8, PubCodec)>,
    /// The audio level its packets report (audio tracks), for active speakers.
    pub level: super::speakers::LevelMeter,
    /// Incoming RED packets' sequence numbers: which packets the uplink lost (audio tracks).
    pub red_gaps: super::red::GapTracker,
    /// Which of its layers the publisher was told to send.
    pub dynacast: super::dynacast::Dynacast,
}

/// What a publisher payload type carries.
#[derive(Clone, Copy, Debug)]
pub struct PubCodec {
    pub spec: CodecSpec,
    /// The payload type is RED (RFC 2198) wrapping `spec`.
    pub red: bool,
}

fn quality_for_rid(rid: &str) -> i32 {
    match rid {
        "q" | "2" => proto::VideoQuality::Low as i32,
        "h" | "1" => proto::VideoQuality::Medium as i32,
        _ => proto::VideoQuality::High as i32,
    }
}

fn mime_for(kind: proto::TrackType, requested: Option<&str>) -> String {
    match kind {
        proto::TrackType::Audio => "audio/opus".into(),
        _ => match requested.map(str::to_ascii_lowercase).as_deref() {
            Some("h264") => "video/H264".into(),
            Some("vp9") => "video/VP9".into(),
            Some("av1") => "video/AV1".into(),
            _ => "video/VP8".into(),
        },
    }
}

impl Engine {
    pub(super) fn add_track(&mut self, participant: ParticipantKey, req: proto::AddTrackRequest) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let source =
            proto::TrackSource::try_from(req.source).unwrap_or(proto::TrackSource::Unknown);
        let kind = proto::TrackType::try_from(req.r#type).unwrap_or(proto::TrackType::Audio);
        // The declared source decides which permission applies, so it must fit the media
        // type: an audio track declared as `camera` would slip past a server mute.
        let allowed = may_publish_source(&p.permission, source)
            && source_fits_type(&p.permission, source, kind);
        if !allowed || req.cid.is_empty() {
            tracing::info!(participant = %p.sid, ?source, "AddTrack refused");
            let reason = if allowed {
                proto::request_response::Reason::InvalidRequest
            } else {
                proto::request_response::Reason::NotAllowed
            };
            p.send(Resp::RequestResponse(proto::RequestResponse {
                reason: reason as i32,
                message: "not allowed to publish this track".into(),
                request: Some(proto::request_response::Request::AddTrack(req)),
                ..Default::default()
            }));
            return;
        }
        if let Some(existing) = p.pending.iter().find(|t| t.cid == req.cid) {
            let info = existing.info.clone();
            p.send(Resp::TrackPublished(proto::TrackPublishedResponse {
                cid: req.cid,
                track: Some(info),
            }));
            return;
        }
        let is_video = kind == proto::TrackType::Video;
        let requested_codec = req.simulcast_codecs.first().map(|c| c.codec.as_str());
        let mime = mime_for(kind, requested_codec);
        let stream = if !req.stream.is_empty() {
            req.stream.clone()
        } else if matches!(
            source,
            proto::TrackSource::ScreenShare | proto::TrackSource::ScreenShareAudio
        ) {
            "screen".into()
        } else {
            "camera".into()
        };
        let mut layers = req.layers.clone();
        if is_video && layers.is_empty() {
            layers.push(proto::VideoLayer {
                quality: proto::VideoQuality::High as i32,
                width: req.width,
                height: req.height,
                ..Default::default()
            });
        }
        let info = proto::TrackInfo {
            sid: crate::ids::track_sid(is_video, source),
            r#type: kind as i32,
            name: req.name.clone(),
            muted: req.muted,
            width: req.width,
            height: req.height,
            simulcast: layers.len() > 1,
            disable_dtx: req.disable_dtx,
            source: source as i32,
            layers: layers.clone(),
            mime_type: mime.clone(),
            codecs: vec![proto::SimulcastCodecInfo {
                mime_type: mime,
                cid: req.cid.clone(),
                layers,
                ..Default::default()
            }],
            stereo: req.stereo,
            disable_red: req.disable_red,
            encryption: req.encryption,
            stream,
            audio_features: req.audio_features.clone(),
            backup_codec_policy: req.backup_codec_policy,
            ..Default::default()
        };
        p.pending.push(PendingTrack {
            cid: req.cid.clone(),
            alt_cids: req
                .simulcast_codecs
                .iter()
                .map(|c| c.cid.clone())
                .filter(|c| !c.is_empty())
                .collect(),
            info: info.clone(),
        });
        p.send(Resp::TrackPublished(proto::TrackPublishedResponse {
            cid: req.cid,
            track: Some(info),
        }));
    }

    pub(super) fn on_publisher_offer(
        &mut self,
        participant: ParticipantKey,
        sd: proto::SessionDescription,
    ) {
        let now = self.now;
        let Some(p) = self.participants.get(participant) else {
            return;
        };
        if p.single_pc.is_some() {
            return self.on_single_pc_offer(participant, sd);
        }
        if !p.permission.can_publish && !p.permission.can_publish_data {
            tracing::info!(participant = %p.sid, "publisher offer without publish permission");
        }
        let peer = match p.publisher {
            Some(peer) => peer,
            None => {
                let peer = self.new_peer(participant, Role::Publisher, now);
                if let Some(p) = self.participants.get_mut(participant) {
                    p.publisher = Some(peer);
                }
                peer
            }
        };
        let offer = match SdpOffer::from_sdp_string(&sd.sdp) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!("unparsable publisher offer: {e}");
                return;
            }
        };
        let Some(rtc) = self.peers.get_mut(peer).map(|p| &mut p.rtc) else {
            return;
        };
        let answer = match rtc.sdp_api().accept_offer(offer) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("publisher offer refused: {e}");
                return;
            }
        };
        self.learn_local_ufrag(peer);
        self.mark_dirty(peer);
        let no_red = self.red_disabled_mids(participant, peer, &sd.sdp);
        let stereo = self.stereo_mids(participant, peer, &sd.sdp);
        let sdp = super::sdp::without_red(&answer.to_sdp_string(), &no_red);
        if let Some(p) = self.participants.get_mut(participant) {
            p.send(Resp::Answer(proto::SessionDescription {
                r#type: "answer".into(),
                sdp: super::sdp::with_stereo(&sdp, &stereo),
                id: sd.id,
                ..Default::default()
            }));
        }
        for section in media_sections(&sd.sdp) {
            self.apply_publisher_section(participant, peer, &section);
        }
    }

    /// Mids of an offer's audio sections whose track was added with `disable_red` (pending, or
    /// already published on `peer`): their answer leaves RED out, so the client sends plain Opus.
    pub(super) fn red_disabled_mids(
        &self,
        participant: ParticipantKey,
        peer: PeerKey,
        offer: &str,
    ) -> Vec<String> {
        self.audio_mids_where(participant, peer, offer, |t| t.disable_red)
    }

    /// Mids of an offer's audio sections whose track was added with `stereo`: their answer
    /// allows stereo Opus (`stereo=1`), without which browsers encode one channel.
    pub(super) fn stereo_mids(
        &self,
        participant: ParticipantKey,
        peer: PeerKey,
        offer: &str,
    ) -> Vec<String> {
        self.audio_mids_where(participant, peer, offer, |t| t.stereo)
    }

    /// Mids of an offer's audio sections whose track (pending, or already published on `peer`)
    /// matches `wanted`.
    fn audio_mids_where(
        &self,
        participant: ParticipantKey,
        peer: PeerKey,
        offer: &str,
        wanted: impl Fn(&proto::TrackInfo) -> bool,
    ) -> Vec<String> {
        let Some(p) = self.participants.get(participant) else {
            return Vec::new();
        };
        media_sections(offer)
            .into_iter()
            .filter(|s| s.kind == SectionKind::Audio && !s.mid.is_empty())
            .filter(|s| {
                let mid = Mid::from(s.mid.as_str());
                let published = p.tracks.iter().any(|tk| {
                    self.tracks
                        .get(*tk)
                        .is_some_and(|t| t.mid == mid && t.peer == peer && wanted(&t.info))
                });
                let pending = s.track_id.as_deref().is_some_and(|id| {
                    p.pending.iter().any(|t| {
                        wanted(&t.info) && (t.cid == id || t.alt_cids.iter().any(|c| c == id))
                    })
                });
                published || pending
            })
            .map(|s| s.mid)
            .collect()
    }

    /// Publishes, updates or unpublishes the track behind one m-section of a publisher offer.
    pub(super) fn apply_publisher_section(
        &mut self,
        participant: ParticipantKey,
        peer: PeerKey,
        section: &MediaSection,
    ) {
        let kind = match section.kind {
            SectionKind::Audio => MediaKind::Audio,
            SectionKind::Video => MediaKind::Video,
            _ => return,
        };
        if section.mid.is_empty() {
            return;
        }
        let mid = Mid::from(section.mid.as_str());
        if let Some(peer) = self.peers.get_mut(peer)
            && let Some(i) = peer.retired_mids.iter().position(|m| *m == mid)
        {
            if !section.sending {
                peer.retired_mids.swap_remove(i);
            }
            return;
        }
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let existing = p.tracks.iter().copied().find(|tk| {
            self.tracks
                .get(*tk)
                .is_some_and(|t| t.mid == mid && t.peer == peer)
        });
        match (existing, section.sending) {
            (Some(tk), false) => {
                self.unpublish_track(tk, true);
            }
            (Some(_), true) | (None, false) => {}
            (None, true) => {
                let wanted_kind = if kind == MediaKind::Video {
                    proto::TrackType::Video
                } else {
                    proto::TrackType::Audio
                } as i32;
                // A section carries only a track of its own media type: a video m-line cannot
                // publish a track declared (and permitted) as audio.
                let by_cid = section.track_id.as_deref().and_then(|id| {
                    p.pending.iter().position(|t| {
                        t.info.r#type == wanted_kind
                            && (t.cid == id || t.alt_cids.iter().any(|c| c == id))
                    })
                });
                let idx =
                    by_cid.or_else(|| p.pending.iter().position(|t| t.info.r#type == wanted_kind));
                let Some(idx) = idx else {
                    tracing::debug!(mid = %section.mid, "m-line without a pending track");
                    return;
                };
                let pending = p.pending.remove(idx);
                self.publish_track(participant, peer, mid, kind, pending, &section.send_rids);
            }
        }
    }

    fn publish_track(
        &mut self,
        participant: ParticipantKey,
        peer: PeerKey,
        mid: Mid,
        kind: MediaKind,
        pending: PendingTrack,
        rids: &[String],
    ) {
        let mut info = pending.info;
        info.mid = mid.to_string();
        for c in &mut info.codecs {
            c.mid = mid.to_string();
        }
        let declared = &info.layers;
        let mut layers: Vec<Layer> = if rids.is_empty() {
            let mut only = Layer::new(None, proto::VideoQuality::High as i32, &[]);
            // A single encoding's declared rate is the highest it declared.
            only.advertised_bps = declared
                .iter()
                .map(|l| u64::from(l.bitrate))
                .filter(|b| *b > 0)
                .max();
            vec![only]
        } else {
            rids.iter()
                .map(|r| Layer::new(Some(Rid::from(r.as_str())), quality_for_rid(r), declared))
                .collect()
        };
        layers.sort_by_key(|l| l.quality);
        let sid = info.sid.clone();
        let tk = self.tracks.insert(Track {
            info,
            publisher: participant,
            peer,
            mid,
            kind,
            layers,
            downs: Vec::new(),
            codecs: Vec::new(),
            level: Default::default(),
            red_gaps: Default::default(),
            dynacast: Default::default(),
        });
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        p.tracks.push(tk);
        let room = p.room.clone();
        tracing::info!(participant = %p.sid, track = %sid, %mid, ?kind, "track published");
        if let Some(r) = self.rooms.get_mut(&room) {
            r.track_sids.insert(sid, tk);
        }
        // The update carrying the track goes out before any offer that carries it.
        self.broadcast_participant(participant);
        self.emit_track(crate::events::names::TRACK_PUBLISHED, participant, tk);
        let others: Vec<ParticipantKey> = self
            .rooms
            .get(&room)
            .map(|r| {
                r.participants
                    .iter()
                    .copied()
                    .filter(|o| *o != participant)
                    .collect()
            })
            .unwrap_or_default();
        for other in others {
            let auto = self
                .participants
                .get(other)
                .is_some_and(|o| o.auto_subscribe && o.permission.can_subscribe);
            if auto && self.subscribe(other, tk).is_some() {
                self.negotiate(other);
            }
        }
    }

    /// Removes a published track, its subscriptions and (if `announce`) tells the room.
    pub(super) fn unpublish_track(&mut self, tk: TrackKey, announce: bool) {
        let Some(track) = self.tracks.remove(tk) else {
            return;
        };
        if let Some(peer) = self.peers.get_mut(track.peer) {
            peer.ssrcs.retain(|_, v| v.is_none_or(|(t, _)| t != tk));
        }
        let mut subscribers = Vec::new();
        for dk in track.downs {
            if let Some(sub) = self.detach_down(dk) {
                subscribers.push(sub);
            }
        }
        subscribers.dedup();
        let participant = track.publisher;
        if let Some(p) = self.participants.get(participant) {
            let (room, info) = (p.room.clone(), p.info(&self.tracks));
            let unpublished = Some(track.info.clone());
            self.emit(
                crate::events::names::TRACK_UNPUBLISHED,
                &room,
                Some(info),
                unpublished,
            );
        }
        if let Some(p) = self.participants.get_mut(participant) {
            p.tracks.retain(|t| *t != tk);
            tracing::info!(participant = %p.sid, track = %track.info.sid, "track unpublished");
            let room = p.room.clone();
            if let Some(r) = self.rooms.get_mut(&room) {
                r.track_sids.remove(&track.info.sid);
            }
        }
        if announce {
            self.broadcast_participant(participant);
        }
        for sub in subscribers {
            self.negotiate(sub);
        }
    }

    /// A client's MuteTrackRequest for one of its own tracks.
    pub(super) fn on_mute(&mut self, participant: ParticipantKey, req: proto::MuteTrackRequest) {
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        if let Some(t) = p.pending.iter_mut().find(|t| t.info.sid == req.sid) {
            t.info.muted = req.muted;
            return;
        }
        let Some(tk) = p
            .tracks
            .iter()
            .copied()
            .find(|tk| self.tracks.get(*tk).is_some_and(|t| t.info.sid == req.sid))
        else {
            return;
        };
        if let Some(t) = self.tracks.get_mut(tk)
            && t.info.muted != req.muted
        {
            t.info.muted = req.muted;
            self.broadcast_participant(participant);
        }
    }
}
