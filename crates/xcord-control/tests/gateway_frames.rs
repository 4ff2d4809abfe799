//! Property test of the gateway's client frames over a real WebSocket: any sequence of frames
//! (random bytes, random text, JSON frames with any op and any data, a real token or not, text
//! or binary) gets only well-formed answers — every server frame is JSON with a known `op`, an
//! error carries `{code, message}` — and never a panic: afterwards a new socket still
//! identifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::ws::{next, open, send};
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const SERVER_OPS: [&str; 7] = [
    "hello",
    "ready",
    "resumed",
    "invalid_session",
    "heartbeat_ack",
    "error",
    "event",
];

/// Where a frame's pieces come from; `Token` is replaced by a real session token.
#[derive(Clone, Debug)]
enum Frame {
    Bytes(Vec<u8>, bool),
    Json(Value, bool),
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        Just(Value::from("TOKEN")),
    ];
    let key = prop_oneof![
        Just("token".to_owned()),
        Just("kind".to_owned()),
        Just("sessionId".to_owned()),
        Just("seq".to_owned()),
        "[a-zA-Z]{1,10}",
    ];
    leaf.prop_recursive(3, 16, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    let op = prop_oneof![
        Just(Value::from("identify")),
        Just(Value::from("resume")),
        Just(Value::from("heartbeat")),
        ".{0,12}".prop_map(Value::from),
        any_json(),
    ];
    let json_frame = (
        op,
        prop::option::of(any_json()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(op, d, extra, binary)| {
            let mut f = json!({ "op": op });
            if let Some(d) = d {
                f["d"] = d;
            }
            if extra {
                f["x"] = json!(1);
            }
            Frame::Json(f, binary)
        });
    prop_oneof![
        3 => json_frame,
        1 => (prop::collection::vec(any::<u8>(), 0..200), any::<bool>())
            .prop_map(|(b, binary)| Frame::Bytes(b, binary)),
        1 => (".{0,200}", any::<bool>()).prop_map(|(s, binary)| Frame::Bytes(s.into_bytes(), binary)),
    ]
}

/// Replaces every "TOKEN" string in `v` with the real token.
fn with_token(v: &mut Value, token: &str) {
    match v {
        Value::String(s) if s == "TOKEN" => *s = token.to_owned(),
        Value::Array(a) => a.iter_mut().for_each(|x| with_token(x, token)),
        Value::Object(o) => o.values_mut().for_each(|x| with_token(x, token)),
        _ => {}
    }
}

/// Reads what the server sends until it closes or stays quiet; checks each frame.
async fn answers_are_well_formed(ws: &mut common::ws::Ws) -> Result<(), String> {
    loop {
        match tokio::time::timeout(Duration::from_millis(150), ws.next()).await {
            Err(_) | Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                return Ok(());
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value =
                    serde_json::from_str(t.as_str()).map_err(|e| format!("not JSON: {e}: {t}"))?;
                let op = v["op"].as_str().unwrap_or_default();
                if !SERVER_OPS.contains(&op) {
                    return Err(format!("unknown op: {v}"));
                }
                if op == "error" && !(v["d"]["code"].is_string() && v["d"]["message"].is_string()) {
                    return Err(format!("error without code and message: {v}"));
                }
            }
            Ok(Some(Ok(Message::Binary(b)))) => return Err(format!("binary frame: {b:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[test]
fn no_client_frames_break_the_gateway() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (addr, token) = rt.block_on(async {
        let db = common::databases().await.into_iter().next().unwrap();
        let (addr, state) = common::serve(db.clone()).await;
        let app = common::app(state.db.clone());
        let (token, _) = common::register(&app, "fuzzer").await;
        (addr, token)
    });
    let config = ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(frames in prop::collection::vec(frame(), 1..4))| {
        let outcome = rt.block_on(async {
            let mut ws = open(addr).await;
            for f in frames {
                let msg = match f {
                    Frame::Json(mut v, binary) => {
                        with_token(&mut v, &token);
                        if binary {
                            Message::Binary(v.to_string().into_bytes().into())
                        } else {
                            Message::Text(v.to_string().into())
                        }
                    }
                    Frame::Bytes(b, true) => Message::Binary(b.into()),
                    Frame::Bytes(b, false) => {
                        Message::Text(String::from_utf8_lossy(&b).into_owned().into())
                    }
                };
                if ws.send(msg).await.is_err() {
                    break;
                }
            }
            answers_are_well_formed(&mut ws).await
        });
        prop_assert!(outcome.is_ok(), "{outcome:?}");
    });
    // The gateway still serves: a new socket identifies.
    rt.block_on(async {
        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"op": "identify", "d": {"token": token, "kind": "main"}}),
        )
        .await;
        assert_eq!(next(&mut ws).await["op"], "ready");
    });
}
