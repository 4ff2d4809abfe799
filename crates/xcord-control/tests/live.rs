//! Live sessions over the API on every backend: creators only, the lifecycle (host only, the
//! maximum duration on the manual clock), joins with their roles and grants (hidden audience),
//! the access rules and their refusals, and pay-per-view purchases paid from the wallet:
//! idempotent per key, one per buyer, never overdrawing, also under concurrent purchases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
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
        let Live { app, .. } = live(db, false);
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
        // Full at one viewer: a rejoin still works, a newcomer is refused.
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

        // An audio room's audience listens; subscribers-only admits only the host for now.
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
