//! Property test of the Twirp RoomService entry: whatever the method name, content type and
//! body (random bytes, JSON of any shape, protobuf of the right message with random fields), a
//! request is answered without a panic or a server error (but `unimplemented` for the methods
//! xcord does not offer), and every refusal is a Twirp JSON
//! error `{code, msg}`. Runs against a real engine, in process (no socket).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use livekit_api::access_token::VideoGrants;
use livekit_protocol as proto;
use proptest::prelude::*;
use prost::Message as _;
use tower::ServiceExt as _;

const METHODS: [&str; 15] = [
    "CreateRoom",
    "ListRooms",
    "DeleteRoom",
    "UpdateRoomMetadata",
    "ListParticipants",
    "GetParticipant",
    "RemoveParticipant",
    "MutePublishedTrack",
    "UpdateParticipant",
    "UpdateSubscriptions",
    "SendData",
    "ForwardParticipant",
    "MoveParticipant",
    "PerformRpc",
    "NoSuchMethod",
];

const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/protobuf",
    "application/x-protobuf; charset=utf-8",
    "text/plain",
    "",
];

fn admin_token() -> String {
    common::token_with("fuzzer", "", |t, _| {
        (
            t,
            VideoGrants {
                room_create: true,
                room_list: true,
                room_admin: true,
                room: String::new(),
                ..Default::default()
            },
        )
    })
}

/// JSON values of any shape, a few levels deep, with the field names requests use.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    let key = prop_oneof![
        Just("room".to_owned()),
        Just("identity".to_owned()),
        Just("name".to_owned()),
        Just("metadata".to_owned()),
        Just("track_sid".to_owned()),
        Just("muted".to_owned()),
        Just("data".to_owned()),
        Just("kind".to_owned()),
        Just("permission".to_owned()),
        Just("max_participants".to_owned()),
        Just("destination_sids".to_owned()),
        "[a-z_]{1,12}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Protobuf bodies of the messages the methods take, with random field values.
fn protobuf_body() -> impl Strategy<Value = Vec<u8>> {
    (".{0,30}", ".{0,30}", ".{0,30}", any::<bool>(), any::<u32>()).prop_map(
        |(room, identity, text, flag, n)| {
            let mut out = Vec::new();
            match n % 5 {
                0 => proto::CreateRoomRequest {
                    name: room,
                    empty_timeout: n,
                    max_participants: n,
                    metadata: text,
                    ..Default::default()
                }
                .encode(&mut out),
                1 => proto::RoomParticipantIdentity {
                    room,
                    identity,
                    ..Default::default()
                }
                .encode(&mut out),
                2 => proto::MuteRoomTrackRequest {
                    room,
                    identity,
                    track_sid: text,
                    muted: flag,
                }
                .encode(&mut out),
                3 => proto::UpdateParticipantRequest {
                    room,
                    identity,
                    metadata: text,
                    permission: Some(proto::ParticipantPermission {
                        can_publish: flag,
                        ..Default::default()
                    }),
                    ..Default::default()
                }
                .encode(&mut out),
                _ => proto::SendDataRequest {
                    room,
                    data: text.into_bytes(),
                    destination_identities: vec![identity],
                    ..Default::default()
                }
                .encode(&mut out),
            }
            .map(|()| out)
            .unwrap_or_default()
        },
    )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        protobuf_body(),
    ]
}

#[test]
fn no_twirp_request_makes_the_room_service_fail() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sfu = rt.block_on(common::start());
    let router = sfu.sfu.router();
    let token = admin_token();
    let config = ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(method in prop::sample::select(METHODS.as_slice()),
                        content_type in prop::sample::select(CONTENT_TYPES.as_slice()),
                        body in body())| {
        let request = Request::post(format!("/twirp/livekit.RoomService/{method}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let (status, bytes) = rt.block_on(async {
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, bytes)
        });
        // 501 `unimplemented` is Twirp's answer for the methods xcord does not offer.
        let unimplemented = status == StatusCode::NOT_IMPLEMENTED
            && ["ForwardParticipant", "MoveParticipant", "PerformRpc"].contains(&method);
        prop_assert!(
            !status.is_server_error() || unimplemented,
            "{method} {content_type:?}: {status} {bytes:?}"
        );
        if status != StatusCode::OK {
            let error: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {bytes:?}")))?;
            prop_assert!(error["code"].is_string() && error["msg"].is_string(), "{error}");
        }
    });
    // The service still works afterwards.
    let request = Request::post("/twirp/livekit.RoomService/ListRooms")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let status = rt.block_on(async { router.oneshot(request).await.unwrap().status() });
    assert_eq!(status, StatusCode::OK);
}
