//! The realtime gateway over a real WebSocket: identify, Ready, sequenced events, heartbeats,
//! resume with replay, refusals, several connections per user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::ws::{closed, next, open, send};
use serde_json::json;
use xcord_control::realtime::hub::{Audience, GatewayEvent};

#[tokio::test]
async fn identify_ready_events_heartbeat_and_resume() {
    for db in common::backends().await {
        let (addr, state) = common::serve(db).await;
        let app = common::app(state.db.clone());
        let (token, user_id) = common::register(&app, "gwuser").await;

        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"op": "identify", "d": {"token": token, "kind": "main"}}),
        )
        .await;
        let ready = next(&mut ws).await;
        assert_eq!(ready["op"], "ready", "{ready}");
        assert_eq!(ready["d"]["user"]["id"], user_id.as_str());
        assert_eq!(ready["d"]["kind"], "main");
        assert_eq!(
            ready["d"]["serverTime"].as_i64(),
            Some(state.clock.now_ms()),
            "Ready carries the server's clock"
        );
        let session_id = ready["d"]["sessionId"].as_str().unwrap().to_owned();

        state.hub.publish(
            Audience::User(user_id.clone()),
            GatewayEvent::new("TEST_EVENT", json!({"n": 1})),
        );
        let e = next(&mut ws).await;
        assert_eq!(
            (e["op"].as_str(), e["t"].as_str(), e["s"].as_u64()),
            (Some("event"), Some("TEST_EVENT"), Some(1))
        );
        assert_eq!(e["d"]["n"], 1);

        send(&mut ws, json!({"op": "heartbeat"})).await;
        assert_eq!(next(&mut ws).await["op"], "heartbeat_ack");

        // the socket drops; events keep coming
        drop(ws);
        tokio::time::sleep(Duration::from_millis(100)).await;
        for n in 2..=3 {
            state.hub.publish(
                Audience::User(user_id.clone()),
                GatewayEvent::new("TEST_EVENT", json!({"n": n})),
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"op": "resume", "d": {"token": token, "sessionId": session_id, "seq": 1}}),
        )
        .await;
        let resumed = next(&mut ws).await;
        assert_eq!(
            (resumed["op"].as_str(), resumed["d"]["replayed"].as_u64()),
            (Some("resumed"), Some(2)),
            "{resumed}"
        );
        for (s, n) in [(2, 2), (3, 3)] {
            let e = next(&mut ws).await;
            assert_eq!(
                (e["s"].as_u64(), e["d"]["n"].as_i64()),
                (Some(s), Some(n)),
                "{e}"
            );
        }
        // live again
        state.hub.publish(
            Audience::User(user_id.clone()),
            GatewayEvent::new("TEST_EVENT", json!({"n": 4})),
        );
        assert_eq!(next(&mut ws).await["s"], 4);
    }
}

#[tokio::test]
async fn refusals_and_several_connections() {
    for db in common::backends().await {
        let (addr, state) = common::serve(db).await;
        let app = common::app(state.db.clone());
        let (token, user_id) = common::register(&app, "multi").await;
        let (other_token, _) = common::register(&app, "intruder").await;

        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"op": "identify", "d": {"token": "not-a-session"}}),
        )
        .await;
        let e = next(&mut ws).await;
        assert_eq!(
            (e["op"].as_str(), e["d"]["code"].as_str()),
            (Some("error"), Some("unauthorized"))
        );
        assert!(closed(&mut ws).await);

        let mut ws = open(addr).await;
        send(&mut ws, json!({"op": "heartbeat"})).await;
        assert_eq!(next(&mut ws).await["d"]["code"], "not_identified");

        let mut ws = open(addr).await;
        send(&mut ws, json!({"op": "dance"})).await;
        assert_eq!(next(&mut ws).await["d"]["code"], "invalid_request");

        let mut main = open(addr).await;
        send(
            &mut main,
            json!({"op": "identify", "d": {"token": token, "kind": "main"}}),
        )
        .await;
        let session_id = next(&mut main).await["d"]["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut overlay = open(addr).await;
        send(
            &mut overlay,
            json!({"op": "identify", "d": {"token": token, "kind": "overlay"}}),
        )
        .await;
        assert_eq!(next(&mut overlay).await["d"]["kind"], "overlay");

        state.hub.publish(
            Audience::User(user_id.clone()),
            GatewayEvent::new("BOTH", json!({})),
        );
        assert_eq!(next(&mut main).await["t"], "BOTH");
        assert_eq!(next(&mut overlay).await["t"], "BOTH");
        assert_eq!(state.sessions.of_user(&user_id).len(), 2);

        // another user cannot take over this session; unknown sessions are invalid
        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"op": "resume", "d": {"token": other_token, "sessionId": session_id, "seq": 0}}),
        )
        .await;
        assert_eq!(next(&mut ws).await["op"], "invalid_session");
        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"op": "resume", "d": {"token": token, "sessionId": "nope", "seq": 0}}),
        )
        .await;
        assert_eq!(next(&mut ws).await["op"], "invalid_session");
        // a sequence the session never reached is a gap: identify again
        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"op": "resume", "d": {"token": token, "sessionId": session_id, "seq": 500}}),
        )
        .await;
        let inv = next(&mut ws).await;
        assert_eq!(inv["op"], "invalid_session");
        assert!(
            inv["d"]["reason"]
                .as_str()
                .unwrap()
                .contains("identify again")
        );
    }
}
