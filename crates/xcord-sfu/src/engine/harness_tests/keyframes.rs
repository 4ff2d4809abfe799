//! Keyframe requests under loss: however many subscribers ask, the publisher hears at most one
//! request per layer per `KEYFRAME_REQUEST_SPACING`.

use std::time::Duration;

use str0m::media::{KeyframeRequestKind, MediaKind, Mid};

use crate::engine::harness::{ClientId, TestSfu};

const FRAME: Duration = Duration::from_millis(33);
/// The spacing forward.rs keeps between two requests to one publisher layer.
const SPACING: Duration = Duration::from_millis(300);

/// The m-lines the server sends on to a client's subscriber connection.
fn subscriber_mids(sfu: &TestSfu, id: ClientId) -> Vec<Mid> {
    let engine = &sfu.engine;
    engine
        .participants
        .get(sfu.client(id).participant)
        .and_then(|p| p.subscriber)
        .and_then(|peer| engine.peers.get(peer))
        .map(|peer| peer.mids.keys().copied().collect())
        .unwrap_or_default()
}

#[test]
fn lossy_subscribers_do_not_storm_the_publisher_with_keyframe_requests() {
    let mut sfu = TestSfu::new();
    let alice = sfu.join("room", "alice");
    let mid = sfu.publish(alice, "cam", MediaKind::Video, &[]);
    let subscribers: Vec<ClientId> = (0..10)
        .map(|i| sfu.join("room", &format!("sub{i}")))
        .collect();
    let connected = sfu.run_until_or(Duration::from_secs(3), |s| {
        s.client(alice).publisher.connected
            && subscribers
                .iter()
                .all(|c| s.client(*c).subscriber.connected)
    });
    assert!(connected, "everyone connects");
    // Every subscriber's downlink loses 20 % of what the server sends it.
    let downlinks: Vec<_> = subscribers
        .iter()
        .map(|c| sfu.client(*c).subscriber.addr)
        .collect();
    let mut n = 0u32;
    sfu.loss = Some(Box::new(move |_, to, _| {
        n += 1;
        downlinks.contains(&to) && n.is_multiple_of(5)
    }));

    let send = |sfu: &mut TestSfu, frame: u16| {
        let payload = [0x10, u8::from(frame != 0), frame as u8];
        let ts = 3000 * u32::from(frame);
        sfu.write_rtp(alice, mid, None, 100 + u64::from(frame), ts, true, &payload);
        sfu.run_for(FRAME);
    };
    for f in 0..10 {
        send(&mut sfu, f);
    }
    sfu.client_mut(alice).keyframe_requests.clear();

    // For 3 s every subscriber asks for a keyframe on every frame it gets (a browser whose
    // decoder lost its reference asks at most this often).
    let frames = 90u16;
    for f in 10..10 + frames {
        for &c in &subscribers {
            let mids = subscriber_mids(&sfu, c);
            let mut api = sfu.client_mut(c).subscriber.rtc.direct_api();
            for m in mids {
                if let Some(rx) = api.stream_rx_by_mid(m, None) {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
            }
        }
        send(&mut sfu, f);
    }
    let asked = sfu
        .client(alice)
        .keyframe_requests
        .iter()
        .filter(|(m, _)| *m == mid)
        .count();
    let window = FRAME * u32::from(frames);
    let allowed = (window.as_millis() / SPACING.as_millis()) as usize + 1;
    assert!(asked >= 1, "the subscribers' requests reach the publisher");
    assert!(
        asked <= allowed,
        "{asked} keyframe requests in {window:?}: at most {allowed} (one per {SPACING:?})"
    );
}
