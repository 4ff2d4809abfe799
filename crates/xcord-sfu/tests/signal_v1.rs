//! Socket-level tests of LiveKit's signal protocol v1 (`/rtc/v1`, one peer connection): the
//! HTTP answers (404 while v1 is off, 400 for a bad `join_request`), and the negotiation over a
//! real WebSocket with SDP as Chrome writes it (no media): the offer inside the join request is
//! answered, subscriptions land on the client's receive-only sections with `PA_x|TR_y` msids
//! and a full `mid_to_track_id`, and missing sections are asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use common::{Client, Event, WAIT, http, start, start_with, token, ws_connect};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use tokio_tungstenite::tungstenite;

const ORIGIN: (&str, &str) = ("origin", "http://localhost:3000");

const SESSION: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

/// One m-section's transport attributes, as Chrome writes them.
fn transport(mid: &str) -> String {
    format!(
        "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 2C:31:1A:7D:BC:4A:24:21:58:9A:0A:5D:61:B4:12:6E:2A:5C:5C:6B:8C:5F:4B:20:61:F3:A1:0C:7E:1B:5D:22\r\n\
a=setup:actpass\r\na=mid:{mid}\r\n"
    )
}

/// An m-section: `audio`/`video`, receive-only (a placeholder) or sending track `cid`.
fn media(kind: &str, mid: &str, sending_cid: Option<&str>) -> String {
    let (pt, codec) = if kind == "audio" {
        (111, "opus/48000/2")
    } else {
        (96, "VP8/90000")
    };
    let direction = match sending_cid {
        Some(cid) => format!("a=sendonly\r\na=msid:- {cid}\r\n"),
        None => "a=recvonly\r\n".to_owned(),
    };
    format!(
        "m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\n{}{direction}a=rtcp-mux\r\na=rtpmap:{pt} {codec}\r\n",
        transport(mid)
    )
}

fn data_section(mid: &str) -> String {
    format!(
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n{}a=sctp-port:5000\r\na=max-message-size:262144\r\n",
        transport(mid)
    )
}

/// An offer of the given sections (each `(kind, mid, sending cid)`; kind `data` for data).
fn offer(sections: &[(&str, &str, Option<&str>)]) -> String {
    let mids: Vec<&str> = sections.iter().map(|s| s.1).collect();
    let mut sdp = format!(
        "{SESSION}a=group:BUNDLE {}\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n",
        mids.join(" ")
    );
    for (kind, mid, cid) in sections {
        sdp.push_str(&match *kind {
            "data" => data_section(mid),
            k => media(k, mid, *cid),
        });
    }
    sdp
}

fn session_description(sdp: String, id: u32) -> proto::SessionDescription {
    proto::SessionDescription {
        r#type: "offer".into(),
        sdp,
        id,
        ..Default::default()
    }
}

/// A `join_request` value as livekit-client builds it: gzipped, URL-safe base64 with padding.
fn join_request(offer: Option<proto::SessionDescription>) -> String {
    let req = proto::JoinRequest {
        client_info: Some(proto::ClientInfo {
            protocol: 17,
            client_protocol: 2,
            ..Default::default()
        }),
        connection_settings: Some(proto::ConnectionSettings {
            auto_subscribe: true,
            ..Default::default()
        }),
        publisher_offer: offer,
        ..Default::default()
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &req.encode_to_vec()).unwrap();
    let wrapped = proto::WrappedJoinRequest {
        compression: proto::wrapped_join_request::Compression::Gzip as i32,
        join_request: gz.finish().unwrap(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(wrapped.encode_to_vec())
}

/// Joins over `/rtc/v1` (token in the header, as the Rust SDK does); returns the JoinResponse.
async fn join_v1(
    addr: std::net::SocketAddr,
    token: &str,
    name: &str,
    offer: Option<proto::SessionDescription>,
) -> (Client, proto::JoinResponse) {
    let path = format!("/rtc/v1?join_request={}", join_request(offer));
    let ws = ws_connect(addr, &path, Some(token))
        .await
        .unwrap_or_else(|e| panic!("{name}: /rtc/v1 refused: {e:?}"));
    let mut c = Client {
        ws,
        name: name.into(),
    };
    let join = match c.next(WAIT).await {
        Event::Msg(m) => match *m {
            Resp::Join(j) => j,
            other => panic!("{name}: first frame is not join: {other:?}"),
        },
        other => panic!("{name}: no join frame: {other:?}"),
    };
    (c, join)
}

/// The SDP lines of the m-section with `mid`.
fn section_of<'a>(sdp: &'a str, mid: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for part in sdp.split("m=").skip(1) {
        let lines: Vec<&str> = part.split("\r\n").collect();
        if lines.iter().any(|l| *l == format!("a=mid:{mid}")) {
            out = lines;
        }
    }
    out
}

fn answer(m: &Resp, id: u32) -> Option<proto::SessionDescription> {
    match m {
        Resp::Answer(a) if a.id == id => Some(a.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn v1_paths_answer_404_while_v1_is_off() {
    let s = start_with(|c| c.signal_v1 = false).await;
    let good = token("alice", "r1");
    let path = format!("/rtc/v1?join_request={}", join_request(None));
    match ws_connect(s.addr, &path, Some(&good)).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 404),
        Err(e) => panic!("/rtc/v1 upgrade failed, but not with an HTTP status: {e:?}"),
        Ok(_) => panic!("/rtc/v1 upgrade succeeded while v1 is off"),
    }
    let r = http(
        s.addr,
        "GET",
        &format!(
            "/rtc/v1/validate?access_token={good}&join_request={}",
            join_request(None)
        ),
        &[ORIGIN],
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains("requested room does not exist"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // v0 is untouched.
    let (_c, join) = Client::join(s.addr, &good, "alice").await;
    assert!(join.subscriber_primary);
}

#[tokio::test]
async fn a_bad_join_request_is_a_400_with_the_reason() {
    let s = start().await;
    let good = token("alice", "r1");
    for (query, why) in [
        (String::new(), "join_request is required"),
        ("join_request=%21%21%21".to_owned(), "not valid base64"),
        (
            "join_request=AAAA".to_owned(),
            "not a valid WrappedJoinRequest",
        ),
    ] {
        let r = http(
            s.addr,
            "GET",
            &format!("/rtc/v1/validate?access_token={good}&{query}"),
            &[ORIGIN],
        )
        .await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert!(r.body.contains(why), "{query}: {}", r.body);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        match ws_connect(s.addr, &format!("/rtc/v1?{query}"), Some(&good)).await {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 400),
            other => panic!("{query}: upgrade not refused with 400: {other:?}"),
        }
    }
    let r = http(
        s.addr,
        "GET",
        &format!(
            "/rtc/v1/validate?access_token={good}&join_request={}",
            join_request(None)
        ),
        &[ORIGIN],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "success"));
    // A bad token is refused as on v0.
    let r = http(
        s.addr,
        "GET",
        &format!(
            "/rtc/v1/validate?access_token=nope&join_request={}",
            join_request(None)
        ),
        &[ORIGIN],
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn subscriptions_ride_on_receive_sections_and_missing_ones_are_asked_for() {
    let s = start().await;
    let room = "v1-sections";
    // The listener's first offer, in its join request: data and one audio placeholder.
    let first = offer(&[("data", "0", None), ("audio", "1", None)]);
    let (mut listener, join) = join_v1(
        s.addr,
        &token("listener", room),
        "listener",
        Some(session_description(first, 1)),
    )
    .await;
    assert!(!join.subscriber_primary, "v1 is publisher-primary");
    let a1 = listener.expect("answer 1", |m| answer(m, 1)).await;
    assert!(a1.mid_to_track_id.is_empty());
    let audio = section_of(&a1.sdp, "1");
    assert!(audio.contains(&"a=inactive"), "{audio:?}");
    assert!(
        !audio
            .iter()
            .any(|l| l.starts_with("a=msid") || l.starts_with("a=ssrc"))
    );

    // A v0 speaker publishes an audio and a video track (the offer's m-lines publish them).
    let (mut speaker, sj) = Client::join(s.addr, &token("speaker", room), "speaker").await;
    for (cid, kind, source) in [
        (
            "mic-cid",
            proto::TrackType::Audio,
            proto::TrackSource::Microphone,
        ),
        (
            "cam-cid",
            proto::TrackType::Video,
            proto::TrackSource::Camera,
        ),
    ] {
        speaker
            .send(Req::AddTrack(proto::AddTrackRequest {
                cid: cid.into(),
                r#type: kind as i32,
                source: source as i32,
                name: cid.into(),
                width: 640,
                height: 360,
                ..Default::default()
            }))
            .await;
        speaker
            .expect("track published", |m| match m {
                Resp::TrackPublished(t) if t.cid == cid => Some(()),
                _ => None,
            })
            .await;
    }
    let pub_offer = offer(&[
        ("audio", "0", Some("mic-cid")),
        ("video", "1", Some("cam-cid")),
    ]);
    speaker
        .send(Req::Offer(session_description(pub_offer, 1)))
        .await;
    let speaker_sid = sj.participant.unwrap().sid;

    // The listener learns of both tracks, then is asked for one video section (its audio
    // section is free already).
    let tracks = listener
        .expect("update with both tracks", |m| match m {
            Resp::Update(u) => u
                .participants
                .iter()
                .find(|p| p.sid == speaker_sid && p.tracks.len() == 2)
                .map(|p| p.tracks.clone()),
            _ => None,
        })
        .await;
    let sid_of = |t: proto::TrackType| {
        tracks
            .iter()
            .find(|i| i.r#type == t as i32)
            .map(|i| i.sid.clone())
            .unwrap()
    };
    let (audio_sid, video_sid) = (
        sid_of(proto::TrackType::Audio),
        sid_of(proto::TrackType::Video),
    );
    let req = listener
        .expect("media sections requirement", |m| match m {
            Resp::MediaSectionsRequirement(r) => Some(*r),
            _ => None,
        })
        .await;
    assert_eq!((req.num_audios, req.num_videos), (0, 1));

    // The client adds the video section and re-offers: both tracks ride on its sections.
    let second = offer(&[
        ("data", "0", None),
        ("audio", "1", None),
        ("video", "2", None),
    ]);
    listener
        .send(Req::Offer(session_description(second, 2)))
        .await;
    let a2 = listener.expect("answer 2", |m| answer(m, 2)).await;
    let want: HashMap<String, String> = [
        ("1".to_owned(), audio_sid.clone()),
        ("2".to_owned(), video_sid.clone()),
    ]
    .into();
    assert_eq!(a2.mid_to_track_id, want);
    for (mid, track) in [("1", &audio_sid), ("2", &video_sid)] {
        let lines = section_of(&a2.sdp, mid);
        let msid = format!("a=msid:{speaker_sid}|{track} {track}");
        assert!(lines.contains(&"a=sendonly"), "{mid}: {lines:?}");
        assert!(lines.contains(&msid.as_str()), "{mid}: {lines:?}");
        assert!(
            lines
                .iter()
                .filter(|l| l.starts_with("a=ssrc:") && l.contains(" msid:"))
                .all(|l| l.ends_with(&format!("msid:{speaker_sid}|{track} {track}"))),
            "{mid}: {lines:?}"
        );
    }

    // The speaker leaves: the listener is asked for a re-offer, whose answer silences both
    // sections and maps nothing.
    speaker.leave().await;
    let req = listener
        .expect("re-offer request", |m| match m {
            Resp::MediaSectionsRequirement(r) => Some(*r),
            _ => None,
        })
        .await;
    assert_eq!((req.num_audios, req.num_videos), (0, 0));
    let third = offer(&[
        ("data", "0", None),
        ("audio", "1", None),
        ("video", "2", None),
    ]);
    listener
        .send(Req::Offer(session_description(third, 3)))
        .await;
    let a3 = listener.expect("answer 3", |m| answer(m, 3)).await;
    assert!(a3.mid_to_track_id.is_empty(), "{:?}", a3.mid_to_track_id);
    for mid in ["1", "2"] {
        let lines = section_of(&a3.sdp, mid);
        assert!(lines.contains(&"a=inactive"), "{mid}: {lines:?}");
        assert!(
            !lines.iter().any(|l| l.starts_with("a=msid")),
            "{mid}: {lines:?}"
        );
    }
}

#[tokio::test]
async fn the_offer_may_come_after_the_join() {
    let s = start().await;
    let (mut c, join) = join_v1(s.addr, &token("late", "v1-late"), "late", None).await;
    assert!(!join.subscriber_primary);
    let sdp = offer(&[
        ("data", "0", None),
        ("audio", "1", None),
        ("video", "2", None),
    ]);
    c.send(Req::Offer(session_description(sdp, 7))).await;
    let a = c.expect("answer 7", |m| answer(m, 7)).await;
    assert_eq!(a.r#type, "answer");
    assert!(
        section_of(&a.sdp, "0")
            .iter()
            .any(|l| l.contains("webrtc-datachannel"))
    );
    // No server offer in v1, ever.
    for m in c.drain(std::time::Duration::from_millis(300)).await {
        assert!(!matches!(m, Resp::Offer(_)), "server offered in v1");
    }
}
