//! Support for the live-session tests: creators, sessions, media events of a session's room
//! with chosen participant sids (a rejoin is a new sid), server tokens and credits through the
//! server API, and waiting for gateway events.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use serde_json::{Value, json};
use tower::ServiceExt;
use xcord_control::app::Services;

use crate::common::call;

/// Makes `token`'s user a creator (with a subscription price, when given).
pub async fn make_creator(app: &Router, token: &str, price: Option<i64>) {
    let mut body = json!({"isCreator": true});
    if let Some(p) = price {
        body["subscriptionPriceCoins"] = json!(p);
    }
    let (status, me) = call(app, "PATCH", "/api/v1/users/@me", Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

/// Creates a session and returns its id.
pub async fn create(app: &Router, token: &str, body: Value) -> String {
    let (status, s) = call(app, "POST", "/api/v1/live", Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    s["id"].as_str().unwrap().to_owned()
}

/// Creates and starts a session; returns its id.
pub async fn live(app: &Router, token: &str, body: Value) -> String {
    let id = create(app, token, body).await;
    let (status, s) = call(
        app,
        "POST",
        &format!("/api/v1/live/{id}/start"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    id
}

pub async fn get(app: &Router, token: &str, id: &str) -> Value {
    let (status, s) = call(app, "GET", &format!("/api/v1/live/{id}"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s
}

/// The (viewerCount, peakViewers) of a session.
pub async fn counts(app: &Router, token: &str, id: &str) -> (i64, i64) {
    let s = get(app, token, id).await;
    (
        s["viewerCount"].as_i64().unwrap(),
        s["peakViewers"].as_i64().unwrap(),
    )
}

pub async fn join(app: &Router, token: &str, id: &str) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        &format!("/api/v1/live/{id}/join"),
        Some(token),
        None,
    )
    .await
}

/// A media event of session `id`'s room about `identity`'s connection `sid` (with a
/// microphone track `TR_mic_<identity>`).
pub async fn media(services: &Arc<Services>, name: &str, id: &str, identity: &str, sid: &str) {
    let event = Arc::new(proto::WebhookEvent {
        id: xcord_control::db::new_id(),
        event: name.into(),
        room: Some(proto::Room {
            name: format!("live_{id}"),
            ..Default::default()
        }),
        participant: Some(proto::ParticipantInfo {
            sid: sid.into(),
            identity: identity.into(),
            tracks: vec![proto::TrackInfo {
                sid: format!("TR_mic_{identity}"),
                source: proto::TrackSource::Microphone as i32,
                r#type: proto::TrackType::Audio as i32,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    });
    xcord_control::media::events::deliver(services, &event).await;
}

pub async fn joined(services: &Arc<Services>, id: &str, identity: &str, sid: &str) {
    media(services, "participant_joined", id, identity, sid).await;
}

pub async fn left(services: &Arc<Services>, id: &str, identity: &str, sid: &str) {
    media(services, "participant_left", id, identity, sid).await;
}

/// A server token (what a server SDK makes for RoomService calls) signed with `secret`.
pub fn server_token(secret: &str) -> String {
    AccessToken::with_api_key("devkey", secret)
        .with_grants(VideoGrants {
            room_admin: true,
            room: "any".into(),
            ..Default::default()
        })
        .to_jwt()
        .unwrap()
}

/// `POST /api/v1/admin/wallets/{user}/credits` with `bearer` and `key`.
pub async fn credit(
    app: &Router,
    bearer: Option<&str>,
    user: &str,
    key: &str,
    amount: i64,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/admin/wallets/{user}/credits"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", key);
    if let Some(b) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
    }
    let req = req
        .body(Body::from(
            json!({"amount": amount, "reason": "payment"}).to_string(),
        ))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Credits `amount` coins to `user` through the server API.
pub async fn fund(app: &Router, user: &str, amount: i64) {
    let key = xcord_control::db::new_id();
    let (status, body) = credit(app, Some(&server_token("secret")), user, &key, amount).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
