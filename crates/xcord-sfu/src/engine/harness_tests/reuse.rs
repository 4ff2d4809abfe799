//! m-line reuse on the subscriber connection (protocol v0): unsubscribing and subscribing again
//! does not grow the SDP, and a reused line names its new track and a new send stream.

use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use str0m::media::{MediaKind, Mid};

use crate::engine::harness::{ClientId, TestSfu};

const OPUS_FRAME: Duration = Duration::from_millis(20);

/// The last offer the server sent to `id`'s subscriber connection.
fn last_offer(sfu: &TestSfu, id: ClientId) -> String {
    sfu.client(id)
        .signals
        .iter()
        .rev()
        .find_map(|m| match m {
            Resp::Offer(sd) => Some(sd.sdp.clone()),
            _ => None,
        })
        .expect("an offer")
}

/// The audio m-sections of an SDP: (mid, section text).
fn audio_sections(sdp: &str) -> Vec<(String, String)> {
    sdp.split("\r\nm=")
        .skip(1)
        .filter(|s| s.starts_with("audio"))
        .map(|s| {
            let mid = s
                .lines()
                .find_map(|l| l.strip_prefix("a=mid:"))
                .expect("a mid")
                .to_owned();
            (mid, s.to_owned())
        })
        .collect()
}

fn subscribe(sfu: &mut TestSfu, id: ClientId, sids: &[&str], on: bool) {
    sfu.signal(
        id,
        Req::Subscription(proto::UpdateSubscription {
            track_sids: sids.iter().map(|s| (*s).to_owned()).collect(),
            subscribe: on,
            ..Default::default()
        }),
    );
    sfu.run_for(Duration::from_millis(200));
}

/// Sends `n` Opus packets tagged `tag` on `mid`, starting at packet `from`.
fn speak(sfu: &mut TestSfu, alice: ClientId, mid: Mid, tag: u8, from: u64, n: u64) {
    for i in from..from + n {
        let seq = 100 * u64::from(tag) + i;
        let ts = 960 * i as u32;
        sfu.write_rtp(alice, mid, None, seq, ts, false, &[tag, i as u8]);
        sfu.run_for(OPUS_FRAME);
    }
}

/// What the engine put on the wire to the subscriber since `since`: (SSRC, sequence number).
fn wire_since(sfu: &TestSfu, id: ClientId, since: usize) -> Vec<(u32, u16)> {
    sfu.client(id).wire[since..].to_vec()
}

#[test]
fn an_ended_subscription_lends_its_m_line_to_the_next_track() {
    // Without str0m's pacer (bandwidth estimation off): the test counts the packets on the wire
    // right after each burst.
    let mut sfu = TestSfu::with_config(|c| c.bandwidth_estimation = false);
    let alice = sfu.join("room", "alice");
    let mic1 = sfu.publish(alice, "mic1", MediaKind::Audio, &[]);
    let mic2 = sfu.publish(alice, "mic2", MediaKind::Audio, &[]);
    let bob = sfu.join("room", "bob");
    assert!(sfu.run_until_or(Duration::from_secs(2), |s| {
        s.client(alice).publisher.connected && s.client(bob).subscriber.connected
    }));
    let alice_sid = sfu.engine.participants[sfu.client(alice).participant]
        .sid
        .clone();
    let sid1 = sfu.client(alice).track_sid("mic1").expect("mic1 published");
    let sid2 = sfu.client(alice).track_sid("mic2").expect("mic2 published");
    let first = audio_sections(&last_offer(&sfu, bob));
    assert_eq!(first.len(), 2, "one line per subscription");
    let mid_of = |sections: &[(String, String)], sid: &str| {
        sections
            .iter()
            .find(|(_, s)| s.contains(&format!("a=msid:{alice_sid}|{sid} {sid}")))
            .map(|(mid, _)| mid.clone())
    };
    let line1 = mid_of(&first, &sid1).expect("mic1's line");

    // mic1 flows on its line.
    let before = sfu.client(bob).wire.len();
    speak(&mut sfu, alice, mic1, 0xA1, 0, 10);
    let mic1_wire = wire_since(&sfu, bob, before);
    assert_eq!(mic1_wire.len(), 10, "mic1 forwarded");
    let (line1_ssrc, _) = *mic1_wire.last().expect("a packet");

    // Bob drops both; then takes mic2 only: it goes on mic1's old line.
    subscribe(&mut sfu, bob, &[&sid1], false);
    subscribe(&mut sfu, bob, &[&sid2], false);
    let idle = audio_sections(&last_offer(&sfu, bob));
    assert_eq!(idle.len(), 2);
    assert!(
        idle.iter().all(|(_, s)| s.contains("a=inactive")),
        "{idle:?}"
    );
    subscribe(&mut sfu, bob, &[&sid2], true);
    let reused = audio_sections(&last_offer(&sfu, bob));
    assert_eq!(reused.len(), 2, "no new line: {reused:?}");
    assert_eq!(
        mid_of(&reused, &sid2),
        Some(line1.clone()),
        "mic2 on mic1's old line, under mic2's msid"
    );
    let section = &reused
        .iter()
        .find(|(mid, _)| *mid == line1)
        .expect("line")
        .1;
    assert!(section.contains("a=sendonly"), "{section}");
    // (The RTP cname stays the send stream's own: str0m also writes it in RTCP SDES.)
    assert!(
        section
            .lines()
            .filter(|l| l.contains("msid:"))
            .all(|l| !l.contains(&sid1)),
        "the old msid is gone: {section}"
    );

    // The line announces a new send stream (as a new sender would): native libwebrtc receivers
    // play nothing from a reactivated line that keeps its old SSRC.
    assert!(
        !section.contains(&format!("a=ssrc:{line1_ssrc} ")),
        "the old SSRC is gone: {section}"
    );
    let announced: Vec<u32> = section
        .lines()
        .filter_map(|l| l.strip_prefix("a=ssrc:"))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    assert!(!announced.is_empty(), "{section}");

    // mic2's packets go out on the new stream, numbered consecutively.
    let before = sfu.client(bob).wire.len();
    speak(&mut sfu, alice, mic2, 0xA2, 0, 10);
    let mic2_wire = wire_since(&sfu, bob, before);
    assert_eq!(mic2_wire.len(), 10, "mic2 forwarded");
    let (mic2_ssrc, first_seq) = mic2_wire[0];
    assert_ne!(mic2_ssrc, line1_ssrc, "a new send stream");
    assert!(announced.contains(&mic2_ssrc), "sent on the announced SSRC");
    for (i, (ssrc, seq)) in mic2_wire.iter().enumerate() {
        assert_eq!(*ssrc, mic2_ssrc);
        assert_eq!(*seq, first_seq.wrapping_add(i as u16), "consecutive");
    }
    let got: Vec<u8> = sfu
        .client(bob)
        .received
        .iter()
        .filter(|r| r.payload.first() == Some(&0xA2))
        .map(|r| r.payload[1])
        .collect();
    assert_eq!(got, (0..10).collect::<Vec<u8>>(), "bob hears mic2");

    // Churn: the SDP never grows.
    for _ in 0..10 {
        subscribe(&mut sfu, bob, &[&sid2], false);
        subscribe(&mut sfu, bob, &[&sid1, &sid2], true);
        subscribe(&mut sfu, bob, &[&sid1], false);
    }
    let churned = audio_sections(&last_offer(&sfu, bob));
    assert_eq!(churned.len(), 2, "{churned:?}");
    assert!(mid_of(&churned, &sid2).is_some());
}
