//! Abuse limits on accounts, from outside: nobody can lock a user out, a handle that cannot exist
//! costs no limiter memory, registrations are limited per address with a retry hint. On SQLite
//! and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use common::{backends, call};
use serde_json::json;
use tower::ServiceExt;
use xcord_control::api;
use xcord_control::app::Services;

/// The API as seen from `ip`.
fn from(services: &Arc<Services>, ip: [u8; 4]) -> Router {
    api::router(services.clone()).layer(MockConnectInfo(SocketAddr::from((ip, 5000))))
}

async fn login(app: &Router, handle: &str, password: &str) -> StatusCode {
    let body = json!({"handle": handle, "password": password});
    call(app, "POST", "/api/v1/auth/login", None, Some(body))
        .await
        .0
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere() {
    for db in backends().await {
        let services = common::services(db);
        let attacker = from(&services, [10, 0, 0, 66]);
        let owner = from(&services, [10, 0, 0, 7]);
        common::register(&owner, "victim").await;
        for _ in 0..10 {
            assert_eq!(
                login(&attacker, "victim", "guess guess").await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            login(&attacker, "victim", "guess guess").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            login(&attacker, "victim", "correct horse battery").await,
            StatusCode::TOO_MANY_REQUESTS,
            "the hard limit holds for the (handle, address) pair"
        );
        assert_eq!(
            login(&owner, "victim", "correct horse battery").await,
            StatusCode::OK,
            "the right password from a clean address gets in"
        );
    }
}

#[tokio::test]
async fn failures_on_a_handle_from_anywhere_slow_it_down_but_never_refuse_it() {
    for db in backends().await {
        let services = common::services(db);
        let owner = from(&services, [10, 0, 2, 1]);
        common::register(&owner, "target").await;
        // 20 failures spread over addresses, none of which reaches its own limits
        for i in 0..20u8 {
            let attacker = from(&services, [10, 0, 3, i]);
            assert_eq!(
                login(&attacker, "target", "guess guess").await,
                StatusCode::UNAUTHORIZED
            );
        }
        let before = services.clock.now_ms();
        assert_eq!(
            login(&owner, "target", "correct horse battery").await,
            StatusCode::OK,
            "the right password still gets in"
        );
        assert_eq!(
            services.clock.now_ms() - before,
            1_000,
            "but only after the per-handle slow-down"
        );
        // another handle is not slowed
        common::register(&owner, "bystander").await;
        let before = services.clock.now_ms();
        assert_eq!(
            login(&owner, "bystander", "correct horse battery").await,
            StatusCode::OK
        );
        assert_eq!(services.clock.now_ms(), before);
    }
}

#[tokio::test]
async fn the_address_limit_comes_first_and_impossible_handles_are_never_keys() {
    for db in backends().await {
        let services = common::services(db);
        let app = from(&services, [10, 0, 0, 9]);
        // too long to be a handle, short enough for a log-in body
        let huge = "h".repeat(10_000);
        for _ in 0..30 {
            assert_eq!(
                login(&app, &huge, "whatever1").await,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            login(&app, &huge, "whatever1").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        let limits = &services.account_limits;
        assert_eq!(limits.failures_by_handle.len(), 0);
        assert_eq!(limits.failures_by_handle_and_address.len(), 0);
        assert_eq!(limits.login_by_address.len(), 1);
    }
}

#[tokio::test]
async fn registrations_are_limited_per_address_with_a_retry_hint() {
    for db in backends().await {
        let services = common::services(db);
        let busy = from(&services, [10, 0, 1, 1]);
        for i in 0..10 {
            common::register(&busy, &format!("reg{i}")).await;
        }
        let body =
            json!({"handle": "reg10", "displayName": "r", "password": "correct horse battery"});
        let request = Request::post("/api/v1/auth/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = busy.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0);
        // another address is not affected
        common::register(&from(&services, [10, 0, 1, 2]), "reg10").await;
    }
}

#[tokio::test]
async fn parallel_registrations_cannot_pass_the_address_limit_together() {
    for db in backends().await {
        let services = common::services(db);
        let app = from(&services, [10, 0, 4, 1]);
        let attempts = (0..24).map(|i| {
            let app = app.clone();
            async move {
                let body = json!({"handle": format!("par{i}"), "displayName": "p", "password": "correct horse battery"});
                common::call(&app, "POST", "/api/v1/auth/register", None, Some(body))
                    .await
                    .0
            }
        });
        let statuses = futures_util::future::join_all(attempts).await;
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let limited = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!((created, limited), (10, 14), "{statuses:?}");
    }
}

#[tokio::test]
async fn log_in_and_registration_bodies_are_small() {
    for db in backends().await {
        let services = common::services(db);
        let app = from(&services, [10, 0, 5, 1]);
        let huge = "h".repeat(api::AUTH_BODY_BYTES);
        for path in ["/api/v1/auth/login", "/api/v1/auth/register"] {
            let body =
                json!({"handle": huge, "displayName": "x", "password": "correct horse battery"});
            let (status, e) = common::call(&app, "POST", path, None, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {e}");
            assert_eq!(e["code"], "invalid_request");
        }
        // an ordinary one still fits
        common::register(&app, "small").await;
    }
}
