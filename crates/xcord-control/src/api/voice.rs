//! Voice and video channels over HTTP: joining, who is in a channel, one's own flags, and
//! moderation. The rules live in `crate::voice::service`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::ApiPath as Path;
use super::{ApiJson, Session, State};
use crate::app::Services;
use crate::error::Result;
use crate::voice::VoiceState;
use crate::voice::service::{self, ServerFlag};
use crate::voice::token::MediaTicket;

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/api/v1/channels/{id}/voice", get(channel_states))
        .route("/api/v1/channels/{id}/voice/join", post(join))
        .route("/api/v1/voice/@me", patch(update_self))
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/mute",
            post(server_mute),
        )
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/deafen",
            post(server_deafen),
        )
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/move",
            post(move_member),
        )
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/disconnect",
            post(disconnect),
        )
}

/// `POST /api/v1/channels/{id}/voice/join` → `{url, token, room, channelId, expiresAt}`.
async fn join(
    state: State,
    session: Session,
    Path(channel_id): Path<String>,
) -> Result<Json<MediaTicket>> {
    Ok(Json(
        service::join(&state, &session.user, &channel_id).await?,
    ))
}

/// `GET /api/v1/channels/{id}/voice` → the channel's voice states.
async fn channel_states(
    state: State,
    session: Session,
    Path(channel_id): Path<String>,
) -> Result<Json<Vec<VoiceState>>> {
    Ok(Json(
        service::states(&state, &session.user.id, &channel_id).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SelfFlags {
    self_mute: Option<bool>,
    self_deaf: Option<bool>,
}

/// `PATCH /api/v1/voice/@me {selfMute?, selfDeaf?}` → the caller's updated voice state.
async fn update_self(
    state: State,
    session: Session,
    ApiJson(req): ApiJson<SelfFlags>,
) -> Result<Json<VoiceState>> {
    Ok(Json(
        service::set_self_flags(&state, &session.user.id, req.self_mute, req.self_deaf).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MuteRequest {
    muted: bool,
}

/// `POST …/members/{userId}/mute {muted}` (MUTE_MEMBERS): the member stays connected but can no
/// longer publish a microphone.
async fn server_mute(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<MuteRequest>,
) -> Result<Json<VoiceState>> {
    let s = service::set_server_flag(
        &state,
        &session.user,
        &channel_id,
        &target,
        ServerFlag::Mute,
        req.muted,
    )
    .await?;
    Ok(Json(s))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeafenRequest {
    deafened: bool,
}

/// `POST …/members/{userId}/deafen {deafened}` (DEAFEN_MEMBERS): the member receives nothing.
async fn server_deafen(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<DeafenRequest>,
) -> Result<Json<VoiceState>> {
    let s = service::set_server_flag(
        &state,
        &session.user,
        &channel_id,
        &target,
        ServerFlag::Deafen,
        req.deafened,
    )
    .await?;
    Ok(Json(s))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MoveRequest {
    channel_id: String,
}

/// `POST …/members/{userId}/move {channelId}` (MOVE_MEMBERS in both channels).
async fn move_member(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<MoveRequest>,
) -> Result<StatusCode> {
    service::move_member(&state, &session.user, &channel_id, &target, &req.channel_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/members/{userId}/disconnect` (MOVE_MEMBERS): removes the member from the room.
async fn disconnect(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
) -> Result<StatusCode> {
    service::disconnect(&state, &session.user, &channel_id, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}
