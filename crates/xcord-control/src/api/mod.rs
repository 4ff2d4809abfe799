//! The HTTP API under `/api/v1`: shared state, the JSON body and bearer-session extractors, and
//! the route table. Every error is `{code, message}` with its status.

mod auth;
mod communities;
mod conversations;
mod gateway;
mod openapi;
pub mod voice;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::accounts::ratelimit::RateLimiter;
use crate::accounts::{User, hash_token, store};
use crate::db::Db;
use crate::error::AppError;
use crate::media::MediaPlane;
use crate::realtime::hub::Hub;
use crate::realtime::session::Sessions;

/// How the control plane issues media tokens: where clients connect and the key pair that
/// signs their access tokens (the media plane's).
#[derive(Clone, Debug)]
pub struct MediaAccess {
    /// The LiveKit URL clients connect to (`ws(s)://…`).
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
}

/// What handlers share.
pub struct AppState {
    pub db: Db,
    pub login_limiter: RateLimiter,
    /// Live connections of each user (the gateway).
    pub hub: Arc<Hub>,
    /// Gateway sessions (resumable).
    pub sessions: Sessions,
    /// The media plane, when one is attached (`xcord serve`).
    pub media: Option<Arc<dyn MediaPlane>>,
    pub media_access: Option<MediaAccess>,
}

impl AppState {
    pub fn new(db: Db) -> Arc<Self> {
        Self::with_media(db, None, None)
    }

    pub fn with_media(
        db: Db,
        media: Option<Arc<dyn MediaPlane>>,
        media_access: Option<MediaAccess>,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            login_limiter: RateLimiter::new(10, Duration::from_secs(300)),
            hub: Arc::new(Hub::default()),
            sessions: Sessions::default(),
            media,
            media_access,
        })
    }
}

pub type State = axum::extract::State<Arc<AppState>>;

/// The `/api/v1` routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/users/@me", get(auth::me).patch(auth::update_me))
        .route("/api/v1/users/{id}", get(auth::user))
        .merge(communities::routes())
        .merge(conversations::routes())
        .merge(gateway::routes())
        .merge(voice::routes())
        .merge(openapi::routes())
        .fallback(|| async { AppError::not_found("no such endpoint") })
        .with_state(state)
}

/// A JSON body whose rejections are API errors with a precise message.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(AppError::invalid(rejection.body_text())),
        }
    }
}

/// Path parameters whose rejections (say, invalid UTF-8) are API errors, not plain text.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(rejection) => Err(AppError::invalid(rejection.body_text())),
        }
    }
}

/// The signed-in user, from `Authorization: Bearer <session token>`.
pub struct Session {
    pub user: User,
    pub token_hash: String,
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::unauthorized("missing Authorization: Bearer <session token>")
            })?;
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            AppError::unauthorized("Authorization must be Bearer <session token>")
        })?;
        let token_hash = hash_token(token.trim());
        let user = store::session_user(&state.db, &token_hash)
            .await?
            .ok_or_else(|| AppError::unauthorized("session is invalid or expired"))?;
        Ok(Self { user, token_hash })
    }
}
