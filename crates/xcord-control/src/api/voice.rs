//! Voice and video channels over HTTP: joining, who is in a channel, one's own flags, and
//! moderation. The rules live in `crate::voice::service`.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath as Path;
use super::error::{BadRequest, ErrorBody, Forbidden, MediaUnavailable, NotFound, Unauthorized};
use super::params::{ChannelId, UserId};
use super::{ApiJson, Session, State};
use crate::app::Services;
use crate::error::Result;
use crate::schema::Id;
use crate::voice::VoiceState;
use crate::voice::service::{self, ServerFlag};
use crate::voice::token::MediaTicket;

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .routes(routes!(channel_states))
        .routes(routes!(join))
        .routes(routes!(update_self))
        .routes(routes!(server_mute))
        .routes(routes!(server_deafen))
        .routes(routes!(move_member))
        .routes(routes!(disconnect))
}

/// A media token for a voice channel
///
/// For members with VIEW_CHANNEL and CONNECT; 400 for a text channel. The caller's voice state
/// appears once they connect to the media room. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channelId}/voice/join",
    operation_id = "joinVoice",
    tag = "voice",
    params(ChannelId),
    responses(
        (status = 200, description = "Where and how to connect.", body = MediaTicket),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Banned or missing CONNECT (`forbidden`), or the channel is full (`channel_full`; members with MOVE_MEMBERS may join full channels).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn join(
    state: State,
    session: Session,
    Path(channel_id): Path<String>,
) -> Result<Json<MediaTicket>> {
    Ok(Json(
        service::join(&state, &session.user, &channel_id).await?,
    ))
}

/// Who is in a voice channel
///
/// For members with VIEW_CHANNEL; 400 for a text channel.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channelId}/voice",
    operation_id = "listVoiceStates",
    tag = "voice",
    params(ChannelId),
    responses(
        (status = 200, description = "The channel's voice states.", body = Vec<VoiceState>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn channel_states(
    state: State,
    session: Session,
    Path(channel_id): Path<String>,
) -> Result<Json<Vec<VoiceState>>> {
    Ok(Json(
        service::states(&state, &session.user.id, &channel_id).await?,
    ))
}

/// The flags to change; absent or `null` flags keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VoiceSelfRequest {
    self_mute: Option<bool>,
    self_deaf: Option<bool>,
}

/// Set one's own mute and deafen flags
///
/// 404 when the caller is not in a voice channel. VOICE_STATE_UPDATE is sent.
#[utoipa::path(
    patch,
    path = "/api/v1/voice/@me",
    operation_id = "updateMyVoiceState",
    tag = "voice",
    request_body = VoiceSelfRequest,
    responses(
        (status = 200, description = "The caller's updated voice state.", body = VoiceState),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn update_self(
    state: State,
    session: Session,
    ApiJson(req): ApiJson<VoiceSelfRequest>,
) -> Result<Json<VoiceState>> {
    Ok(Json(
        service::set_self_flags(&state, &session.user.id, req.self_mute, req.self_deaf).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServerMuteRequest {
    muted: bool,
}

/// Server-mute a member
///
/// Needs MUTE_MEMBERS. The member stays connected but can no longer publish a microphone
/// (applied at the media plane at once).
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channelId}/voice/members/{userId}/mute",
    operation_id = "serverMute",
    tag = "voice",
    params(ChannelId, UserId),
    request_body = ServerMuteRequest,
    responses(
        (status = 200, description = "The member's voice state.", body = VoiceState),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn server_mute(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<ServerMuteRequest>,
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServerDeafenRequest {
    deafened: bool,
}

/// Server-deafen a member
///
/// Needs DEAFEN_MEMBERS. The member receives nothing (applied at the media plane at once).
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channelId}/voice/members/{userId}/deafen",
    operation_id = "serverDeafen",
    tag = "voice",
    params(ChannelId, UserId),
    request_body = ServerDeafenRequest,
    responses(
        (status = 200, description = "The member's voice state.", body = VoiceState),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn server_deafen(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<ServerDeafenRequest>,
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MoveRequest {
    /// The target voice or video channel, in the same community.
    #[schema(value_type = Id)]
    channel_id: String,
}

/// Move a member to another voice channel
///
/// Needs MOVE_MEMBERS in both channels, which must be in the same community (400 otherwise).
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channelId}/voice/members/{userId}/move",
    operation_id = "moveMember",
    tag = "voice",
    params(ChannelId, UserId),
    request_body = MoveRequest,
    responses(
        (status = 204, description = "The member got a token for the target channel (VOICE_MOVE) and left the old room."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn move_member(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<MoveRequest>,
) -> Result<StatusCode> {
    service::move_member(&state, &session.user, &channel_id, &target, &req.channel_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disconnect a member from voice
///
/// Needs MOVE_MEMBERS. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channelId}/voice/members/{userId}/disconnect",
    operation_id = "disconnectMember",
    tag = "voice",
    params(ChannelId, UserId),
    responses(
        (status = 204, description = "The member is removed from the media room."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn disconnect(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
) -> Result<StatusCode> {
    service::disconnect(&state, &session.user, &channel_id, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}
