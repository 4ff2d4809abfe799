//! Join, publish, subscribe: what subscribers receive.

use std::time::Duration;

use str0m::media::MediaKind;

use crate::engine::harness::TestSfu;

const OPUS_FRAME: Duration = Duration::from_millis(20);

#[test]
fn subscribers_receive_every_packet_with_continuous_numbering() {
    let (mut sfu, alice, bob, mid) =
        TestSfu::publisher_and_subscriber("mic", MediaKind::Audio, &[]);

    for i in 0..100u64 {
        let payload = [0xAB, (i >> 8) as u8, i as u8];
        sfu.write_rtp(
            alice,
            mid,
            None,
            40_000 + i,
            7_000 + 960 * i as u32,
            false,
            &payload,
        );
        sfu.run_for(OPUS_FRAME);
    }
    sfu.run_for(Duration::from_millis(200));

    let got = &sfu.client(bob).received;
    let payloads: Vec<u64> = got
        .iter()
        .filter(|r| r.payload.first() == Some(&0xAB))
        .map(|r| u64::from(r.payload[1]) << 8 | u64::from(r.payload[2]))
        .collect();
    assert_eq!(
        payloads,
        (0..100).collect::<Vec<_>>(),
        "every packet, in order"
    );
    let media: Vec<_> = got
        .iter()
        .filter(|r| r.payload.first() == Some(&0xAB))
        .collect();
    for pair in media.windows(2) {
        assert_eq!(
            *pair[1].seq_no,
            *pair[0].seq_no + 1,
            "sequence numbers continue"
        );
        assert_eq!(
            pair[1].rtp_time.wrapping_sub(pair[0].rtp_time),
            960,
            "timestamps continue"
        );
    }
}
