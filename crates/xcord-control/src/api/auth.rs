//! Registration, log-in, log-out and profiles.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::extract::ConnectInfo;

use super::ApiPath as Path;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiJson, Session, State};
use crate::accounts::store::{self, NewUser};
use crate::accounts::{self, SESSION_TTL_MS, User, validate};
use crate::db::{is_unique_violation, new_id};
use crate::error::{AppError, AppResult};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    handle: String,
    display_name: String,
    password: String,
    avatar_gradient: Option<[String; 2]>,
    #[serde(default)]
    is_creator: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    token: String,
    user: User,
}

async fn open_session(state: &State, user: User) -> AppResult<SessionResponse> {
    let (token, hash) = accounts::new_session_token();
    store::insert_session(&state.db, &hash, &user.id, SESSION_TTL_MS).await?;
    Ok(SessionResponse { token, user })
}

pub async fn register(
    state: State,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> AppResult<(StatusCode, Json<SessionResponse>)> {
    validate::handle(&req.handle)?;
    validate::display_name(&req.display_name)?;
    validate::password(&req.password)?;
    if let Some(g) = &req.avatar_gradient {
        validate::colour(&g[0])?;
        validate::colour(&g[1])?;
    }
    let id = new_id();
    let avatar = req
        .avatar_gradient
        .unwrap_or_else(|| accounts::default_gradient(&id));
    let hash = accounts::hash_password(req.password)
        .await
        .ok_or_else(AppError::internal)?;
    let user = store::insert_user(
        &state.db,
        NewUser {
            id: &id,
            handle: &req.handle,
            display_name: req.display_name.trim(),
            password_hash: &hash,
            avatar: &avatar,
            is_creator: req.is_creator,
        },
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::conflict(format!("handle {:?} is taken", req.handle))
        } else {
            AppError::from(e)
        }
    })?;
    Ok((StatusCode::CREATED, Json(open_session(&state, user).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    handle: String,
    password: String,
}

pub async fn login(
    state: State,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> AppResult<Json<SessionResponse>> {
    let now = Instant::now();
    let by_handle = format!("handle:{}", req.handle.to_lowercase());
    let by_addr = format!("addr:{}", peer.ip());
    if !state.login_limiter.allow(&by_handle, now) || !state.login_limiter.allow(&by_addr, now) {
        return Err(AppError::too_many(
            "too many log-in attempts; try again in a few minutes",
        ));
    }
    let refused = || AppError::unauthorized("invalid handle or password");
    let (user, hash) = store::credentials_by_handle(&state.db, &req.handle)
        .await?
        .ok_or_else(refused)?;
    if !accounts::verify_password(req.password, hash).await {
        return Err(refused());
    }
    Ok(Json(open_session(&state, user).await?))
}

pub async fn logout(state: State, session: Session) -> AppResult<StatusCode> {
    store::delete_session(&state.db, &session.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(session: Session) -> Json<User> {
    Json(session.user)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateMeRequest {
    display_name: Option<String>,
    handle: Option<String>,
    avatar_gradient: Option<[String; 2]>,
    is_creator: Option<bool>,
}

pub async fn update_me(
    state: State,
    session: Session,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> AppResult<Json<User>> {
    if let Some(n) = &req.display_name {
        validate::display_name(n)?;
    }
    if let Some(h) = &req.handle {
        validate::handle(h)?;
    }
    if let Some(g) = &req.avatar_gradient {
        validate::colour(&g[0])?;
        validate::colour(&g[1])?;
    }
    let id = session.user.id;
    store::update_profile(
        &state.db,
        &id,
        req.display_name.as_deref().map(str::trim),
        req.handle.as_deref(),
        req.avatar_gradient.as_ref(),
        req.is_creator,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::conflict("that handle is taken")
        } else {
            AppError::from(e)
        }
    })?;
    let user = store::user_by_id(&state.db, &id)
        .await?
        .ok_or_else(|| AppError::not_found("user not found"))?;
    Ok(Json(user))
}

pub async fn user(
    state: State,
    _session: Session,
    Path(id): Path<String>,
) -> AppResult<Json<User>> {
    let user = store::user_by_id(&state.db, &id)
        .await?
        .ok_or_else(|| AppError::not_found("user not found"))?;
    Ok(Json(user))
}
