//! Live sessions as media sessions, over HTTP and the gateway on a manual clock and a recording
//! media plane: joining a live moves the user's media from a voice channel (the channel's room
//! left, the old owner told, the owner connected to the live room in the user's role), a rejoin
//! keeps the session, leaving or the live ending ends it, a user without a gateway connection
//! gets a ticket and no session; and each kind's publish defaults in the join answer. On SQLite
//! and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod media_support;

use media_support::{Harness, PlaneCall, User, cid, event, event_where, serve};
use serde_json::{Value, json};

async fn call(h: &Harness, user: &User, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, v) = common::call(&h.app, method, path, Some(&user.token), body).await;
    assert!(s.is_success(), "{method} {path} → {s} {v}");
    v
}

/// A creator hosting a live session of `kind`, started; the session's id.
async fn live_session(h: &Harness, host: &User, kind: &str) -> String {
    call(
        h,
        host,
        "PATCH",
        "/api/v1/users/@me",
        Some(json!({"isCreator": true})),
    )
    .await;
    let live = call(
        h,
        host,
        "POST",
        "/api/v1/live",
        Some(json!({"kind": kind, "title": "Tunes", "access": "public"})),
    )
    .await;
    let id = live["id"].as_str().unwrap().to_owned();
    call(h, host, "POST", &format!("/api/v1/live/{id}/start"), None).await;
    id
}

/// A voice channel of a community `user` creates; its id.
async fn voice_channel(h: &Harness, user: &User) -> String {
    let community = call(
        h,
        user,
        "POST",
        "/api/v1/communities",
        Some(json!({"name": "C"})),
    )
    .await;
    let channel = call(
        h,
        user,
        "POST",
        &format!(
            "/api/v1/communities/{}/channels",
            community["id"].as_str().unwrap()
        ),
        Some(json!({"name": "lounge", "kind": "voice"})),
    )
    .await;
    channel["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn joining_a_live_moves_the_media_session_from_a_voice_channel_and_leaving_ends_it() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let host = h.user("host").await;
        let bob = h.user("bob").await;
        let mut b_main = h.connect(&bob, "main").await;
        let _b_overlay = h.connect(&bob, "overlay").await;
        let channel = voice_channel(&h, &bob).await;
        h.ok(
            &bob,
            json!({"id": cid(), "type": "join_channel", "channelId": channel}),
        )
        .await;
        event(&mut b_main, "MEDIA_SESSION_CONNECT").await;
        h.joined(&format!("vc_{channel}"), &bob.id).await;
        let live = live_session(&h, &host, "audio_room").await;
        h.plane.taken();

        let ticket = call(
            &h,
            &bob,
            "POST",
            &format!("/api/v1/live/{live}/join"),
            Some(json!({"connectionId": b_main.id})),
        )
        .await;
        assert_eq!(ticket["role"], "listener");
        assert_eq!(ticket["room"], format!("live_{live}"));
        // the channel's media ends, its owner told; the owner connects to the live room
        let replaced = event(&mut b_main, "MEDIA_SESSION_REPLACED").await;
        assert_eq!(replaced["previous"], "server-voice");
        let connect = event(&mut b_main, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["room"], format!("live_{live}"));
        assert_eq!(connect["role"], "listener");
        assert_eq!(connect["publishDefaults"]["preset"], "audio_room");
        assert!(h.plane.taken().contains(&PlaneCall::Remove {
            room: format!("vc_{channel}"),
            identity: bob.id.clone()
        }));
        let s = h.session(&bob).await;
        assert_eq!(s["type"], "live-stream", "{s}");
        assert_eq!(s["context"]["liveId"], live.as_str());
        assert_eq!(s["context"]["liveTitle"], "Tunes");
        assert_eq!(s["context"]["liveRole"], "listener");
        assert!(s["context"].get("channelId").is_none(), "{s}");
        assert_eq!(s["owner"]["connectionId"], b_main.id.as_str());
        // the media plane's join shows as the session's media connection
        h.joined(&format!("live_{live}"), &bob.id).await;
        assert_eq!(h.session(&bob).await["connection"], "connected");

        // a rejoin keeps the session and its room
        let epoch = h.session(&bob).await["epoch"].clone();
        call(&h, &bob, "POST", &format!("/api/v1/live/{live}/join"), None).await;
        assert_eq!(h.session(&bob).await["epoch"], epoch);
        assert!(h.plane.taken().is_empty());

        // leaving ends it and takes them out of the room
        call(
            &h,
            &bob,
            "POST",
            &format!("/api/v1/live/{live}/leave"),
            None,
        )
        .await;
        assert_eq!(h.session(&bob).await["type"], "idle");
        assert!(h.plane.taken().contains(&PlaneCall::Remove {
            room: format!("live_{live}"),
            identity: bob.id.clone()
        }));
        // leaving a live one is not in changes nothing
        call(
            &h,
            &bob,
            "POST",
            &format!("/api/v1/live/{live}/leave"),
            None,
        )
        .await;
        let (s, _) = common::call(
            &h.app,
            "POST",
            "/api/v1/live/nope/leave",
            Some(&bob.token),
            None,
        )
        .await;
        assert_eq!(s.as_u16(), 404);

        // the live ending ends every media session in it, each told
        call(&h, &bob, "POST", &format!("/api/v1/live/{live}/join"), None).await;
        assert_eq!(h.session(&bob).await["type"], "live-stream");
        call(&h, &host, "POST", &format!("/api/v1/live/{live}/end"), None).await;
        event_where(&mut b_main, "MEDIA_SESSION_UPDATE", |d| d["type"] == "idle").await;
        assert_eq!(h.session(&bob).await["type"], "idle");
    }
}

#[tokio::test]
async fn joining_a_live_ends_a_call_and_tells_the_other_party() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let host = h.user("host").await;
        let a = h.user("alice").await;
        let b = h.user("bob").await;
        let conv = h.conversation(&a, &b).await;
        let mut a_main = h.connect(&a, "main").await;
        let _b_main = h.connect(&b, "main").await;
        let started = h
            .ok(
                &a,
                json!({"id": cid(), "type": "start_call", "conversationId": conv}),
            )
            .await;
        let call_id = started["result"]["call"]["id"].as_str().unwrap().to_owned();
        h.ok(
            &b,
            json!({"id": cid(), "type": "accept_call", "callId": call_id}),
        )
        .await;
        h.joined(&format!("dm_{call_id}"), &a.id).await;
        h.joined(&format!("dm_{call_id}"), &b.id).await;
        let live = live_session(&h, &host, "video_live").await;

        let ticket = call(&h, &b, "POST", &format!("/api/v1/live/{live}/join"), None).await;
        assert_eq!(ticket["role"], "viewer");
        // the call ends for both: Alice is told, and her session is over too
        event_where(&mut a_main, "CALL_UPDATE", |d| d["state"] == "ended").await;
        event_where(&mut a_main, "MEDIA_SESSION_UPDATE", |d| d["type"] == "idle").await;
        assert_eq!(h.session(&b).await["type"], "live-stream");
    }
}

#[tokio::test]
async fn without_a_gateway_connection_a_join_is_a_ticket_only() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let host = h.user("host").await;
        let sdk = h.user("sdk").await;
        let live = live_session(&h, &host, "audio_room").await;
        let ticket = call(&h, &sdk, "POST", &format!("/api/v1/live/{live}/join"), None).await;
        assert_eq!(ticket["role"], "listener");
        assert_eq!(h.session(&sdk).await["type"], "idle");
        // a body that is not the documented one is refused
        let (s, err) = common::call(
            &h.app,
            "POST",
            &format!("/api/v1/live/{live}/join"),
            Some(&sdk.token),
            Some(json!({"connection": "x"})),
        )
        .await;
        assert_eq!(
            (s.as_u16(), err["code"].as_str()),
            (400, Some("invalid_request"))
        );
    }
}

#[tokio::test]
async fn each_kind_answers_its_publish_defaults() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let host = h.user("host").await;
        let viewer = h.user("viewer").await;
        let room = live_session(&h, &host, "audio_room").await;
        let t = call(
            &h,
            &viewer,
            "POST",
            &format!("/api/v1/live/{room}/join"),
            None,
        )
        .await;
        let p = &t["publishDefaults"];
        assert_eq!(p["preset"], "audio_room");
        assert!(p["video"].is_null(), "{p}");
        assert!(p["audio"]["maxBitrate"].as_u64().unwrap() >= 128_000, "{p}");
        assert_eq!(p["audio"]["stereo"], true);
        assert_eq!(p["audio"]["dtx"], false);
        assert_eq!(p["audio"]["red"], true);

        let host2 = h.user("host2").await;
        let broadcast = live_session(&h, &host2, "video_live").await;
        let t = call(
            &h,
            &host2,
            "POST",
            &format!("/api/v1/live/{broadcast}/join"),
            None,
        )
        .await;
        assert_eq!(t["role"], "host");
        let v = &t["publishDefaults"]["video"];
        assert_eq!(
            (&v["top"]["height"], &v["top"]["maxBitrate"]),
            (&json!(1080), &json!(3_000_000))
        );
        let ladder: Vec<(u64, u64)> = v["simulcastLayers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["height"].as_u64().unwrap(),
                    l["maxBitrate"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(ladder, [(720, 1_200_000), (360, 400_000)]);
        assert_eq!(t["publishDefaults"]["audio"]["stereo"], false);
    }
}
