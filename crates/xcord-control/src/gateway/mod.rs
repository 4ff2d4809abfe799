//! The realtime gateway WebSocket at `/api/v1/gateway` (JSON text frames).
//!
//! Server: `{"op":"hello","d":{"heartbeatInterval":ms}}` on open. Client, within 10 s:
//! `{"op":"identify","d":{"token":…,"kind":"main"|"overlay"|"mobile"}}` → `{"op":"ready","d":
//! {sessionId, user, …snapshot}}` (the snapshot replaces the client's state), or `{"op":"resume",
//! "d":{"token":…,"sessionId":…,"seq":N}}` → `{"op":"resumed","d":{"replayed":n}}` followed by
//! every event after N, or `{"op":"invalid_session","d":{"reason":…}}` (identify again).
//! Events: `{"op":"event","t":TYPE,"s":seq,"d":{…}}`, numbered per session. Heartbeats:
//! `{"op":"heartbeat"}` → `{"op":"heartbeat_ack"}`; a client silent for 1.5 intervals is
//! disconnected (its session stays resumable for a while). Errors: `{"op":"error","d":{code,
//! message}}`, then close.
//!
//! `snapshot` builds the Ready snapshot from every domain; `realtime` carries the events;
//! `admission` caps the sockets of each client address.

pub mod admission;
pub mod snapshot;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::accounts::{User, hash_token, store};
use crate::app::Services;
use crate::media_session;
use crate::realtime::session::{ConnectionKind, ResumeError, Sequenced, SessionHandle};

/// How often clients heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);
/// The whole pre-identify phase (pings do not extend it).
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest frame accepted before identify or resume.
pub const PRE_IDENTIFY_MAX_BYTES: usize = 4 * 1024;
/// The largest frame accepted at all (also the WebSocket message limit set at the upgrade).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// Gateway sessions one user may hold at once (windows and devices).
pub const MAX_SESSIONS_PER_USER: usize = 16;
const SOCKET_QUEUE: usize = 1024;

/// What a client may send.
enum ClientOp {
    Identify(Identify),
    Resume(Resume),
    Heartbeat,
}

/// Every client frame: an op name and its data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrame {
    op: String,
    #[serde(default)]
    d: Option<Value>,
}

impl RawFrame {
    fn into_op(self) -> Result<ClientOp, String> {
        let data = || {
            self.d
                .clone()
                .ok_or_else(|| format!("{} needs \"d\"", self.op))
        };
        match self.op.as_str() {
            "identify" => serde_json::from_value(data()?)
                .map(ClientOp::Identify)
                .map_err(|e| format!("identify: {e}")),
            "resume" => serde_json::from_value(data()?)
                .map(ClientOp::Resume)
                .map_err(|e| format!("resume: {e}")),
            "heartbeat" => Ok(ClientOp::Heartbeat),
            other => Err(format!("unknown op {other:?}")),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Identify {
    token: String,
    kind: Option<ConnectionKind>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Resume {
    token: String,
    session_id: String,
    seq: u64,
}

fn frame(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

fn error_frame(code: &str, message: &str) -> Message {
    frame(json!({"op": "error", "d": {"code": code, "message": message}}))
}

fn event_frame(e: &Sequenced) -> Message {
    frame(json!({"op": "event", "t": e.event.kind, "s": e.seq, "d": e.event.data}))
}

fn parse(msg: &Message) -> Option<Result<ClientOp, String>> {
    let raw: Result<RawFrame, _> = match msg {
        Message::Text(t) => serde_json::from_str(t.as_str()),
        Message::Binary(b) => serde_json::from_slice(b),
        _ => return None,
    };
    Some(raw.map_err(|e| e.to_string()).and_then(RawFrame::into_op))
}

/// Fuzzing entry (feature `fuzzing`; the socket-level property test is `tests/gateway_frames.rs`):
/// one client frame, text when the bytes are UTF-8, binary otherwise, read as the gateway reads
/// it. It may be refused, never panic.
#[cfg(feature = "fuzzing")]
pub fn fuzz_frame(data: &[u8]) {
    let msg = match std::str::from_utf8(data) {
        Ok(text) => Message::Text(text.into()),
        Err(_) => Message::Binary(data.to_vec().into()),
    };
    let _ = parse(&msg);
}

/// The user of a live account session, with how long that session still lives.
async fn user_of(state: &Services, token_hash: &str) -> Option<(User, Duration)> {
    let now = state.clock.now_ms();
    let (user, expires_at) = store::live_session(&state.db, token_hash, now)
        .await
        .ok()
        .flatten()?;
    let left = u64::try_from(expires_at.saturating_sub(now)).unwrap_or(0);
    Some((user, Duration::from_millis(left)))
}

fn frame_len(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 0,
    }
}

/// Speaks the gateway protocol on an upgraded socket until it closes; `ticket` is its place
/// among its address's sockets (given back when this returns).
pub async fn serve(state: Arc<Services>, socket: WebSocket, mut ticket: admission::Ticket) {
    let _open = crate::metrics::GaugeGuard::new(crate::metrics::GATEWAY_CONNECTIONS);
    let (mut sink, mut stream) = socket.split();
    let hello =
        json!({"op": "hello", "d": {"heartbeatInterval": HEARTBEAT_INTERVAL.as_millis() as u64}});
    if sink.send(frame(hello)).await.is_err() {
        return;
    }
    // The first frame must identify or resume, small, within one deadline.
    let deadline = tokio::time::Instant::now() + IDENTIFY_TIMEOUT;
    let first = loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(msg))) if frame_len(&msg) > PRE_IDENTIFY_MAX_BYTES => {
                let _ = sink
                    .send(error_frame(
                        "message_too_large",
                        "frames before identify are limited to 4 KiB",
                    ))
                    .await;
                let _ = sink.close().await;
                return;
            }
            Ok(Some(Ok(msg))) => match parse(&msg) {
                Some(op) => break op,
                None if matches!(msg, Message::Close(_)) => return,
                None => continue,
            },
            Ok(_) => return,
            Err(_) => {
                let _ = sink
                    .send(error_frame("timeout", "identify or resume within 10 s"))
                    .await;
                let _ = sink.close().await;
                return;
            }
        }
    };
    let (tx, mut rx) = mpsc::channel::<Sequenced>(SOCKET_QUEUE);
    if matches!(first, Ok(ClientOp::Identify(_) | ClientOp::Resume(_))) {
        ticket.identified();
    }
    let session: SessionHandle = match first {
        Ok(ClientOp::Identify(id)) => {
            let token_hash = hash_token(&id.token);
            let Some((user, lifetime)) = user_of(&state, &token_hash).await else {
                let _ = sink
                    .send(error_frame("unauthorized", "session is invalid or expired"))
                    .await;
                let _ = sink.close().await;
                return;
            };
            if state.sessions.of_user(&user.id).len() >= MAX_SESSIONS_PER_USER {
                let _ = sink
                    .send(error_frame(
                        "too_many_connections",
                        "too many gateway connections for this account",
                    ))
                    .await;
                let _ = sink.close().await;
                return;
            }
            let kind = id.kind.unwrap_or(ConnectionKind::Main);
            // Registered before the snapshot is read: nothing published meanwhile is lost.
            let session =
                state
                    .sessions
                    .start(state.hub.clone(), &user.id, kind, &token_hash, lifetime);
            // The media session knows the connection before the snapshot is read, so the
            // snapshot shows it as owner when it became one.
            if let Err(e) =
                media_session::connections::opened(&state, &user.id, &session.id, kind).await
            {
                tracing::warn!(user = %user.id, "media session did not hear of a connection: {e}");
            }
            let mut ready = match snapshot::ready(&state, &user).await {
                Ok(r) => r,
                Err(e) => {
                    session.detach();
                    tracing::error!("gateway snapshot failed: {e}");
                    let _ = sink
                        .send(error_frame(e.code().as_str(), e.client_message()))
                        .await;
                    let _ = sink.close().await;
                    return;
                }
            };
            if let Some(obj) = ready.as_object_mut() {
                obj.insert("sessionId".into(), json!(session.id));
                obj.insert("kind".into(), json!(kind));
                // The server's clock, so clients can count down to its instants (`expiresAt`).
                obj.insert("serverTime".into(), json!(state.clock.now_ms()));
            }
            if sink
                .send(frame(json!({"op": "ready", "d": ready})))
                .await
                .is_err()
            {
                session.detach();
                return;
            }
            if session.attach(tx, 0).await.is_err() {
                return;
            }
            session
        }
        Ok(ClientOp::Resume(r)) => {
            let user = user_of(&state, &hash_token(&r.token)).await;
            let found = state.sessions.get(&r.session_id);
            let result = match (user, found) {
                (Some((u, _)), Some(s)) if s.user_id == u.id => {
                    s.attach(tx, r.seq).await.map(|n| (s, n))
                }
                (Some(_), Some(_)) => Err(ResumeError::WrongUser),
                _ => Err(ResumeError::UnknownSession),
            };
            match result {
                Ok((s, replayed)) => {
                    if let Err(e) =
                        media_session::connections::opened(&state, &s.user_id, &s.id, s.kind).await
                    {
                        tracing::warn!(user = %s.user_id, "media session did not hear of a resume: {e}");
                    }
                    if sink
                        .send(frame(json!({"op": "resumed", "d": {"replayed": replayed}})))
                        .await
                        .is_err()
                    {
                        s.detach();
                        return;
                    }
                    s
                }
                Err(e) => {
                    let reason = match e {
                        ResumeError::Gap => {
                            "too many events missed: identify again for a fresh snapshot"
                        }
                        ResumeError::WrongUser | ResumeError::UnknownSession => {
                            "unknown or expired session: identify again"
                        }
                    };
                    let _ = sink
                        .send(frame(
                            json!({"op": "invalid_session", "d": {"reason": reason}}),
                        ))
                        .await;
                    let _ = sink.close().await;
                    return;
                }
            }
        }
        Ok(ClientOp::Heartbeat) => {
            let _ = sink
                .send(error_frame("not_identified", "identify or resume first"))
                .await;
            let _ = sink.close().await;
            return;
        }
        Err(e) => {
            let _ = sink
                .send(error_frame("invalid_request", &format!("bad frame: {e}")))
                .await;
            let _ = sink.close().await;
            return;
        }
    };

    let silence = HEARTBEAT_INTERVAL + HEARTBEAT_INTERVAL / 2;
    let mut deadline = tokio::time::Instant::now() + silence;
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                if sink.send(event_frame(&event)).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let msg = match incoming {
                    Some(Ok(m)) => m,
                    _ => break,
                };
                deadline = tokio::time::Instant::now() + silence;
                match parse(&msg) {
                    Some(Ok(ClientOp::Heartbeat)) => {
                        // The lease is renewed before the ack: an acked heartbeat counts.
                        if let Err(e) = media_session::connections::heartbeat(&state, &session.user_id, &session.id).await {
                            tracing::warn!(user = %session.user_id, "media session lease not renewed: {e}");
                        }
                        if sink.send(frame(json!({"op": "heartbeat_ack"}))).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {
                        let _ = sink.send(error_frame("invalid_request", "already identified")).await;
                    }
                    Some(Err(e)) => {
                        let _ = sink.send(error_frame("invalid_request", &format!("bad frame: {e}"))).await;
                    }
                    None if matches!(msg, Message::Close(_)) => break,
                    None => {}
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                let _ = sink.send(error_frame("heartbeat_timeout", "no heartbeat received")).await;
                break;
            }
        }
    }
    session.detach();
    let _ = sink.close().await;
    if let Err(e) = media_session::connections::closed(&state, &session.user_id, &session.id).await
    {
        tracing::warn!(user = %session.user_id, "media session did not hear of a close: {e}");
    }
}
