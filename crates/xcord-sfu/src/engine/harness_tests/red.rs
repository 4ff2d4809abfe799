//! Opus RED through the engine: passed through to subscribers that negotiated RED, reduced to
//! plain Opus for the others with packets the publisher's uplink lost restored from the
//! redundancy, DTX silence neither loss nor a break in the numbering.

use std::time::Duration;

use str0m::media::{MediaKind, Mid};
use str0m::rtp::{RtpWrite, SeqNo};

use crate::engine::harness::{ClientId, TestSfu};
use crate::engine::red;

const OPUS_FRAME: Duration = Duration::from_millis(20);
const TICKS: u32 = 960;
/// Opus payloads carry this tag and their frame number.
const TAG: u8 = 0xAB;

fn opus_frame(n: u16) -> Vec<u8> {
    let [hi, lo] = n.to_be_bytes();
    vec![TAG, hi, lo]
}

/// A RED payload as a browser sends it: the previous frame (if any) as redundancy, then `n`.
fn red_payload(opus_pt: u8, n: u16, previous: Option<(u16, u32)>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some((_, offset)) = previous {
        let word = 0x8000_0000 | (u32::from(opus_pt) << 24) | (offset << 10) | 3;
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.push(opus_pt);
    if let Some((p, _)) = previous {
        out.extend(opus_frame(p));
    }
    out.extend(opus_frame(n));
    out
}

/// Alice (RED) publishes a microphone; bob (RED) and carol (no RED) subscribe.
fn room() -> (TestSfu, ClientId, ClientId, ClientId, Mid) {
    let mut sfu = TestSfu::new();
    sfu.deliver_every_packet = true;
    let alice = sfu.join_with_codecs("room", "alice", true);
    let mid = sfu.publish(alice, "mic", MediaKind::Audio, &[]);
    let bob = sfu.join_with_codecs("room", "bob", true);
    let carol = sfu.join_with_codecs("room", "carol", false);
    let connected = sfu.run_until_or(Duration::from_secs(2), |s| {
        s.client(alice).publisher.connected
            && s.client(bob).subscriber.connected
            && s.client(carol).subscriber.connected
    });
    assert!(connected, "everyone connects");
    (sfu, alice, bob, carol, mid)
}

/// (Opus payload type, RED payload type) negotiated on a client peer.
fn red_pts(rtc: &str0m::Rtc) -> (u8, Option<u8>) {
    let opus = rtc
        .codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == str0m::format::Codec::Opus)
        .expect("opus negotiated");
    (*opus.pt(), opus.red().map(|p| *p))
}

fn write(
    sfu: &mut TestSfu,
    alice: ClientId,
    mid: Mid,
    pt: u8,
    seq: u64,
    ts: u32,
    payload: Vec<u8>,
) {
    let now = sfu.now;
    let mut api = sfu.client_mut(alice).publisher.rtc.direct_api();
    let tx = api.stream_tx_by_mid(mid, None).expect("send stream");
    tx.write_rtp(RtpWrite::new(pt.into(), SeqNo::from(seq), ts, now, payload).nackable(false));
}

/// Frame numbers of the plain Opus packets a client received, with their (seq, ts).
fn plain_frames(sfu: &TestSfu, id: ClientId) -> Vec<(u16, u64, u32)> {
    sfu.client(id)
        .received
        .iter()
        .filter(|r| r.payload.len() == 3 && r.payload[0] == TAG)
        .map(|r| {
            (
                u16::from_be_bytes([r.payload[1], r.payload[2]]),
                *r.seq_no,
                r.rtp_time,
            )
        })
        .collect()
}

#[test]
fn red_is_negotiated_only_with_clients_that_offer_it() {
    let (sfu, alice, bob, carol, _) = room();
    assert!(
        red_pts(&sfu.client(alice).publisher.rtc).1.is_some(),
        "publisher"
    );
    assert!(
        red_pts(&sfu.client(bob).subscriber.rtc).1.is_some(),
        "RED subscriber"
    );
    assert_eq!(
        red_pts(&sfu.client(carol).subscriber.rtc).1,
        None,
        "plain subscriber"
    );
}

#[test]
fn red_passes_through_and_is_reduced_with_uplink_losses_restored() {
    let (mut sfu, alice, bob, carol, mid) = room();
    let (opus_pt, red_pt) = red_pts(&sfu.client(alice).publisher.rtc);
    let red_pt = red_pt.expect("RED negotiated");
    let alice_addr = sfu.client(alice).publisher.addr;
    // The uplink loses every 5th RTP packet (RTP: first byte 128..=191, RFC 7983).
    let mut n = 0u32;
    sfu.loss = Some(Box::new(move |from, _, data| {
        if from != alice_addr
            || !matches!(data.first(), Some(128..=191))
            || matches!(data.get(1), Some(192..=223))
        {
            return false;
        }
        n += 1;
        n.is_multiple_of(5)
    }));

    // Frames 4, 9, 14, ... are lost; the last one (100) is not, so every loss has a successor.
    const FRAMES: u16 = 101;
    const SILENCE_AFTER: u16 = 52;
    const SILENCE: u32 = 2 * 48_000;
    let mut previous: Option<(u16, u32)> = None;
    for f in 0..FRAMES {
        // DTX: two seconds without packets before frame 52; numbering goes on, time jumps. Its
        // redundancy would be too old for RED's 14-bit offset, so it carries none.
        let ts = 10_000 + TICKS * u32::from(f) + if f >= SILENCE_AFTER { SILENCE } else { 0 };
        if f == SILENCE_AFTER {
            sfu.run_for(Duration::from_secs(2));
        }
        let redundancy = previous
            .map(|(p, pts)| (p, ts - pts))
            .filter(|(_, offset)| *offset <= 0x3fff);
        let payload = red_payload(opus_pt, f, redundancy);
        write(
            &mut sfu,
            alice,
            mid,
            red_pt,
            5_000 + u64::from(f),
            ts,
            payload,
        );
        previous = Some((f, ts));
        sfu.run_for(OPUS_FRAME);
    }
    sfu.loss = None;
    sfu.run_for(Duration::from_millis(500));

    // Bob gets RED as it arrived: every received packet parses, on his RED payload type.
    let bob_got = &sfu.client(bob).received;
    let bob_red: Vec<_> = bob_got.iter().filter(|r| r.payload.len() > 3).collect();
    assert!(bob_red.len() >= 70, "bob got {} RED packets", bob_red.len());
    let bob_red_pt = red_pts(&sfu.client(bob).subscriber.rtc).1;
    for r in &bob_red {
        assert_eq!(Some(r.pt), bob_red_pt);
        assert!(red::parse(&r.payload).is_ok());
    }

    // Carol gets plain Opus on her Opus payload type, every frame: lost ones restored.
    let carol_opus = red_pts(&sfu.client(carol).subscriber.rtc).0;
    assert!(
        sfu.client(carol)
            .received
            .iter()
            .all(|r| r.pt == carol_opus)
    );
    let got = plain_frames(&sfu, carol);
    let frames: Vec<u16> = got.iter().map(|g| g.0).collect();
    assert_eq!(
        frames,
        (0..FRAMES).collect::<Vec<_>>(),
        "every frame, once, in order"
    );
    for pair in got.windows(2) {
        let ((f0, s0, t0), (f1, s1, t1)) = (pair[0], pair[1]);
        assert_eq!(s1, s0 + 1, "sequence numbers continue ({f0} → {f1})");
        let expected = if f1 == SILENCE_AFTER {
            TICKS + SILENCE
        } else {
            TICKS
        };
        assert_eq!(
            t1.wrapping_sub(t0),
            expected,
            "timestamps keep their spacing ({f0} → {f1})"
        );
    }
}

#[test]
fn plain_opus_reaches_red_and_plain_subscribers_unchanged() {
    let (mut sfu, alice, bob, carol, mid) = room();
    let (opus_pt, _) = red_pts(&sfu.client(alice).publisher.rtc);
    for f in 0..20u16 {
        let ts = TICKS * u32::from(f);
        write(
            &mut sfu,
            alice,
            mid,
            opus_pt,
            100 + u64::from(f),
            ts,
            opus_frame(f),
        );
        sfu.run_for(OPUS_FRAME);
    }
    sfu.run_for(Duration::from_millis(200));
    for id in [bob, carol] {
        let frames: Vec<u16> = plain_frames(&sfu, id).iter().map(|g| g.0).collect();
        assert_eq!(frames, (0..20).collect::<Vec<_>>());
    }
}
