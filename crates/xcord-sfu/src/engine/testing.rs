//! Engines for unit tests: a real engine driven by direct calls (no run loop, no socket), and
//! participants joined into it with grants built in place.

use std::sync::Arc;

use livekit_protocol as proto;
use tokio::sync::mpsc;

use super::{Engine, JoinRequest, Outbound, ParticipantKey};
use crate::auth::{JoinGrant, KeyStore, permission_from_grant};
use crate::config::SfuConfig;
use crate::events::EventBus;

pub fn engine() -> Engine {
    let cfg = SfuConfig::new(
        KeyStore::default(),
        vec![std::net::IpAddr::from([127, 0, 0, 1])],
    );
    Engine::new(
        Arc::new(cfg),
        super::MediaPorts {
            udp: 7882,
            tcp: None,
        },
        EventBus::default(),
        std::time::Instant::now(),
    )
}

/// A grant to join `room` as `identity`, allowed to publish and subscribe.
pub fn grant(room: &str, identity: &str) -> JoinGrant {
    let video = livekit_api::access_token::VideoGrants {
        room_join: true,
        room: room.into(),
        ..Default::default()
    };
    JoinGrant {
        identity: identity.into(),
        room: room.into(),
        name: identity.into(),
        metadata: String::new(),
        attributes: Default::default(),
        kind: proto::participant_info::Kind::Standard,
        permission: permission_from_grant(&video),
        claims: Default::default(),
    }
}

pub fn join(
    e: &mut Engine,
    room: &str,
    identity: &str,
) -> (ParticipantKey, mpsc::Receiver<Outbound>) {
    join_as(e, room, identity, false)
}

/// [`join`] over protocol v1 (one peer connection) when `single_pc`.
pub fn join_as(
    e: &mut Engine,
    room: &str,
    identity: &str,
    single_pc: bool,
) -> (ParticipantKey, mpsc::Receiver<Outbound>) {
    let (out, rx) = mpsc::channel(64);
    let request = JoinRequest {
        grant: grant(room, identity),
        out,
        auto_subscribe: true,
        protocol: 15,
        client_protocol: 0,
        single_pc,
        reuses_m_lines: true,
    };
    match e.join(request) {
        Ok(joined) => (joined.participant, rx),
        Err(err) => panic!("a test join was refused: {err}"),
    }
}
