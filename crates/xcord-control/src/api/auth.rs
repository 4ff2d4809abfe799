//! Registration, log-in, log-out and profiles over HTTP. The rules live in
//! `crate::accounts::service`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiPath as Path;
use super::{ApiJson, Session, State};
use crate::accounts::User;
use crate::accounts::service::{self, NewSession, ProfileChanges, Registration};
use crate::error::Result;

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

impl From<NewSession> for SessionResponse {
    fn from(s: NewSession) -> Self {
        Self {
            token: s.token,
            user: s.user,
        }
    }
}

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
) -> Result<Json<SessionResponse>> {
    let session = service::login(&state, peer.ip(), &req.handle, req.password).await?;
    Ok(Json(session.into()))
}

pub async fn logout(state: State, session: Session) -> Result<StatusCode> {
    service::logout(&state, &session.token_hash).await?;
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
) -> Result<Json<User>> {
    let changes = ProfileChanges {
        display_name: req.display_name,
        handle: req.handle,
        avatar_gradient: req.avatar_gradient,
        is_creator: req.is_creator,
    };
    Ok(Json(
        service::update_profile(&state, &session.user.id, changes).await?,
    ))
}

pub async fn user(state: State, _session: Session, Path(id): Path<String>) -> Result<Json<User>> {
    Ok(Json(service::user(&state, &id).await?))
}
