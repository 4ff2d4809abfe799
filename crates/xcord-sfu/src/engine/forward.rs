//! The per-packet path: an incoming RTP packet from a publisher is written to every live
//! subscription of its track, with the subscriber's own SSRC (str0m's send stream), payload type,
//! and rewritten sequence numbers and timestamps. Simulcast: each subscriber follows the best
//! layer that is flowing (capped by its settings and its bandwidth, see `bwe`), switching only
//! at keyframes. VP8 temporal layers: each subscriber gets the temporal layers its bandwidth cap
//! allows (see `temporal`); the packets of the frames left out leave no gap in its sequence
//! numbers or picture ids. Keyframe requests go back to the publisher when a subscription starts,
//! switches or asks for one. Opus RED (RFC 2198): a RED publisher's packets go as RED to
//! subscribers that negotiated it, and reduced to plain Opus (lost packets restored from the
//! redundancy, see `red`) to the rest.
//!
//! Nothing here allocates per packet: the payload is shared (`Arc`) between subscribers, lookups
//! are hash/array based, and the dirty list reuses its buffer. (Reducing RED for subscribers
//! without it copies the Opus blocks out, once per packet for all of them.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, SeqNo};

use super::publish::PubCodec;
use super::renumber::Rewriter;
use super::subscribe::DownState;
use super::temporal::{Admission, TemporalFilter};
use super::{Engine, PeerKey, TrackKey};

/// A layer counts as flowing if a packet arrived within this window.
const LAYER_ACTIVE: Duration = Duration::from_millis(1000);
/// Bytes of an RTP header without extensions, counted with each payload in layer rates.
const RTP_HEADER: usize = 12;
/// Minimum spacing of keyframe requests to one publisher layer.
const KEYFRAME_REQUEST_SPACING: Duration = Duration::from_millis(300);

/// Per-subscription forwarding state.
pub struct DownForward {
    /// Paused by the subscriber (UpdateTrackSettings.disabled).
    pub disabled: bool,
    /// Highest `VideoQuality` the subscriber wants.
    pub max_quality: i32,
    /// What its bandwidth allows (see `bwe`).
    pub bwe: super::bwe::DownBwe,
    /// Layer index currently forwarded.
    current: Option<usize>,
    rewriter: Rewriter,
    /// Its temporal layers and picture numbering (VP8).
    temporal: TemporalFilter,
    /// Publisher payload type → subscriber payload type and how packets go to it (`None`: not
    /// negotiated).
    pt_map: Vec<(u8, Option<(Pt, Delivery)>)>,
}

impl DownForward {
    pub fn new() -> Self {
        Self {
            disabled: false,
            max_quality: livekit_protocol::VideoQuality::High as i32,
            bwe: Default::default(),
            current: None,
            rewriter: Rewriter::default(),
            temporal: TemporalFilter::default(),
            pt_map: Vec::new(),
        }
    }

    /// After a pause: wait for a keyframe before forwarding again.
    pub fn resume(&mut self) {
        self.current = None;
        self.rebase();
    }

    /// A new source: its numbering continues what the subscriber got so far.
    fn rebase(&mut self) {
        self.rewriter.rebase();
        self.temporal.rebase();
    }
}

/// How packets of one publisher payload type go to one subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// As they came.
    AsIs,
    /// RED to a RED subscriber whose Opus payload type is `opus` (the blocks are relabelled if
    /// the publisher's differs).
    Red { opus: u8 },
    /// RED reduced to plain Opus, for a subscriber without RED.
    Reduced,
}

/// A plain Opus packet cut out of a RED packet: (sequence number, timestamp, payload).
type PlainPacket = (u64, u32, Arc<[u8]>);

/// Plain Opus packets of one RED packet: the ones its redundancy restores after `missing` lost
/// packets, then its primary. A padding packet (no payload: browsers probe bandwidth with them
/// on the audio stream) stays one, so its sequence number leaves no gap. Empty if it is not RED.
fn plain_packets(payload: &[u8], seq: u64, ts: u32, missing: u64) -> Vec<PlainPacket> {
    let mut out = Vec::new();
    if payload.is_empty() {
        out.push((seq, ts, Arc::from(payload)));
        return out;
    }
    if let Ok(red) = super::red::parse(payload) {
        super::red::reduce(&red, seq, ts, missing, |p| {
            out.push((p.seq, p.ts, Arc::from(p.payload)))
        });
    }
    out
}

/// Whether an RTP payload starts a keyframe.
pub fn is_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => vp8_keyframe(payload),
        Codec::Vp9 => payload
            .first()
            .is_some_and(|b| b & 0x40 == 0 && b & 0x08 != 0),
        Codec::H264 => h264_keyframe(payload),
        Codec::Av1 => payload.first().is_some_and(|b| b & 0x08 != 0),
        _ => true,
    }
}

fn vp8_keyframe(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let (start, pid) = (b0 & 0x10 != 0, b0 & 0x07);
    if !start || pid != 0 {
        return false;
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let Some(&x) = p.get(i) else { return false };
        i += 1;
        if x & 0x80 != 0 {
            // PictureID: one or two bytes (M bit)
            let Some(&pic) = p.get(i) else { return false };
            i += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/KEYIDX
        }
    }
    p.get(i).is_some_and(|h| h & 0x01 == 0)
}

fn h264_keyframe(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    match b0 & 0x1f {
        5 | 7 => true,
        24 => {
            // STAP-A: 16-bit size + NAL unit, repeated
            let mut i = 1;
            while let (Some(&hi), Some(&lo)) = (p.get(i), p.get(i + 1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                if p.get(i + 2).is_some_and(|n| matches!(n & 0x1f, 5 | 7)) {
                    return true;
                }
                i += 2 + size;
            }
            false
        }
        28 => p
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && matches!(fu & 0x1f, 5 | 7)),
        _ => false,
    }
}

/// The index of the best flowing layer not above `max_quality` (the lowest flowing one if none
/// is low enough).
fn target_layer(layers: &[super::publish::Layer], max_quality: i32, now: Instant) -> Option<usize> {
    let mut best = None;
    let mut lowest = None;
    for (i, l) in layers.iter().enumerate() {
        let flowing = l
            .last_seen
            .is_some_and(|t| now.saturating_duration_since(t) < LAYER_ACTIVE);
        if !flowing {
            continue;
        }
        lowest.get_or_insert(i);
        if l.quality <= max_quality {
            best = Some(i);
        }
    }
    best.or(lowest)
}

impl Engine {
    /// Resolves an incoming SSRC to (track, layer) once, then from the peer's cache.
    fn resolve_ssrc(&mut self, pub_peer: PeerKey, pkt: &RtpPacket) -> Option<(TrackKey, usize)> {
        let ssrc = pkt.header.ssrc;
        let peer = self.peers.get_mut(pub_peer)?;
        if let Some(hit) = peer.ssrcs.get(&ssrc) {
            return *hit;
        }
        let (mid, rid) = {
            let rx = peer
                .rtc
                .direct_api()
                .stream_rx(&ssrc)
                .map(|s| (s.mid(), s.rid()));
            match rx {
                Some(r) => r,
                None => (pkt.header.ext_vals.mid?, pkt.header.ext_vals.rid),
            }
        };
        let participant = self.participants.get(peer.participant)?;
        let found = participant.tracks.iter().copied().find_map(|tk| {
            let t = self.tracks.get(tk)?;
            if t.mid != mid {
                return None;
            }
            let layer = match rid {
                None => 0,
                Some(rid) => t.layers.iter().position(|l| l.rid == Some(rid))?,
            };
            Some((tk, layer))
        });
        if let Some((tk, layer)) = found
            && let Some(l) = self
                .tracks
                .get_mut(tk)
                .and_then(|t| t.layers.get_mut(layer))
        {
            l.ssrc = Some(ssrc);
        }
        // Unknown SSRCs are remembered only once their m-line is published.
        if found.is_some() {
            peer.ssrcs.insert(ssrc, found);
        }
        found
    }

    fn pub_codec(&mut self, tk: TrackKey, pt: Pt) -> Option<PubCodec> {
        let track = self.tracks.get(tk)?;
        if let Some((_, c)) = track.codecs.iter().find(|(p, _)| *p == *pt) {
            return Some(*c);
        }
        let peer = self.peers.get(track.peer)?;
        let params = peer.rtc.codec_config().params();
        let codec = params
            .iter()
            .find(|p| p.pt() == pt)
            .map(|p| PubCodec {
                spec: p.spec(),
                red: false,
            })
            .or_else(|| {
                params
                    .iter()
                    .find(|p| p.red() == Some(pt))
                    .map(|p| PubCodec {
                        spec: p.spec(),
                        red: true,
                    })
            })?;
        self.tracks.get_mut(tk)?.codecs.push((*pt, codec));
        Some(codec)
    }

    pub(super) fn on_rtp(&mut self, pub_peer: PeerKey, pkt: RtpPacket, now: Instant) {
        let Some((tk, layer)) = self.resolve_ssrc(pub_peer, &pkt) else {
            return;
        };
        let pt = pkt.header.payload_type;
        let Some(codec) = self.pub_codec(tk, pt) else {
            return;
        };
        let Some(track) = self.tracks.get_mut(tk) else {
            return;
        };
        let video = track.kind == MediaKind::Video;
        let vp8_codec = video && !codec.red && codec.spec.codec == Codec::Vp8;
        let mut vp8 = None;
        let mut quality = 0;
        if let Some(l) = track.layers.get_mut(layer) {
            let bytes = RTP_HEADER + pkt.payload.len();
            l.last_seen = Some(now);
            l.rate.add(bytes, now);
            if vp8_codec {
                vp8 = l.temporal.read(&pkt.payload, bytes, now);
            }
            quality = l.quality;
        }
        if !video && let Some(level) = pkt.header.ext_vals.audio_level {
            track.level.observe(level);
        }
        let simulcast = track.layers.len() > 1;
        let keyframe = video && !codec.red && is_keyframe(codec.spec.codec, &pkt.payload);
        let clock_rate = codec.spec.clock_rate.get();
        let mut want_keyframe: Option<usize> = None;
        // RED: packets the uplink lost before this one, and the plain packets and relabelled
        // payload, each made once for the subscribers that need them.
        let red_missing = if codec.red {
            track.red_gaps.arrive(*pkt.seq_no)
        } else {
            0
        };
        let mut plain: Option<Vec<PlainPacket>> = None;
        let mut relabelled: Option<(u8, Arc<[u8]>)> = None;
        let ext = ExtensionValues {
            audio_level: pkt.header.ext_vals.audio_level,
            voice_activity: pkt.header.ext_vals.voice_activity,
            video_orientation: pkt.header.ext_vals.video_orientation,
            video_content_type: pkt.header.ext_vals.video_content_type,
            ..Default::default()
        };

        for &dk in &track.downs {
            let Some(down) = self.downs.get_mut(dk) else {
                continue;
            };
            if down.state != DownState::Live || down.fwd.disabled {
                continue;
            }
            let Some(mid) = down.mid else { continue };
            let fwd = &mut down.fwd;
            if simulcast {
                let limit = fwd.max_quality.min(fwd.bwe.cap.quality);
                let target = target_layer(&track.layers, limit, now).unwrap_or(layer);
                if fwd.current != Some(layer) {
                    let current_flowing = fwd
                        .current
                        .and_then(|c| track.layers.get(c))
                        .is_some_and(|l| {
                            l.last_seen
                                .is_some_and(|t| now.saturating_duration_since(t) < LAYER_ACTIVE)
                        });
                    if layer == target && keyframe {
                        fwd.current = Some(layer);
                        fwd.rebase();
                    } else {
                        if layer == target || !current_flowing {
                            want_keyframe = Some(target);
                        }
                        continue;
                    }
                } else if target != layer {
                    want_keyframe = Some(target);
                }
            } else if fwd.current.is_none() {
                fwd.current = Some(0);
            }
            let Some((sub_pt, delivery)) =
                map_pt(&mut fwd.pt_map, &self.peers, down.peer, mid, pt, codec)
            else {
                continue;
            };
            if delivery == Delivery::Reduced {
                let Some(peer) = self.peers.get_mut(down.peer) else {
                    continue;
                };
                let mut api = peer.rtc.direct_api();
                let Some(tx) = api.stream_tx_by_mid(mid, None) else {
                    continue;
                };
                let packets = plain.get_or_insert_with(|| {
                    plain_packets(&pkt.payload, *pkt.seq_no, pkt.header.timestamp, red_missing)
                });
                let last = packets.len().saturating_sub(1);
                for (i, (in_seq, in_ts, payload)) in packets.iter().enumerate() {
                    let Some((seq, ts)) = fwd.rewriter.rewrite(*in_seq, *in_ts, now, clock_rate)
                    else {
                        continue;
                    };
                    tx.write_rtp(
                        RtpWrite::new(sub_pt, SeqNo::from(seq), ts, pkt.timestamp, payload.clone())
                            .marker(i == last && pkt.header.marker)
                            .ext_vals(ext.clone())
                            .nackable(false),
                    );
                }
                if !peer.dirty {
                    peer.dirty = true;
                    self.dirty.push(down.peer);
                }
                continue;
            }
            let payload = match delivery {
                Delivery::Red { opus } => {
                    let primary_pt = super::red::parse(&pkt.payload).map(|r| r.primary().pt);
                    if primary_pt.is_ok_and(|p| p != opus) {
                        match &relabelled {
                            Some((pt, p)) if *pt == opus => p.clone(),
                            _ => {
                                let Some(p) = super::red::with_block_pt(&pkt.payload, opus) else {
                                    continue;
                                };
                                let p: Arc<[u8]> = p.into();
                                relabelled = Some((opus, p.clone()));
                                p
                            }
                        }
                    } else {
                        pkt.payload.clone()
                    }
                }
                _ => pkt.payload.clone(),
            };
            let patch = match &vp8 {
                None => None,
                Some(p) => match fwd.temporal.admit(p, fwd.bwe.cap.temporal_for(quality)) {
                    Admission::Drop => {
                        fwd.rewriter.skip(*pkt.seq_no);
                        continue;
                    }
                    Admission::AsIs => None,
                    Admission::Renumbered { picture, tl0 } => {
                        super::temporal::patch(&p.descriptor, picture, tl0)
                    }
                },
            };
            let Some((seq, ts)) =
                fwd.rewriter
                    .rewrite(*pkt.seq_no, pkt.header.timestamp, now, clock_rate)
            else {
                continue;
            };
            let Some(peer) = self.peers.get_mut(down.peer) else {
                continue;
            };
            let mut api = peer.rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(mid, None) else {
                continue;
            };
            let mut write = RtpWrite::new(sub_pt, SeqNo::from(seq), ts, pkt.timestamp, payload)
                .marker(pkt.header.marker)
                .ext_vals(ext.clone())
                .nackable(video);
            if let Some(patch) = patch {
                write = write.vp8_patch(patch);
            }
            tx.write_rtp(write);
            if !peer.dirty {
                peer.dirty = true;
                self.dirty.push(down.peer);
            }
        }
        if let Some(l) = want_keyframe {
            self.request_keyframe_for(tk, Some(l), now);
        }
    }

    /// Asks the publisher of `tk` for a keyframe on `layer` (or on every flowing layer).
    pub(super) fn request_keyframe_for(
        &mut self,
        tk: TrackKey,
        layer: Option<usize>,
        now: Instant,
    ) {
        let Some(track) = self.tracks.get_mut(tk) else {
            return;
        };
        if track.kind != MediaKind::Video {
            return;
        }
        let Some(peer) = self.peers.get_mut(track.peer) else {
            return;
        };
        let mut sent = false;
        for (i, l) in track.layers.iter_mut().enumerate() {
            if layer.is_some_and(|want| want != i) {
                continue;
            }
            let Some(ssrc) = l.ssrc else { continue };
            if l.last_keyframe_request
                .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_SPACING)
            {
                continue;
            }
            if let Some(rx) = peer.rtc.direct_api().stream_rx(&ssrc) {
                rx.request_keyframe(KeyframeRequestKind::Pli);
                l.last_keyframe_request = Some(now);
                sent = true;
            }
        }
        if sent {
            let publisher_peer = track.peer;
            self.mark_dirty(publisher_peer);
        }
    }

    /// A subscriber asked for a keyframe on one of its m-lines.
    pub(super) fn on_keyframe_request(
        &mut self,
        sub_peer: PeerKey,
        mid: Mid,
        _kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let Some(dk) = self
            .peers
            .get(sub_peer)
            .and_then(|p| p.mids.get(&mid).copied())
        else {
            return;
        };
        let Some(down) = self.downs.get(dk) else {
            return;
        };
        let (tk, layer) = (down.track, down.fwd.current);
        self.request_keyframe_for(tk, layer, now);
    }
}

/// The subscriber payload type for a publisher payload type, negotiated on the subscriber's
/// m-line: same codec (and H.264 profile when possible), RED for RED when the subscriber has
/// it, else the plain codec to reduce RED to.
fn map_pt(
    cache: &mut Vec<(u8, Option<(Pt, Delivery)>)>,
    peers: &slotmap::SlotMap<PeerKey, super::peer::Peer>,
    sub_peer: PeerKey,
    mid: Mid,
    pt: Pt,
    codec: PubCodec,
) -> Option<(Pt, Delivery)> {
    if let Some((_, mapped)) = cache.iter().find(|(p, _)| *p == *pt) {
        return *mapped;
    }
    let rtc = &peers.get(sub_peer)?.rtc;
    let remote = rtc.media(mid)?.remote_pts();
    let candidates = rtc
        .codec_config()
        .params()
        .iter()
        .filter(|p| remote.contains(&p.pt()) && p.spec().codec == codec.spec.codec);
    let mut best: Option<(u8, Pt, Delivery)> = None;
    for p in candidates {
        let f = (p.spec().format, codec.spec.format);
        let score = u8::from(f.0.profile_level_id == f.1.profile_level_id)
            + u8::from(f.0.packetization_mode == f.1.packetization_mode)
            + u8::from(p.spec().channels == codec.spec.channels);
        let options = if codec.red {
            let red = p
                .red()
                .map(|r| (score + 4, r, Delivery::Red { opus: *p.pt() }));
            [red, Some((score, p.pt(), Delivery::Reduced))]
        } else {
            [Some((score, p.pt(), Delivery::AsIs)), None]
        };
        for (score, chosen, delivery) in options.into_iter().flatten() {
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, chosen, delivery));
            }
        }
    }
    let mapped = best.map(|(_, p, d)| (p, d));
    if mapped.is_none() {
        tracing::warn!(
            ?codec,
            "subscriber has no matching payload type; track not forwarded to it"
        );
    }
    cache.push((*pt, mapped));
    mapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_padding_keeps_its_sequence_number_when_reduced() {
        let padding = plain_packets(&[], 77, 960, 0);
        assert_eq!(padding.len(), 1);
        assert_eq!((padding[0].0, padding[0].1), (77, 960));
        assert!(padding[0].2.is_empty());
        // Not RED at all: nothing.
        assert!(plain_packets(&[0xff, 0, 0], 78, 1920, 0).is_empty());
        // Primary only.
        let primary = plain_packets(&[111, 1, 2], 79, 2880, 0);
        assert_eq!(primary.len(), 1);
        assert_eq!(&primary[0].2[..], &[1, 2]);
    }

    #[test]
    fn detects_vp8_keyframes() {
        // X=1, S=1, PID=0; I=1 with 2-byte picture id; payload header P=0 → keyframe
        let key = [0x90, 0x80, 0x81, 0x23, 0x10];
        let delta = [0x90, 0x80, 0x81, 0x23, 0x11];
        let middle = [0x80, 0x80, 0x81, 0x23, 0x10];
        assert!(vp8_keyframe(&key));
        assert!(!vp8_keyframe(&delta));
        assert!(!vp8_keyframe(&middle));
        assert!(!vp8_keyframe(&[]));
    }

    #[test]
    fn detects_h264_keyframes() {
        assert!(h264_keyframe(&[0x65]));
        assert!(!h264_keyframe(&[0x41]));
        // STAP-A with SPS
        assert!(h264_keyframe(&[0x78, 0x00, 0x02, 0x67, 0x42]));
        // FU-A start of IDR
        assert!(h264_keyframe(&[0x7c, 0x85]));
        assert!(!h264_keyframe(&[0x7c, 0x05]));
    }
}
