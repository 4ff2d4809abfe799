//! Calls and the global media session over HTTP: commands, the caller's snapshot, a call. The
//! rules live in `crate::media_session` and `crate::calls`.

use std::sync::Arc;

use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath as Path;
use super::error::{BadRequest, ErrorBody, NotFound, Unauthorized};
use super::params::CallId;
use super::{ApiJson, Session, State};
use crate::app::Services;
use crate::calls::{self, CallView};
use crate::error::Result;
use crate::media_session;
use crate::media_session::commands;
use crate::media_session::model::{ConnectionState, Snapshot};
use crate::schema::Id;

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .routes(routes!(command))
        .routes(routes!(my_session))
        .routes(routes!(call))
}

/// A command's type.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum CommandType {
    StartCall,
    AcceptCall,
    DeclineCall,
    JoinChannel,
    Leave,
    SetMute,
    SetDeafen,
    SetCamera,
    SetScreenShare,
    SetPip,
    ClaimOwner,
    ReportConnection,
}

/// A media-session command: `id`, `type`, the optional `epoch`, and the fields its type takes
/// (any other field is refused): `start_call {conversationId, video, connectionId?}`,
/// `accept_call {callId, connectionId?}`, `decline_call {callId}`,
/// `join_channel {channelId, connectionId?}` (`connectionId`: the gateway connection that acted,
/// which then owns the new session), `leave`, `set_mute {muted}`,
/// `set_deafen {deafened}` (deafening mutes too), `set_camera {enabled}`, `set_screen_share {enabled}`,
/// `set_pip {enabled, x, y, width, height, minimized}`, `claim_owner {connectionId}`,
/// `report_connection {connectionId, state}`.
#[derive(ToSchema)]
#[schema(as = MediaSessionCommand)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct CommandBody {
    /// Chosen by the client, 1 to 100 characters: the same id again returns the first answer.
    #[schema(min_length = 1, max_length = 100)]
    id: String,
    /// The session's epoch the command was sent at; a lower one than the session's is refused
    /// (409 `stale_epoch`).
    epoch: Option<i64>,
    #[serde(rename = "type")]
    command_type: CommandType,
    #[schema(value_type = Option<Id>)]
    conversation_id: Option<String>,
    video: Option<bool>,
    #[schema(value_type = Option<Id>)]
    call_id: Option<String>,
    #[schema(value_type = Option<Id>)]
    channel_id: Option<String>,
    muted: Option<bool>,
    deafened: Option<bool>,
    enabled: Option<bool>,
    x: Option<i32>,
    y: Option<i32>,
    #[schema(minimum = 0)]
    width: Option<i32>,
    #[schema(minimum = 0)]
    height: Option<i32>,
    minimized: Option<bool>,
    /// A gateway connection of the caller (Ready's `sessionId`).
    connection_id: Option<String>,
    state: Option<ConnectionState>,
}

/// What a command produced (`call` for the call commands).
#[derive(Serialize, ToSchema)]
struct CommandResult {
    call: Option<CallView>,
}

/// The answer to a command.
#[derive(Serialize, ToSchema)]
struct CommandAnswer {
    result: CommandResult,
    session: Snapshot,
}

/// Send a media-session command
///
/// From any of the caller's connections. The same `id` again returns the first answer and does
/// nothing more; an `epoch` lower than the session's is refused (409 `stale_epoch`).
/// `start_call` rings the other party of a direct conversation on every connection (or
/// answers a `busy` call); `accept_call` ends the current session and joins the call;
/// `decline_call` closes one ringing call; `join_channel` joins a voice or video channel
/// through voice's join checks; `leave` ends the session. Changes reach every connection as
/// `MEDIA_SESSION_UPDATE`; the owner connection gets `MEDIA_SESSION_CONNECT`.
#[utoipa::path(
    post,
    path = "/api/v1/media-session/commands",
    operation_id = "mediaSessionCommand",
    tag = "media-session",
    request_body = CommandBody,
    responses(
        (status = 200, description = "The command's result and the session after it.", body = CommandAnswer),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the callee of that call, or a channel's join check refused (`forbidden`, `channel_full`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "`stale_epoch`: the session has moved on; `conflict`: the call is no longer ringing, or only the owner reports its connection.", body = ErrorBody),
    ),
)]
async fn command(
    state: State,
    session: Session,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>> {
    let command = commands::parse(body)?;
    Ok(Json(commands::run(&state, &session.user, command).await?))
}

/// The caller's media session
#[utoipa::path(
    get,
    path = "/api/v1/users/@me/media-session",
    operation_id = "getMyMediaSession",
    tag = "media-session",
    responses(
        (status = 200, description = "The snapshot.", body = Snapshot),
        (status = 401, response = Unauthorized),
    ),
)]
async fn my_session(state: State, session: Session) -> Result<Json<Snapshot>> {
    Ok(Json(
        media_session::snapshot(&state, &session.user.id).await?,
    ))
}

/// A call
///
/// Only its two parties see it.
#[utoipa::path(
    get,
    path = "/api/v1/calls/{callId}",
    operation_id = "getCall",
    tag = "media-session",
    params(CallId),
    responses(
        (status = 200, description = "The call.", body = CallView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn call(state: State, session: Session, Path(id): Path<String>) -> Result<Json<CallView>> {
    Ok(Json(
        calls::service::get(&state, &session.user.id, &id).await?,
    ))
}
