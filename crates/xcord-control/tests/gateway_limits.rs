//! The gateway's limits over a real WebSocket: small frames before identify, a bounded number of
//! sessions per account, and log-out closing the sockets that token opened. On SQLite and
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ws::{Ws, closed, next, open};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn identify(addr: std::net::SocketAddr, token: &str) -> (Ws, Value) {
    let mut ws = open(addr).await;
    let frame = json!({"op": "identify", "d": {"token": token}});
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
    let answer = next(&mut ws).await;
    (ws, answer)
}

#[tokio::test]
async fn a_large_frame_before_identify_is_refused() {
    for db in common::backends().await {
        let (addr, _) = common::serve(db).await;
        let mut ws = open(addr).await;
        let padding = "x".repeat(5000);
        let frame = json!({"op": "identify", "d": {"token": padding}});
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
        let e = next(&mut ws).await;
        assert_eq!(
            (e["op"].as_str(), e["d"]["code"].as_str()),
            (Some("error"), Some("message_too_large"))
        );
        assert!(closed(&mut ws).await);
        // a message over the socket's 16 KiB limit closes it unread
        let mut ws = open(addr).await;
        let huge = "y".repeat(20 * 1024);
        let _ = ws.send(Message::Text(huge.into())).await;
        assert!(closed(&mut ws).await);
    }
}

#[tokio::test]
async fn an_account_holds_at_most_sixteen_sessions() {
    for db in common::backends().await {
        let (addr, state) = common::serve(db).await;
        let app = common::router(&state);
        let (token, _) = common::register(&app, "many").await;
        let mut sockets = Vec::new();
        for _ in 0..16 {
            let (ws, ready) = identify(addr, &token).await;
            assert_eq!(ready["op"], "ready", "{ready}");
            sockets.push(ws);
        }
        let (mut ws, refused) = identify(addr, &token).await;
        assert_eq!(refused["d"]["code"], "too_many_connections", "{refused}");
        assert!(closed(&mut ws).await);
    }
}

#[tokio::test]
async fn logging_out_closes_the_sockets_of_that_token_only() {
    for db in common::backends().await {
        let (addr, state) = common::serve(db).await;
        let app = common::router(&state);
        let (first, _) = common::register(&app, "leaver").await;
        let (s, second) = common::call(
            &app,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"handle": "leaver", "password": "correct horse battery"})),
        )
        .await;
        assert_eq!(s.as_u16(), 200);
        let second = second["token"].as_str().unwrap().to_owned();
        let (mut a, ready) = identify(addr, &first).await;
        assert_eq!(ready["op"], "ready");
        let (mut b, ready) = identify(addr, &second).await;
        assert_eq!(ready["op"], "ready");
        let (s, _) = common::call(&app, "POST", "/api/v1/auth/logout", Some(&first), None).await;
        assert_eq!(s.as_u16(), 204);
        assert!(closed(&mut a).await, "the logged-out token's socket closes");
        b.send(Message::Text(json!({"op": "heartbeat"}).to_string().into()))
            .await
            .unwrap();
        assert_eq!(
            next(&mut b).await["op"],
            "heartbeat_ack",
            "the other log-in stays"
        );
    }
}

#[tokio::test]
async fn one_address_holds_at_most_sixteen_unidentified_sockets() {
    for db in common::backends().await {
        let (addr, state) = common::serve(db).await;
        let app = common::router(&state);
        let (token, _) = common::register(&app, "crowd").await;
        let mut waiting = Vec::new();
        for _ in 0..16 {
            waiting.push(open(addr).await);
        }
        let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/gateway")).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
            panic!("the 17th unidentified socket was not refused: {refused:?}");
        };
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "10");
        let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"code": "rate_limited", "message": "too many gateway connections from this address are waiting to identify"})
        );
        // one of them identifies: its place among the waiting is free again
        let mut first = waiting.remove(0);
        common::ws::send(&mut first, json!({"op": "identify", "d": {"token": token}})).await;
        assert_eq!(next(&mut first).await["op"], "ready");
        let ip = addr.ip();
        assert_eq!(state.gateway_admission.open_from(ip), (16, 15));
        let mut another = open(addr).await;
        common::ws::send(&mut another, json!({"op": "heartbeat"})).await;
        assert_eq!(next(&mut another).await["d"]["code"], "not_identified");
        assert!(closed(&mut another).await);
        drop((first, waiting));
        // every socket closed: the address is forgotten (the server notices each close)
        let mut rounds = 0;
        while state.gateway_admission.addresses() != 0 {
            rounds += 1;
            assert!(
                rounds < 100_000,
                "sockets still counted: {:?}",
                state.gateway_admission.open_from(ip)
            );
            tokio::task::yield_now().await;
        }
    }
}
