//! Video through the engine: simulcast layer switches, keyframe requests, NACK repair.

use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};

use crate::engine::harness::{ClientId, TestSfu};

const FRAME: Duration = Duration::from_millis(33);
const RIDS: [&str; 3] = ["q", "h", "f"];

/// A one-packet VP8 frame: payload descriptor (S=1, PID 0), the payload header's P bit (0 on a
/// keyframe), then a tag naming the layer and the frame number.
fn vp8(keyframe: bool, layer: u8, frame: u16) -> Vec<u8> {
    let [hi, lo] = frame.to_be_bytes();
    vec![0x10, u8::from(!keyframe), 0xF0 | layer, hi, lo]
}

/// (layer, frame) of each VP8 frame the subscriber received, in order.
fn frames(sfu: &TestSfu, id: ClientId) -> Vec<(u8, u16)> {
    sfu.client(id)
        .received
        .iter()
        .filter(|r| r.payload.len() == 5 && r.payload[2] & 0xF0 == 0xF0)
        .map(|r| {
            (
                r.payload[2] & 0x0F,
                u16::from_be_bytes([r.payload[3], r.payload[4]]),
            )
        })
        .collect()
}

/// Sends frame `frame` on every layer in `layers`, keyframes on those in `key`.
fn send_frame(
    sfu: &mut TestSfu,
    alice: ClientId,
    mid: Mid,
    frame: u16,
    layers: &[usize],
    key: &[usize],
) {
    for &l in layers {
        let rid = (!RIDS.is_empty()).then_some(RIDS[l]);
        let seq = 10_000 * (l as u64 + 1) + u64::from(frame);
        let ts = 3_000 * u32::from(frame) + 1_000_000 * l as u32;
        let payload = vp8(key.contains(&l), l as u8, frame);
        sfu.write_rtp(alice, mid, rid, seq, ts, true, &payload);
    }
    sfu.run_for(FRAME);
}

#[test]
fn subscription_asks_the_publisher_for_a_keyframe() {
    let mut sfu = TestSfu::new();
    let alice = sfu.join("room", "alice");
    let mid = sfu.publish(alice, "cam", MediaKind::Video, &[]);
    assert!(sfu.run_until_or(Duration::from_secs(2), |s| {
        s.client(alice).publisher.connected
    }));
    let mut frame = 0u16;
    let mut send = |sfu: &mut TestSfu, n: u16| {
        for _ in 0..n {
            let payload = vp8(frame == 0, 0, frame);
            sfu.write_rtp(
                alice,
                mid,
                None,
                500 + u64::from(frame),
                3000 * u32::from(frame),
                true,
                &payload,
            );
            sfu.run_for(FRAME);
            frame += 1;
        }
    };
    send(&mut sfu, 10);
    assert!(
        sfu.client(alice).keyframe_requests.is_empty(),
        "nobody watches yet"
    );

    // A subscriber arrives mid-stream: it cannot decode delta frames, so the server asks.
    let bob = sfu.join("room", "bob");
    assert!(sfu.run_until_or(Duration::from_secs(2), |s| {
        s.client(bob).subscriber.connected
    }));
    send(&mut sfu, 10);
    let asked = sfu
        .client(alice)
        .keyframe_requests
        .iter()
        .filter(|(m, k)| *m == mid && *k == KeyframeRequestKind::Pli)
        .count();
    assert_eq!(asked, 1, "one PLI for the new subscription");
    assert!(
        !frames(&sfu, bob).is_empty(),
        "the subscriber receives the stream"
    );
}

#[test]
fn simulcast_switches_layers_only_at_a_keyframe() {
    // Without str0m's pacer (bandwidth estimation off): the test reads the exact packet order of
    // the first frame, which the pacer spreads over several timeouts.
    let (mut sfu, alice, bob, mid) = TestSfu::with_config(|c| c.bandwidth_estimation = false)
        .with_publisher_and_subscriber("cam", MediaKind::Video, &RIDS);
    let all = [0, 1, 2];
    send_frame(&mut sfu, alice, mid, 0, &all, &all);
    for f in 1..10 {
        send_frame(&mut sfu, alice, mid, f, &all, &[]);
    }
    let got = frames(&sfu, bob);
    assert!(!got.is_empty(), "the subscriber receives video");
    assert!(
        got.iter().all(|(l, _)| *l == 2),
        "only the high layer while all flow: {got:?}"
    );

    // The subscriber asks for the low quality: the server asks for a low keyframe and keeps
    // forwarding the high layer until it comes.
    sfu.client_mut(alice).keyframe_requests.clear();
    let track_sid = sfu.client(alice).track_sid("cam").expect("track published");
    sfu.signal(
        bob,
        Req::TrackSetting(proto::UpdateTrackSettings {
            track_sids: vec![track_sid],
            quality: proto::VideoQuality::Low as i32,
            ..Default::default()
        }),
    );
    let before = frames(&sfu, bob).len();
    for f in 10..15 {
        send_frame(&mut sfu, alice, mid, f, &all, &[]);
    }
    let waiting: Vec<_> = frames(&sfu, bob)[before..].to_vec();
    assert_eq!(
        waiting,
        (10..15).map(|f| (2, f)).collect::<Vec<_>>(),
        "no switch without a keyframe"
    );
    assert!(
        sfu.client(alice)
            .keyframe_requests
            .iter()
            .any(|(m, _)| *m == mid),
        "the publisher was asked for a keyframe"
    );
    send_frame(&mut sfu, alice, mid, 15, &all, &[0]);
    for f in 16..20 {
        send_frame(&mut sfu, alice, mid, f, &all, &[]);
    }
    let after: Vec<_> = frames(&sfu, bob)[before + 5..].to_vec();
    assert_eq!(
        after,
        (15..20).map(|f| (0, f)).collect::<Vec<_>>(),
        "switched at the low keyframe"
    );

    // Numbering on the wire continues across the switch.
    let wire = &sfu.client(bob).wire;
    let ssrc = wire.first().map(|w| w.0);
    let seqs: Vec<u16> = wire
        .iter()
        .filter(|w| Some(w.0) == ssrc)
        .map(|w| w.1)
        .collect();
    assert!(seqs.len() >= 20, "{} packets on the wire", seqs.len());
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0].wrapping_add(1), "{seqs:?}");
    }
}

#[test]
fn nacks_repair_a_lossy_downlink() {
    let (mut sfu, alice, bob, mid) =
        TestSfu::publisher_and_subscriber("cam", MediaKind::Video, &[]);
    let bob_addr = sfu.client(bob).subscriber.addr;
    let dropped = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let counter = dropped.clone();
    let mut n = 0u32;
    // Every 10th RTP packet to the subscriber is lost (RTP: first byte 128..=191, RFC 7983).
    sfu.loss = Some(Box::new(move |_, to, data| {
        if to != bob_addr
            || !matches!(data.first(), Some(128..=191))
            || matches!(data.get(1), Some(192..=223))
        {
            return false;
        }
        n += 1;
        let drop = n.is_multiple_of(10);
        counter.set(counter.get() + u32::from(drop));
        drop
    }));
    for f in 0..200u16 {
        let payload = vp8(f == 0, 0, f);
        sfu.write_rtp(
            alice,
            mid,
            None,
            900 + u64::from(f),
            3000 * u32::from(f),
            true,
            &payload,
        );
        sfu.run_for(FRAME);
    }
    sfu.loss = None;
    sfu.run_for(Duration::from_secs(1));
    assert!(
        dropped.get() >= 19,
        "the network lost {} packets",
        dropped.get()
    );
    let mut got: Vec<u16> = frames(&sfu, bob).into_iter().map(|(_, f)| f).collect();
    got.sort_unstable();
    got.dedup();
    assert_eq!(
        got,
        (0..200).collect::<Vec<_>>(),
        "every lost packet was resent"
    );
}
