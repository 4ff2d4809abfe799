//! Fuzzing entry for the Twirp RoomService (feature `fuzzing`; also built for tests): one
//! request from arbitrary bytes against the routes of a real engine started once per process.
//! A panic here is a finding, so the harness's own set-up may `expect`.
#![allow(clippy::expect_used)]

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use livekit_api::access_token::{AccessToken, VideoGrants};
use tower::ServiceExt as _;

use crate::auth::KeyStore;
use crate::{Sfu, SfuConfig};

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
const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/protobuf",
    "application/x-protobuf",
    "text/plain",
];
const NOT_OFFERED: [&str; 3] = ["ForwardParticipant", "MoveParticipant", "PerformRpc"];

struct Target {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    _sfu: Sfu,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the fuzz target");
        let keys = KeyStore::new([("fuzzkey".into(), "fuzzsecret".into())]);
        let mut cfg = SfuConfig::new(keys, vec![[127, 0, 0, 1].into()]);
        cfg.udp_port = 0;
        let sfu = runtime
            .block_on(async { Sfu::start(cfg) })
            .expect("the SFU starts");
        let token = AccessToken::with_api_key("fuzzkey", "fuzzsecret")
            .with_identity("fuzzer")
            .with_ttl(Duration::from_secs(24 * 3600))
            .with_grants(VideoGrants {
                room_create: true,
                room_list: true,
                room_admin: true,
                ..Default::default()
            })
            .to_jwt()
            .expect("a token");
        Target {
            router: sfu.router(),
            runtime,
            token,
            _sfu: sfu,
        }
    })
}

/// One Twirp request: the first byte picks the method, the second the content type, the rest
/// is the body. Panics if the answer is a server error (other than `unimplemented` for the
/// methods xcord does not offer) or a refusal that is not a Twirp JSON error.
pub fn twirp_request(data: &[u8]) {
    let t = target();
    let method = METHODS[usize::from(data.first().copied().unwrap_or(0)) % METHODS.len()];
    let content_type =
        CONTENT_TYPES[usize::from(data.get(1).copied().unwrap_or(0)) % CONTENT_TYPES.len()];
    let body = data.get(2..).unwrap_or_default().to_vec();
    let request = Request::post(format!("/twirp/livekit.RoomService/{method}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", t.token))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("a request");
    let (status, bytes) = t.runtime.block_on(async {
        let response = t.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        (status, bytes)
    });
    let unimplemented = status == StatusCode::NOT_IMPLEMENTED && NOT_OFFERED.contains(&method);
    assert!(
        !status.is_server_error() || unimplemented,
        "{method} {content_type}: {status} {bytes:?}"
    );
    if status != StatusCode::OK {
        let error: serde_json::Value = serde_json::from_slice(&bytes).expect("a JSON error");
        assert!(
            error["code"].is_string() && error["msg"].is_string(),
            "{error}"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fuzz_entry_takes_any_bytes() {
        for data in [
            &b""[..],
            b"\x00",
            b"\x00\x00{\"name\":\"r\"}",
            b"\x01\x01\xff\xff\xff",
            b"\x0b\x00",
            b"\x06\x00{\"room\":\"nope\",\"identity\":\"x\"}",
        ] {
            super::twirp_request(data);
        }
    }
}
