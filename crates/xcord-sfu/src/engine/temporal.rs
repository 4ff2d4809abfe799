//! VP8 temporal layers: what the publisher's stream says about them, and which of them reach
//! each subscriber.
//!
//! Chromium encodes every VP8 simulcast stream with three temporal layers (`L1T3`, screen
//! shares included): each frame's payload descriptor (RFC 7741) carries its temporal layer
//! (TID), whether it is a layer sync point (Y: it depends on the base layer only), its picture
//! id and the index of the base-layer frame it builds on (TL0PICIDX). Leaving out the frames of
//! the top layers lowers the frame rate and rate of a stream without touching its resolution.
//!
//! Per publisher layer, [`TemporalLayers`] reads every packet's descriptor once (str0m's VP8
//! depacketizer) and measures each temporal layer's rate, which prices the rungs of the
//! bandwidth allocation (`bwe`). Per subscription, [`TemporalFilter`] picks the frames to
//! forward: a lower temporal layer at once (at a frame boundary), a higher one only at a frame
//! of that layer marked as a sync point, or at a keyframe. Picture ids are renumbered so that
//! the frames left out leave no gap (a receiver waits for every missing picture id a non-sync
//! frame of an upper layer may reference), and both picture ids and TL0PICIDX continue across
//! simulcast switches; the RTP sequence numbers are closed up by the forwarder's `Rewriter`.

use std::time::Instant;

use str0m::format::CodecExtra;
use str0m::rtp::{Vp8Descriptor, Vp8Patch, Vp8PatchError};
use str0m::unversioned::{Depacketizer, Vp8Depacketizer};

use super::bwe::RateMeter;
use super::renumber::Renumber;

/// Temporal layer ids fit in two bits; this one stands for "every temporal layer".
pub const ALL_TEMPORAL: u8 = 3;
/// Longest VP8 payload descriptor: required octet, X octet, two PictureID octets, TL0PICIDX,
/// TID/Y/KEYIDX.
const DESCRIPTOR_MAX: usize = 6;
/// Share of a stream's rate in temporal layers 0..=t, by how many layers it has (libvpx's
/// split in WebRTC), until the layers' own rates are measured.
const DEFAULT_SHARES: [&[f64]; 3] = [&[1.0], &[0.6, 1.0], &[0.4, 0.6, 1.0]];
/// Frames between two debug reports of a layer's temporal structure.
const REPORT_EVERY: u32 = 450;

/// What one VP8 packet's payload descriptor says.
#[derive(Clone, Copy, Debug)]
pub struct Vp8Packet {
    /// The parsed descriptor, to patch picture id and TL0PICIDX per subscriber.
    pub descriptor: Vp8Descriptor,
    /// Temporal layer (`None`: the descriptor has no TID).
    pub tid: Option<u8>,
    /// A layer sync point: this frame depends on the base layer only.
    pub sync: bool,
    /// Picture id, extended past its wraps.
    pub picture: Option<u64>,
    /// TL0PICIDX, extended past its wraps.
    pub tl0: Option<u64>,
    /// The first packet of a keyframe.
    pub keyframe: bool,
}

/// The temporal structure of one publisher layer's VP8 stream.
#[derive(Debug)]
pub struct TemporalLayers {
    depacketizer: Vp8Depacketizer,
    /// Where the depacketizer copies the (few) payload bytes it is given.
    scratch: Vec<u8>,
    /// The highest temporal layer seen (`None`: no TID seen).
    max_tid: Option<u8>,
    /// The rate of each temporal layer.
    rates: [RateMeter; 4],
    /// Frames and sync frames per temporal layer since the last debug report.
    frames: [u32; 4],
    syncs: [u32; 4],
}

impl Default for TemporalLayers {
    fn default() -> Self {
        Self {
            depacketizer: Vp8Depacketizer::default(),
            scratch: Vec::with_capacity(DESCRIPTOR_MAX + 1),
            max_tid: None,
            rates: Default::default(),
            frames: [0; 4],
            syncs: [0; 4],
        }
    }
}

impl TemporalLayers {
    /// Reads one packet of this layer (`bytes`: its size as counted in rates). `None` for a
    /// payload that is not VP8 (too short, malformed).
    pub fn read(&mut self, payload: &[u8], bytes: usize, now: Instant) -> Option<Vp8Packet> {
        let descriptor = Vp8Descriptor::parse(payload).ok()?;
        // The descriptor and the first octet after it are all the depacketizer needs to read;
        // it copies what follows, so it gets no more.
        let head = payload.get(..DESCRIPTOR_MAX + 1).unwrap_or(payload);
        self.scratch.clear();
        let mut extra = CodecExtra::None;
        self.depacketizer
            .depacketize(head, &mut self.scratch, &mut extra)
            .ok()?;
        let CodecExtra::Vp8(info) = extra else {
            return None;
        };
        let d = &self.depacketizer;
        let tid = (d.t == 1).then_some(d.tid);
        let packet = Vp8Packet {
            descriptor,
            tid,
            sync: tid.is_some() && info.sync,
            picture: info.picture_id,
            tl0: info.tl0_picture_id,
            keyframe: info.is_keyframe,
        };
        if let Some(t) = tid {
            let i = usize::from(t);
            self.rates[i].add(bytes, now);
            if self.max_tid.is_none_or(|m| t > m) {
                tracing::debug!(tid = t, "VP8 temporal layer seen");
                self.max_tid = Some(t);
            }
            if d.s == 1 && d.pid == 0 {
                self.frames[i] += 1;
                self.syncs[i] += u32::from(packet.sync);
                if self.frames.iter().sum::<u32>() >= REPORT_EVERY {
                    let bps = self.rates.each_ref().map(RateMeter::bps);
                    tracing::debug!(frames = ?self.frames, syncs = ?self.syncs, ?bps, "VP8 temporal structure");
                    self.frames = [0; 4];
                    self.syncs = [0; 4];
                }
            }
        }
        Some(packet)
    }

    /// The highest temporal layer the stream has (`None`: it has no temporal layers).
    pub fn top(&self) -> Option<u8> {
        self.max_tid.filter(|&m| m > 0)
    }

    /// The share of the stream's rate that temporal layers `0..=t` carry.
    pub fn share(&self, t: u8) -> f64 {
        let Some(top) = self.top() else { return 1.0 };
        if t >= top {
            return 1.0;
        }
        let measured: Option<Vec<u64>> = self.rates[..=usize::from(top)]
            .iter()
            .map(RateMeter::bps)
            .collect();
        match measured {
            Some(rates) if rates.iter().sum::<u64>() > 0 => {
                let below: u64 = rates[..=usize::from(t)].iter().sum();
                below as f64 / rates.iter().sum::<u64>() as f64
            }
            _ => DEFAULT_SHARES
                .get(usize::from(top))
                .and_then(|s| s.get(usize::from(t)))
                .copied()
                .unwrap_or(1.0),
        }
    }
}

/// Which temporal layers of one VP8 source reach one subscriber, and the picture numbering it
/// sees.
#[derive(Debug, Default)]
pub struct TemporalFilter {
    /// The highest temporal layer forwarded now (`None`: nothing decided since the source
    /// started).
    current: Option<u8>,
    /// The newest picture of the source and whether it goes out.
    newest: Option<(u64, bool)>,
    pictures: Renumber,
    tl0: Renumber,
}

impl TemporalFilter {
    /// A new source (simulcast switch, resumed subscription): its numbering continues the old.
    pub fn rebase(&mut self) {
        self.current = None;
        self.newest = None;
        self.pictures.rebase();
        self.tl0.rebase();
    }

    /// The highest temporal layer forwarded now.
    #[cfg(test)]
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// Whether `packet` goes to the subscriber, who should get temporal layers up to `target`,
    /// and with which numbers.
    pub fn admit(&mut self, packet: &Vp8Packet, target: u8) -> Admission {
        let Some(picture) = packet.picture else {
            // Without picture ids there is nothing to renumber or to drop safely.
            return Admission::AsIs;
        };
        let tid = packet.tid.unwrap_or(0);
        let forward = match self.newest {
            Some((newest, fwd)) if newest == picture => fwd,
            Some((newest, _)) if after(newest, picture) => {
                // A late packet of an older picture: it goes if its picture went (or was never
                // seen) and its layer is still forwarded.
                self.pictures.was_skipped(picture) == Some(false)
                    && self.current.is_none_or(|c| tid <= c)
            }
            _ => {
                let fwd = self.decide(packet, tid, target);
                self.newest = Some((picture, fwd));
                if !fwd {
                    self.pictures.skip(picture);
                }
                fwd
            }
        };
        if !forward {
            return Admission::Drop;
        }
        let Some(picture) = self.pictures.map(picture, picture) else {
            return Admission::Drop;
        };
        let tl0 = match packet.tl0 {
            Some(t) => match self.tl0.map(t, t) {
                Some(out) => Some(out),
                None => return Admission::Drop,
            },
            None => None,
        };
        Admission::Renumbered { picture, tl0 }
    }

    /// The temporal layer decision at the first packet seen of a new picture. Up one layer at
    /// a time: a sync frame of layer `c + 1` depends on the base layer only, but the frames of
    /// layer `c + 2` after one of its own sync frames may depend on layer `c + 1`.
    fn decide(&mut self, packet: &Vp8Packet, tid: u8, target: u8) -> bool {
        let current = match self.current {
            // A new source starts at a keyframe (or waits for one), where every layer starts.
            None => target,
            Some(_) if packet.keyframe => target,
            Some(c) if target < c => target,
            Some(c) if packet.sync && tid == c + 1 && tid <= target => tid,
            Some(c) => c,
        };
        self.current = Some(current);
        tid <= current
    }
}

/// Whether `a` comes after `b` in a wrapping 64-bit numbering.
fn after(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) > 0
}

/// What becomes of one packet on its way to one subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Left out (the caller closes its sequence number gap).
    Drop,
    /// Forwarded unchanged (no picture id to renumber).
    AsIs,
    /// Forwarded with this picture id and TL0PICIDX (extended; see [`patch`]).
    Renumbered { picture: u64, tl0: Option<u64> },
}

/// The patch writing `picture` (and `tl0`) into a descriptor, in the width its picture id has
/// (15 bits, else 7). `None` if the descriptor cannot take it.
pub fn patch(descriptor: &Vp8Descriptor, picture: u64, tl0: Option<u64>) -> Option<Vp8Patch> {
    let build = |mask: u64| {
        let mut b = descriptor.patch().picture_id((picture & mask) as u16);
        if let Some(t) = tl0 {
            b = b.tl0_pic_idx(t as u8);
        }
        b.build()
    };
    match build(0x7fff) {
        Ok(p) => Some(p),
        Err(Vp8PatchError::PictureIdTooLarge) => build(0x7f).ok(),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 payload: descriptor with a 15-bit picture id, TL0PICIDX, TID and Y, then a payload
    /// header octet (P = 0 on keyframes) and a filler octet.
    fn packet(picture: u16, tl0: u8, tid: u8, sync: bool, start: bool, key: bool) -> Vec<u8> {
        vec![
            0x80 | if start { 0x10 } else { 0 },
            0xE0,
            0x80 | (picture >> 8) as u8,
            picture as u8,
            tl0,
            (tid << 6) | if sync { 0x20 } else { 0 },
            u8::from(!key),
            0xAB,
        ]
    }

    #[test]
    fn reads_temporal_layer_sync_and_numbering() {
        let t0 = Instant::now();
        let mut layers = TemporalLayers::default();
        let p = layers
            .read(&packet(0x1234, 7, 2, true, true, false), 100, t0)
            .unwrap();
        assert_eq!(p.tid, Some(2));
        assert!(p.sync);
        assert_eq!(p.picture, Some(0x1234));
        assert_eq!(p.tl0, Some(7));
        assert!(!p.keyframe);
        let key = layers
            .read(&packet(0x1235, 8, 0, false, true, true), 100, t0)
            .unwrap();
        assert!(key.keyframe);
        assert_eq!(key.tid, Some(0));
        assert_eq!(layers.top(), Some(2));
        // A continuation packet of a keyframe is no keyframe start.
        let cont = layers
            .read(&packet(0x1235, 8, 0, false, false, true), 100, t0)
            .unwrap();
        assert!(!cont.keyframe);
        // The picture id wraps: extended, it keeps counting (in wrapping arithmetic: the jump
        // from 0x1235 reads as a step back, below the first value).
        let wrapped = layers
            .read(&packet(0x7fff, 9, 0, false, true, false), 100, t0)
            .unwrap();
        let next = layers
            .read(&packet(0, 10, 0, false, true, false), 100, t0)
            .unwrap();
        assert_eq!(
            next.picture.unwrap(),
            wrapped.picture.unwrap().wrapping_add(1)
        );
    }

    #[test]
    fn refuses_what_is_not_vp8() {
        let t0 = Instant::now();
        let mut layers = TemporalLayers::default();
        assert!(layers.read(&[], 0, t0).is_none());
        // X set, then I set, but the picture id is cut off.
        assert!(layers.read(&[0x90, 0x80], 2, t0).is_none());
        // TL0PICIDX without TID is malformed.
        assert!(
            layers
                .read(&[0x90, 0x40, 0x01, 0x00, 0x00], 5, t0)
                .is_none()
        );
        assert_eq!(layers.top(), None);
        // Without a TID the stream has no temporal layers.
        let plain = layers.read(&[0x90, 0x80, 0x05, 0x00, 0x00], 5, t0).unwrap();
        assert_eq!(plain.tid, None);
        assert_eq!(plain.picture, Some(5));
        assert_eq!(layers.share(0), 1.0);
    }

    #[test]
    fn shares_default_to_libvpx_split_then_follow_measured_rates() {
        let t0 = Instant::now();
        let mut layers = TemporalLayers::default();
        layers.read(&packet(1, 1, 2, false, true, false), 100, t0);
        assert_eq!(layers.share(0), 0.4);
        assert_eq!(layers.share(1), 0.6);
        assert_eq!(layers.share(2), 1.0);
        // 2 s of 10 frames a second: T0 1000 bytes, T1 500, T2 500 per frame.
        for i in 0..20u16 {
            let at = t0 + std::time::Duration::from_millis(100 * u64::from(i));
            layers.read(
                &packet(10 + 3 * i, i as u8, 0, false, true, false),
                1000,
                at,
            );
            layers.read(&packet(11 + 3 * i, i as u8, 1, false, true, false), 500, at);
            layers.read(&packet(12 + 3 * i, i as u8, 2, false, true, false), 500, at);
        }
        assert!((layers.share(0) - 0.5).abs() < 0.05, "{}", layers.share(0));
        assert!((layers.share(1) - 0.75).abs() < 0.05, "{}", layers.share(1));
        assert_eq!(layers.share(ALL_TEMPORAL), 1.0);
    }

    /// Runs `frames` (picture, tid, sync, key) through a filter that wants `target`, one packet
    /// each: the (picture, tl0) of what went out, as the subscriber sees them.
    fn forwarded(
        filter: &mut TemporalFilter,
        frames: &[(u16, u8, bool, bool)],
        target: u8,
    ) -> Vec<(u16, u8)> {
        let t0 = Instant::now();
        let mut layers = TemporalLayers::default();
        let mut tl0 = 0u8;
        let mut out = Vec::new();
        for &(picture, tid, sync, key) in frames {
            if tid == 0 {
                tl0 = tl0.wrapping_add(1);
            }
            let payload = packet(picture, tl0, tid, sync, true, key);
            let p = layers.read(&payload, payload.len(), t0).unwrap();
            match filter.admit(&p, target) {
                Admission::Drop => {}
                Admission::AsIs => panic!("a descriptor with picture id is renumbered"),
                Admission::Renumbered { picture, tl0 } => {
                    assert!(patch(&p.descriptor, picture, tl0).is_some());
                    out.push(((picture & 0x7fff) as u16, tl0.unwrap() as u8));
                }
            }
        }
        out
    }

    #[test]
    fn patches_keep_the_picture_id_width() {
        let long = Vp8Descriptor::parse(&packet(0x1234, 1, 0, false, true, false)).unwrap();
        assert!(patch(&long, 0x7abc, Some(3)).is_some());
        assert!(patch(&long, 0x1_0005, None).is_some(), "wraps at 15 bits");
        // A 7-bit picture id takes the low 7 bits.
        let short = Vp8Descriptor::parse(&[0x90, 0xE0, 0x05, 0x01, 0x00, 0x00, 0xAB]).unwrap();
        assert!(patch(&short, 0x185, Some(2)).is_some());
        // No TL0PICIDX field: a TL0PICIDX cannot be written.
        let no_tl0 = Vp8Descriptor::parse(&[0x90, 0x80, 0x05, 0x00, 0xAB]).unwrap();
        assert!(patch(&no_tl0, 6, Some(2)).is_none());
        assert!(patch(&no_tl0, 6, None).is_some());
    }

    /// Frames in Chromium's L1T3 order from `first` on: T0 T2 T1 T2, repeated; the frames right
    /// after a base frame are sync points; the very first is a keyframe.
    fn l1t3(first: u16, n: u16) -> Vec<(u16, u8, bool, bool)> {
        (0..n)
            .map(|i| {
                let tid = [0, 2, 1, 2][usize::from(i % 4)];
                (first + i, tid, i % 4 == 1 || i % 4 == 2, i == 0)
            })
            .collect()
    }

    #[test]
    fn forwards_every_layer_with_unchanged_numbering() {
        let mut f = TemporalFilter::default();
        let out = forwarded(&mut f, &l1t3(100, 8), ALL_TEMPORAL);
        let pictures: Vec<u16> = out.iter().map(|o| o.0).collect();
        assert_eq!(pictures, (100..108).collect::<Vec<_>>());
    }

    #[test]
    fn base_layer_only_renumbers_pictures_without_gaps() {
        let mut f = TemporalFilter::default();
        let out = forwarded(&mut f, &l1t3(100, 12), 0);
        assert_eq!(out, vec![(100, 1), (101, 2), (102, 3)]);
        assert_eq!(f.current(), Some(0));
    }

    #[test]
    fn steps_down_at_once_and_up_only_at_a_sync_point() {
        let mut f = TemporalFilter::default();
        let all = forwarded(&mut f, &l1t3(0, 4), ALL_TEMPORAL);
        assert_eq!(all.len(), 4);
        // Down to T1 at the next frame: the T2 frames go.
        let t1 = forwarded(&mut f, &l1t3(4, 4), 1);
        assert_eq!(t1.iter().map(|o| o.0).collect::<Vec<_>>(), vec![4, 5]);
        // Up to T2: the next T2 frame (picture 9) is a sync point and opens the layer.
        let frames = [
            (8, 0, false, false),
            (9, 2, true, false),
            (10, 1, true, false),
        ];
        let up = forwarded(&mut f, &frames, ALL_TEMPORAL);
        assert_eq!(up.iter().map(|o| o.0).collect::<Vec<_>>(), vec![6, 7, 8]);
        assert_eq!(f.current(), Some(2));
    }

    #[test]
    fn steps_up_one_layer_at_a_time() {
        let mut f = TemporalFilter::default();
        forwarded(&mut f, &l1t3(0, 4), 0);
        // A T2 sync frame cannot open T2 while T1 is out: later T2 frames may use T1 frames.
        let frames = [
            (4, 0, false, false),
            (5, 2, true, false),
            (6, 1, true, false),
            (7, 2, false, false),
            (8, 0, false, false),
            (9, 2, true, false),
            (10, 1, false, false),
        ];
        let out = forwarded(&mut f, &frames, ALL_TEMPORAL);
        // 4, then T1 from its sync frame 6, then T2 from its sync frame 9.
        assert_eq!(
            out.iter().map(|o| o.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(f.current(), Some(2));
    }

    #[test]
    fn no_step_up_without_a_sync_point_or_keyframe() {
        let mut f = TemporalFilter::default();
        forwarded(&mut f, &l1t3(0, 4), 0);
        // T2 frames that are no sync points stay out although every layer is wanted now.
        let frames = [
            (4, 0, false, false),
            (5, 2, false, false),
            (6, 1, false, false),
        ];
        let out = forwarded(&mut f, &frames, ALL_TEMPORAL);
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![1]);
        // A keyframe opens every layer.
        let frames = [(7, 0, false, true), (8, 2, false, false)];
        let out = forwarded(&mut f, &frames, ALL_TEMPORAL);
        assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn numbering_continues_across_a_source_switch() {
        let mut f = TemporalFilter::default();
        let before = forwarded(&mut f, &l1t3(500, 4), ALL_TEMPORAL);
        assert_eq!(before.last(), Some(&(503, 1)));
        f.rebase();
        // The new source numbers its pictures elsewhere; its TL0PICIDX starts at 1 too.
        let after = forwarded(&mut f, &l1t3(20_000, 4), ALL_TEMPORAL);
        assert_eq!(after.first(), Some(&(504, 2)));
        assert_eq!(after.last(), Some(&(507, 2)));
    }
}
