//! Bandwidth-driven layers and dynacast: the subscriber's downlink estimate (pinned by the test)
//! picks its simulcast layer, audio keeps its share, and the publisher hears which layers are
//! watched.

use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use str0m::media::{MediaKind, Mid};

use crate::engine::harness::{ClientId, TestSfu};

const FRAME: Duration = Duration::from_millis(33);
const RIDS: [&str; 3] = ["q", "h", "f"];
/// Packets per frame and payload bytes per packet of each layer: ≈100, ≈300 and ≈990 kbit/s
/// at 30 frames per second (packets stay well below str0m's MTU).
const LAYER_SHAPE: [(usize, usize); 3] = [(1, 400), (3, 400), (10, 400)];
/// Audio payload bytes, one packet per frame: ≈75 kbit/s.
const AUDIO_BYTES: usize = 300;
/// Every layer sends a keyframe this often (in frames).
const KEYFRAME_EVERY: u32 = 15;
/// Bit/s that fit everything.
const PLENTY: u64 = 5_000_000;

/// A room where alice publishes a three-layer camera (and, with `audio`, a microphone) and bob
/// receives them.
struct Call {
    sfu: TestSfu,
    alice: ClientId,
    bob: ClientId,
    cam: Mid,
    mic: Option<Mid>,
    frame: u32,
    /// Next sequence number of each layer.
    seqs: [u64; 3],
    audio_sent: u32,
}

impl Call {
    fn new(audio: bool) -> Self {
        let mut sfu = TestSfu::with_config(|c| c.bandwidth_estimation = true);
        let alice = sfu.join("room", "alice");
        let cam = sfu.publish(alice, "cam", MediaKind::Video, &RIDS);
        let mic = audio.then(|| sfu.publish(alice, "mic", MediaKind::Audio, &[]));
        let bob = sfu.join("room", "bob");
        let connected = sfu.run_until_or(Duration::from_secs(2), |s| {
            s.client(alice).publisher.connected && s.client(bob).subscriber.connected
        });
        assert!(connected, "publisher and subscriber connect");
        Self {
            sfu,
            alice,
            bob,
            cam,
            mic,
            frame: 0,
            seqs: [10_000, 20_000, 30_000],
            audio_sent: 0,
        }
    }

    /// Sends frames on every layer (and audio) for `d`.
    fn run(&mut self, d: Duration) {
        let frames = (d.as_millis() / FRAME.as_millis()) as u32;
        for _ in 0..frames {
            self.send_frame();
        }
    }

    fn send_frame(&mut self) {
        let f = self.frame;
        self.frame += 1;
        let key = f.is_multiple_of(KEYFRAME_EVERY);
        for (l, (packets, bytes)) in LAYER_SHAPE.iter().enumerate() {
            for i in 0..*packets {
                let seq = self.seqs[l];
                self.seqs[l] += 1;
                let ts = 3_000 * f + 1_000_000 * l as u32;
                let mut payload = vec![0u8; *bytes];
                // VP8 descriptor: S=1 on a frame's first packet; then the P bit (0: keyframe),
                // then a tag naming the layer and the frame number.
                payload[0] = if i == 0 { 0x10 } else { 0x00 };
                payload[1] = u8::from(!key);
                payload[2] = 0xF0 | l as u8;
                payload[3..5].copy_from_slice(&(f as u16).to_be_bytes());
                let last = i + 1 == *packets;
                self.sfu
                    .write_rtp(self.alice, self.cam, Some(RIDS[l]), seq, ts, last, &payload);
            }
        }
        if let Some(mic) = self.mic {
            let mut payload = vec![0u8; AUDIO_BYTES];
            payload[0] = 0xAA;
            payload[1..3].copy_from_slice(&(f as u16).to_be_bytes());
            self.sfu.write_rtp(
                self.alice,
                mic,
                None,
                50_000 + u64::from(f),
                960 * f,
                true,
                &payload,
            );
            self.audio_sent += 1;
        }
        self.sfu.run_for(FRAME);
    }

    /// (layer, keyframe) of each video frame bob received, in order.
    fn frames(&self) -> Vec<(u8, bool)> {
        self.sfu
            .client(self.bob)
            .received
            .iter()
            .filter(|r| r.payload.len() >= 5 && r.payload[0] == 0x10 && r.payload[2] >> 4 == 0xF)
            .map(|r| (r.payload[2] & 0x0F, r.payload[1] == 0))
            .collect()
    }

    /// Distinct audio packets bob received.
    fn audio_received(&self) -> usize {
        let mut got: Vec<u16> = self
            .sfu
            .client(self.bob)
            .received
            .iter()
            .filter(|r| r.payload.len() == AUDIO_BYTES && r.payload[0] == 0xAA)
            .map(|r| u16::from_be_bytes([r.payload[1], r.payload[2]]))
            .collect();
        got.sort_unstable();
        got.dedup();
        got.len()
    }

    fn track_sid(&self, cid: &str) -> String {
        self.sfu
            .client(self.alice)
            .track_sid(cid)
            .expect("track published")
    }

    /// The SubscribedQualityUpdates alice received so far: (enabled low, medium, high, codec).
    fn dynacast_updates(&self) -> Vec<([bool; 3], String)> {
        let sid = self.track_sid("cam");
        self.sfu
            .client(self.alice)
            .signals
            .iter()
            .filter_map(|m| match m {
                Resp::SubscribedQualityUpdate(u) if u.track_sid == sid => Some(u),
                _ => None,
            })
            .map(|u| {
                let codec = &u.subscribed_codecs[0];
                let mut enabled = [false; 3];
                for q in &codec.qualities {
                    enabled[q.quality as usize] = q.enabled;
                }
                (enabled, codec.codec.clone())
            })
            .collect()
    }

    fn set_quality(&mut self, quality: proto::VideoQuality) {
        let sid = self.track_sid("cam");
        self.sfu.signal(
            self.bob,
            Req::TrackSetting(proto::UpdateTrackSettings {
                track_sids: vec![sid],
                quality: quality as i32,
                ..Default::default()
            }),
        );
        self.sfu.step();
    }

    fn subscribe(&mut self, cid: &str, subscribe: bool) {
        let sid = self.track_sid(cid);
        self.sfu.signal(
            self.bob,
            Req::Subscription(proto::UpdateSubscription {
                track_sids: vec![sid],
                subscribe,
                ..Default::default()
            }),
        );
        self.sfu.step();
    }
}

/// The layer of the last `n` frames bob received, asserting they all share it.
fn steady_layer(frames: &[(u8, bool)], n: usize) -> u8 {
    assert!(frames.len() >= n, "only {} frames received", frames.len());
    let tail = &frames[frames.len() - n..];
    assert!(
        tail.iter().all(|f| f.0 == tail[0].0),
        "mixed layers: {tail:?}"
    );
    tail[0].0
}

#[test]
fn the_layer_follows_the_estimate_down_at_once_and_up_after_a_hold() {
    let mut call = Call::new(true);
    // Unconstrained (str0m's own estimate on a perfect network): the best layer.
    call.run(Duration::from_secs(3));
    assert_eq!(steady_layer(&call.frames(), 10), 2, "high layer at first");

    // The downlink drops to 330 kbit/s: low layer (100) plus audio (75) fit, medium (300)
    // with audio does not, but is within the tolerance: the high layer goes at once, the
    // medium one only once the shortfall has lasted.
    call.sfu.pin_estimate(call.bob, Some(330_000));
    call.run(Duration::from_millis(1_000));
    let layer = steady_layer(&call.frames(), 10);
    assert!(
        layer >= 1,
        "medium layer rides out a short dip, got {layer}"
    );
    call.run(Duration::from_millis(2_500));
    assert_eq!(
        steady_layer(&call.frames(), 10),
        0,
        "low layer once the dip lasts"
    );

    // The estimate recovers. The cap stays down for the hold even though keyframes of every
    // layer keep coming, then rises: the first high frame is a keyframe.
    call.sfu.pin_estimate(call.bob, Some(PLENTY));
    let before = call.frames().len();
    call.run(Duration::from_millis(2_500));
    let held = call.frames()[before..].to_vec();
    assert!(held.len() > 50, "{} frames during the hold", held.len());
    assert!(held.iter().all(|f| f.0 == 0), "no step up during the hold");
    call.run(Duration::from_millis(3_000));
    let frames = call.frames();
    assert_eq!(steady_layer(&frames, 10), 2, "high layer after the hold");
    let first_high = frames[before..]
        .iter()
        .find(|f| f.0 == 2)
        .expect("a high frame");
    assert!(first_high.1, "the step up happens at a keyframe");

    // A deep drop (150 kbit/s: the low layer with audio, far from the medium one) takes the
    // layer down at once, at the next low keyframe.
    call.sfu.pin_estimate(call.bob, Some(150_000));
    call.run(Duration::from_millis(1_000));
    assert_eq!(
        steady_layer(&call.frames(), 10),
        0,
        "low layer at once after a deep drop"
    );

    // Audio never suffered: every packet arrived.
    call.run(Duration::from_millis(200));
    assert_eq!(call.audio_received(), call.audio_sent as usize);
}

#[test]
fn audio_is_served_before_video() {
    let mut call = Call::new(true);
    call.run(Duration::from_secs(2));
    // 350 kbit/s: medium (300) alone would fit in 95 % of it, not beside the audio (75).
    call.sfu.pin_estimate(call.bob, Some(350_000));
    call.run(Duration::from_secs(3));
    assert_eq!(
        steady_layer(&call.frames(), 10),
        0,
        "low layer beside audio"
    );
    call.run(Duration::from_secs(4));
    assert_eq!(steady_layer(&call.frames(), 60), 0, "and it stays there");

    // Without the audio subscription the same estimate carries the medium layer.
    call.subscribe("mic", false);
    call.run(Duration::from_secs(6));
    assert_eq!(
        steady_layer(&call.frames(), 10),
        1,
        "medium layer without audio"
    );
}

#[test]
fn dynacast_tells_the_publisher_which_layers_are_watched() {
    let mut call = Call::new(false);
    let all = [true, true, true];
    let low_only = [true, false, false];
    let none = [false, false, false];
    // Plenty of bandwidth first (str0m's own estimate would sink to what the low layer alone
    // carries while only that is sent).
    call.sfu.pin_estimate(call.bob, Some(PLENTY));
    call.run(Duration::from_secs(2));
    assert!(
        call.dynacast_updates().is_empty(),
        "the publisher sends every layer by default"
    );

    // The subscriber only wants the low layer: the publisher hears of it after the delay.
    call.set_quality(proto::VideoQuality::Low);
    call.run(Duration::from_secs(4));
    assert!(
        call.dynacast_updates().is_empty(),
        "no downgrade before 5 s"
    );
    call.run(Duration::from_millis(2_500));
    assert_eq!(call.dynacast_updates(), vec![(low_only, "vp8".to_owned())]);

    // Back to high: at once.
    call.set_quality(proto::VideoQuality::High);
    assert_eq!(call.dynacast_updates().len(), 2, "the upgrade is immediate");
    assert_eq!(call.dynacast_updates()[1].0, all);

    // Bandwidth alone does not turn layers off: a capped subscriber climbs back only to layers
    // that keep flowing.
    call.sfu.pin_estimate(call.bob, Some(200_000));
    call.run(Duration::from_millis(6_500));
    assert_eq!(
        call.dynacast_updates().len(),
        2,
        "no update for a bandwidth cap"
    );

    // Nobody watches: every layer off, after the delay.
    call.subscribe("cam", false);
    call.run(Duration::from_secs(3));
    assert_eq!(call.dynacast_updates().len(), 2, "not yet");
    call.run(Duration::from_millis(3_500));
    assert_eq!(call.dynacast_updates().len(), 3);
    assert_eq!(call.dynacast_updates()[2].0, none);

    // Someone subscribes again: the layers come back at once.
    call.subscribe("cam", true);
    assert_eq!(call.dynacast_updates().len(), 4);
    assert_eq!(call.dynacast_updates()[3].0, all);
}
