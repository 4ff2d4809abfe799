//! What signed-in users may write, from outside: per-user limits on channel messages, direct
//! messages and invites (decided at exact instants of the manual clock, with `Retry-After`), the
//! rule that a direct conversation needs a shared community (without telling outsiders who
//! has an account), and names and content that show nothing. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{app_with_state, backends, call, register, share_community};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A POST with a JSON body: the status, the `Retry-After` header and the body.
async fn post(
    app: &Router,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Option<u64>, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, retry, json)
}

fn assert_limited(got: (StatusCode, Option<u64>, Value), retry: u64, what: &str) {
    assert_eq!(got.0, StatusCode::TOO_MANY_REQUESTS, "{}", got.2);
    assert_eq!(got.1, Some(retry), "Retry-After");
    assert_eq!(got.2["code"], "rate_limited");
    assert_eq!(
        got.2["message"],
        format!("too many {what}; try again in {retry} s")
    );
}

/// The first text channel of community `id`, as `token` sees it.
async fn text_channel(app: &Router, token: &str, id: &str) -> String {
    let (s, view) = call(
        app,
        "GET",
        &format!("/api/v1/communities/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    view["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "text")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn channel_messages_are_limited_per_user_to_10_per_10_seconds() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, _) = register(&app, "bob").await;
        let community = share_community(&app, &alice, &[&bob]).await;
        let path = format!(
            "/api/v1/channels/{}/messages",
            text_channel(&app, &alice, &community).await
        );
        let say = |token: &str, i: u32| {
            let (app, path, token) = (app.clone(), path.clone(), token.to_owned());
            async move { post(&app, &path, &token, json!({"content": format!("m{i}")})).await }
        };
        for i in 0..9 {
            assert_eq!(say(&alice, i).await.0, StatusCode::CREATED, "message {i}");
        }
        state.clock.advance(Duration::from_millis(1_500));
        assert_eq!(say(&alice, 9).await.0, StatusCode::CREATED, "the 10th");
        assert_limited(say(&alice, 10).await, 9, "messages");
        assert_eq!(
            say(&bob, 0).await.0,
            StatusCode::CREATED,
            "another user has their own count"
        );
        // 1 ms before the window ends: still refused, with the shortest hint
        state.clock.advance(Duration::from_millis(8_499));
        assert_limited(say(&alice, 11).await, 1, "messages");
        // exactly when it ends: allowed again
        state.clock.advance(Duration::from_millis(1));
        assert_eq!(say(&alice, 12).await.0, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn direct_messages_are_limited_per_user_to_10_per_10_seconds() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        share_community(&app, &alice, &[&bob]).await;
        let (s, _, conversation) = post(
            &app,
            "/api/v1/conversations",
            &alice,
            json!({"userId": bob_id}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{conversation}");
        let path = format!(
            "/api/v1/conversations/{}/messages",
            conversation["id"].as_str().unwrap()
        );
        for i in 0..10 {
            let (s, _, body) =
                post(&app, &path, &alice, json!({"content": format!("dm {i}")})).await;
            assert_eq!(s, StatusCode::CREATED, "{body}");
        }
        assert_limited(
            post(&app, &path, &alice, json!({"content": "one more"})).await,
            10,
            "messages",
        );
        state.clock.advance(Duration::from_millis(9_999));
        assert_limited(
            post(&app, &path, &alice, json!({"content": "one more"})).await,
            1,
            "messages",
        );
        state.clock.advance(Duration::from_millis(1));
        assert_eq!(
            post(&app, &path, &alice, json!({"content": "now"})).await.0,
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn invites_are_limited_per_user_to_10_per_10_minutes() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, _) = register(&app, "alice").await;
        // share_community creates one invite
        let community = share_community(&app, &alice, &[]).await;
        let path = format!("/api/v1/communities/{community}/invites");
        for i in 1..10 {
            assert_eq!(
                post(&app, &path, &alice, json!({})).await.0,
                StatusCode::CREATED,
                "invite {i}"
            );
        }
        assert_limited(post(&app, &path, &alice, json!({})).await, 600, "invites");
        state.clock.advance(Duration::from_secs(599));
        assert_limited(post(&app, &path, &alice, json!({})).await, 1, "invites");
        state.clock.advance(Duration::from_secs(1));
        assert_eq!(
            post(&app, &path, &alice, json!({})).await.0,
            StatusCode::CREATED
        );
    }
}

#[tokio::test]
async fn a_direct_conversation_needs_a_shared_community_and_outsiders_learn_nothing() {
    for db in backends().await {
        let (app, _) = app_with_state(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        let open = |user: &str| {
            let (app, alice, user) = (app.clone(), alice.clone(), user.to_owned());
            async move {
                post(
                    &app,
                    "/api/v1/conversations",
                    &alice,
                    json!({"userId": user}),
                )
                .await
            }
        };
        let stranger = open(&bob_id).await;
        let unknown = open(&xcord_control::db::new_id()).await;
        assert_eq!(stranger.0, StatusCode::NOT_FOUND);
        assert_eq!(
            (stranger.0, &stranger.2),
            (unknown.0, &unknown.2),
            "a user one shares nothing with looks like no user at all"
        );
        assert_eq!(stranger.2["message"], "user not found");

        let community = share_community(&app, &alice, &[&bob]).await;
        let (s, _, conversation) = open(&bob_id).await;
        assert_eq!(s, StatusCode::CREATED, "{conversation}");
        let messages = format!(
            "/api/v1/conversations/{}/messages",
            conversation["id"].as_str().unwrap()
        );
        assert_eq!(
            post(&app, &messages, &bob, json!({"content": "hi"}))
                .await
                .0,
            StatusCode::CREATED
        );

        // bob leaves: the conversation stays readable, but neither writes in it
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("/api/v1/users/@me/communities/{community}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        for token in [&alice, &bob] {
            let (s, _, e) = post(&app, &messages, token, json!({"content": "still there?"})).await;
            assert_eq!(s, StatusCode::FORBIDDEN);
            assert_eq!(
                e["message"],
                "you no longer share a community with this user"
            );
        }
        let (s, history) = call(&app, "GET", &messages, Some(&bob), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(history.as_array().unwrap().len(), 1);
        assert_eq!(open(&bob_id).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn names_that_show_nothing_or_reorder_text_are_refused() {
    for db in backends().await {
        let (app, _) = app_with_state(db);
        let (status, body) = call(
            &app,
            "POST",
            "/api/v1/auth/register",
            None,
            Some(json!({"handle": "ghost", "displayName": "\u{200B}\u{200B}", "password": "correct horse battery"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"code": "invalid_request", "message": "displayName must contain a visible character"})
        );
        let (alice, _) = register(&app, "alice").await;
        let (status, body) = call(
            &app,
            "PATCH",
            "/api/v1/users/@me",
            Some(&alice),
            Some(json!({"displayName": "alice\u{202E}nimda"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["message"],
            "displayName must not contain bidirectional control characters (U+202E)"
        );
        let (status, _) = call(
            &app,
            "PATCH",
            "/api/v1/users/@me",
            Some(&alice),
            Some(json!({"displayName": "Alice 👩‍💻"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "emoji keep their joiners");

        let (status, body) = call(
            &app,
            "POST",
            "/api/v1/communities",
            Some(&alice),
            Some(json!({"name": "\u{3164}\u{3164}"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["message"], "name must contain a visible character");

        let community = share_community(&app, &alice, &[]).await;
        let (status, body) = call(
            &app,
            "POST",
            &format!("/api/v1/communities/{community}/roles"),
            Some(&alice),
            Some(json!({"name": "Mods\u{200B}"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["message"],
            "name must not contain invisible characters (U+200B)"
        );

        let channel = text_channel(&app, &alice, &community).await;
        let (status, body) = call(
            &app,
            "POST",
            &format!("/api/v1/channels/{channel}/messages"),
            Some(&alice),
            Some(json!({"content": "\u{200B} \u{200B}\u{FEFF}"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"code": "invalid_request", "message": "content must be 1 to 4000 characters"}),
            "the same answer as empty content"
        );
    }
}
