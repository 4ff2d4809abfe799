//! Test support: the control plane's API over a fresh database of each backend — a SQLite file
//! always, and PostgreSQL when `XCORD_TEST_POSTGRES_URL` is set (`tests/with-postgres.sh`; under
//! `CI=true` it must be).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod ws;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use xcord_control::api;
use xcord_control::app::Services;
use xcord_control::clock::Clock;
use xcord_control::db::Db;

/// Fresh, migrated databases, one per available backend. Each is announced on stderr as the
/// loop reaches it, so a failing test's output names the backend it failed on.
pub struct Backends(std::vec::IntoIter<Db>);

impl Iterator for Backends {
    type Item = Db;
    fn next(&mut self) -> Option<Db> {
        let db = self.0.next()?;
        eprintln!("=== on backend {:?}", db.backend);
        Some(db)
    }
}

/// Every available backend, announced as a loop reaches it (`for db in backends().await`).
pub async fn backends() -> Backends {
    Backends(databases().await.into_iter())
}

/// A fresh, migrated database on every available backend.
pub async fn databases() -> Vec<Db> {
    let dir = std::env::temp_dir().join(format!("xcord-test-{}", xcord_control::db::new_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut dbs = vec![Db::connect(&Db::default_url(&dir)).await.expect("sqlite")];
    match std::env::var("XCORD_TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            let name = format!("xcord_t_{}", xcord_control::db::new_id());
            let admin = Db::connect_admin(&admin_url)
                .await
                .expect("postgres admin connection");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("create database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            dbs.push(
                Db::connect(&format!("{base}/{name}"))
                    .await
                    .expect("postgres"),
            );
        }
        Err(_) if std::env::var("CI").is_ok() => {
            panic!(
                "CI must run the control-plane tests against PostgreSQL too (tests/with-postgres.sh)"
            )
        }
        Err(_) => eprintln!("XCORD_TEST_POSTGRES_URL not set: PostgreSQL skipped"),
    }
    dbs
}

/// Services over `db` with a manual clock (starting at the real time), so a test can move
/// time on with `services.clock.advance(…)` instead of sleeping.
pub fn services(db: Db) -> std::sync::Arc<Services> {
    xcord_control::services(db)
        .clock(Clock::manual(Clock::system().now_ms()))
        .build()
}

/// The API router over existing services, as a client from 10.0.0.1 would see it.
pub fn router(services: &std::sync::Arc<Services>) -> Router {
    api::router(services.clone()).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 1], 5000))))
}

/// The API router over `db`, as a client from 10.0.0.1 would see it.
pub fn app(db: Db) -> Router {
    app_with_state(db).0
}

/// One API call: returns the status and the JSON body (`Null` when empty).
pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, json)
}

/// Registers a user and returns (session token, user id).
pub async fn register(app: &Router, handle: &str) -> (String, String) {
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(serde_json::json!({"handle": handle, "displayName": handle, "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["token"].as_str().unwrap().to_owned(),
        body["user"]["id"].as_str().unwrap().to_owned(),
    )
}

/// `owner` creates a community and each of `others` (session tokens) joins it by invite, so
/// that they share a community (as a direct conversation needs). Returns the community id.
pub async fn share_community(app: &Router, owner: &str, others: &[&str]) -> String {
    let (status, community) = call(
        app,
        "POST",
        "/api/v1/communities",
        Some(owner),
        Some(serde_json::json!({"name": "Shared"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{community}");
    let id = community["id"].as_str().unwrap().to_owned();
    let (status, invite) = call(
        app,
        "POST",
        &format!("/api/v1/communities/{id}/invites"),
        Some(owner),
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let code = invite["code"].as_str().unwrap();
    for token in others {
        let (status, body) = call(
            app,
            "POST",
            &format!("/api/v1/invites/{code}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    id
}

/// Serves the API over `db` on a loopback port; returns its address and the shared state.
pub async fn serve(db: Db) -> (SocketAddr, std::sync::Arc<Services>) {
    let state = services(db);
    let router = api::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (addr, state)
}

/// The API router over `db` (as `app` builds it) and its shared state, for tests that watch
/// the hub (`state.hub.connect(user_id)`).
pub fn app_with_state(db: Db) -> (Router, std::sync::Arc<Services>) {
    let state = services(db);
    let router =
        api::router(state.clone()).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 1], 5000))));
    (router, state)
}
