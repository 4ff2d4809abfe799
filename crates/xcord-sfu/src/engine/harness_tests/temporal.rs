//! VP8 temporal layers under a pinned downlink estimate: a screen share gives up frame rate
//! (T2, then T1) before resolution and gets it back at sync frames, without keyframes; what the
//! subscriber receives stays continuous in sequence numbers, picture ids and TL0PICIDX. A camera
//! with the same stream steps down a simulcast layer instead.
//!
//! The publisher's packets imitate Chromium's `L1T3`: frames T0 T2 T1 T2 repeated, a sync frame
//! of T2 and of T1 every eight frames, a keyframe at the start and on every keyframe request.

use std::time::Duration;

use livekit_protocol as proto;
use str0m::media::{MediaKind, Mid};

use crate::engine::harness::{ClientId, TestSfu};

const FRAME: Duration = Duration::from_millis(33);
/// Temporal layer of each frame, by frame number modulo 4.
const PATTERN: [u8; 4] = [0, 2, 1, 2];
/// Packets of a T0, T1 and T2 frame, and payload bytes per packet, per simulcast layer (low,
/// high): the low layer ≈150 kbit/s (T0 ≈60, T0+T1 ≈90), the high layer ≈790 kbit/s (T0 ≈365,
/// T0+T1 ≈545) at 30 frames per second.
const SHAPES: [([usize; 3], usize); 2] = [([2, 1, 1], 500), ([6, 3, 2], 1000)];
/// Bit/s that fit everything.
const PLENTY: u64 = 5_000_000;
/// Offset of the test's tag (0xF0 | layer, frame number) in every packet.
const TAG: usize = 7;

/// One frame start as the subscriber received it.
#[derive(Clone, Copy, Debug)]
struct Got {
    picture: u16,
    tl0: u8,
    tid: u8,
    sync: bool,
    key: bool,
    layer: u8,
}

/// Alice publishes a VP8 stream with temporal layers, in two simulcast layers (rids `q` and `h`,
/// as livekit-client publishes a screen share) or one (no rids); bob receives it.
struct Stream {
    sfu: TestSfu,
    alice: ClientId,
    bob: ClientId,
    mid: Mid,
    rids: &'static [&'static str],
    frame: u32,
    /// Per layer: next sequence number, picture id, TL0PICIDX.
    seqs: Vec<u64>,
    pictures: Vec<u16>,
    tl0s: Vec<u8>,
    /// Keyframe requests already answered.
    requests: usize,
}

impl Stream {
    fn new(source: proto::TrackSource, rids: &'static [&'static str]) -> Self {
        let mut sfu = TestSfu::with_config(|c| c.bandwidth_estimation = true);
        sfu.deliver_every_packet = true;
        let alice = sfu.join("room", "alice");
        let mid = sfu.publish_source(alice, "share", MediaKind::Video, source, rids);
        let bob = sfu.join("room", "bob");
        let connected = sfu.run_until_or(Duration::from_secs(2), |s| {
            s.client(alice).publisher.connected && s.client(bob).subscriber.connected
        });
        assert!(connected, "publisher and subscriber connect");
        sfu.pin_estimate(bob, Some(PLENTY));
        let layers = rids.len().max(1);
        Self {
            sfu,
            alice,
            bob,
            mid,
            rids,
            frame: 0,
            seqs: (0..layers as u64).map(|l| 10_000 * (l + 1)).collect(),
            pictures: (0..layers as u16).map(|l| 1_000 * (l + 7)).collect(),
            tl0s: (0..layers as u8).map(|l| 40 * l).collect(),
            requests: 0,
        }
    }

    fn run(&mut self, d: Duration) {
        for _ in 0..(d.as_millis() / FRAME.as_millis()) {
            self.send_frame();
        }
    }

    fn send_frame(&mut self) {
        let f = self.frame;
        self.frame += 1;
        let requests = self.sfu.client(self.alice).keyframe_requests.len();
        let key = f == 0 || requests > self.requests;
        self.requests = requests;
        // A keyframe restarts the pattern's phase: it is a base layer frame.
        let tid = if key { 0 } else { PATTERN[f as usize % 4] };
        let sync = !key && matches!(f % 8, 1 | 2);
        let shapes = &SHAPES[SHAPES.len() - self.seqs.len()..];
        for (l, (packets, bytes)) in shapes.iter().enumerate() {
            if tid == 0 {
                self.tl0s[l] = self.tl0s[l].wrapping_add(1);
            }
            let picture = self.pictures[l];
            self.pictures[l] = (picture + 1) & 0x7fff;
            let n = packets[usize::from(tid)];
            for i in 0..n {
                let mut payload = vec![0u8; *bytes];
                payload[0] = 0x80 | if i == 0 { 0x10 } else { 0 };
                payload[1] = 0xE0;
                payload[2] = 0x80 | (picture >> 8) as u8;
                payload[3] = picture as u8;
                payload[4] = self.tl0s[l];
                payload[5] = (tid << 6) | if sync { 0x20 } else { 0 };
                payload[6] = u8::from(!key);
                payload[TAG] = 0xF0 | l as u8;
                payload[TAG + 1..TAG + 3].copy_from_slice(&(f as u16).to_be_bytes());
                let seq = self.seqs[l];
                self.seqs[l] += 1;
                let ts = 3_000 * f + 1_000_000 * l as u32;
                self.sfu.write_rtp(
                    self.alice,
                    self.mid,
                    self.rids.get(l).copied(),
                    seq,
                    ts,
                    i + 1 == n,
                    &payload,
                );
            }
        }
        self.sfu.run_for(FRAME);
    }

    /// The tagged packets bob received: (sequence number, payload).
    fn packets(&self) -> Vec<(u64, &[u8])> {
        self.sfu
            .client(self.bob)
            .received
            .iter()
            .filter(|r| r.payload.len() > TAG + 2 && r.payload[TAG] >> 4 == 0xF)
            .map(|r| (*r.seq_no, &r.payload[..]))
            .collect()
    }

    /// Every frame start bob received, in order.
    fn frames(&self) -> Vec<Got> {
        self.packets()
            .into_iter()
            .filter(|(_, p)| p[0] & 0x10 != 0)
            .map(|(_, p)| Got {
                picture: u16::from_be_bytes([p[2] & 0x7f, p[3]]),
                tl0: p[4],
                tid: p[5] >> 6,
                sync: p[5] & 0x20 != 0,
                key: p[6] & 0x01 == 0,
                layer: p[TAG] & 0x0f,
            })
            .collect()
    }

    /// Runs for `d`; the frames bob received meanwhile.
    fn during(&mut self, d: Duration) -> Vec<Got> {
        let mark = self.frames().len();
        self.run(d);
        self.frames().split_off(mark)
    }

    /// What bob received is one stream: sequence numbers without gaps, picture ids one apart
    /// from frame to frame, TL0PICIDX one up at each base layer frame and unchanged otherwise.
    fn assert_continuous(&self) {
        let mut seqs: Vec<u64> = self.packets().iter().map(|(s, _)| *s).collect();
        seqs.sort_unstable();
        seqs.dedup();
        let first = seqs[0];
        let gaps: Vec<u64> = seqs
            .iter()
            .enumerate()
            .filter(|(i, s)| **s != first + *i as u64)
            .map(|(_, s)| *s)
            .take(5)
            .collect();
        assert!(gaps.is_empty(), "sequence gaps before {gaps:?}");
        let frames = self.frames();
        for w in frames.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert_eq!(
                b.picture,
                (a.picture + 1) & 0x7fff,
                "picture ids {a:?} → {b:?}"
            );
            let tl0 = if b.tid == 0 {
                a.tl0.wrapping_add(1)
            } else {
                a.tl0
            };
            assert_eq!(b.tl0, tl0, "TL0PICIDX {a:?} → {b:?}");
        }
    }
}

/// The temporal layers of `frames`, sorted and deduplicated, asserting they are all of
/// simulcast `layer`.
fn tids(frames: &[Got], layer: u8) -> Vec<u8> {
    assert!(
        frames.len() >= 4,
        "only {} frames: {frames:?}",
        frames.len()
    );
    assert!(
        frames.iter().all(|f| f.layer == layer),
        "expected layer {layer} only: {frames:?}"
    );
    let mut tids: Vec<u8> = frames.iter().map(|f| f.tid).collect();
    tids.sort_unstable();
    tids.dedup();
    tids
}

#[test]
fn a_screen_share_drops_frame_rate_before_resolution() {
    let mut s = Stream::new(proto::TrackSource::ScreenShare, &["q", "h"]);
    s.run(Duration::from_secs(2));
    let start = s.during(Duration::from_secs(1));
    assert_eq!(tids(&start, 1), vec![0, 1, 2], "high layer, every frame");

    // 450 kbit/s: the high layer's T0 fits (≈365), T0+T1 (≈545) only within the tolerance:
    // T2 goes at once, T1 once the shortfall has lasted 2 s; the resolution stays.
    s.sfu.pin_estimate(s.bob, Some(450_000));
    let mut short = s.during(Duration::from_millis(100));
    let t1 = s.during(Duration::from_millis(1_700));
    assert_eq!(tids(&t1, 1), vec![0, 1], "T2 dropped at once");
    short.extend(&t1);
    short.extend(s.during(Duration::from_millis(500)));
    let t0 = s.during(Duration::from_millis(1_500));
    assert_eq!(tids(&t0, 1), vec![0], "only the base layer once it lasts");
    short.extend(&t0);
    assert_eq!(tids(&short, 1), vec![0, 1], "the resolution never changed");

    // The estimate recovers: after the 3 s hold the upper layers come back at their sync
    // frames, one layer at a time, without a keyframe.
    s.sfu.pin_estimate(s.bob, Some(PLENTY));
    let held = s.during(Duration::from_millis(2_800));
    assert_eq!(tids(&held, 1), vec![0], "held for the hold");
    let mut back = s.during(Duration::from_millis(1_200));
    back.extend(s.during(Duration::from_secs(1)));
    assert_eq!(tids(&back, 1), vec![0, 1, 2], "every frame again");
    assert!(back.iter().all(|f| !f.key), "no keyframe: {back:?}");
    let first_t1 = back.iter().position(|f| f.tid == 1).expect("a T1 frame");
    let first_t2 = back.iter().position(|f| f.tid == 2).expect("a T2 frame");
    assert!(back[first_t1].sync && back[first_t2].sync, "{back:?}");
    assert!(first_t1 < first_t2, "T1 before T2: {back:?}");

    // 200 kbit/s: not even the high layer's T0 fits; now the resolution goes (the low layer
    // fits whole).
    s.sfu.pin_estimate(s.bob, Some(200_000));
    s.run(Duration::from_secs(1));
    let low = s.during(Duration::from_secs(1));
    assert_eq!(tids(&low, 0), vec![0, 1, 2], "low layer, every frame");

    s.assert_continuous();
}

#[test]
fn a_camera_steps_down_a_layer_and_keeps_its_frame_rate() {
    let mut s = Stream::new(proto::TrackSource::Camera, &["q", "h"]);
    s.run(Duration::from_secs(2));
    let start = s.during(Duration::from_secs(1));
    assert_eq!(tids(&start, 1), vec![0, 1, 2]);
    // The estimate that kept the screen share's resolution takes the camera to its low layer
    // at full frame rate.
    s.sfu.pin_estimate(s.bob, Some(450_000));
    s.run(Duration::from_secs(1));
    let low = s.during(Duration::from_secs(1));
    assert_eq!(tids(&low, 0), vec![0, 1, 2]);
    s.assert_continuous();
}

#[test]
fn a_single_layer_screen_share_keeps_its_only_layer_at_its_base_frame_rate() {
    let mut s = Stream::new(proto::TrackSource::ScreenShare, &[]);
    s.run(Duration::from_secs(2));
    let start = s.during(Duration::from_secs(1));
    assert_eq!(tids(&start, 0), vec![0, 1, 2]);
    // Far below even its base layer (≈365 kbit/s): still sent, base layer only, at once.
    s.sfu.pin_estimate(s.bob, Some(100_000));
    let first = s.during(Duration::from_millis(100));
    assert!(first.iter().all(|f| f.tid == 0), "{first:?}");
    let base = s.during(Duration::from_secs(4));
    assert_eq!(tids(&base, 0), vec![0], "never paused, base layer only");
    assert!(base.len() >= 25, "{} base frames in 4 s", base.len());
    s.assert_continuous();
}
