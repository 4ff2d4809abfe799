//! Live sessions over the API on every backend: creators only, the lifecycle (host only, the
//! maximum duration on the manual clock), joins with their roles and grants (hidden audience),
//! the access rules and their refusals, and pay-per-view purchases paid from the wallet:
//! idempotent per key, one per buyer, never overdrawing, also under concurrent purchases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod live_support;
mod media_support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{backends, call, register};
use http_body_util::BodyExt;
use livekit_api::access_token::TokenVerifier;
use media_support::{PlaneCall, RecordingPlane};
use serde_json::{Value, json};
use tower::ServiceExt;
use xcord_control::app::Services;
use xcord_control::clock::Clock;
use xcord_control::db::Db;
use xcord_control::live::machine::HOST_RECONNECT_GRACE_MS;
use xcord_control::media::MediaAccess;

struct Live {
    app: Router,
    services: Arc<Services>,
    plane: Arc<RecordingPlane>,
}

/// The API over `db` with a manual clock, a recording media plane and `dev` as `--dev`.
fn live(db: Db, dev: bool) -> Live {
    let plane = Arc::new(RecordingPlane::default());
    let access = MediaAccess {
        url: "ws://127.0.0.1:1".into(),
        api_key: "devkey".into(),
        api_secret: "secret".into(),
    };
    let services = xcord_control::services(db)
        .clock(Clock::manual(Clock::system().now_ms()))
        .media(plane.clone(), access)
        .dev(dev)
        .build();
    Live {
        app: common::router(&services),
        services,
        plane,
    }
}

/// A registered creator's token.
async fn creator(app: &Router, handle: &str) -> (String, String) {
    let (token, id) = register(app, handle).await;
    let (status, me) = call(
        app,
        "PATCH",
        "/api/v1/users/@me",
        Some(&token),
        Some(json!({"isCreator": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["isCreator"], true);
    (token, id)
}

/// Creates a session and returns it.
async fn create(app: &Router, token: &str, body: Value) -> Value {
    let (status, s) = call(app, "POST", "/api/v1/live", Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    s
}

async fn post(app: &Router, token: &str, path: &str) -> (StatusCode, Value) {
    call(app, "POST", path, Some(token), None).await
}

/// A purchase with `key`, as the API answers it.
async fn buy(app: &Router, token: &str, id: &str, key: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/live/{id}/purchase"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("Idempotency-Key", key)
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn top_up(app: &Router, token: &str, amount: i64) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        "/api/v1/wallet/topups",
        Some(token),
        Some(json!({"amount": amount})),
    )
    .await
}

async fn balance(app: &Router, token: &str) -> i64 {
    let (status, wallet) = call(app, "GET", "/api/v1/wallet", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{wallet}");
    wallet["balance"].as_i64().unwrap()
}

fn grants(token: &str) -> livekit_api::access_token::Claims {
    TokenVerifier::with_api_key("devkey", "secret")
        .verify(token)
        .unwrap()
}

#[tokio::test]
async fn only_creators_create_and_only_hosts_start_and_end() {
    for db in backends().await {
        let Live {
            app,
            services,
            plane,
        } = live(db, false);
        let (plain, _) = register(&app, "plain").await;
        let body = json!({"kind": "video_live", "title": "Hello", "access": "public"});
        let (status, refused) = call(
            &app,
            "POST",
            "/api/v1/live",
            Some(&plain),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        let (host, host_id) = creator(&app, "host").await;
        let s = create(&app, &host, body).await;
        let id = s["id"].as_str().unwrap().to_owned();
        assert_eq!(s["hostId"], host_id.as_str());
        assert_eq!(s["state"], "scheduled");
        assert_eq!(s["priceCoins"], 0);
        assert_eq!(s["viewerCount"], 0);
        assert_eq!(s["startedAt"], Value::Null);
        // Field rules.
        for bad in [
            json!({"kind": "video_live", "title": " ", "access": "public"}),
            json!({"kind": "video_live", "title": "x", "access": "pay_per_view"}),
            json!({"kind": "video_live", "title": "x", "access": "public", "priceCoins": 5}),
            json!({"kind": "radio", "title": "x", "access": "public"}),
        ] {
            let (status, e) = call(&app, "POST", "/api/v1/live", Some(&host), Some(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        }

        let (status, e) = post(&app, &plain, &format!("/api/v1/live/{id}/start")).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        let (status, started) = post(&app, &host, &format!("/api/v1/live/{id}/start")).await;
        assert_eq!(status, StatusCode::OK, "{started}");
        assert_eq!(started["state"], "live");
        assert_eq!(started["startedAt"], services.clock.now_ms());
        let (status, _) = post(&app, &host, &format!("/api/v1/live/{id}/start")).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (_, listed) = call(&app, "GET", "/api/v1/live?state=live", Some(&plain), None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let (_, none) = call(&app, "GET", "/api/v1/live?state=ended", Some(&plain), None).await;
        assert_eq!(none, json!([]));
        let (status, _) = call(&app, "GET", "/api/v1/live?state=loud", Some(&plain), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, _) = post(&app, &plain, &format!("/api/v1/live/{id}/end")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, ended) = post(&app, &host, &format!("/api/v1/live/{id}/end")).await;
        assert_eq!(status, StatusCode::OK, "{ended}");
        assert_eq!(ended["state"], "ended");
        assert_eq!(ended["endReason"], "host_ended");
        assert!(plane.taken().contains(&PlaneCall::DeleteRoom {
            room: format!("live_{id}")
        }));
        let (status, e) = post(&app, &host, &format!("/api/v1/live/{id}/end")).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_live"))
        );
        let (status, _) = call(
            &app,
            "GET",
            "/api/v1/live/0123456789abcdef0123456789abcdef",
            Some(&plain),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_duration() {
    for db in backends().await {
        let Live {
            app,
            services,
            plane,
        } = live(db, false);
        let (host, _) = creator(&app, "host").await;
        let (viewer, _) = register(&app, "viewer").await;
        let s = create(
            &app,
            &host,
            json!({"kind": "audio_room", "title": "Short", "access": "public", "maxDurationSeconds": 60}),
        )
        .await;
        let id = s["id"].as_str().unwrap();
        let (_, started) = post(&app, &host, &format!("/api/v1/live/{id}/start")).await;
        services
            .clock
            .advance(std::time::Duration::from_millis(59_999));
        let (status, _) = post(&app, &viewer, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(status, StatusCode::OK);
        services.clock.advance(std::time::Duration::from_millis(1));
        let (status, e) = post(&app, &viewer, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_live"))
        );
        let (_, over) = call(
            &app,
            "GET",
            &format!("/api/v1/live/{id}"),
            Some(&viewer),
            None,
        )
        .await;
        assert_eq!(over["state"], "ended");
        assert_eq!(over["endReason"], "max_duration");
        assert_eq!(
            over["endedAt"],
            started["startedAt"].as_i64().unwrap() + 60_000
        );
        assert!(plane.taken().contains(&PlaneCall::DeleteRoom {
            room: format!("live_{id}")
        }));
    }
}

#[tokio::test]
async fn joins_give_roles_hidden_audiences_and_refusals() {
    for db in backends().await {
        let Live { app, services, .. } = live(db, false);
        let (host, host_id) = creator(&app, "host").await;
        let (viewer, viewer_id) = register(&app, "viewer").await;
        let (third, _) = register(&app, "third").await;
        let s = create(
            &app,
            &host,
            json!({"kind": "video_live", "title": "Show", "access": "public", "maxViewers": 1}),
        )
        .await;
        let id = s["id"].as_str().unwrap();
        let (status, e) = post(&app, &viewer, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_live"))
        );
        // The host may get ready before going live.
        let (status, ticket) = post(&app, &host, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(status, StatusCode::OK, "{ticket}");
        assert_eq!(ticket["role"], "host");
        assert_eq!(ticket["room"], format!("live_{id}"));
        let claims = grants(ticket["token"].as_str().unwrap());
        assert_eq!(claims.sub, host_id);
        assert!(!claims.video.hidden && claims.video.can_publish());
        assert!(
            claims
                .video
                .can_publish_sources
                .contains(&"camera".to_owned())
        );
        assert!(
            claims
                .video
                .can_publish_sources
                .contains(&"screen_share".to_owned())
        );

        post(&app, &host, &format!("/api/v1/live/{id}/start")).await;
        let (status, ticket) = post(&app, &viewer, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(status, StatusCode::OK, "{ticket}");
        assert_eq!(ticket["role"], "viewer");
        let claims = grants(ticket["token"].as_str().unwrap());
        assert_eq!(claims.sub, viewer_id);
        assert_eq!(claims.video.room, format!("live_{id}"));
        assert!(
            claims.video.hidden && claims.video.can_subscribe() && claims.video.can_publish_data()
        );
        assert!(!claims.video.can_publish() && claims.video.can_publish_sources.is_empty());
        // Full at one viewer once they connect: a rejoin still works, a newcomer is refused.
        let (status, _) = post(&app, &third, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(status, StatusCode::OK, "a token is no place yet");
        live_support::joined(&services, id, &viewer_id, "PA_viewer").await;
        let (status, _) = post(&app, &viewer, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, e) = post(&app, &third, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("session_full"))
        );
        let (_, now) = call(
            &app,
            "GET",
            &format!("/api/v1/live/{id}"),
            Some(&viewer),
            None,
        )
        .await;
        assert_eq!(
            (now["viewerCount"].as_i64(), now["peakViewers"].as_i64()),
            (Some(1), Some(1))
        );

        // An audio room's audience listens; subscribers-only admits the host (and subscribers,
        // tested below).
        let room = create(
            &app,
            &host,
            json!({"kind": "audio_room", "title": "Talk", "access": "public"}),
        )
        .await;
        let room_id = room["id"].as_str().unwrap();
        post(&app, &host, &format!("/api/v1/live/{room_id}/start")).await;
        let (_, ticket) = post(&app, &viewer, &format!("/api/v1/live/{room_id}/join")).await;
        assert_eq!(ticket["role"], "listener");
        let subs = create(
            &app,
            &host,
            json!({"kind": "video_live", "title": "Fans", "access": "subscribers_only"}),
        )
        .await;
        let subs_id = subs["id"].as_str().unwrap();
        post(&app, &host, &format!("/api/v1/live/{subs_id}/start")).await;
        let (status, e) = post(&app, &viewer, &format!("/api/v1/live/{subs_id}/join")).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("subscription_required"))
        );
        let (status, _) = post(&app, &host, &format!("/api/v1/live/{subs_id}/join")).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn top_ups_need_a_development_server() {
    for db in backends().await {
        let Live { app, .. } = live(db, false);
        let (user, _) = register(&app, "user").await;
        let (status, e) = top_up(&app, &user, 10).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        assert_eq!(balance(&app, &user).await, 0);
    }
}

#[tokio::test]
async fn pay_per_view_purchases_are_idempotent_and_never_overdraw() {
    for db in backends().await {
        let Live { app, .. } = live(db, true);
        let (host, _) = creator(&app, "host").await;
        let (viewer, viewer_id) = register(&app, "viewer").await;
        let s = create(
            &app,
            &host,
            json!({"kind": "video_live", "title": "Paid", "access": "pay_per_view", "priceCoins": 30}),
        )
        .await;
        let id = s["id"].as_str().unwrap();
        assert_eq!(s["priceCoins"], 30);
        post(&app, &host, &format!("/api/v1/live/{id}/start")).await;
        let (status, e) = post(&app, &viewer, &format!("/api/v1/live/{id}/join")).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::PAYMENT_REQUIRED, Some("payment_required"))
        );
        let (status, e) = buy(&app, &viewer, id, "k1").await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::PAYMENT_REQUIRED, Some("insufficient_funds"))
        );
        let (status, e) = top_up(&app, &viewer, 0).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        let (status, wallet) = top_up(&app, &viewer, 50).await;
        assert_eq!(status, StatusCode::OK, "{wallet}");
        assert_eq!(wallet["balance"], 50);

        let (status, first) = buy(&app, &viewer, id, "k1").await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["balance"], 20);
        assert_eq!(first["purchase"]["buyerId"], viewer_id.as_str());
        assert_eq!(first["purchase"]["priceCoins"], 30);
        let (status, again) = buy(&app, &viewer, id, "k1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, first);
        let (status, e) = buy(&app, &viewer, id, "k2").await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("already_purchased"))
        );
        let (status, e) = call(
            &app,
            "POST",
            &format!("/api/v1/live/{id}/purchase"),
            Some(&viewer),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        // Every change is a ledger entry: the top-up, then the one purchase.
        let (_, wallet) = call(&app, "GET", "/api/v1/wallet", Some(&viewer), None).await;
        assert_eq!(wallet["balance"], 20);
        let entries = wallet["entries"].as_array().unwrap();
        let amounts: Vec<i64> = entries
            .iter()
            .map(|e| e["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(amounts, [-30, 50]);
        assert_eq!(entries[0]["reason"], "purchase");
        assert_eq!(entries[0]["reference"], first["purchase"]["id"]);
        assert_eq!(entries[0]["balanceAfter"], 20);
        // The purchase admits, and again later.
        for _ in 0..2 {
            let (status, ticket) = post(&app, &viewer, &format!("/api/v1/live/{id}/join")).await;
            assert_eq!(status, StatusCode::OK, "{ticket}");
            assert_eq!(ticket["role"], "viewer");
        }
    }
}

#[tokio::test]
async fn concurrent_purchases_never_overdraw() {
    for db in backends().await {
        let Live { app, .. } = live(db, true);
        let (host, _) = creator(&app, "host").await;
        let (viewer, _) = register(&app, "viewer").await;
        let mut ids = Vec::new();
        for i in 0..6 {
            let s = create(
                &app,
                &host,
                json!({"kind": "audio_room", "title": format!("Paid {i}"), "access": "pay_per_view", "priceCoins": 4}),
            )
            .await;
            ids.push(s["id"].as_str().unwrap().to_owned());
        }
        top_up(&app, &viewer, 10).await;
        // Six sessions at 4 coins from a balance of 10, each bought twice at once (two
        // devices, two keys): exactly two purchases succeed.
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().chain(ids.iter()).enumerate() {
            let (app, viewer, id) = (app.clone(), viewer.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                buy(&app, &viewer, &id, &format!("key-{i}")).await
            }));
        }
        let mut created = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::PAYMENT_REQUIRED => assert_eq!(body["code"], "insufficient_funds"),
                StatusCode::CONFLICT => assert_eq!(body["code"], "already_purchased"),
                other => panic!("{other}: {body}"),
            }
        }
        assert_eq!(created, 2);
        assert_eq!(balance(&app, &viewer).await, 2);
        let (_, wallet) = call(&app, "GET", "/api/v1/wallet", Some(&viewer), None).await;
        let sum: i64 = wallet["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 2);
    }
}

/// A served API (gateway too) whose users are creators or not.
async fn served(db: Db) -> media_support::Harness {
    media_support::serve(db, 3).await
}

/// The next `LIVE_UPDATE` of session `id` satisfying `pred`.
async fn live_update(
    conn: &mut media_support::Conn,
    id: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    media_support::event_where(conn, "LIVE_UPDATE", |d| d["id"] == id && pred(d)).await
}

#[tokio::test]
async fn viewer_counts_come_from_media_events_and_are_announced() {
    for db in backends().await {
        let h = served(db).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let (a, b, c) = (
            h.user("alice").await,
            h.user("bob").await,
            h.user("carol").await,
        );
        let id = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "video_live", "title": "Counted", "access": "public", "maxViewers": 2}),
        )
        .await;
        let mut host_conn = h.connect(&host, "main").await;
        // Tokens are no places: all three get one while nobody is connected.
        for u in [&a, &b, &c] {
            let (status, t) = live_support::join(&h.app, &u.token, &id).await;
            assert_eq!(status, StatusCode::OK, "{t}");
        }
        live_support::joined(&h.services, &id, &host.id, "PA_host").await;
        assert_eq!(live_support::counts(&h.app, &a.token, &id).await, (0, 0));
        live_support::joined(&h.services, &id, &a.id, "PA_a").await;
        let d = live_update(&mut host_conn, &id, |d| d["viewerCount"] == 1).await;
        assert_eq!(
            (d["peakViewers"].as_i64(), d["state"].as_str()),
            (Some(1), Some("live"))
        );
        live_support::joined(&h.services, &id, &b.id, "PA_b").await;
        live_update(&mut host_conn, &id, |d| {
            d["viewerCount"] == 2 && d["peakViewers"] == 2
        })
        .await;
        // Full: a new token is refused, and a connection with an earlier one is removed.
        let (status, e) = live_support::join(&h.app, &c.token, &id).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("session_full"))
        );
        h.plane.taken();
        live_support::joined(&h.services, &id, &c.id, "PA_c").await;
        assert_eq!(
            h.plane.taken(),
            vec![PlaneCall::Remove {
                room: format!("live_{id}"),
                identity: c.id.clone()
            }]
        );
        assert_eq!(live_support::counts(&h.app, &a.token, &id).await, (2, 2));
        // A repeated event changes nothing; a rejoin (a new connection replacing the old one)
        // keeps its place, in either order of events.
        live_support::joined(&h.services, &id, &a.id, "PA_a").await;
        let (status, _) = live_support::join(&h.app, &a.token, &id).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "someone in the room may rejoin a full session"
        );
        live_support::joined(&h.services, &id, &a.id, "PA_a2").await;
        live_support::left(&h.services, &id, &a.id, "PA_a").await;
        assert_eq!(live_support::counts(&h.app, &a.token, &id).await, (2, 2));
        assert!(h.plane.taken().is_empty());
        // Leaving frees the place.
        live_support::left(&h.services, &id, &b.id, "PA_b").await;
        live_update(&mut host_conn, &id, |d| d["viewerCount"] == 1).await;
        live_support::left(&h.services, &id, &b.id, "PA_b").await;
        assert_eq!(live_support::counts(&h.app, &a.token, &id).await, (1, 2));
        let (status, _) = live_support::join(&h.app, &c.token, &id).await;
        assert_eq!(status, StatusCode::OK);
        // Ending disconnects everyone: the room is closed and nobody counts any more.
        let (status, _) = post(&h.app, &host.token, &format!("/api/v1/live/{id}/end")).await;
        assert_eq!(status, StatusCode::OK);
        let d = live_update(&mut host_conn, &id, |d| d["state"] == "ended").await;
        assert_eq!(d["endReason"], "host_ended");
        assert!(h.plane.taken().contains(&PlaneCall::DeleteRoom {
            room: format!("live_{id}")
        }));
        assert_eq!(live_support::counts(&h.app, &a.token, &id).await, (0, 2));
        // A late connection to an ended session is removed.
        live_support::joined(&h.services, &id, &c.id, "PA_c2").await;
        assert!(h.plane.taken().contains(&PlaneCall::Remove {
            room: format!("live_{id}"),
            identity: c.id.clone()
        }));
    }
}

#[tokio::test]
async fn concurrent_joins_never_exceed_max_viewers() {
    for db in backends().await {
        let h = served(db).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let id = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "audio_room", "title": "Crowded", "access": "public", "maxViewers": 3}),
        )
        .await;
        // Ten connections arrive at once for three places.
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (services, id) = (h.services.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                live_support::joined(&services, &id, &format!("user{i}"), &format!("PA_{i}")).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(live_support::counts(&h.app, &host.token, &id).await, (3, 3));
        let removed = h
            .plane
            .taken()
            .into_iter()
            .filter(|c| matches!(c, PlaneCall::Remove { .. }))
            .count();
        assert_eq!(removed, 7);
    }
}

#[tokio::test]
async fn sessions_end_by_themselves_and_fail_without_their_host() {
    for db in backends().await {
        let h = served(db).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let viewer = h.user("viewer").await;
        let mut host_conn = h.connect(&host, "main").await;
        let mut viewer_conn = h.connect(&viewer, "main").await;
        // The maximum duration, with nobody reading the session: the timer ends it at that
        // instant, and everyone watching hears it.
        let short = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "video_live", "title": "Short", "access": "public", "maxDurationSeconds": 30}),
        )
        .await;
        let started = live_support::get(&h.app, &host.token, &short).await["startedAt"]
            .as_i64()
            .unwrap();
        live_support::joined(&h.services, &short, &host.id, "PA_host").await;
        live_support::joined(&h.services, &short, &viewer.id, "PA_viewer").await;
        live_update(&mut viewer_conn, &short, |d| d["viewerCount"] == 1).await;
        h.plane.taken();
        h.advance(std::time::Duration::from_millis(29_999));
        h.advance(std::time::Duration::from_millis(1));
        let d = live_update(&mut viewer_conn, &short, |d| d["state"] == "ended").await;
        assert_eq!(d["endReason"], "max_duration");
        assert_eq!(d["endedAt"], started + 30_000);
        live_update(&mut host_conn, &short, |d| d["state"] == "ended").await;
        assert!(h.plane.taken().contains(&PlaneCall::DeleteRoom {
            room: format!("live_{short}")
        }));
        // A host who never connects: the session fails after the grace period.
        let never = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "audio_room", "title": "Empty", "access": "public"}),
        )
        .await;
        h.advance(std::time::Duration::from_millis(59_999));
        assert_eq!(
            live_support::get(&h.app, &host.token, &never).await["state"],
            "live"
        );
        h.advance(std::time::Duration::from_millis(1));
        let d = live_update(&mut host_conn, &never, |d| d["state"] == "failed").await;
        assert_eq!(d["endReason"], "host_never_connected");
    }
}

#[tokio::test]
async fn a_media_plane_failure_fails_the_session_tells_viewers_and_refunds() {
    for db in backends().await {
        let h = served(db).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let viewer = h.user("viewer").await;
        live_support::fund(&h.app, &viewer.id, 100).await;
        let mut viewer_conn = h.connect(&viewer, "main").await;
        let paid = json!({"kind": "video_live", "title": "Paid", "access": "pay_per_view", "priceCoins": 10});

        // The room disappears while live (its node died, or it was closed under the session).
        let lost_room = live_support::live(&h.app, &host.token, paid.clone()).await;
        let (status, p) = buy(&h.app, &viewer.token, &lost_room, "k-room").await;
        assert_eq!(status, StatusCode::CREATED, "{p}");
        live_support::joined(&h.services, &lost_room, &host.id, "PA_host1").await;
        live_support::joined(&h.services, &lost_room, &viewer.id, "PA_viewer1").await;
        live_update(&mut viewer_conn, &lost_room, |d| d["viewerCount"] == 1).await;
        // As the media plane reports it: everyone leaves first, then the room finishes; those
        // who were in it are told all the same.
        live_support::left(&h.services, &lost_room, &viewer.id, "PA_viewer1").await;
        live_support::left(&h.services, &lost_room, &host.id, "PA_host1").await;
        assert_eq!(
            live_support::counts(&h.app, &host.token, &lost_room)
                .await
                .0,
            0
        );
        live_support::media(
            &h.services,
            "room_finished",
            &lost_room,
            &host.id,
            "PA_host1",
        )
        .await;
        let d = live_update(&mut viewer_conn, &lost_room, |d| d["state"] == "failed").await;
        assert_eq!(d["endReason"], "media_room_closed");
        assert_eq!(d["endedAt"], h.services.clock.now_ms());
        assert_eq!(
            balance(&h.app, &viewer.token).await,
            100,
            "refunded in full"
        );
        assert_eq!(
            live_support::counts(&h.app, &host.token, &lost_room)
                .await
                .0,
            0
        );
        let (status, e) = live_support::join(&h.app, &viewer.token, &lost_room).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_live"))
        );

        // The host's connection is lost: back within the grace, nothing happens; gone for the
        // whole grace, the session fails at that instant.
        let lost_host = live_support::live(&h.app, &host.token, paid).await;
        let (status, _) = buy(&h.app, &viewer.token, &lost_host, "k-host").await;
        assert_eq!(status, StatusCode::CREATED);
        live_support::joined(&h.services, &lost_host, &host.id, "PA_host2").await;
        live_support::joined(&h.services, &lost_host, &viewer.id, "PA_viewer2").await;
        live_update(&mut viewer_conn, &lost_host, |d| d["viewerCount"] == 1).await;
        // A reconnect that replaces the connection (new sid first): never lost.
        live_support::joined(&h.services, &lost_host, &host.id, "PA_host3").await;
        live_support::left(&h.services, &lost_host, &host.id, "PA_host2").await;
        h.advance(std::time::Duration::from_millis(
            HOST_RECONNECT_GRACE_MS as u64 + 1,
        ));
        assert_eq!(
            live_support::get(&h.app, &host.token, &lost_host).await["state"],
            "live"
        );
        // Lost, and back after 30 s: the clock starts again at the next loss.
        live_support::left(&h.services, &lost_host, &host.id, "PA_host3").await;
        h.advance(std::time::Duration::from_secs(30));
        live_support::joined(&h.services, &lost_host, &host.id, "PA_host4").await;
        h.advance(std::time::Duration::from_secs(45));
        assert_eq!(
            live_support::get(&h.app, &host.token, &lost_host).await["state"],
            "live"
        );
        live_support::left(&h.services, &lost_host, &host.id, "PA_host4").await;
        let lost_at = h.services.clock.now_ms();
        h.advance(std::time::Duration::from_millis(
            HOST_RECONNECT_GRACE_MS as u64 - 1,
        ));
        assert_eq!(
            live_support::get(&h.app, &host.token, &lost_host).await["state"],
            "live"
        );
        h.plane.taken();
        // Nobody reads it: the timer fails it, and the viewer still in the room hears it.
        h.advance(std::time::Duration::from_millis(1));
        let d = live_update(&mut viewer_conn, &lost_host, |d| d["state"] == "failed").await;
        assert_eq!(d["endReason"], "host_connection_lost");
        assert_eq!(d["endedAt"], lost_at + HOST_RECONNECT_GRACE_MS);
        assert!(h.plane.taken().contains(&PlaneCall::DeleteRoom {
            room: format!("live_{lost_host}")
        }));
        assert_eq!(
            balance(&h.app, &viewer.token).await,
            100,
            "refunded in full"
        );
        let (_, wallet) = call(&h.app, "GET", "/api/v1/wallet", Some(&viewer.token), None).await;
        let refunds = wallet["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["reason"] == "refund")
            .count();
        assert_eq!(refunds, 2, "one refund per failed session");

        // A room closing after the host ended the session is no failure.
        let ended = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "audio_room", "title": "Done", "access": "public"}),
        )
        .await;
        live_support::joined(&h.services, &ended, &host.id, "PA_host5").await;
        post(&h.app, &host.token, &format!("/api/v1/live/{ended}/end")).await;
        live_support::media(&h.services, "room_finished", &ended, &host.id, "PA_host5").await;
        let s = live_support::get(&h.app, &host.token, &ended).await;
        assert_eq!(
            (s["state"].as_str(), s["endReason"].as_str()),
            (Some("ended"), Some("host_ended"))
        );
    }
}

#[tokio::test]
async fn failed_and_cancelled_sessions_refund_and_ended_ones_do_not() {
    for db in backends().await {
        let h = served(db).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let buyer = h.user("buyer").await;
        live_support::fund(&h.app, &buyer.id, 100).await;
        let paid = json!({"kind": "video_live", "title": "Paid", "access": "pay_per_view", "priceCoins": 10});
        let failing = live_support::live(&h.app, &host.token, paid.clone()).await;
        let cancelled = live_support::create(&h.app, &host.token, paid.clone()).await;
        let ended = live_support::live(&h.app, &host.token, paid).await;
        live_support::joined(&h.services, &ended, &host.id, "PA_host").await;
        let mut purchases = Vec::new();
        for (i, id) in [&failing, &cancelled, &ended].into_iter().enumerate() {
            let (status, p) = buy(&h.app, &buyer.token, id, &format!("k{i}")).await;
            assert_eq!(status, StatusCode::CREATED, "{p}");
            purchases.push(p["purchase"]["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(balance(&h.app, &buyer.token).await, 70);
        post(
            &h.app,
            &host.token,
            &format!("/api/v1/live/{cancelled}/end"),
        )
        .await;
        post(&h.app, &host.token, &format!("/api/v1/live/{ended}/end")).await;
        h.advance(std::time::Duration::from_secs(60));
        // Reading brings the failed one up to date too (whether or not the timer came first).
        assert_eq!(
            live_support::get(&h.app, &host.token, &failing).await["state"],
            "failed"
        );
        assert_eq!(balance(&h.app, &buyer.token).await, 90);
        let (_, wallet) = call(&h.app, "GET", "/api/v1/wallet", Some(&buyer.token), None).await;
        let mut refunds: Vec<String> = wallet["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["reason"] == "refund")
            .map(|e| {
                assert_eq!(e["amount"], 10);
                e["reference"].as_str().unwrap().to_owned()
            })
            .collect();
        refunds.sort();
        let mut expected = vec![purchases[0].clone(), purchases[1].clone()];
        expected.sort();
        assert_eq!(
            refunds, expected,
            "the failed and the cancelled one, once each"
        );
    }
}

#[tokio::test]
async fn credits_need_a_server_token_and_are_idempotent() {
    for db in backends().await {
        let h = served(db).await;
        let user = h.user("user").await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, None).await;
        let id = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "audio_room", "title": "Open", "access": "public"}),
        )
        .await;
        let (_, ticket) = live_support::join(&h.app, &user.token, &id).await;
        let media_token = ticket["token"].as_str().unwrap().to_owned();
        // No token, a user's session, a user's media token, the wrong secret: all refused.
        for bearer in [
            None,
            Some(user.token.as_str()),
            Some(media_token.as_str()),
            Some(&*live_support::server_token("not-the-secret")),
        ] {
            let (status, e) = live_support::credit(&h.app, bearer, &user.id, "pay-1", 40).await;
            assert_eq!(
                (status, e["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthorized"))
            );
        }
        assert_eq!(balance(&h.app, &user.token).await, 0);
        let server = live_support::server_token("secret");
        let (status, first) =
            live_support::credit(&h.app, Some(&server), &user.id, "pay-1", 40).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(
            (
                first["balance"].as_i64(),
                first["credit"]["amount"].as_i64()
            ),
            (Some(40), Some(40))
        );
        let (status, again) =
            live_support::credit(&h.app, Some(&server), &user.id, "pay-1", 40).await;
        assert_eq!((status, &again), (StatusCode::OK, &first));
        let (status, e) = live_support::credit(&h.app, Some(&server), &user.id, "pay-1", 41).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );
        let (status, _) =
            live_support::credit(&h.app, Some(&server), PLACEHOLDER, "pay-2", 5).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, wallet) = call(&h.app, "GET", "/api/v1/wallet", Some(&user.token), None).await;
        assert_eq!(wallet["balance"], 40);
        assert_eq!(wallet["entries"].as_array().unwrap().len(), 1);
        assert_eq!(wallet["entries"][0]["reason"], "credit");
        assert_eq!(wallet["entries"][0]["reference"], first["credit"]["id"]);
    }
}

const PLACEHOLDER: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn subscribers_only_admits_subscribers_until_the_period_ends() {
    for db in backends().await {
        let h = served(db).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, Some(25)).await;
        let fan = h.user("fan").await;
        let plain = h.user("plain").await;
        let id = live_support::live(
            &h.app,
            &host.token,
            json!({"kind": "video_live", "title": "Fans", "access": "subscribers_only"}),
        )
        .await;
        live_support::joined(&h.services, &id, &host.id, "PA_host").await;
        let path = format!("/api/v1/creators/{}/subscription", host.id);
        let (status, e) = live_support::join(&h.app, &fan.token, &id).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("subscription_required"))
        );
        let (status, e) = call(&h.app, "PUT", &path, Some(&fan.token), None).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::PAYMENT_REQUIRED, Some("insufficient_funds"))
        );
        // Someone who offers none.
        let (status, e) = call(
            &h.app,
            "PUT",
            &format!("/api/v1/creators/{}/subscription", plain.id),
            Some(&fan.token),
            None,
        )
        .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );
        live_support::fund(&h.app, &fan.id, 60).await;
        let (status, sub) = call(&h.app, "PUT", &path, Some(&fan.token), None).await;
        assert_eq!(status, StatusCode::CREATED, "{sub}");
        assert_eq!(sub["balance"], 35);
        assert_eq!(sub["subscription"]["priceCoins"], 25);
        assert_eq!(sub["subscription"]["cancelAtPeriodEnd"], false);
        let end = sub["subscription"]["currentPeriodEnd"].as_i64().unwrap();
        assert_eq!(end, h.services.clock.now_ms() + 30 * 24 * 3600 * 1000);
        let (status, again) = call(&h.app, "PUT", &path, Some(&fan.token), None).await;
        assert_eq!(
            (status, again["balance"].as_i64()),
            (StatusCode::OK, Some(35))
        );
        let (status, ticket) = live_support::join(&h.app, &fan.token, &id).await;
        assert_eq!(
            (status, ticket["role"].as_str()),
            (StatusCode::OK, Some("viewer"))
        );
        let (status, e) = live_support::join(&h.app, &plain.token, &id).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("subscription_required"))
        );
        // Cancelled: it still runs to the period's end, then admits no more.
        let (status, cancelled) = call(&h.app, "DELETE", &path, Some(&fan.token), None).await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");
        assert_eq!(cancelled["cancelAtPeriodEnd"], true);
        assert_eq!(cancelled["currentPeriodEnd"], end);
        let (status, _) = live_support::join(&h.app, &fan.token, &id).await;
        assert_eq!(status, StatusCode::OK);
        h.advance(std::time::Duration::from_millis(
            u64::try_from(end - h.services.clock.now_ms()).unwrap(),
        ));
        // (Sessions last 30 days too: sign in again.)
        let (status, session) = call(
            &h.app,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"handle": "fan", "password": "correct horse battery"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{session}");
        let fan = media_support::User {
            token: session["token"].as_str().unwrap().to_owned(),
            id: fan.id.clone(),
        };
        let (status, e) = live_support::join(&h.app, &fan.token, &id).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("subscription_required"))
        );
        let (status, _) = call(&h.app, "DELETE", &path, Some(&fan.token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // A new period, charged again.
        let (status, renewed) = call(&h.app, "PUT", &path, Some(&fan.token), None).await;
        assert_eq!(
            (status, renewed["balance"].as_i64()),
            (StatusCode::CREATED, Some(10))
        );
        let (status, _) = live_support::join(&h.app, &fan.token, &id).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn concurrent_subscribes_charge_once() {
    for db in backends().await {
        let h = served(db).await;
        let host = h.user("host").await;
        live_support::make_creator(&h.app, &host.token, Some(10)).await;
        let fan = h.user("fan").await;
        live_support::fund(&h.app, &fan.id, 100).await;
        let path = format!("/api/v1/creators/{}/subscription", host.id);
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (app, token, path) = (h.app.clone(), fan.token.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                call(&app, "PUT", &path, Some(&token), None).await.0
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                StatusCode::CREATED => created += 1,
                StatusCode::OK => {}
                other => panic!("{other}"),
            }
        }
        assert_eq!(created, 1);
        assert_eq!(balance(&h.app, &fan.token).await, 90);
    }
}
