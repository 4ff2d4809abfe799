//! Inside a live session, over the API on every backend: the stage's two-flag consent (a hand,
//! an invitation by the host or a co-host, an acceptance; only then the stage role, applied to
//! the connection at the media plane) and the way back to the audience; moderation (kick, ban,
//! mute, each logged with its reason); and chat (in order, limited, deleted for everyone).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod live_support;
mod media_support;

use axum::http::StatusCode;
use common::{backends, call};
use media_support::{PlaneCall, event_where};
use serde_json::{Value, json};

const CAMERA: i32 = 1;
const MICROPHONE: i32 = 2;

fn permission(id: &str, identity: &str, sources: Vec<i32>, hidden: bool) -> PlaneCall {
    PlaneCall::Permission {
        room: format!("live_{id}"),
        identity: identity.to_owned(),
        can_publish: !sources.is_empty(),
        sources,
        hidden,
    }
}

async fn post(
    h: &media_support::Harness,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call(&h.app, "POST", path, Some(token), body).await
}

#[tokio::test]
async fn the_stage_needs_an_invitation_and_an_acceptance() {
    for db in backends().await {
        let h = media_support::serve(db, 3).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let (listener, other) = (h.user("listener").await, h.user("other").await);
        let id = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "audio_room", "title": "Talk", "access": "public"}),
        )
        .await;
        let mut host_conn = h.connect(&host, "main").await;
        live_support::joined(&h.services, &id, &host.id, "PA_host").await;
        let stage = |s: &str| format!("/api/v1/live/{id}/{s}");
        // A hand needs a connection to the room.
        let (status, e) = call(&h.app, "PUT", &stage("hand"), Some(&listener.token), None).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );
        live_support::joined(&h.services, &id, &listener.id, "PA_listener").await;
        live_support::joined(&h.services, &id, &other.id, "PA_other").await;
        let (status, s) = call(&h.app, "PUT", &stage("hand"), Some(&listener.token), None).await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!(s["hands"][0]["userId"], listener.id.as_str());
        let d = event_where(&mut host_conn, "STAGE_UPDATE", |d| {
            d["hands"].as_array().is_some_and(|h| !h.is_empty())
        })
        .await;
        assert_eq!(d["sessionId"], id.as_str());
        assert_eq!(d["roles"], json!([{"userId": host.id, "role": "host"}]));
        // Accepting without an invitation, or inviting without being host or co-host: no.
        let (status, _) = post(&h, &listener.token, &stage("stage/invite/accept"), None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = post(
            &h,
            &other.token,
            &stage(&format!("stage/{}/invite", listener.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        h.plane.taken();
        let (status, s) = post(
            &h,
            &host.token,
            &stage(&format!("stage/{}/invite", listener.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!(s["invites"][0]["userId"], listener.id.as_str());
        assert_eq!(s["invites"][0]["invitedBy"], host.id.as_str());
        assert!(
            h.plane.taken().is_empty(),
            "an invitation alone grants nothing"
        );
        let (_, ticket) = live_support::join(&h.app, &listener.token, &id).await;
        assert_eq!(ticket["role"], "listener");
        // Both flags: the speaker's permission, live.
        let (status, s) = post(&h, &listener.token, &stage("stage/invite/accept"), None).await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!(s["hands"], json!([]));
        assert_eq!(s["invites"], json!([]));
        assert_eq!(
            s["roles"][1],
            json!({"userId": listener.id, "role": "speaker"})
        );
        assert_eq!(
            h.plane.taken(),
            vec![permission(&id, &listener.id, vec![MICROPHONE], false)]
        );
        event_where(&mut host_conn, "STAGE_UPDATE", |d| {
            d["roles"].as_array().is_some_and(|r| r.len() == 2)
        })
        .await;
        let (_, ticket) = live_support::join(&h.app, &listener.token, &id).await;
        assert_eq!(ticket["role"], "speaker", "a rejoin keeps the stage role");
        // A speaker is no co-host: they may not invite.
        let (status, _) = post(
            &h,
            &listener.token,
            &stage(&format!("stage/{}/invite", other.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Back to the audience.
        let (status, _) = call(
            &h.app,
            "DELETE",
            &stage(&format!("stage/{}", listener.id)),
            Some(&other.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, s) = call(
            &h.app,
            "DELETE",
            &stage(&format!("stage/{}", listener.id)),
            Some(&host.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!(s["roles"].as_array().unwrap().len(), 1);
        assert_eq!(
            h.plane.taken(),
            vec![permission(&id, &listener.id, vec![], true)]
        );
        let (_, ticket) = live_support::join(&h.app, &listener.token, &id).await;
        assert_eq!(ticket["role"], "listener");

        // In a live video, the accepted guest is a co-host: camera and microphone, and they
        // may invite in turn.
        let show = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "video_live", "title": "Show", "access": "public"}),
        )
        .await;
        live_support::joined(&h.services, &show, &listener.id, "PA_listener_show").await;
        live_support::joined(&h.services, &show, &other.id, "PA_other_show").await;
        let path = |s: &str| format!("/api/v1/live/{show}/{s}");
        post(
            &h,
            &host.token,
            &path(&format!("stage/{}/invite", listener.id)),
            None,
        )
        .await;
        h.plane.taken();
        let (status, _) = post(&h, &listener.token, &path("stage/invite/accept"), None).await;
        assert_eq!(status, StatusCode::OK);
        let granted = h.plane.taken();
        let PlaneCall::Permission {
            sources, hidden, ..
        } = &granted[0]
        else {
            panic!("{granted:?}");
        };
        assert!(sources.contains(&CAMERA) && sources.contains(&MICROPHONE) && !hidden);
        let (status, _) = post(
            &h,
            &listener.token,
            &path(&format!("stage/{}/invite", other.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "a co-host invites");
        // Leaving the stage oneself.
        let (status, _) = call(
            &h.app,
            "DELETE",
            &path(&format!("stage/{}", listener.id)),
            Some(&listener.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn moderation_kicks_bans_mutes_and_logs() {
    for db in backends().await {
        let h = media_support::serve(db, 3).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let (pest, troll) = (h.user("pest").await, h.user("troll").await);
        let body = json!({"kind": "video_live", "title": "Show", "access": "public"});
        let id = live_support::live(&h.app, &host.token, body.clone()).await;
        let room = format!("live_{id}");
        live_support::joined(&h.services, &id, &host.id, "PA_host").await;
        live_support::joined(&h.services, &id, &pest.id, "PA_pest").await;
        live_support::joined(&h.services, &id, &troll.id, "PA_troll").await;
        assert_eq!(live_support::counts(&h.app, &host.token, &id).await, (2, 2));
        let act =
            |what: &str, user: &str| format!("/api/v1/live/{id}/{what}").replace("{user}", user);
        let (status, _) = post(
            &h,
            &troll.token,
            &act("participants/{user}/kick", &pest.id),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = post(
            &h,
            &host.token,
            &act("participants/{user}/kick", &host.id),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        h.plane.taken();
        // Kick: removed now, free to come back.
        let (status, entry) = post(
            &h,
            &host.token,
            &act("participants/{user}/kick", &pest.id),
            Some(json!({"reason": "spam"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{entry}");
        assert_eq!(
            (entry["action"].as_str(), entry["reason"].as_str()),
            (Some("kick"), Some("spam"))
        );
        assert_eq!(
            h.plane.taken(),
            vec![PlaneCall::Remove {
                room: room.clone(),
                identity: pest.id.clone()
            }]
        );
        assert_eq!(live_support::counts(&h.app, &host.token, &id).await, (1, 2));
        let (status, _) = live_support::join(&h.app, &pest.token, &id).await;
        assert_eq!(status, StatusCode::OK);
        // Mute: the microphone muted at the media plane.
        let (status, entry) = post(
            &h,
            &host.token,
            &act("participants/{user}/mute", &troll.id),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{entry}");
        assert_eq!(entry["reason"], Value::Null);
        assert_eq!(
            h.plane.taken(),
            vec![PlaneCall::Mute {
                room: room.clone(),
                identity: troll.id.clone(),
                track: format!("TR_mic_{}", troll.id)
            }]
        );
        // Ban: removed, and no tokens for any of this host's sessions.
        let (status, entry) = call(
            &h.app,
            "PUT",
            &act("bans/{user}", &troll.id),
            Some(&host.token),
            Some(json!({"reason": "abuse"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{entry}");
        assert!(h.plane.taken().contains(&PlaneCall::Remove {
            room: room.clone(),
            identity: troll.id.clone()
        }));
        let (status, e) = live_support::join(&h.app, &troll.token, &id).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("banned"))
        );
        let other = live_support::live(&h.app, &host.token, body).await;
        let (status, e) = live_support::join(&h.app, &troll.token, &other).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("banned"))
        );
        // A connection with a token from before the ban is removed when it arrives.
        live_support::joined(&h.services, &id, &troll.id, "PA_troll2").await;
        assert!(h.plane.taken().contains(&PlaneCall::Remove {
            room: room.clone(),
            identity: troll.id.clone()
        }));
        assert_eq!(live_support::counts(&h.app, &host.token, &id).await, (0, 2));
        // The log, for moderators only.
        let (status, _) = call(
            &h.app,
            "GET",
            &act("moderation-log", ""),
            Some(&pest.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, log) = call(
            &h.app,
            "GET",
            &act("moderation-log", ""),
            Some(&host.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{log}");
        let summary: Vec<(String, String, Value)> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["actorId"], host.id.as_str());
                assert!(e["createdAt"].is_i64());
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["targetId"].as_str().unwrap().to_owned(),
                    e["reason"].clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("kick".to_owned(), pest.id.clone(), json!("spam")),
                ("mute".to_owned(), troll.id.clone(), Value::Null),
                ("ban".to_owned(), troll.id.clone(), json!("abuse")),
            ]
        );
    }
}

#[tokio::test]
async fn chat_is_ordered_limited_and_deletions_reach_everyone() {
    for db in backends().await {
        let h = media_support::serve(db, 3).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let viewer = h.user("viewer").await;
        let id = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "video_live", "title": "Chatty", "access": "public"}),
        )
        .await;
        live_support::joined(&h.services, &id, &viewer.id, "PA_viewer").await;
        let mut viewer_conn = h.connect(&viewer, "main").await;
        let mut host_conn = h.connect(&host, "main").await;
        let path = format!("/api/v1/live/{id}/messages");
        let mut ids = Vec::new();
        for text in ["one", "two", "three"] {
            let (status, m) = post(&h, &viewer.token, &path, Some(json!({"content": text}))).await;
            assert_eq!(status, StatusCode::CREATED, "{m}");
            assert_eq!(m["authorId"], viewer.id.as_str());
            ids.push(m["id"].as_str().unwrap().to_owned());
        }
        for (conn, name) in [(&mut host_conn, "host"), (&mut viewer_conn, "viewer")] {
            let mut seen = Vec::new();
            while seen.len() < 3 {
                let d = media_support::event(conn, "LIVE_MESSAGE_CREATE").await;
                seen.push(d["content"].as_str().unwrap().to_owned());
            }
            assert_eq!(seen, ["one", "two", "three"], "{name}");
        }
        let (_, listed) = call(&h.app, "GET", &path, Some(&viewer.token), None).await;
        let contents: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert_eq!(contents, ["one", "two", "three"]);
        // Length and rate.
        let (status, _) = post(
            &h,
            &viewer.token,
            &path,
            Some(json!({"content": "x".repeat(501)})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = post(&h, &viewer.token, &path, Some(json!({"content": " "}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        for _ in 0..2 {
            let (status, _) =
                post(&h, &viewer.token, &path, Some(json!({"content": "more"}))).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, e) = post(
            &h,
            &viewer.token,
            &path,
            Some(json!({"content": "too many"})),
        )
        .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
        );
        h.advance(std::time::Duration::from_secs(10));
        let (status, _) = post(&h, &viewer.token, &path, Some(json!({"content": "later"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        // Someone else's message: only the host or a co-host may delete it.
        let (status, mine) =
            post(&h, &host.token, &path, Some(json!({"content": "welcome"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let host_message = format!("{path}/{}", mine["id"].as_str().unwrap());
        let (status, _) = call(&h.app, "DELETE", &host_message, Some(&viewer.token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Deleted by the host: gone for everyone, and logged.
        let (status, _) = call(
            &h.app,
            "DELETE",
            &format!("{path}/{}", ids[1]),
            Some(&host.token),
            Some(json!({"reason": "off topic"})),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let d = media_support::event(&mut viewer_conn, "LIVE_MESSAGE_DELETE").await;
        assert_eq!(
            (d["id"].as_str(), d["sessionId"].as_str()),
            (Some(ids[1].as_str()), Some(id.as_str()))
        );
        let (status, _) = call(
            &h.app,
            "DELETE",
            &format!("{path}/{}", ids[1]),
            Some(&host.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, listed) = call(&h.app, "GET", &path, Some(&viewer.token), None).await;
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["id"] != ids[1].as_str())
        );
        assert_eq!(listed[0]["content"], "one");
        assert_eq!(listed[1]["content"], "three");
        let (_, log) = call(
            &h.app,
            "GET",
            &format!("/api/v1/live/{id}/moderation-log"),
            Some(&host.token),
            None,
        )
        .await;
        assert_eq!(log[0]["action"], "delete_message");
        assert_eq!(log[0]["messageId"], ids[1].as_str());
        assert_eq!(log[0]["targetId"], viewer.id.as_str());
        assert_eq!(log[0]["reason"], "off topic");
        // Its author deletes their own (not a moderation action).
        let (status, _) = call(
            &h.app,
            "DELETE",
            &format!("{path}/{}", ids[0]),
            Some(&viewer.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // A pay-per-view session's chat is for its buyers.
        let paid = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "video_live", "title": "Paid", "access": "pay_per_view", "priceCoins": 5}),
        )
        .await;
        let (status, e) = call(
            &h.app,
            "GET",
            &format!("/api/v1/live/{paid}/messages"),
            Some(&viewer.token),
            None,
        )
        .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::PAYMENT_REQUIRED, Some("payment_required"))
        );
        let (status, _) = post(
            &h,
            &viewer.token,
            &format!("/api/v1/live/{paid}/messages"),
            Some(json!({"content": "hi"})),
        )
        .await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    }
}

#[tokio::test]
async fn co_hosts_act_only_on_roles_below_their_own() {
    for db in backends().await {
        let h = media_support::serve(db, 3).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let (c1, c2, viewer) = (
            h.user("cohost1").await,
            h.user("cohost2").await,
            h.user("viewer").await,
        );
        let id = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "video_live", "title": "Panel", "access": "public"}),
        )
        .await;
        live_support::joined(&h.services, &id, &host.id, "PA_host").await;
        let path = |s: &str| format!("/api/v1/live/{id}/{s}");
        for (u, sid) in [(&c1, "PA_c1"), (&c2, "PA_c2"), (&viewer, "PA_v")] {
            live_support::joined(&h.services, &id, &u.id, sid).await;
        }
        for u in [&c1, &c2] {
            let (status, s) = post(
                &h,
                &host.token,
                &path(&format!("stage/{}/invite", u.id)),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{s}");
            let (status, s) = post(&h, &u.token, &path("stage/invite/accept"), None).await;
            assert_eq!(status, StatusCode::OK, "{s}");
        }
        // The host writes a message, a co-host too.
        let (_, host_msg) = post(
            &h,
            &host.token,
            &path("messages"),
            Some(json!({"content": "welcome"})),
        )
        .await;
        let (_, c2_msg) = post(
            &h,
            &c2.token,
            &path("messages"),
            Some(json!({"content": "hi all"})),
        )
        .await;
        h.plane.taken();
        // A co-host on another co-host: every action refused, nothing done at the media plane.
        let refused = [
            ("POST", path(&format!("participants/{}/kick", c2.id))),
            ("POST", path(&format!("participants/{}/mute", c2.id))),
            ("PUT", path(&format!("bans/{}", c2.id))),
            ("DELETE", path(&format!("stage/{}", c2.id))),
            (
                "DELETE",
                path(&format!("messages/{}", c2_msg["id"].as_str().unwrap())),
            ),
            (
                "DELETE",
                path(&format!("messages/{}", host_msg["id"].as_str().unwrap())),
            ),
        ];
        for (method, p) in &refused {
            let (status, e) = call(&h.app, method, p, Some(&c1.token), None).await;
            assert_eq!(
                (status, e["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("forbidden")),
                "{method} {p}: {e}"
            );
        }
        assert!(
            h.plane.taken().is_empty(),
            "nothing reached the media plane"
        );
        // On the host: refused too (the host is never a target).
        let (status, _) = post(
            &h,
            &c1.token,
            &path(&format!("participants/{}/kick", host.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, log) = call(
            &h.app,
            "GET",
            &path("moderation-log"),
            Some(&host.token),
            None,
        )
        .await;
        assert_eq!(log, json!([]), "refusals are not logged as actions");
        // A co-host on the audience: allowed.
        let (status, e) = post(
            &h,
            &c1.token,
            &path(&format!("participants/{}/mute", viewer.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{e}");
        let (status, e) = post(
            &h,
            &c1.token,
            &path(&format!("participants/{}/kick", viewer.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{e}");
        // The host on a co-host: allowed (off the stage, then out).
        let (status, s) = call(
            &h.app,
            "DELETE",
            &path(&format!("stage/{}", c2.id)),
            Some(&host.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{s}");
        // Back in the audience, c2 is below c1 now.
        let (status, e) = post(
            &h,
            &c1.token,
            &path(&format!("participants/{}/kick", c2.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{e}");
        let (status, e) = post(
            &h,
            &host.token,
            &path(&format!("participants/{}/kick", c1.id)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{e}");
        let (_, log) = call(
            &h.app,
            "GET",
            &path("moderation-log"),
            Some(&host.token),
            None,
        )
        .await;
        let actions: Vec<(String, String)> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["actorId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            actions,
            vec![
                ("mute".to_owned(), c1.id.clone()),
                ("kick".to_owned(), c1.id.clone()),
                ("kick".to_owned(), c1.id.clone()),
                ("kick".to_owned(), host.id.clone()),
            ]
        );
    }
}
