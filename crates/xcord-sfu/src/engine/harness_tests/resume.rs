//! Resume: a participant whose signal connection and network drop out comes back with the same
//! sid, tracks and subscriptions, and nobody else sees it leave.

use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use str0m::media::{MediaKind, Mid};

use crate::engine::harness::{ClientId, TestSfu};
use crate::engine::{ResumeError, SignalKey};

const FRAME: Duration = Duration::from_millis(20);

fn tagged(sfu: &TestSfu, id: ClientId) -> Vec<u16> {
    sfu.client(id)
        .received
        .iter()
        .filter(|r| r.payload.len() == 3 && r.payload[0] == 0xAB)
        .map(|r| u16::from_be_bytes([r.payload[1], r.payload[2]]))
        .collect()
}

fn talk(sfu: &mut TestSfu, alice: ClientId, mid: Mid, from: u16, to: u16) {
    for i in from..to {
        let [hi, lo] = i.to_be_bytes();
        sfu.write_rtp(
            alice,
            mid,
            None,
            7_000 + u64::from(i),
            960 * u32::from(i),
            false,
            &[0xAB, hi, lo],
        );
        sfu.run_for(FRAME);
    }
}

/// Whether `watcher` was ever told that `identity` disconnected.
fn saw_leave(sfu: &TestSfu, watcher: ClientId, identity: &str) -> bool {
    sfu.client(watcher).signals.iter().any(|m| match m {
        Resp::Update(u) => u.participants.iter().any(|p| {
            p.identity == identity && p.state == proto::participant_info::State::Disconnected as i32
        }),
        _ => false,
    })
}

fn call() -> (TestSfu, ClientId, ClientId, Mid) {
    let (mut sfu, alice, bob, mid) =
        TestSfu::publisher_and_subscriber("mic", MediaKind::Audio, &[]);
    talk(&mut sfu, alice, mid, 0, 50);
    assert_eq!(tagged(&sfu, bob).len(), 50);
    (sfu, alice, bob, mid)
}

#[test]
fn a_subscriber_resumes_after_five_seconds_offline() {
    let (mut sfu, alice, bob, mid) = call();
    let sid = sfu.engine.participants[sfu.client(bob).participant]
        .sid
        .clone();
    let bob_addr = sfu.client(bob).subscriber.addr;

    // Bob's network goes away: no datagram reaches or leaves him, and his signal breaks.
    sfu.loss = Some(Box::new(move |from, to, _| {
        from == bob_addr || to == bob_addr
    }));
    sfu.break_signal(bob);
    talk(&mut sfu, alice, mid, 50, 300);
    assert_eq!(tagged(&sfu, bob).len(), 50, "nothing arrives while offline");
    assert!(
        !saw_leave(&sfu, alice, "bob"),
        "bob is kept while he may resume"
    );

    sfu.loss = None;
    sfu.resume(bob).expect("bob resumes");
    let first = sfu
        .client(bob)
        .signals
        .iter()
        .position(|m| matches!(m, Resp::Reconnect(_)));
    let full_update = sfu.client(bob).signals.iter().rposition(|m| {
        matches!(m, Resp::Update(u) if u.participants.iter().any(|p| p.identity == "alice")
            && u.participants.iter().any(|p| p.identity == "bob" && p.sid == sid))
    });
    assert!(
        first.is_some() && full_update > first,
        "ReconnectResponse, then the whole room"
    );
    assert!(
        sfu.client(bob)
            .signals
            .iter()
            .skip(first.unwrap_or(0))
            .any(|m| matches!(m, Resp::Offer(_))),
        "an ICE-restart offer for the subscriber connection"
    );

    talk(&mut sfu, alice, mid, 300, 400);
    let got = tagged(&sfu, bob);
    assert!(
        got.iter().filter(|i| **i >= 300).count() >= 90,
        "audio flows again after the resume: {} of 100",
        got.iter().filter(|i| **i >= 300).count()
    );
    assert_eq!(
        sfu.engine.participants[sfu.client(bob).participant].sid,
        sid,
        "same sid"
    );
    assert!(!saw_leave(&sfu, alice, "bob"), "alice never saw bob leave");
}

#[test]
fn a_participant_not_resumed_in_time_is_removed() {
    let mut sfu = TestSfu::with_config(|c| c.resume_window = Duration::from_secs(3));
    let alice = sfu.join("room", "alice");
    let _mid = sfu.publish(alice, "mic", MediaKind::Audio, &[]);
    let bob = sfu.join("room", "bob");
    assert!(sfu.run_until_or(Duration::from_secs(2), |s| {
        s.client(bob).subscriber.connected
    }));
    sfu.break_signal(bob);
    sfu.run_for(Duration::from_millis(2_900));
    assert!(!saw_leave(&sfu, alice, "bob"), "kept within the window");
    sfu.run_for(Duration::from_millis(1_200));
    assert!(
        saw_leave(&sfu, alice, "bob"),
        "removed once the window passed"
    );
    assert_eq!(
        sfu.resume(bob),
        Err(ResumeError::Unknown),
        "too late to resume"
    );
}

#[test]
fn a_departure_from_an_older_connection_is_ignored() {
    let (mut sfu, alice, bob, _mid) = call();
    sfu.resume(bob).expect("resume over a live connection");
    let stale = SignalKey {
        participant: sfu.client(bob).participant,
        epoch: 0,
    };
    sfu.engine
        .on_signal_closed(stale, proto::DisconnectReason::SignalClose);
    sfu.engine
        .on_signal_closed(stale, proto::DisconnectReason::ClientInitiated);
    sfu.run_for(Duration::from_secs(1));
    assert!(!saw_leave(&sfu, alice, "bob"));
    assert!(
        sfu.engine
            .participants
            .contains_key(sfu.client(bob).participant)
    );
}

#[test]
fn a_participant_whose_media_never_connected_is_not_kept() {
    let mut sfu = TestSfu::new();
    let _alice = sfu.join("room", "alice");
    // The next client's address is unreachable from the start.
    let bob_ip: std::net::IpAddr = "10.0.1.11".parse().unwrap();
    sfu.loss = Some(Box::new(move |from, to, _| {
        from.ip() == bob_ip || to.ip() == bob_ip
    }));
    let bob = sfu.join("room", "bob");
    assert_eq!(sfu.client(bob).subscriber.addr.ip(), bob_ip);
    sfu.run_for(Duration::from_millis(200));
    assert!(
        sfu.engine
            .participants
            .contains_key(sfu.client(bob).participant)
    );
    sfu.break_signal(bob);
    assert!(
        !sfu.engine
            .participants
            .contains_key(sfu.client(bob).participant),
        "removed at once: there is no media session to keep"
    );
}
