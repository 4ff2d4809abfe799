//! Direct conversations over the HTTP API, on SQLite and PostgreSQL: one conversation per pair,
//! privacy, message pagination and realtime delivery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use common::{app, app_with_state, backends, call, register, share_community};
use serde_json::{Value, json};
use xcord_control::app::Services;
use xcord_control::conversations;
use xcord_control::db::Db;

async fn open(app: &Router, token: &str, user_id: &str) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        "/api/v1/conversations",
        Some(token),
        Some(json!({ "userId": user_id })),
    )
    .await
}

/// alice and bob, (token, user id) each, and the conversation alice opened with bob as its
/// creation returned it.
struct Pair {
    app: Router,
    state: Arc<Services>,
    alice: (String, String),
    bob: (String, String),
    conversation: Value,
}

/// Registers alice and bob on `db`, who share a community; alice opens a conversation with bob.
async fn pair(db: Db) -> Pair {
    let (app, state) = app_with_state(db);
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    share_community(&app, &alice.0, &[&bob.0]).await;
    let (s, conversation) = open(&app, &alice.0, &bob.1).await;
    assert_eq!(s, StatusCode::CREATED, "{conversation}");
    Pair {
        app,
        state,
        alice,
        bob,
        conversation,
    }
}

#[tokio::test]
async fn a_new_conversation_has_both_users_and_no_messages() {
    for db in backends().await {
        let Pair {
            alice: (_, alice_id),
            bob: (_, bob_id),
            conversation: created,
            ..
        } = pair(db).await;
        let mut participants: Vec<&str> = created["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        participants.sort();
        let mut expected = [alice_id.as_str(), bob_id.as_str()];
        expected.sort();
        assert_eq!(participants, expected);
        assert_eq!(created["lastMessageAt"], Value::Null);
    }
}

#[tokio::test]
async fn a_pair_has_one_conversation_opened_from_either_side() {
    for db in backends().await {
        let Pair {
            app,
            alice: (alice, alice_id),
            bob: (bob, bob_id),
            conversation: created,
            ..
        } = pair(db).await;
        // the same conversation again, from either side
        let (s, again) = open(&app, &alice, &bob_id).await;
        assert_eq!((s, &again), (StatusCode::OK, &created));
        let (s, other_side) = open(&app, &bob, &alice_id).await;
        assert_eq!((s, &other_side), (StatusCode::OK, &created));
    }
}

#[tokio::test]
async fn a_conversation_is_with_another_existing_user() {
    for db in backends().await {
        let app = app(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (s, e) = open(&app, &alice, &alice_id).await;
        assert_eq!(
            (s, e["message"].as_str()),
            (
                StatusCode::BAD_REQUEST,
                Some("cannot start a conversation with yourself")
            )
        );
        let (s, e) = open(&app, &alice, "nobody").await;
        assert_eq!(
            (s, e["message"].as_str()),
            (StatusCode::NOT_FOUND, Some("user not found"))
        );
    }
}

#[tokio::test]
async fn opening_a_conversation_refuses_unknown_fields() {
    for db in backends().await {
        let app = app(db);
        let (alice, _) = register(&app, "alice").await;
        let (_, bob_id) = register(&app, "bob").await;
        let (s, e) = call(
            &app,
            "POST",
            "/api/v1/conversations",
            Some(&alice),
            Some(json!({"user": bob_id})),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `user`"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_third_user_sees_nothing_of_a_conversation() {
    for db in backends().await {
        let Pair {
            app,
            bob: (bob, _),
            conversation,
            ..
        } = pair(db).await;
        let (carol, _) = register(&app, "carol").await;
        let path = format!(
            "/api/v1/conversations/{}",
            conversation["id"].as_str().unwrap()
        );
        let messages = format!("{path}/messages");
        for (method, path, body) in [
            ("GET", path.as_str(), None),
            ("GET", messages.as_str(), None),
            (
                "POST",
                messages.as_str(),
                Some(json!({"content": "let me in"})),
            ),
        ] {
            let (s, e) = call(&app, method, path, Some(&carol), body).await;
            assert_eq!(
                (s, e["message"].as_str()),
                (StatusCode::NOT_FOUND, Some("conversation not found")),
                "{method} {path}"
            );
        }
        let (_, carols) = call(&app, "GET", "/api/v1/conversations", Some(&carol), None).await;
        assert_eq!(carols, json!([]));
        let (s, _) = call(&app, "GET", &path, Some(&bob), None).await;
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test]
async fn conversations_are_listed_most_recently_active_first() {
    for db in backends().await {
        let Pair {
            app,
            state,
            alice: (alice, _),
            bob: (bob, bob_id),
            conversation,
        } = pair(db).await;
        let (carol, carol_id) = register(&app, "carol").await;
        share_community(&app, &alice, &[&carol]).await;
        let id = conversation["id"].as_str().unwrap();
        let (s, with_carol) = open(&app, &alice, &carol_id).await;
        assert_eq!(s, StatusCode::CREATED);
        // a later millisecond than that creation, so the order below is certain
        state.clock.advance(std::time::Duration::from_millis(5));
        let (s, sent) = call(
            &app,
            "POST",
            &format!("/api/v1/conversations/{id}/messages"),
            Some(&bob),
            Some(json!({"content": "hi alice"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{sent}");
        assert_eq!(sent["conversationId"], id);
        assert_eq!(sent["author"]["id"], bob_id.as_str());
        let (_, mine) = call(&app, "GET", "/api/v1/conversations", Some(&alice), None).await;
        let ids: Vec<&str> = mine
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [id, with_carol["id"].as_str().unwrap()]);
        assert_eq!(mine[0]["lastMessageAt"], sent["createdAt"]);
    }
}

#[tokio::test]
async fn a_direct_message_must_be_1_to_4000_characters() {
    for db in backends().await {
        let Pair {
            app,
            alice: (alice, _),
            conversation,
            ..
        } = pair(db).await;
        let messages = format!(
            "/api/v1/conversations/{}/messages",
            conversation["id"].as_str().unwrap()
        );
        for content in ["", &"x".repeat(4001)] {
            let (s, e) = call(
                &app,
                "POST",
                &messages,
                Some(&alice),
                Some(json!({"content": content})),
            )
            .await;
            assert_eq!(
                (s, e["message"].as_str()),
                (
                    StatusCode::BAD_REQUEST,
                    Some("content must be 1 to 4000 characters")
                )
            );
        }
    }
}

#[tokio::test]
async fn messages_paginate_newest_first_exactly_once() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        share_community(&app, &alice, &[&bob]).await;
        let (_, conversation) = open(&app, &alice, &bob_id).await;
        let messages = format!(
            "/api/v1/conversations/{}/messages",
            conversation["id"].as_str().unwrap()
        );
        let mut sent = Vec::new();
        for i in 0..30 {
            // one a second: within each user's message limit
            state.clock.advance(std::time::Duration::from_secs(1));
            let token = if i % 3 == 0 { &bob } else { &alice };
            let (s, m) = call(
                &app,
                "POST",
                &messages,
                Some(token),
                Some(json!({"content": format!("dm {i}")})),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED);
            sent.push(m["id"].as_str().unwrap().to_owned());
        }
        let mut seen = Vec::new();
        let mut before = String::new();
        let mut sizes = Vec::new();
        loop {
            let query = if before.is_empty() {
                "?limit=7".to_owned()
            } else {
                format!("?limit=7&before={before}")
            };
            let (s, page) =
                call(&app, "GET", &format!("{messages}{query}"), Some(&bob), None).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            let page = page.as_array().unwrap().clone();
            sizes.push(page.len());
            let Some(last) = page.last() else { break };
            before = last["id"].as_str().unwrap().to_owned();
            seen.extend(
                page.iter()
                    .map(|m| m["content"].as_str().unwrap().to_owned()),
            );
        }
        assert_eq!(sizes, [7, 7, 7, 7, 2, 0]);
        let expected: Vec<String> = (0..30).rev().map(|i| format!("dm {i}")).collect();
        assert_eq!(seen, expected);
        let (s, e) = call(
            &app,
            "GET",
            &format!("{messages}?limit=500"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(
            (s, e["message"].as_str()),
            (
                StatusCode::BAD_REQUEST,
                Some("limit must be 1 to 100, got \"500\"")
            )
        );
    }
}

#[tokio::test]
async fn events_reach_both_participants_only() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        let (_, carol_id) = register(&app, "carol").await;
        share_community(&app, &alice, &[&bob]).await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_bob) = state.hub.connect(&bob_id);
        let (_, mut to_carol) = state.hub.connect(&carol_id);

        let (_, conversation) = open(&app, &alice, &bob_id).await;
        open(&app, &alice, &bob_id).await;
        let id = conversation["id"].as_str().unwrap();
        let (_, message) = call(
            &app,
            "POST",
            &format!("/api/v1/conversations/{id}/messages"),
            Some(&alice),
            Some(json!({"content": "psst"})),
        )
        .await;
        for rx in [&mut to_alice, &mut to_bob] {
            let created = rx.try_recv().unwrap();
            assert_eq!(created.kind, "CONVERSATION_CREATE");
            assert_eq!(created.data, conversation);
            let sent = rx.try_recv().unwrap();
            assert_eq!(sent.kind, "DM_MESSAGE_CREATE");
            assert_eq!(sent.data, message);
            assert!(rx.try_recv().is_err(), "opening again publishes nothing");
        }
        assert!(to_carol.try_recv().is_err());

        // the Ready snapshot's view of the same
        let of_bob = conversations::conversations_of(&state.db, &bob_id)
            .await
            .unwrap();
        assert_eq!(of_bob.len(), 1);
        assert_eq!(of_bob[0].id, id);
        assert_eq!(of_bob[0].last_message_at, message["createdAt"].as_i64());
        assert!(
            conversations::conversations_of(&state.db, &carol_id)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
