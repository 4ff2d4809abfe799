//! Live broadcasts and audio rooms over HTTP: creating, listing, reading, starting, ending,
//! joining and leaving (the live as the caller's media session) and buying a session. The rules live in `crate::live::service`.

use std::sync::Arc;

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath as Path;
use super::error::{BadRequest, ErrorBody, MediaUnavailable, NotFound, Unauthorized};
use super::optional_json::OptionalJson;
use super::params::LiveSessionId;
use super::{ApiJson, Session, State};
use crate::app::Services;
use crate::error::{Error, Result};
use crate::live::machine::LiveInput;
use crate::live::service::{self, LiveTicket, NewLive};
use crate::live::store::Purchase;
use crate::live::{LiveAccess, LiveKind, LiveSession, LiveState};

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(start))
        .routes(routes!(end))
        .routes(routes!(join))
        .routes(routes!(leave))
        .routes(routes!(purchase))
}

/// A session to create.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateLiveRequest {
    kind: LiveKind,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    title: String,
    access: LiveAccess,
    /// Required for `pay_per_view` (1 to 1000000); absent or 0 otherwise.
    #[schema(minimum = 0, maximum = 1_000_000)]
    price_coins: Option<i64>,
    #[schema(minimum = 1, maximum = 1_000_000)]
    max_viewers: Option<i64>,
    #[schema(minimum = 1, maximum = 86_400)]
    max_duration_seconds: Option<i64>,
}

/// Create a live session
///
/// For creators (`isCreator` on their profile); the session starts `scheduled`.
#[utoipa::path(
    post,
    path = "/api/v1/live",
    operation_id = "createLiveSession",
    tag = "live",
    request_body = CreateLiveRequest,
    responses(
        (status = 201, description = "The new session.", body = LiveSession),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is not a creator (`forbidden`).", body = ErrorBody),
    ),
)]
async fn create(
    state: State,
    session: Session,
    ApiJson(req): ApiJson<CreateLiveRequest>,
) -> Result<(StatusCode, Json<LiveSession>)> {
    let new = NewLive {
        kind: req.kind,
        title: req.title,
        access: req.access,
        price_coins: req.price_coins,
        max_viewers: req.max_viewers,
        max_duration_seconds: req.max_duration_seconds,
    };
    let created = service::create(&state, &session.user, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `?state=…`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only sessions in this state.
    state: Option<LiveState>,
}

/// Live sessions
///
/// The newest 100, in `state` if given (`?state=live`: the directory). Unknown query
/// parameters are refused (400).
#[utoipa::path(
    get,
    path = "/api/v1/live",
    operation_id = "listLiveSessions",
    tag = "live",
    params(ListQuery),
    responses(
        (status = 200, description = "Sessions, newest first.", body = Vec<LiveSession>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ),
)]
async fn list(
    state: State,
    _session: Session,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<LiveSession>>> {
    let Query(query) = query.map_err(|rejection| Error::invalid(rejection.body_text()))?;
    Ok(Json(service::list(&state, query.state).await?))
}

/// A live session
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}",
    operation_id = "getLiveSession",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "The session.", body = LiveSession),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn get(state: State, _session: Session, Path(id): Path<String>) -> Result<Json<LiveSession>> {
    Ok(Json(service::get(&state, &id).await?))
}

/// Go live
///
/// The host only; a scheduled session becomes `live`. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/start",
    operation_id = "startLiveSession",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "The live session.", body = LiveSession),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "Already live (`conflict`) or over (`not_live`).", body = ErrorBody),
    ),
)]
async fn start(
    state: State,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<LiveSession>> {
    Ok(Json(
        service::change(&state, &session.user, &id, LiveInput::Start).await?,
    ))
}

/// End a session
///
/// The host only; a scheduled session is cancelled. Closes the media room. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/end",
    operation_id = "endLiveSession",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 200, description = "The ended session.", body = LiveSession),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the host (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "Already over (`not_live`).", body = ErrorBody),
    ),
)]
async fn end(state: State, session: Session, Path(id): Path<String>) -> Result<Json<LiveSession>> {
    Ok(Json(
        service::change(&state, &session.user, &id, LiveInput::End).await?,
    ))
}

/// Which gateway connection should hold the live's media connection (optional; the body may be
/// absent).
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinLiveRequest {
    /// A live gateway connection of the caller (Ready's `sessionId`): it owns the media session
    /// (otherwise the usual election decides).
    connection_id: Option<String>,
}

/// Join a session: a media token, and the session becomes your media session
///
/// The host gets `host` (while scheduled or live); everyone else their stage role, or `viewer`
/// (`video_live`) or `listener` (`audio_room`), hidden from participant lists, while live. The
/// session becomes the caller's one media session (`live-stream`): a voice channel, call or
/// other live they were in ends (the others told), and the owner connection also gets
/// `MEDIA_SESSION_CONNECT` for the live room. `publishDefaults` are the kind's bitrate presets.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/join",
    operation_id = "joinLiveSession",
    tag = "live",
    params(LiveSessionId),
    request_body(content = JoinLiveRequest, description = "Optional; the body may also be empty."),
    responses(
        (status = 200, description = "Where and how to connect, the role and the publish defaults.", body = LiveTicket),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, description = "A pay-per-view session not bought (`payment_required`).", body = ErrorBody),
        (status = 403, description = "For subscribers (`subscription_required`), or full (`session_full`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "Not live (`not_live`).", body = ErrorBody),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn join(
    state: State,
    session: Session,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<JoinLiveRequest>,
) -> Result<Json<LiveTicket>> {
    let prefer = body.and_then(|b| b.connection_id);
    Ok(Json(
        service::join(&state, &session.user, &id, prefer).await?,
    ))
}

/// Leave a session
///
/// Ends the caller's media session if it is this live session's (which takes them out of its
/// room); otherwise nothing. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/leave",
    operation_id = "leaveLiveSession",
    tag = "live",
    params(LiveSessionId),
    responses(
        (status = 204, description = "Left (or was not in it)."),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn leave(state: State, session: Session, Path(id): Path<String>) -> Result<StatusCode> {
    service::leave(&state, &session.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A purchase and the balance after it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseResponse {
    purchase: Purchase,
    balance: i64,
}

/// Buy a pay-per-view session
///
/// Needs an `Idempotency-Key` header (1 to 100 visible ASCII characters): the same key again
/// answers 200 with the same purchase and charges nothing. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/purchase",
    operation_id = "purchaseLiveSession",
    tag = "live",
    params(
        LiveSessionId,
        ("Idempotency-Key" = String, Header, description = "The client's key for this purchase."),
    ),
    responses(
        (status = 200, description = "This key's purchase, made before.", body = PurchaseResponse),
        (status = 201, description = "The new purchase.", body = PurchaseResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, description = "The balance does not cover the price (`insufficient_funds`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "Bought before with another key (`already_purchased`), the key used for another session (`conflict`), or over (`not_live`).", body = ErrorBody),
    ),
)]
async fn purchase(
    state: State,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<PurchaseResponse>)> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let bought = service::purchase(&state, &session.user, &id, key).await?;
    let status = if bought.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PurchaseResponse {
            purchase: bought.purchase,
            balance: bought.balance,
        }),
    ))
}
