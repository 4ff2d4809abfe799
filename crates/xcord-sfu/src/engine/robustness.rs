//! Property tests: whatever a client sends — signal requests in any order and with any content,
//! SDP whole, cut short or garbled, RTP payload bytes — the engine neither panics nor loses the
//! other participants. These run the engine's handlers directly (not under `isolated`), so a
//! panic fails the test instead of being contained.

use livekit_protocol as proto;
use proptest::prelude::*;
use proto::signal_request::Message as Req;

use super::sample_offer::OFFER;
use super::testing::{engine, join};

/// SDP text: the offer whole, cut at any byte, with a line replaced by garbage, or anything.
fn sdp() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(OFFER.to_owned()),
        (0..OFFER.len()).prop_map(|n| OFFER.get(..n).unwrap_or(OFFER).to_owned()),
        (0..40usize, ".{0,80}").prop_map(|(line, junk)| {
            OFFER
                .split("\r\n")
                .enumerate()
                .map(|(i, l)| if i == line { junk.as_str() } else { l })
                .collect::<Vec<_>>()
                .join("\r\n")
        }),
        ".{0,300}",
    ]
}

/// Any one signal request, with arbitrary contents.
pub(super) fn request() -> impl Strategy<Value = Req> {
    let text = "[a-zA-Z0-9_-]{0,12}";
    prop_oneof![
        (sdp(), any::<u32>()).prop_map(|(sdp, id)| Req::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp,
            id,
            ..Default::default()
        })),
        (sdp(), any::<u32>()).prop_map(|(sdp, id)| Req::Answer(proto::SessionDescription {
            r#type: "answer".into(),
            sdp,
            id,
            ..Default::default()
        })),
        (
            prop_oneof![
                Just("mic-cid".to_owned()),
                Just("cam-cid".to_owned()),
                text.prop_map(String::from)
            ],
            0..4i32,
            0..6i32,
            any::<u32>(),
            any::<bool>()
        )
            .prop_map(|(cid, kind, source, w, muted)| Req::AddTrack(
                proto::AddTrackRequest {
                    cid: cid.clone(),
                    name: cid,
                    r#type: kind,
                    source,
                    width: w,
                    height: w / 2,
                    muted,
                    ..Default::default()
                }
            )),
        (text, any::<bool>())
            .prop_map(|(sid, muted)| Req::Mute(proto::MuteTrackRequest { sid, muted })),
        (proptest::collection::vec(text, 0..3), any::<bool>()).prop_map(
            |(track_sids, subscribe)| {
                Req::Subscription(proto::UpdateSubscription {
                    track_sids,
                    subscribe,
                    ..Default::default()
                })
            }
        ),
        (text, any::<bool>(), 0..5i32, any::<u32>()).prop_map(|(sid, disabled, quality, w)| {
            Req::TrackSetting(proto::UpdateTrackSettings {
                track_sids: vec![sid],
                disabled,
                quality,
                width: w,
                height: w,
                ..Default::default()
            })
        }),
        (text, text).prop_map(|(name, metadata)| {
            Req::UpdateMetadata(proto::UpdateParticipantMetadata {
                name,
                metadata,
                ..Default::default()
            })
        }),
        (".{0,200}", any::<i32>()).prop_map(|(candidate, target)| {
            Req::Trickle(proto::TrickleRequest {
                candidate_init: candidate,
                target,
                ..Default::default()
            })
        }),
        Just(Req::Leave(proto::LeaveRequest::default())),
        Just(Req::SyncState(proto::SyncState::default())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_of_signal_requests_is_survived(
        requests in proptest::collection::vec(request(), 1..16),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _guard = rt.enter();
        let mut e = engine();
        let (bystander, _b_rx) = join(&mut e, "r", "bystander");
        let (client, _c_rx) = join(&mut e, "r", "client");
        let now = std::time::Instant::now();
        for r in requests {
            e.on_signal(client, r);
            e.flush_dirty(now);
            e.update_speakers();
            e.update_quality();
        }
        prop_assert!(e.participants.contains_key(bystander), "a bystander was lost");
    }

    #[test]
    fn sdp_reading_never_panics(text in sdp()) {
        let _ = super::sdp::media_sections(&text);
    }

    #[test]
    fn keyframe_detection_reads_any_payload(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        for codec in [str0m::format::Codec::Vp8, str0m::format::Codec::H264, str0m::format::Codec::Vp9, str0m::format::Codec::Av1, str0m::format::Codec::Opus] {
            let _ = super::forward::is_keyframe(codec, &payload);
        }
    }

    #[test]
    fn rewritten_sequences_stay_continuous_across_switches(
        start in 0u64..(1 << 40),
        packets in proptest::collection::vec((-3i64..6, any::<u32>(), 0u64..200, prop::bool::weighted(0.1)), 1..64),
    ) {
        let mut r = super::renumber::Rewriter::default();
        let t0 = std::time::Instant::now();
        let mut seq = start;
        let mut last_out: Option<u64> = None;
        for (step, ts, ms, switch) in packets {
            if switch {
                r.rebase();
                seq = seq.wrapping_add(1000); // another source, elsewhere in its numbering
            }
            seq = seq.saturating_add_signed(step);
            if let Some((out, _)) = r.rewrite(seq, ts, t0 + std::time::Duration::from_millis(ms), 90_000) {
                if switch && let Some(prev) = last_out {
                    prop_assert!(out > prev, "a switch went backwards: {prev} → {out}");
                }
                last_out = Some(last_out.map_or(out, |p| p.max(out)));
            }
        }
    }
}
