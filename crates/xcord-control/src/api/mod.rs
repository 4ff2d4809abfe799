//! The HTTP API under `/api/v1`: a thin edge. Handlers parse the request (the JSON body, path
//! and bearer-session extractors here), call one service function, and render the result;
//! errors are rendered once, in [`error`], as `{code, message}` with their status.
//!
//! Every route is registered with `utoipa_axum`'s `routes!`, which takes its path, method and
//! API documentation from the handler's `#[utoipa::path]`: what the router serves and what
//! the OpenAPI document ([`openapi`], served at `GET /api/v1/openapi.json`) says are made in
//! one place. Nothing here registers a route any other way.

mod admin;
mod auth;
mod communities;
mod conversations;
mod creators;
pub mod error;
mod gateway;
mod live;
mod live_room;
mod media_session;
mod openapi;
mod optional_json;
mod params;
mod voice;
mod wallet;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{User, hash_token, store};
use crate::app::Services;
use crate::error::Error;

pub type State = axum::extract::State<Arc<Services>>;

/// The largest log-in or registration body.
pub const AUTH_BODY_BYTES: usize = 16 * 1024;

/// Every `/api/v1` route of the control plane with its documentation (the media plane's
/// webhook receiver, mounted on its own, is [`webhooks`]).
fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .merge(
            // Log-in and registration take a handle and a password: nothing near the 2 MiB
            // every other JSON body may have. Unauthenticated clients never make the server
            // hold more than this per request.
            OpenApiRouter::default()
                .routes(routes!(auth::register))
                .routes(routes!(auth::login))
                .layer(DefaultBodyLimit::max(AUTH_BODY_BYTES)),
        )
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me, auth::update_me))
        .routes(routes!(auth::user))
        .merge(communities::routes())
        .merge(conversations::routes())
        .merge(gateway::routes())
        .merge(voice::routes())
        .merge(media_session::routes())
        .merge(live::routes())
        .merge(live_room::routes())
        .merge(creators::routes())
        .merge(admin::routes())
        .merge(wallet::routes())
        .merge(openapi::routes())
}

/// The `/api/v1` routes, with request ids and the one log line per server error. The OpenAPI
/// document it serves is made from the same registrations.
pub fn router(services: Arc<Services>) -> Router {
    let (router, paths) = routes().split_for_parts();
    router
        .fallback(|| async { Error::not_found("no such endpoint") })
        .with_state(services)
        .layer(openapi::serve(paths))
        .layer(axum::middleware::from_fn(error::log_server_errors))
        .layer(error::request_id_layers())
}

/// The API's OpenAPI document, as `GET /api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::document(routes().into_openapi())
}

/// A JSON body whose rejections are API errors with a precise message.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(Error::invalid(rejection.body_text())),
        }
    }
}

/// Path parameters whose rejections (say, invalid UTF-8) are API errors, not plain text.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(rejection) => Err(Error::invalid(rejection.body_text())),
        }
    }
}

/// The signed-in user, from `Authorization: Bearer <session token>`.
pub struct Session {
    pub user: User,
    pub token_hash: String,
}

impl FromRequestParts<Arc<Services>> for Session {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::unauthorized("missing Authorization: Bearer <session token>"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| Error::unauthorized("Authorization must be Bearer <session token>"))?;
        let token_hash = hash_token(token.trim());
        let user = store::session_user(&services.db, &token_hash, services.clock.now_ms())
            .await?
            .ok_or_else(|| Error::unauthorized("session is invalid or expired"))?;
        Ok(Self { user, token_hash })
    }
}
