//! Room lifetime and the engine's batching, on virtual time.

use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use str0m::media::MediaKind;

use crate::engine::harness::TestSfu;

#[test]
fn a_room_closes_at_its_departure_timeout() {
    let departure = Duration::from_millis(400);
    let mut sfu = TestSfu::with_config(|c| c.departure_timeout = departure);
    let alice = sfu.join("room", "alice");
    sfu.run_for(Duration::from_millis(100));
    sfu.signal(alice, Req::Leave(proto::LeaveRequest::default()));
    sfu.step();
    let left = sfu.now;
    assert!(
        sfu.client(alice).closed,
        "the leaver's connection is closed"
    );

    // Housekeeping runs every quarter of the shortest timeout: the room must be gone within
    // [departure, departure + departure / 4].
    let ms = Duration::from_millis(1);
    sfu.run_until_or(departure - ms, |s| !s.engine.rooms.contains_key("room"));
    assert!(
        sfu.engine.rooms.contains_key("room"),
        "still open just before the timeout"
    );
    let closed = sfu.run_until_or(departure / 4 + ms, |s| !s.engine.rooms.contains_key("room"));
    assert!(
        closed,
        "closed by {:?} after the last departure",
        sfu.now - left
    );
}

/// Forwarding writes each packet into every subscriber's str0m peer and only marks the peer
/// dirty; the peer is polled once when the batch of inputs ends ([`Engine::flush`]). Nothing
/// reaches the outbox for subscribers until then, and then all of it does.
#[test]
fn forwarded_packets_leave_when_the_batch_ends() {
    // Without str0m's pacer (bandwidth estimation off), which releases one packet per timeout:
    // this checks the engine's own batching.
    let (mut sfu, alice, bob, mid) = TestSfu::with_config(|c| c.bandwidth_estimation = false)
        .with_publisher_and_subscriber("mic", MediaKind::Audio, &[]);
    sfu.run_for(Duration::from_millis(100));
    let bob_addr = sfu.client(bob).subscriber.addr;

    for i in 0..5u64 {
        sfu.write_rtp(
            alice,
            mid,
            None,
            100 + i,
            960 * i as u32,
            false,
            &[0xAB, i as u8],
        );
    }
    let datagrams = sfu.poll_clients();
    let media: Vec<_> = datagrams
        .iter()
        .filter(|(_, to, d)| *to == sfu.sfu_addr && matches!(d.first(), Some(128..=191)))
        .collect();
    assert_eq!(media.len(), 5, "the publisher sent five packets");
    for (from, to, data) in &media {
        sfu.engine.handle_datagram(sfu.now, *from, *to, data);
    }
    let mut early = 0;
    while let Some(t) = sfu.engine.poll_transmit() {
        early += usize::from(t.destination == bob_addr);
    }
    assert_eq!(early, 0, "nothing is sent to subscribers inside a batch");
    assert!(
        !sfu.engine.dirty.is_empty(),
        "the subscriber's peer waits, dirty"
    );

    sfu.engine.flush(sfu.now);
    let mut sent = 0;
    while let Some(t) = sfu.engine.poll_transmit() {
        sent +=
            usize::from(t.destination == bob_addr && matches!(t.contents.first(), Some(128..=191)));
    }
    assert_eq!(sent, 5, "all five leave when the batch ends");
    assert!(sfu.engine.dirty.is_empty());
}
