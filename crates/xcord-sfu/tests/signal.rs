//! Socket-level tests of the signalling layer: HTTP endpoints, token refusals, and the LiveKit
//! v0 signal protocol over a real WebSocket (no media).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{
    API_KEY, API_SECRET, Client, RUST_QUERY, WAIT, http, join_grants, keys, kind, next_event,
    sign_claims, start, start_with, token, token_with, unix_ms, unix_secs, update_about,
    ws_connect,
};
use livekit_api::access_token::{AccessToken, Claims, VideoGrants};
use livekit_protocol as proto;
use proto::participant_info::State;
use proto::request_response::Reason;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use tokio_tungstenite::tungstenite;
use xcord_sfu::events::names;

/// What a browser sends; the validate endpoint must answer it with a CORS header.
const ORIGIN: (&str, &str) = ("origin", "http://localhost:3000");

fn identities(infos: &[proto::ParticipantInfo]) -> Vec<String> {
    let mut ids: Vec<String> = infos.iter().map(|p| p.identity.clone()).collect();
    ids.sort();
    ids
}

fn ping_req(ts: i64) -> Req {
    Req::PingReq(proto::Ping {
        timestamp: ts,
        rtt: 0,
    })
}

// ---------------------------------------------------------------------------------------------
// 1. HTTP endpoints

#[tokio::test]
async fn health_check_answers_get_and_head() {
    let s = start().await;
    let r = http(s.addr, "GET", "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "OK");
    let r = http(s.addr, "HEAD", "/", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");
}

#[tokio::test]
async fn v1_paths_answer_404_so_sdks_fall_back_to_v0() {
    // While v1 is turned off (see signal_v1.rs for v1 itself).
    let s = start_with(|c| c.signal_v1 = false).await;
    let good = token("alice", "r1");

    // The Rust SDK only retries on v0 after a WebSocket-upgrade HTTP 404.
    match ws_connect(s.addr, &format!("/rtc/v1?{RUST_QUERY}"), Some(&good)).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 404),
        Err(e) => panic!("/rtc/v1 upgrade failed, but not with an HTTP status: {e:?}"),
        Ok(_) => panic!("/rtc/v1 upgrade succeeded"),
    }

    // JS reads /rtc/v1/validate; a 404 without "requested room does not exist" → v0 fallback,
    // and without the CORS header fetch() throws and there is no fallback.
    let r = http(
        s.addr,
        "GET",
        &format!("/rtc/v1/validate?access_token={good}"),
        &[ORIGIN],
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        !r.body.contains("requested room does not exist"),
        "body {:?}",
        r.body
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn validate_accepts_a_good_token_in_query_or_header() {
    let s = start().await;
    let good = token("alice", "r1");

    let r = http(
        s.addr,
        "GET",
        &format!("/rtc/validate?access_token={good}&protocol=17&sdk=js"),
        &[ORIGIN],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "success"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let bearer = format!("Bearer {good}");
    let r = http(
        s.addr,
        "GET",
        "/rtc/validate?protocol=17&sdk=rust",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "success"));
}

#[tokio::test]
async fn validate_refuses_bad_tokens_with_livekit_bodies() {
    let s = start().await;
    let validate = |token: String| {
        let addr = s.addr;
        async move {
            let path = if token.is_empty() {
                "/rtc/validate?protocol=17".to_owned()
            } else {
                format!("/rtc/validate?access_token={token}&protocol=17")
            };
            let r = http(addr, "GET", &path, &[ORIGIN]).await;
            assert_eq!(
                r.header("access-control-allow-origin"),
                Some("*"),
                "refusals must be readable by browsers: {r:?}"
            );
            (r.status, r.body)
        }
    };

    // Bad signature.
    let forged = AccessToken::with_api_key(API_KEY, "not-the-secret")
        .with_identity("alice")
        .with_grants(join_grants("r1"))
        .to_jwt()
        .unwrap();
    assert_eq!(
        validate(forged).await,
        (
            401,
            "invalid authorization token: signature is invalid".into()
        )
    );

    // Unknown API key.
    let stranger = AccessToken::with_api_key("otherkey", API_SECRET)
        .with_identity("alice")
        .with_grants(join_grants("r1"))
        .to_jwt()
        .unwrap();
    assert_eq!(validate(stranger).await, (401, "invalid API key".into()));

    // Expired more than the 60 s leeway ago; 30 s ago is still inside the leeway.
    let now = unix_secs();
    let mut claims = Claims {
        iss: API_KEY.into(),
        sub: "alice".into(),
        nbf: now - 600,
        exp: now - 120,
        video: join_grants("r1"),
        ..Default::default()
    };
    assert_eq!(
        validate(sign_claims(&claims, API_SECRET)).await,
        (401, "invalid authorization token: token is expired".into())
    );
    claims.exp = now - 30;
    assert_eq!(
        validate(sign_claims(&claims, API_SECRET)).await,
        (200, "success".into())
    );

    // A video grant without roomJoin.
    let no_join = token_with("alice", "r1", |t, g| {
        (
            t,
            VideoGrants {
                room_join: false,
                ..g
            },
        )
    });
    assert_eq!(validate(no_join).await, (401, "permissions denied".into()));

    // No token at all.
    assert_eq!(
        validate(String::new()).await,
        (401, "no permissions to access the room".into())
    );
}

#[tokio::test]
async fn rtc_without_upgrade_is_404_and_basic_auth_is_refused() {
    let s = start().await;
    let good = token("alice", "r1");

    let r = http(
        s.addr,
        "GET",
        &format!("/rtc?access_token={good}&protocol=17"),
        &[],
    )
    .await;
    assert_eq!(r.status, 404, "{r:?}");

    let r = http(
        s.addr,
        "GET",
        "/rtc/validate?protocol=17",
        &[("authorization", "Basic x"), ORIGIN],
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, "invalid authorization header. Must start with Bearer ")
    );

    // The same refusal before the upgrade of the signal socket.
    let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://{}/rtc?{RUST_QUERY}",
        s.addr
    ))
    .unwrap();
    req.headers_mut()
        .insert("authorization", "Basic x".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 401),
        Err(e) => panic!("upgrade failed, but not with an HTTP status: {e:?}"),
        Ok(_) => panic!("upgrade with Basic authorization succeeded"),
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Join

#[tokio::test]
async fn join_response_then_subscriber_offer_then_refresh_token() {
    let s = start().await;
    let t = token_with("alice", "room-join", |t, g| (t.with_name("Alice"), g));
    let (mut c, j) = Client::join(s.addr, &t, "alice").await;

    let room = j.room.as_ref().expect("JoinResponse.room");
    assert!(room.sid.starts_with("RM_"), "room sid {:?}", room.sid);
    assert_eq!(room.sid.len(), 15, "room sid {:?}", room.sid);
    assert_eq!(room.name, "room-join");
    let me = j.participant.as_ref().expect("JoinResponse.participant");
    assert!(me.sid.starts_with("PA_"), "participant sid {:?}", me.sid);
    assert_eq!(me.sid.len(), 15, "participant sid {:?}", me.sid);
    assert_eq!(me.identity, "alice");
    assert_eq!(me.name, "Alice");
    let perm = me.permission.as_ref().expect("permission");
    assert!(perm.can_publish, "canPublish defaults to true");
    assert!(perm.can_subscribe, "canSubscribe defaults to true");
    assert!(
        perm.can_publish_data,
        "canPublishData defaults to canPublish"
    );
    assert!(
        !perm.can_update_metadata,
        "canUpdateOwnMetadata defaults to false"
    );
    assert!(j.other_participants.is_empty());
    assert!(!j.server_version.is_empty());
    let info = j.server_info.as_ref().expect("server_info");
    assert!(info.protocol > 0, "server_info.protocol {}", info.protocol);
    assert!(!info.version.is_empty());
    assert_eq!(
        (j.ping_interval, j.ping_timeout),
        (5, 15),
        "LiveKit's defaults, in seconds"
    );
    assert!(j.subscriber_primary);

    // Before the offer only participant updates may come (the reference flushes queued
    // updates right after the JoinResponse).
    let mut before = Vec::new();
    let offer = loop {
        match c.next(WAIT).await {
            common::Event::Msg(m) => match *m {
                Resp::Offer(o) => break o,
                Resp::Update(u) => before.push(u),
                other => panic!("unexpected {} before the subscriber offer", kind(&other)),
            },
            other => panic!("no subscriber offer: {other:?}"),
        }
    };
    assert_eq!(offer.r#type, "offer");
    assert_eq!(offer.id, 1, "first subscriber offer id");
    assert!(offer.sdp.contains("m=application"), "sdp:\n{}", offer.sdp);
    assert!(offer.sdp.contains("a=ice-lite"), "sdp:\n{}", offer.sdp);
    let port = s.sfu.media_addr().port();
    let host = format!(" 127.0.0.1 {port} typ host");
    assert!(
        offer
            .sdp
            .lines()
            .any(|l| l.starts_with("a=candidate:") && l.contains(&host)),
        "no host candidate on 127.0.0.1:{port}; sdp:\n{}",
        offer.sdp
    );

    let refreshed = c
        .expect("refresh_token", |m| match m {
            Resp::RefreshToken(t) => Some(t.clone()),
            _ => None,
        })
        .await;
    let claims = keys().verify(&refreshed).expect("refresh token verifies");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.name, "Alice");
    assert_eq!(claims.video.room, "room-join");
    assert!(claims.video.room_join);
    assert!(claims.exp > unix_secs(), "refresh token already expired");
}

// ---------------------------------------------------------------------------------------------
// 3. Ping

#[tokio::test]
async fn ping_and_ping_req_are_answered() {
    let s = start().await;
    let (mut c, _) = Client::join(s.addr, &token("alice", "r-ping"), "alice").await;

    let before = unix_ms();
    c.send(Req::Ping(before)).await;
    let pong = c
        .expect("pong", |m| match m {
            Resp::Pong(t) => Some(*t),
            _ => None,
        })
        .await;
    let after = unix_ms();
    assert!(
        (before - 1000..=after + 1000).contains(&pong),
        "pong {pong} is not server time in ms ({before}..{after})"
    );

    c.send(ping_req(123_456_789)).await;
    let resp = c
        .expect("pong_resp", |m| match m {
            Resp::PongResp(p) => Some(*p),
            _ => None,
        })
        .await;
    assert_eq!(resp.last_ping_timestamp, 123_456_789);
    let now = unix_ms();
    assert!(
        (now - 5000..=now + 1000).contains(&resp.timestamp),
        "pong_resp.timestamp {} is not server time in ms (now {now})",
        resp.timestamp
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Two participants

#[tokio::test]
async fn participants_see_each_other_with_increasing_versions() {
    let s = start().await;
    let (mut a, ja) = Client::join(s.addr, &token("a", "r-two"), "a").await;
    let a_sid = ja.participant.unwrap().sid;
    let tb = token_with("b", "r-two", |t, g| {
        (
            t,
            VideoGrants {
                can_update_own_metadata: Some(true),
                ..g
            },
        )
    });
    let (mut b, jb) = Client::join(s.addr, &tb, "b").await;
    let b_sid = jb.participant.as_ref().unwrap().sid.clone();

    assert_eq!(identities(&jb.other_participants), ["a"]);
    assert_eq!(jb.other_participants[0].sid, a_sid);
    assert_eq!(
        jb.room.as_ref().unwrap().sid,
        ja.room.as_ref().unwrap().sid,
        "same room, same sid"
    );

    let first = a
        .expect("update about b", |m| update_about(m, &b_sid))
        .await;
    assert_eq!(first.identity, "b");
    assert_ne!(first.state, State::Disconnected as i32);

    b.send(Req::UpdateMetadata(proto::UpdateParticipantMetadata {
        metadata: "hello".into(),
        request_id: 1,
        ..Default::default()
    }))
    .await;
    let second = a
        .expect("metadata update about b", |m| {
            update_about(m, &b_sid).filter(|p| p.metadata == "hello")
        })
        .await;
    assert!(
        second.version > first.version,
        "version {} after {}",
        second.version,
        first.version
    );

    b.leave().await;
    let third = a
        .expect("DISCONNECTED update about b", |m| {
            update_about(m, &b_sid).filter(|p| p.state == State::Disconnected as i32)
        })
        .await;
    assert!(
        third.version > second.version,
        "version {} after {}",
        third.version,
        second.version
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Publishing

fn add_track(cid: &str, kind: proto::TrackType, source: proto::TrackSource) -> Req {
    let video = kind == proto::TrackType::Video;
    Req::AddTrack(proto::AddTrackRequest {
        cid: cid.into(),
        name: format!("{cid}-name"),
        r#type: kind as i32,
        source: source as i32,
        width: if video { 640 } else { 0 },
        height: if video { 480 } else { 0 },
        ..Default::default()
    })
}

#[tokio::test]
async fn add_track_is_answered_with_track_published() {
    let s = start().await;
    let (mut c, _) = Client::join(s.addr, &token("alice", "r-pub"), "alice").await;
    c.send(add_track(
        "mic-cid-1",
        proto::TrackType::Audio,
        proto::TrackSource::Microphone,
    ))
    .await;
    let published = c
        .expect("track_published", |m| match m {
            Resp::TrackPublished(p) => Some(p.clone()),
            _ => None,
        })
        .await;
    assert_eq!(published.cid, "mic-cid-1");
    let track = published.track.expect("TrackPublishedResponse.track");
    assert!(track.sid.starts_with("TR_AM"), "track sid {:?}", track.sid);
    assert_eq!(track.r#type, proto::TrackType::Audio as i32);
    assert_eq!(track.source, proto::TrackSource::Microphone as i32);
    assert_eq!(track.name, "mic-cid-1-name");
}

#[tokio::test]
async fn add_track_of_a_source_not_granted_is_not_allowed() {
    let s = start().await;
    let t = token_with("cam-only", "r-pub2", |t, g| {
        (
            t,
            VideoGrants {
                can_publish_sources: vec!["camera".into()],
                ..g
            },
        )
    });
    let (mut c, j) = Client::join(s.addr, &t, "cam-only").await;
    let perm = j.participant.unwrap().permission.unwrap();
    assert_eq!(
        perm.can_publish_sources,
        [proto::TrackSource::Camera as i32]
    );

    c.send(add_track(
        "mic-cid",
        proto::TrackType::Audio,
        proto::TrackSource::Microphone,
    ))
    .await;
    let refusal = c
        .expect("request_response", |m| match m {
            Resp::RequestResponse(r) => Some(r.clone()),
            Resp::TrackPublished(p) => panic!("microphone published despite the grant: {p:?}"),
            _ => None,
        })
        .await;
    assert_eq!(refusal.reason, Reason::NotAllowed as i32);
    match refusal.request {
        Some(proto::request_response::Request::AddTrack(req)) => assert_eq!(req.cid, "mic-cid"),
        other => panic!("request_response does not carry the AddTrack: {other:?}"),
    }

    // The granted source still works.
    c.send(add_track(
        "cam-cid",
        proto::TrackType::Video,
        proto::TrackSource::Camera,
    ))
    .await;
    let published = c
        .expect("track_published", |m| match m {
            Resp::TrackPublished(p) => Some(p.clone()),
            _ => None,
        })
        .await;
    assert_eq!(published.cid, "cam-cid");
    let track = published.track.unwrap();
    assert!(track.sid.starts_with("TR_VC"), "track sid {:?}", track.sid);
    assert_eq!(track.source, proto::TrackSource::Camera as i32);
}

// ---------------------------------------------------------------------------------------------
// 6. Metadata updates

#[tokio::test]
async fn update_metadata_without_permission_is_not_allowed() {
    let s = start().await;
    let (mut obs, _) = Client::join(s.addr, &token("obs", "r-meta1"), "obs").await;
    let (mut a, ja) = Client::join(s.addr, &token("alice", "r-meta1"), "alice").await;
    let a_sid = ja.participant.unwrap().sid;

    a.send(Req::UpdateMetadata(proto::UpdateParticipantMetadata {
        metadata: "nope".into(),
        name: "Nope".into(),
        request_id: 42,
        ..Default::default()
    }))
    .await;
    let refusal = a
        .expect("request_response", |m| match m {
            Resp::RequestResponse(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(refusal.request_id, 42);
    assert_eq!(refusal.reason, Reason::NotAllowed as i32);

    // The engine handles alice's requests in order: whatever the refused update sent the
    // observer reaches it before the DISCONNECTED update that alice's leave causes.
    a.leave().await;
    let mut about_alice = Vec::new();
    obs.expect("DISCONNECTED update about alice", |m| {
        let info = update_about(m, &a_sid)?;
        about_alice.push(info.clone());
        (info.state == State::Disconnected as i32).then_some(())
    })
    .await;
    assert!(
        about_alice
            .iter()
            .all(|p| p.metadata.is_empty() && p.name.is_empty()),
        "refused metadata reached another participant: {about_alice:?}"
    );
}

#[tokio::test]
async fn update_metadata_reaches_sender_and_others() {
    let s = start().await;
    let (mut obs, _) = Client::join(s.addr, &token("obs", "r-meta2"), "obs").await;
    let t = token_with("carol", "r-meta2", |t, g| {
        (
            t.with_name("Carol")
                .with_metadata("m0")
                .with_attributes([("keep", "1"), ("drop", "2")]),
            VideoGrants {
                can_update_own_metadata: Some(true),
                ..g
            },
        )
    });
    let (mut c, jc) = Client::join(s.addr, &t, "carol").await;
    let me = jc.participant.unwrap();
    assert_eq!(me.metadata, "m0");
    assert_eq!(
        me.attributes,
        HashMap::from([("keep".into(), "1".into()), ("drop".into(), "2".into())])
    );

    c.send(Req::UpdateMetadata(proto::UpdateParticipantMetadata {
        metadata: "m1".into(),
        name: "Carol 2".into(),
        attributes: HashMap::from([("drop".into(), String::new()), ("new".into(), "3".into())]),
        request_id: 43,
    }))
    .await;
    let want_attrs: HashMap<String, String> =
        HashMap::from([("keep".into(), "1".into()), ("new".into(), "3".into())]);
    for (who, client) in [("carol (sender)", &mut c), ("obs", &mut obs)] {
        let p = client
            .expect("metadata update about carol", |m| {
                update_about(m, &me.sid).filter(|p| p.metadata == "m1")
            })
            .await;
        assert_eq!(p.name, "Carol 2", "{who}");
        assert_eq!(p.attributes, want_attrs, "{who}");
        assert_eq!(p.identity, "carol", "{who}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Duplicate identity

#[tokio::test]
async fn duplicate_identity_replaces_the_first_connection() {
    let s = start().await;
    let (mut obs, _) = Client::join(s.addr, &token("obs", "r-dup"), "obs").await;
    let (mut a1, j1) = Client::join(s.addr, &token("alice", "r-dup"), "alice#1").await;
    let sid1 = j1.participant.unwrap().sid;
    obs.expect("update about alice#1", |m| update_about(m, &sid1))
        .await;

    let (mut a2, j2) = Client::join(s.addr, &token("alice", "r-dup"), "alice#2").await;
    let sid2 = j2.participant.as_ref().unwrap().sid.clone();
    assert_ne!(sid1, sid2);
    assert_eq!(identities(&j2.other_participants), ["obs"]);

    let before_close = a1.expect_closed(WAIT).await;
    let leave = before_close
        .iter()
        .find_map(|m| match m {
            Resp::Leave(l) => Some(l.clone()),
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no leave before the close; got {:?}",
                before_close.iter().map(kind).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        leave.reason,
        proto::DisconnectReason::DuplicateIdentity as i32
    );
    assert_eq!(
        leave.action,
        proto::leave_request::Action::Disconnect as i32
    );

    let gone = obs
        .expect("DISCONNECTED update about alice#1", |m| {
            update_about(m, &sid1).filter(|p| p.state == State::Disconnected as i32)
        })
        .await;
    assert_eq!(
        gone.disconnect_reason,
        proto::DisconnectReason::DuplicateIdentity as i32
    );
    let new = obs
        .expect("update about alice#2", |m| update_about(m, &sid2))
        .await;
    assert_eq!(new.identity, "alice");

    let (_late, jl) = Client::join(s.addr, &token("late", "r-dup"), "late").await;
    assert_eq!(identities(&jl.other_participants), ["alice", "obs"]);
    let alice = jl
        .other_participants
        .iter()
        .find(|p| p.identity == "alice")
        .unwrap();
    assert_eq!(alice.sid, sid2);

    a2.send(ping_req(7)).await;
    let pong = a2
        .expect("pong_resp", |m| match m {
            Resp::PongResp(p) => Some(*p),
            _ => None,
        })
        .await;
    assert_eq!(pong.last_ping_timestamp, 7);
}

// ---------------------------------------------------------------------------------------------
// 8. Leave

#[tokio::test]
async fn client_leave_is_announced_as_disconnected() {
    let s = start().await;
    let (mut a, _) = Client::join(s.addr, &token("a", "r-leave"), "a").await;
    let (mut b, jb) = Client::join(s.addr, &token("b", "r-leave"), "b").await;
    let b_sid = jb.participant.unwrap().sid;
    a.expect("update about b", |m| update_about(m, &b_sid))
        .await;

    b.leave().await;
    let gone = a
        .expect("DISCONNECTED update about b", |m| {
            update_about(m, &b_sid).filter(|p| p.state == State::Disconnected as i32)
        })
        .await;
    assert_eq!(gone.identity, "b");
    assert_eq!(
        gone.disconnect_reason,
        proto::DisconnectReason::ClientInitiated as i32
    );
    b.expect_closed(WAIT).await;
}

#[tokio::test]
async fn an_oversized_signal_message_ends_the_connection() {
    use futures_util::SinkExt;
    let s = start().await;
    let (mut a, _) = Client::join(s.addr, &token("a", "r-big"), "a").await;
    let (mut b, jb) = Client::join(s.addr, &token("b", "r-big"), "b").await;
    let b_sid = jb.participant.unwrap().sid;
    a.expect("update about b", |m| update_about(m, &b_sid))
        .await;
    // 2 MiB: twice the cap. The server closes b instead of buffering it; a stays.
    let big = vec![0u8; 2 * 1024 * 1024];
    let _ = b.ws.send(tungstenite::Message::Binary(big.into())).await;
    b.expect_closed(WAIT).await;
    a.expect("DISCONNECTED update about b", |m| {
        update_about(m, &b_sid).filter(|p| p.state == State::Disconnected as i32)
    })
    .await;
    a.send(ping_req(1)).await;
    a.expect("a still served", |m| match m {
        Resp::PongResp(p) => Some(p.last_ping_timestamp),
        _ => None,
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 9. Ping timeout

#[tokio::test]
async fn silent_clients_are_dropped_after_ping_timeout() {
    const PING_TIMEOUT: Duration = Duration::from_millis(250);
    let s = start_with(|c| c.ping_timeout = PING_TIMEOUT).await;
    let (mut a, ja) = Client::join(s.addr, &token("a", "r-timeout"), "pinger").await;
    // The SDKs read whole seconds; the server drops at the exact value.
    assert_eq!(ja.ping_timeout, 1);
    let silent_since = Instant::now();
    let (mut b, jb) = Client::join(s.addr, &token("b", "r-timeout"), "silent").await;
    let b_sid = jb.participant.unwrap().sid;

    // The pinger pings every 50 ms until the silent client is dropped; `drain` panics if the
    // pinger itself is disconnected meanwhile.
    let mut seen = Vec::new();
    let (mut pings, mut pongs) = (0i64, 0);
    let dropped_after = loop {
        assert!(
            silent_since.elapsed() < WAIT,
            "no DISCONNECTED update for the silent client; pinger received {:?}",
            seen.iter().map(kind).collect::<Vec<_>>()
        );
        a.send(ping_req(pings)).await;
        pings += 1;
        let got = a.drain(Duration::from_millis(50)).await;
        pongs += got
            .iter()
            .filter(|m| matches!(m, Resp::PongResp(_)))
            .count() as i64;
        let dropped = got
            .iter()
            .filter_map(|m| update_about(m, &b_sid))
            .any(|p| p.state == State::Disconnected as i32);
        seen.extend(got);
        if dropped {
            break silent_since.elapsed();
        }
    };
    assert!(
        dropped_after >= PING_TIMEOUT,
        "silent client dropped after {dropped_after:?}, before the ping timeout"
    );
    assert!(
        pongs * 2 >= pings,
        "pinger got {pongs} pong_resp for {pings} ping_req"
    );
    // Its socket was closed; whatever is still buffered comes first.
    b.expect_closed(WAIT).await;

    // The pinger, older than one ping timeout by now, is still in the room and still answered.
    let (_c, jc) = Client::join(s.addr, &token("c", "r-timeout"), "late").await;
    assert_eq!(identities(&jc.other_participants), ["a"]);
    a.send(ping_req(99)).await;
    let pong = a
        .expect("pong_resp", |m| match m {
            Resp::PongResp(p) => Some(*p),
            _ => None,
        })
        .await;
    assert_eq!(pong.last_ping_timestamp, 99);
}

// ---------------------------------------------------------------------------------------------
// 10. Reconnect (resume)

#[tokio::test]
async fn resume_of_an_unknown_participant_asks_for_a_full_reconnect() {
    let s = start().await;
    let t = token("alice", "r-resume-unknown");
    let ws = ws_connect(
        s.addr,
        &format!("/rtc?{RUST_QUERY}&reconnect=1&sid=PA_gone"),
        Some(&t),
    )
    .await
    .expect("resume upgrade");
    let mut r = Client {
        ws,
        name: "resume".into(),
    };
    match r.next(WAIT).await {
        common::Event::Msg(m) => match *m {
            Resp::Leave(l) => {
                assert_eq!(l.action, proto::leave_request::Action::Reconnect as i32);
                assert_eq!(l.reason, proto::DisconnectReason::StateMismatch as i32);
            }
            other => panic!(
                "first frame of a refused resume is {}, not leave",
                kind(&other)
            ),
        },
        other => panic!("no first frame on resume: {other:?}"),
    }
}

#[tokio::test]
async fn resume_keeps_the_participant_and_answers_reconnect_first() {
    let s = start().await;
    let t = token("alice", "r-resume");
    let (_c, j) = Client::join(s.addr, &t, "alice").await;
    assert_eq!(
        j.client_configuration.unwrap().resume_connection,
        proto::ClientConfigSetting::Enabled as i32,
        "clients are told they may resume"
    );
    let sid = j.participant.unwrap().sid;

    let ws = ws_connect(
        s.addr,
        &format!("/rtc?{RUST_QUERY}&reconnect=1&sid={sid}"),
        Some(&t),
    )
    .await
    .expect("resume upgrade");
    let mut r = Client {
        ws,
        name: "resume".into(),
    };
    match r.next(WAIT).await {
        common::Event::Msg(m) => match *m {
            Resp::Reconnect(_) => {}
            other => panic!("first frame of a resume is {}, not reconnect", kind(&other)),
        },
        other => panic!("no first frame on resume: {other:?}"),
    }
    let update = r
        .expect("participant update", |m| match m {
            Resp::Update(u) => Some(u.clone()),
            _ => None,
        })
        .await;
    assert!(
        update
            .participants
            .iter()
            .any(|p| p.identity == "alice" && p.sid == sid),
        "the same participant, same sid"
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Room lifetime

#[tokio::test]
async fn room_is_kept_while_occupied_and_closed_after_departure_timeout() {
    const DEPARTURE: Duration = Duration::from_millis(100);
    let s = start_with(|c| c.departure_timeout = DEPARTURE).await;
    let mut events = s.sfu.events().subscribe();
    let room_sid = |j: &proto::JoinResponse| j.room.as_ref().unwrap().sid.clone();

    let (mut a, ja) = Client::join(s.addr, &token("a", "r-life"), "a").await;
    let sid1 = room_sid(&ja);
    let (mut b, jb) = Client::join(s.addr, &token("b", "r-life"), "b").await;
    assert_eq!(room_sid(&jb), sid1);

    let a_sid = ja.participant.unwrap().sid;
    a.leave().await;
    b.expect("DISCONNECTED update about a", |m| {
        update_about(m, &a_sid).filter(|p| p.state == State::Disconnected as i32)
    })
    .await;
    // Two departure timeouts with b still in the room.
    tokio::time::sleep(2 * DEPARTURE).await;
    let (mut c, jc) = Client::join(s.addr, &token("c", "r-life"), "c").await;
    assert_eq!(room_sid(&jc), sid1, "room closed while b was still in it");

    b.leave().await;
    b.expect_closed(WAIT).await;
    let last_leave = Instant::now();
    c.leave().await;
    c.expect_closed(WAIT).await;
    let finished = next_event(&mut events, names::ROOM_FINISHED, "r-life").await;
    assert_eq!(finished.room.as_ref().unwrap().sid, sid1);
    let closed_after = last_leave.elapsed();
    assert!(
        closed_after >= DEPARTURE,
        "room closed {closed_after:?} after the last departure, before its timeout"
    );

    let (_d, jd) = Client::join(s.addr, &token("d", "r-life"), "d").await;
    let sid2 = room_sid(&jd);
    assert!(sid2.starts_with("RM_"), "room sid {sid2:?}");
    assert_ne!(sid2, sid1, "room outlived its departure timeout");
    assert!(jd.other_participants.is_empty());
}

#[tokio::test]
async fn a_room_nobody_joins_is_closed_after_empty_timeout() {
    const EMPTY: Duration = Duration::from_millis(100);
    let s = start_with(|c| c.empty_timeout = EMPTY).await;
    let mut events = s.sfu.events().subscribe();
    let rooms = s.sfu.rooms();

    let created = Instant::now();
    let room = rooms
        .create_room(proto::CreateRoomRequest {
            name: "r-empty".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rooms.room_exists("r-empty".into()).await.unwrap());
    let finished = next_event(&mut events, names::ROOM_FINISHED, "r-empty").await;
    let closed_after = created.elapsed();
    assert_eq!(finished.room.as_ref().unwrap().sid, room.sid);
    assert!(
        closed_after >= EMPTY,
        "empty room closed after {closed_after:?}, before its timeout"
    );
    assert!(!rooms.room_exists("r-empty".into()).await.unwrap());
}
