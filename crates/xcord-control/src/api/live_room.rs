//! What happens inside a live session over HTTP: the stage (hands, invitations, accepting,
//! back to the audience), moderation (kick, ban, mute, deleting messages, the log; each with an
//! optional `reason`) and chat. The rules live in `crate::live::{stage, moderation, chat}`.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath as Path;
use super::error::{BadRequest, ErrorBody, MediaUnavailable, NotFound, Unauthorized};
use super::optional_json::OptionalJson;
use super::params::{LiveSessionId, MessageId, UserId};
use super::{ApiJson, Session, State};
use crate::app::Services;
use crate::error::Result;
use crate::live::chat::{self, LiveMessage};
use crate::live::moderation::{self, ModerationEntry};
use crate::live::stage::{self, Stage};

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .routes(routes!(read_stage))
        .routes(routes!(raise_hand, lower_hand))
        .routes(routes!(invite))
        .routes(routes!(accept))
        .routes(routes!(leave_stage))
        .routes(routes!(kick))
        .routes(routes!(ban))
        .routes(routes!(mute))
        .routes(routes!(delete_message))
        .routes(routes!(moderation_log))
        .routes(routes!(messages, post_message))
}

/// Why (optional; up to 512 characters). The body may be absent.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReasonRequest {
    #[schema(max_length = 512)]
    reason: Option<String>,
}

/// The stage
///
/// Hands, invitations and roles, as `STAGE_UPDATE` sends them, plus `audience`: the audience
/// members in the room (in an audio room for everyone who may listen; in a live video for the
/// host and co-hosts only).
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}/stage",
    operation_id = "getLiveStage",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "The stage.", body = Stage),
        (status = 401, response = Unauthorized),
        (status = 402, description = "Pay-per-view, not bought (`payment_required`).", body = ErrorBody),
        (status = 403, description = "Banned (`banned`) or for subscribers (`subscription_required`).", body = ErrorBody),
        (status = 404, response = NotFound),
    ),
)]
async fn read_stage(state: State, session: Session, Path(id): Path<String>) -> Result<Json<Stage>> {
    Ok(Json(stage::read(&state, &session.user, &id).await?))
}

/// Raise one's hand
///
/// For someone in the session's room (not the host). No request body.
#[utoipa::path(
    put,
    path = "/api/v1/live/{id}/hand",
    operation_id = "raiseLiveHand",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "The stage (`STAGE_UPDATE` to everyone watching).", body = Stage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "Not in the room (`conflict`) or not live (`not_live`).", body = ErrorBody),
    ),
)]
async fn raise_hand(state: State, session: Session, Path(id): Path<String>) -> Result<Json<Stage>> {
    Ok(Json(stage::hand(&state, &session.user, &id, true).await?))
}

/// Lower one's hand
#[utoipa::path(
    delete,
    path = "/api/v1/live/{id}/hand",
    operation_id = "lowerLiveHand",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "The stage.", body = Stage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "Not live (`not_live`).", body = ErrorBody),
    ),
)]
async fn lower_hand(state: State, session: Session, Path(id): Path<String>) -> Result<Json<Stage>> {
    Ok(Json(stage::hand(&state, &session.user, &id, false).await?))
}

/// Invite someone to the stage
///
/// The host or a co-host invites a member of the audience in the room; they go on stage when
/// they accept. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/stage/{userId}/invite",
    operation_id = "inviteToLiveStage",
    tag = "live",
    params(LiveSessionId, UserId),
    responses(
        (status = 200, description = "The stage.", body = Stage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host or a co-host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "On stage already (`conflict`) or not live (`not_live`).", body = ErrorBody),
    ),
)]
async fn invite(
    state: State,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Json<Stage>> {
    Ok(Json(
        stage::invite(&state, &session.user, &id, &user_id).await?,
    ))
}

/// Accept one's invitation to the stage
///
/// Both flags are set (invited, accepted): the caller's role becomes `speaker` (audio room) or
/// `co_host` (live video), applied to their connection live, without a reconnect. No request
/// body.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/stage/invite/accept",
    operation_id = "acceptLiveStageInvite",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "The stage.", body = Stage),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "No invitation (`conflict`) or not live (`not_live`).", body = ErrorBody),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn accept(state: State, session: Session, Path(id): Path<String>) -> Result<Json<Stage>> {
    Ok(Json(stage::accept(&state, &session.user, &id).await?))
}

/// Back to the audience
///
/// The host or a co-host takes someone off the stage, or one leaves it oneself; their
/// publishing permission is withdrawn live. No request body.
#[utoipa::path(
    delete,
    path = "/api/v1/live/{id}/stage/{userId}",
    operation_id = "removeFromLiveStage",
    tag = "live",
    params(LiveSessionId, UserId),
    responses(
        (status = 200, description = "The stage.", body = Stage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host or a co-host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "Not live (`not_live`).", body = ErrorBody),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn leave_stage(
    state: State,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Json<Stage>> {
    Ok(Json(
        stage::remove(&state, &session.user, &id, &user_id).await?,
    ))
}

/// Kick someone out of the room
///
/// The host or a co-host; they may join again (a ban keeps them out).
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/participants/{userId}/kick",
    operation_id = "kickLiveParticipant",
    tag = "live",
    params(LiveSessionId, UserId),
    request_body(content = ReasonRequest, description = "An optional reason; the body may also be empty."),
    responses(
        (status = 200, description = "The moderation log entry.", body = ModerationEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host or a co-host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
    ),
)]
async fn kick(
    state: State,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<ReasonRequest>,
) -> Result<Json<ModerationEntry>> {
    Ok(Json(
        moderation::kick(
            &state,
            &session.user,
            &id,
            &user_id,
            body.and_then(|b| b.reason),
        )
        .await?,
    ))
}

/// Ban someone from the host's sessions
///
/// The host or a co-host: removed from the room now, and no tokens for any of the host's
/// sessions from now on (403 `banned`).
#[utoipa::path(
    put,
    path = "/api/v1/live/{id}/bans/{userId}",
    operation_id = "banLiveUser",
    tag = "live",
    params(LiveSessionId, UserId),
    request_body(content = ReasonRequest, description = "An optional reason; the body may also be empty."),
    responses(
        (status = 200, description = "The moderation log entry.", body = ModerationEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host or a co-host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
    ),
)]
async fn ban(
    state: State,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<ReasonRequest>,
) -> Result<Json<ModerationEntry>> {
    Ok(Json(
        moderation::ban(
            &state,
            &session.user,
            &id,
            &user_id,
            body.and_then(|b| b.reason),
        )
        .await?,
    ))
}

/// Mute someone's microphone
///
/// The host or a co-host: their published microphone is muted at the media plane.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/participants/{userId}/mute",
    operation_id = "muteLiveParticipant",
    tag = "live",
    params(LiveSessionId, UserId),
    request_body(content = ReasonRequest, description = "An optional reason; the body may also be empty."),
    responses(
        (status = 200, description = "The moderation log entry.", body = ModerationEntry),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host or a co-host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn mute(
    state: State,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<ReasonRequest>,
) -> Result<Json<ModerationEntry>> {
    Ok(Json(
        moderation::mute(
            &state,
            &session.user,
            &id,
            &user_id,
            body.and_then(|b| b.reason),
        )
        .await?,
    ))
}

/// Delete a chat message
///
/// Its author, the host or a co-host (logged, with the optional reason). Everyone watching
/// gets `LIVE_MESSAGE_DELETE`.
#[utoipa::path(
    delete,
    path = "/api/v1/live/{id}/messages/{messageId}",
    operation_id = "deleteLiveMessage",
    tag = "live",
    params(LiveSessionId, MessageId),
    request_body(content = ReasonRequest, description = "An optional reason; the body may also be empty."),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not its author, the host or a co-host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
    ),
)]
async fn delete_message(
    state: State,
    session: Session,
    Path((id, message_id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<ReasonRequest>,
) -> Result<StatusCode> {
    chat::delete(
        &state,
        &session.user,
        &id,
        &message_id,
        body.and_then(|b| b.reason),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The moderation log
///
/// For the host and co-hosts: the newest 100 actions, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}/moderation-log",
    operation_id = "getLiveModerationLog",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "Actions, oldest first.", body = Vec<ModerationEntry>),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host or a co-host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
    ),
)]
async fn moderation_log(
    state: State,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<ModerationEntry>>> {
    Ok(Json(
        moderation::read_log(&state, &session.user, &id).await?,
    ))
}

/// Chat messages
///
/// The newest 100, oldest first, for whoever may watch the session.
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}/messages",
    operation_id = "listLiveMessages",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "Messages, oldest first.", body = Vec<LiveMessage>),
        (status = 401, response = Unauthorized),
        (status = 402, description = "Pay-per-view, not bought (`payment_required`).", body = ErrorBody),
        (status = 403, description = "Banned (`banned`) or for subscribers (`subscription_required`).", body = ErrorBody),
        (status = 404, response = NotFound),
    ),
)]
async fn messages(
    state: State,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<LiveMessage>>> {
    Ok(Json(chat::list(&state, &session.user, &id).await?))
}

/// A chat message to send.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostMessageRequest {
    /// 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    content: String,
}

/// Send a chat message
///
/// While live, for whoever may watch the session; at most 5 per 10 seconds per user. Everyone
/// watching gets `LIVE_MESSAGE_CREATE`.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/messages",
    operation_id = "postLiveMessage",
    tag = "live",
    params(LiveSessionId),
    request_body = PostMessageRequest,
    responses(
        (status = 201, description = "The message.", body = LiveMessage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, description = "Pay-per-view, not bought (`payment_required`).", body = ErrorBody),
        (status = 403, description = "Banned (`banned`) or for subscribers (`subscription_required`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "Not live (`not_live`).", body = ErrorBody),
        (status = 429, description = "Too many messages (`rate_limited`).", body = ErrorBody),
    ),
)]
async fn post_message(
    state: State,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PostMessageRequest>,
) -> Result<(StatusCode, Json<LiveMessage>)> {
    let message = chat::post(&state, &session.user, &id, &req.content).await?;
    Ok((StatusCode::CREATED, Json(message)))
}
