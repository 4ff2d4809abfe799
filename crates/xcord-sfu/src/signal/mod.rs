//! LiveKit's signalling endpoints over HTTP: `/rtc` (protocol v0, WebSocket), `/rtc/validate`,
//! the `/rtc/v1` paths (protocol v1, see [`v1`]; 404 while v1 is turned off, so current SDKs
//! fall back to v0), and the `/` health check.
//! Refusals happen before the upgrade, as plain text with LiveKit's statuses.

mod params;
mod session;
mod v1;

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::mpsc;
use tower_http::cors::CorsLayer;

use crate::auth::{AuthError, JoinGrant, join_grant, token_from_request};
use crate::config::SfuConfig;
use crate::engine::{EngineHandle, JoinError, JoinRequest, ResumeRequest, SIGNAL_QUEUE};
use crate::gate::GateSlot;
use crate::shards::MediaShards;

/// The largest signal message (and frame) a client may send. The biggest real ones are SDP
/// offers of tens of KiB; without a cap the WebSocket layer would buffer up to 64 MiB.
pub const MAX_SIGNAL_MESSAGE: usize = 1024 * 1024;
pub use params::ConnectParams;
pub use v1::JOINS_TOTAL;

#[derive(Clone)]
struct SignalState {
    cfg: Arc<SfuConfig>,
    /// Every media shard; a participant's requests go to its room's.
    engine: MediaShards,
    gate: GateSlot,
}

/// The signalling routes, ready to be merged into the server's router.
pub fn router(cfg: Arc<SfuConfig>, engine: MediaShards, gate: GateSlot) -> Router {
    Router::new()
        .route("/", get(health).head(health))
        .route("/rtc", get(rtc))
        .route("/rtc/validate", get(validate))
        .route("/rtc/v1", get(v1::rtc))
        .route("/rtc/v1/validate", get(v1::validate))
        .layer(CorsLayer::permissive())
        .with_state(SignalState { cfg, engine, gate })
}

async fn health() -> &'static str {
    "OK"
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn plain(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn authorize(
    state: &SignalState,
    headers: &HeaderMap,
    params: &ConnectParams,
) -> Result<JoinGrant, AuthError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = token_from_request(authorization, params.access_token.as_deref())?
        .ok_or(AuthError::NoGrant)?;
    let claims = state.cfg.keys.verify(&token)?;
    join_grant(claims)
}

/// The application's gate, and the SFU's own list of revoked tickets, for a verified grant.
async fn admit(state: &SignalState, grant: &JoinGrant) -> Result<(), JoinError> {
    let rooms = crate::rooms::RoomService::new(state.engine.clone());
    if !rooms.admits(grant).await.unwrap_or(true) {
        return Err(JoinError::Removed);
    }
    state
        .gate
        .check(&grant.room, &grant.identity, grant.kind)
        .await
        .map_err(JoinError::Refused)
}

async fn validate(
    State(state): State<SignalState>,
    headers: HeaderMap,
    Query(params): Query<ConnectParams>,
) -> Response {
    let grant = match authorize(&state, &headers, &params) {
        Ok(g) => g,
        Err(e) => return plain(e.status(), e.to_string()),
    };
    if let Err(e) = admit(&state, &grant).await {
        return plain(e.status(), e.to_string());
    }
    let rooms = crate::rooms::RoomService::new(state.engine.clone());
    if !state.cfg.auto_create && !rooms.room_exists(grant.room).await.unwrap_or(false) {
        let e = crate::engine::JoinError::RoomNotFound;
        return plain(e.status(), e.to_string());
    }
    (StatusCode::OK, "success").into_response()
}

async fn rtc(
    State(state): State<SignalState>,
    headers: HeaderMap,
    Query(params): Query<ConnectParams>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return not_found().await;
    };
    let grant = match authorize(&state, &headers, &params) {
        Ok(g) => g,
        Err(e) => return plain(e.status(), e.to_string()),
    };
    if let Err(e) = admit(&state, &grant).await {
        return plain(e.status(), e.to_string());
    }
    let (out_tx, out_rx) = mpsc::channel(SIGNAL_QUEUE);
    let engine = state.engine.for_room(&grant.room).clone();
    let joined = if params.is_reconnect() {
        let request = ResumeRequest {
            grant: grant.clone(),
            sid: params.sid.clone().filter(|s| !s.is_empty()),
            out: out_tx,
        };
        match engine.resume(request).await {
            Ok(j) => j,
            Err(e) => {
                // The SDKs expect a leave asking for a full reconnect as the first frame, not
                // an HTTP error (which they would keep retrying as a resume).
                tracing::info!(identity = %grant.identity, "resume refused: {e}");
                return ws.on_upgrade(session::refuse_resume);
            }
        }
    } else {
        let request = JoinRequest {
            grant: grant.clone(),
            out: out_tx,
            auto_subscribe: params.auto_subscribe(),
            protocol: params.protocol.unwrap_or(0),
            client_protocol: params.client_protocol.unwrap_or(0),
            single_pc: false,
            reuses_m_lines: params.reuses_m_lines(),
        };
        let joined = match engine.join(request).await {
            Ok(j) => j,
            Err(e) => return plain(e.status(), e.to_string()),
        };
        v1::record_join(
            v1::SignalProtocol::V0,
            &grant.room,
            &joined.sid,
            &grant.identity,
        );
        joined
    };
    upgrade(ws, &state, engine, grant, joined, out_rx)
}

/// Upgrades to the participant's signal session (a join's or a resume's, on either path), served
/// by `engine`, the shard of its room.
fn upgrade(
    ws: WebSocketUpgrade,
    state: &SignalState,
    engine: EngineHandle,
    grant: JoinGrant,
    joined: crate::engine::Joined,
    out_rx: mpsc::Receiver<crate::engine::Outbound>,
) -> Response {
    let key = joined.signal_key();
    let failed_engine = engine.clone();
    let ctx = session::SessionContext {
        engine,
        cfg: state.cfg.clone(),
        claims: grant.claims,
        joined,
    };
    ws.on_failed_upgrade(move |e| {
        tracing::debug!("signal upgrade failed: {e}");
        let reason = livekit_protocol::DisconnectReason::JoinFailure;
        if let Err(e) = failed_engine.try_disconnected(key, reason) {
            // Its signal queue is closed: it is dropped once a message to it fails, or at its
            // connect timeout.
            tracing::warn!("participant of a failed upgrade not removed yet: {e}");
        }
    })
    .max_message_size(MAX_SIGNAL_MESSAGE)
    .max_frame_size(MAX_SIGNAL_MESSAGE)
    .on_upgrade(move |socket| session::run(socket, ctx, out_rx))
}
