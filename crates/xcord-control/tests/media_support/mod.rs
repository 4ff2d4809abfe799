//! Support for the call and media-session tests: the API and gateway served on loopback over
//! services with a manual clock and a recording media plane (it answers like an SFU with each
//! participant holding one microphone track, and remembers every call the control plane made),
//! users with named gateway connections, and commands.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use livekit_protocol as proto;
use serde_json::{Value, json};
use xcord_control::app::Services;
use xcord_control::clock::Clock;
use xcord_control::db::Db;
use xcord_control::media::{MediaAccess, MediaError, MediaPlane};
use xcord_control::media_session::Settings;

use crate::common::{self, ws};

/// What the control plane asked of the media plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlaneCall {
    Remove {
        room: String,
        identity: String,
    },
    Mute {
        room: String,
        identity: String,
        track: String,
    },
    DeleteRoom {
        room: String,
    },
    Subscriptions {
        room: String,
        identity: String,
        tracks: Vec<String>,
        subscribe: bool,
    },
    /// A live permission change: may they publish, which sources (LiveKit's numbers), hidden.
    Permission {
        room: String,
        identity: String,
        can_publish: bool,
        sources: Vec<i32>,
        hidden: bool,
    },
}

#[derive(Default)]
pub struct RecordingPlane {
    pub calls: Mutex<Vec<PlaneCall>>,
}

impl RecordingPlane {
    pub fn taken(&self) -> Vec<PlaneCall> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

fn mic(identity: &str) -> proto::TrackInfo {
    proto::TrackInfo {
        sid: format!("TR_mic_{identity}"),
        source: proto::TrackSource::Microphone as i32,
        r#type: proto::TrackType::Audio as i32,
        ..Default::default()
    }
}

fn participant(identity: &str) -> proto::ParticipantInfo {
    proto::ParticipantInfo {
        sid: format!("PA_{identity}"),
        identity: identity.to_owned(),
        tracks: vec![mic(identity)],
        ..Default::default()
    }
}

#[async_trait]
impl MediaPlane for RecordingPlane {
    fn kind(&self) -> &'static str {
        "recording"
    }
    async fn create_room(&self, _: proto::CreateRoomRequest) -> Result<proto::Room, MediaError> {
        Ok(proto::Room::default())
    }
    async fn list_rooms(&self, _: Vec<String>) -> Result<Vec<proto::Room>, MediaError> {
        Ok(Vec::new())
    }
    async fn delete_room(&self, room: &str) -> Result<(), MediaError> {
        self.calls.lock().unwrap().push(PlaneCall::DeleteRoom {
            room: room.to_owned(),
        });
        Ok(())
    }
    async fn update_room_metadata(&self, _: &str, _: &str) -> Result<proto::Room, MediaError> {
        Ok(proto::Room::default())
    }
    async fn list_participants(
        &self,
        room: &str,
    ) -> Result<Vec<proto::ParticipantInfo>, MediaError> {
        // Both parties of a call, whoever they are: the identities come from the room's users.
        let _ = room;
        Ok(vec![participant("peer")])
    }
    async fn get_participant(
        &self,
        _: &str,
        identity: &str,
    ) -> Result<proto::ParticipantInfo, MediaError> {
        Ok(participant(identity))
    }
    async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), MediaError> {
        self.calls.lock().unwrap().push(PlaneCall::Remove {
            room: room.into(),
            identity: identity.into(),
        });
        Ok(())
    }
    async fn mute_published_track(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
        muted: bool,
    ) -> Result<proto::TrackInfo, MediaError> {
        assert!(muted, "the server never unmutes remotely");
        self.calls.lock().unwrap().push(PlaneCall::Mute {
            room: room.into(),
            identity: identity.into(),
            track: track_sid.into(),
        });
        Ok(mic(identity))
    }
    async fn update_participant(
        &self,
        req: proto::UpdateParticipantRequest,
    ) -> Result<proto::ParticipantInfo, MediaError> {
        if let Some(p) = &req.permission {
            self.calls.lock().unwrap().push(PlaneCall::Permission {
                room: req.room.clone(),
                identity: req.identity.clone(),
                can_publish: p.can_publish,
                sources: p.can_publish_sources.clone(),
                hidden: p.hidden,
            });
        }
        Ok(proto::ParticipantInfo::default())
    }
    async fn update_subscriptions(
        &self,
        room: &str,
        identity: &str,
        track_sids: Vec<String>,
        subscribe: bool,
    ) -> Result<(), MediaError> {
        self.calls.lock().unwrap().push(PlaneCall::Subscriptions {
            room: room.into(),
            identity: identity.into(),
            tracks: track_sids,
            subscribe,
        });
        Ok(())
    }
    async fn send_data(&self, _: proto::SendDataRequest) -> Result<(), MediaError> {
        Ok(())
    }
}

/// The served API with its services and media plane.
pub struct Harness {
    pub addr: SocketAddr,
    pub services: Arc<Services>,
    pub plane: Arc<RecordingPlane>,
    pub app: Router,
}

pub const RING: Duration = Duration::from_secs(10);

pub async fn serve(db: Db, max_incoming_calls: usize) -> Harness {
    let plane = Arc::new(RecordingPlane::default());
    let services = xcord_control::services(db)
        .clock(Clock::manual(Clock::system().now_ms()))
        .call_settings(Settings {
            ring_timeout: RING,
            max_incoming_calls,
        })
        .media(
            plane.clone(),
            MediaAccess {
                url: "ws://media.test".into(),
                api_key: "devkey".into(),
                api_secret: "secret".into(),
            },
        )
        .build();
    let router = xcord_control::api::router(services.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let app = common::router(&services);
    Harness {
        addr,
        services,
        plane,
        app,
    }
}

/// A gateway connection: its socket and id (Ready's `sessionId`).
pub struct Conn {
    pub ws: ws::Ws,
    pub id: String,
    pub ready: Value,
    /// Frames read while waiting for something else, read first by [`frame`].
    backlog: std::collections::VecDeque<Value>,
}

/// The next frame of the connection, within 5 s.
pub async fn frame(conn: &mut Conn) -> Value {
    match conn.backlog.pop_front() {
        Some(f) => f,
        None => ws::next(&mut conn.ws).await,
    }
}

pub struct User {
    pub token: String,
    pub id: String,
}

impl Harness {
    pub async fn user(&self, handle: &str) -> User {
        let (token, id) = common::register(&self.app, handle).await;
        User { token, id }
    }

    pub async fn connect(&self, user: &User, kind: &str) -> Conn {
        let mut socket = ws::open(self.addr).await;
        ws::send(
            &mut socket,
            json!({"op": "identify", "d": {"token": user.token, "kind": kind}}),
        )
        .await;
        let ready = ws::next(&mut socket).await;
        assert_eq!(ready["op"], "ready", "{ready}");
        Conn {
            id: ready["d"]["sessionId"].as_str().unwrap().to_owned(),
            ws: socket,
            ready: ready["d"].clone(),
            backlog: Default::default(),
        }
    }

    /// A conversation between two users (who first share a community, as direct conversations
    /// may require); its id.
    pub async fn conversation(&self, a: &User, b: &User) -> String {
        let (s, community) = common::call(
            &self.app,
            "POST",
            "/api/v1/communities",
            Some(&a.token),
            Some(json!({"name": "Shared"})),
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{community}");
        let id = community["id"].as_str().unwrap();
        let (s, invite) = common::call(
            &self.app,
            "POST",
            &format!("/api/v1/communities/{id}/invites"),
            Some(&a.token),
            Some(json!({})),
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{invite}");
        let code = invite["code"].as_str().unwrap();
        let (s, joined) = common::call(
            &self.app,
            "POST",
            &format!("/api/v1/invites/{code}"),
            Some(&b.token),
            None,
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{joined}");
        let (s, c) = common::call(
            &self.app,
            "POST",
            "/api/v1/conversations",
            Some(&a.token),
            Some(json!({"userId": b.id})),
        )
        .await;
        assert!(s.is_success(), "{c}");
        c["id"].as_str().unwrap().to_owned()
    }

    /// Sends a command; returns the status and body.
    pub async fn command(&self, user: &User, body: Value) -> (u16, Value) {
        let (s, v) = common::call(
            &self.app,
            "POST",
            "/api/v1/media-session/commands",
            Some(&user.token),
            Some(body),
        )
        .await;
        (s.as_u16(), v)
    }

    /// A command that must succeed; its answer.
    pub async fn ok(&self, user: &User, body: Value) -> Value {
        let (s, v) = self.command(user, body.clone()).await;
        assert_eq!(s, 200, "{body} → {v}");
        v
    }

    pub async fn session(&self, user: &User) -> Value {
        let (s, v) = common::call(
            &self.app,
            "GET",
            "/api/v1/users/@me/media-session",
            Some(&user.token),
            None,
        )
        .await;
        assert_eq!(s.as_u16(), 200, "{v}");
        v
    }

    /// The media plane says `identity` joined `room` (with one microphone track).
    pub async fn joined(&self, room: &str, identity: &str) {
        self.media_event("participant_joined", room, identity).await;
    }

    pub async fn left(&self, room: &str, identity: &str) {
        self.media_event("participant_left", room, identity).await;
    }

    pub async fn media_event(&self, name: &str, room: &str, identity: &str) {
        let event = Arc::new(proto::WebhookEvent {
            id: xcord_control::db::new_id(),
            event: name.into(),
            room: Some(proto::Room {
                name: room.into(),
                ..Default::default()
            }),
            participant: Some(participant(identity)),
            ..Default::default()
        });
        xcord_control::media::events::deliver(&self.services, &event).await;
    }

    pub fn advance(&self, by: Duration) {
        self.services.clock.advance(by);
    }
}

/// A fresh command id.
pub fn cid() -> String {
    xcord_control::db::new_id()
}

/// The next event of type `t` on the connection (others are skipped), within 5 s.
pub async fn event(conn: &mut Conn, t: &str) -> Value {
    loop {
        let f = frame(conn).await;
        if f["op"] == "event" && f["t"] == t {
            return f["d"].clone();
        }
    }
}

/// The next event of type `t` whose data satisfies `pred`.
pub async fn event_where(conn: &mut Conn, t: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let d = event(conn, t).await;
        if pred(&d) {
            return d;
        }
    }
}

/// Every event type received until the next `t` event satisfying `pred` (inclusive).
pub async fn events_until(conn: &mut Conn, t: &str, pred: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let f = frame(conn).await;
        if f["op"] != "event" {
            continue;
        }
        let kind = f["t"].as_str().unwrap_or_default().to_owned();
        seen.push(kind.clone());
        if kind == t && pred(&f["d"]) {
            return seen;
        }
    }
}

/// Sends a heartbeat and waits for its ack (the lease is renewed before the ack).
pub async fn heartbeat(conn: &mut Conn) {
    ws::send(&mut conn.ws, json!({"op": "heartbeat"})).await;
    let mut kept = Vec::new();
    loop {
        let f = ws::next(&mut conn.ws).await;
        if f["op"] == "heartbeat_ack" {
            conn.backlog.extend(kept);
            return;
        }
        kept.push(f);
    }
}
