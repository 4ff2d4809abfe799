//! Registration, log-in, log-out and profiles over HTTP. The rules live in
//! `crate::accounts::service`. Each handler's `#[utoipa::path]` is its entry in the API
//! document (routes are registered with it in `super::routes`).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiPath as Path;
use super::error::{BadRequest, ErrorBody, NotFound, Unauthorized};
use super::params::UserId;
use super::{ApiJson, Session, State};
use crate::accounts::User;
use crate::accounts::service::{self, NewSession, ProfileChanges, Registration};
use crate::error::Result;
use crate::schema::{AvatarGradient, DisplayName, Handle, Password};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(value_type = Handle)]
    handle: String,
    #[schema(value_type = DisplayName)]
    display_name: String,
    #[schema(value_type = Password)]
    password: String,
    /// Absent or `null`: a default gradient picked from the new user's id.
    #[schema(value_type = Option<AvatarGradient>)]
    avatar_gradient: Option<[String; 2]>,
    #[serde(default)]
    #[schema(default = false)]
    is_creator: bool,
}

/// A new session and its user.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
pub struct SessionResponse {
    /// The session token (43 characters of URL-safe base64), valid for 30 days: send it as
    /// `Authorization: Bearer <token>`.
    token: String,
    user: User,
}

impl From<NewSession> for SessionResponse {
    fn from(s: NewSession) -> Self {
        Self {
            token: s.token,
            user: s.user,
        }
    }
}

/// Register a user
///
/// Creates a user and opens a session for them.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    operation_id = "register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new user, signed in.", body = SessionResponse, links(
            ("GetUser" = (
                operation_id = "getUser",
                description = "The new user.",
                parameters(("userId" = "$response.body#/user/id")),
            )),
            ("OpenConversation" = (
                operation_id = "openConversation",
                description = "Start a conversation with the new user.",
                request_body = json!({"userId": "$response.body#/user/id"}),
            )),
        )),
        (status = 400, response = BadRequest),
        (status = 409, description = "Conflict (`conflict`): the handle is taken (without regard to case).", body = ErrorBody),
        (status = 429, description = "Too many accounts made from this client address (`rate_limited`): at most 10 per hour.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
        (status = 503, description = "The server is busy checking passwords (`unavailable`); retry after the hinted delay.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
    ),
    security(),
)]
pub async fn register(
    state: State,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<SessionResponse>)> {
    let registration = Registration {
        handle: req.handle,
        display_name: req.display_name,
        password: req.password,
        avatar_gradient: req.avatar_gradient,
        is_creator: req.is_creator,
    };
    let session = service::register(&state, peer.ip(), registration).await?;
    Ok((StatusCode::CREATED, Json(session.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    /// Matched without regard to case.
    handle: String,
    password: String,
}

/// Sign in
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session.", body = SessionResponse),
        (status = 400, response = BadRequest),
        (status = 401, description = "Invalid handle or password (`unauthorized`).", body = ErrorBody),
        (status = 429, description = "Too many attempts (`rate_limited`): at most 30 per client address, and 10 failed ones per handle from one address, in 5 minutes. Failed attempts on a handle from elsewhere only slow further attempts; they never refuse the right password from another address.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
        (status = 503, description = "The server is busy checking passwords (`unavailable`); retry after the hinted delay.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
    ),
    security(),
)]
pub async fn login(
    state: State,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<SessionResponse>> {
    let session = service::login(&state, peer.ip(), &req.handle, req.password).await?;
    Ok(Json(session.into()))
}

/// Sign out
///
/// Ends the session whose token authorizes the request. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logout",
    tag = "auth",
    responses(
        (status = 204, description = "The session is closed."),
        (status = 401, response = Unauthorized),
    ),
)]
pub async fn logout(state: State, session: Session) -> Result<StatusCode> {
    service::logout(&state, &session.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user
#[utoipa::path(
    get,
    path = "/api/v1/users/@me",
    operation_id = "getMe",
    tag = "users",
    responses(
        (status = 200, description = "The caller.", body = User),
        (status = 401, response = Unauthorized),
    ),
)]
pub async fn me(session: Session) -> Json<User> {
    Json(session.user)
}

/// The fields to change; absent or `null` fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[schema(value_type = Option<DisplayName>)]
    display_name: Option<String>,
    #[schema(value_type = Option<Handle>)]
    handle: Option<String>,
    #[schema(value_type = Option<AvatarGradient>)]
    avatar_gradient: Option<[String; 2]>,
    is_creator: Option<bool>,
    /// What a 30-day subscription to you costs (0: none offered).
    #[schema(minimum = 0, maximum = 1_000_000)]
    subscription_price_coins: Option<i64>,
}

/// Edit one's profile
#[utoipa::path(
    patch,
    path = "/api/v1/users/@me",
    operation_id = "updateMe",
    tag = "users",
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated user.", body = User),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "Conflict (`conflict`): the handle is taken.", body = ErrorBody),
    ),
)]
pub async fn update_me(
    state: State,
    session: Session,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<Json<User>> {
    let changes = ProfileChanges {
        display_name: req.display_name,
        handle: req.handle,
        avatar_gradient: req.avatar_gradient,
        is_creator: req.is_creator,
        subscription_price_coins: req.subscription_price_coins,
    };
    Ok(Json(
        service::update_profile(&state, &session.user.id, changes).await?,
    ))
}

/// A user
#[utoipa::path(
    get,
    path = "/api/v1/users/{userId}",
    operation_id = "getUser",
    tag = "users",
    params(UserId),
    responses(
        (status = 200, description = "The user.", body = User),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
pub async fn user(state: State, _session: Session, Path(id): Path<String>) -> Result<Json<User>> {
    Ok(Json(service::user(&state, &id).await?))
}
