//! Accounts over the HTTP API, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{app, backends, call, register};
use serde_json::json;

#[tokio::test]
async fn register_login_profile_logout() {
    for db in backends().await {
        let backend = db.backend;
        let app = app(db);
        let (token, id) = register(&app, "Alice").await;

        let (s, me) = call(&app, "GET", "/api/v1/users/@me", Some(&token), None).await;
        assert_eq!(s, StatusCode::OK, "{backend:?}");
        assert_eq!(me["id"], id.as_str());
        assert_eq!(me["handle"], "Alice");
        assert_eq!(me["isCreator"], false);
        assert!(me["avatarGradient"][0].as_str().unwrap().starts_with('#'));

        // handles are unique without regard to case
        let (s, e) = call(
            &app,
            "POST",
            "/api/v1/auth/register",
            None,
            Some(
                json!({"handle": "alice", "displayName": "Other", "password": "another password"}),
            ),
        )
        .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict")),
            "{backend:?} {e}"
        );

        let (s, login) = call(
            &app,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"handle": "ALICE", "password": "correct horse battery"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{backend:?} {login}");
        let second = login["token"].as_str().unwrap().to_owned();
        assert_ne!(second, token);

        let (s, e) = call(
            &app,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"handle": "alice", "password": "wrong password"})),
        )
        .await;
        assert_eq!(
            (s, e["message"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid handle or password"))
        );

        let (s, updated) = call(&app, "PATCH", "/api/v1/users/@me", Some(&second),
            Some(json!({"displayName": "  Alice A.  ", "avatarGradient": ["#112233", "#445566"], "isCreator": true}))).await;
        assert_eq!(s, StatusCode::OK, "{updated}");
        assert_eq!(updated["displayName"], "Alice A.");
        assert_eq!(updated["avatarGradient"], json!(["#112233", "#445566"]));
        assert_eq!(updated["isCreator"], true);

        let (s, _) = call(&app, "POST", "/api/v1/auth/logout", Some(&token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, e) = call(&app, "GET", "/api/v1/users/@me", Some(&token), None).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized"))
        );
        // the other session is unaffected
        let (s, _) = call(&app, "GET", "/api/v1/users/@me", Some(&second), None).await;
        assert_eq!(s, StatusCode::OK);

        let (s, other) = call(
            &app,
            "GET",
            &format!("/api/v1/users/{id}"),
            Some(&second),
            None,
        )
        .await;
        assert_eq!(
            (s, other["handle"].as_str()),
            (StatusCode::OK, Some("Alice"))
        );
    }
}

#[tokio::test]
async fn bad_input_gets_precise_errors() {
    for db in backends().await {
        let app = app(db);
        let cases = [
            (
                json!({"handle": "ab", "displayName": "x", "password": "long enough"}),
                "handle must be 3 to 32 characters",
            ),
            (
                json!({"handle": "has space", "displayName": "x", "password": "long enough"}),
                "handle may contain only letters, digits, '_' and '.'",
            ),
            (
                json!({"handle": "bob", "displayName": "", "password": "long enough"}),
                "displayName must be 1 to 64 characters",
            ),
            (
                json!({"handle": "bob", "displayName": "Bob", "password": "short"}),
                "password must be 8 to 128 characters",
            ),
            (
                json!({"handle": "bob", "displayName": "Bob", "password": "long enough", "avatarGradient": ["red", "#000000"]}),
                "avatarGradient colours must be #rrggbb, got \"red\"",
            ),
        ];
        for (body, message) in cases {
            let (s, e) = call(
                &app,
                "POST",
                "/api/v1/auth/register",
                None,
                Some(body.clone()),
            )
            .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(e["code"], "invalid_request");
            assert_eq!(e["message"], message, "{body}");
        }
        // malformed JSON and unknown fields are refused with a message, not a panic
        let (s, e) = call(&app, "POST", "/api/v1/auth/register", None, Some(json!({"handle": "bob", "displayName": "Bob", "password": "long enough", "admin": true}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `admin`"),
            "{e}"
        );
        let (s, e) = call(&app, "GET", "/api/v1/users/@me", None, None).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized"))
        );
        // a path parameter that is not UTF-8 is a JSON error too
        let (token, _) = register(&app, "pathcheck").await;
        let (s, e) = call(&app, "GET", "/api/v1/users/%FF", Some(&token), None).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{e}"
        );
        let (s, e) = call(&app, "GET", "/api/v1/nowhere", None, None).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        // nothing was half-written
        let (s, _) = call(
            &app,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"handle": "bob", "password": "long enough"})),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn login_attempts_are_rate_limited() {
    for db in backends().await {
        let app = app(db);
        register(&app, "carol").await;
        let mut statuses = Vec::new();
        for _ in 0..12 {
            let (s, _) = call(
                &app,
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"handle": "carol", "password": "wrong password"})),
            )
            .await;
            statuses.push(s);
        }
        assert!(
            statuses[..10]
                .iter()
                .all(|s| *s == StatusCode::UNAUTHORIZED),
            "{statuses:?}"
        );
        assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
        // even the right password is refused while limited
        let (s, e) = call(
            &app,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"handle": "carol", "password": "correct horse battery"})),
        )
        .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
        );
    }
}
