//! The server API's own endpoints, for the operator's back end rather than users: crediting a
//! wallet, as a payment provider's webhook handler does after a payment. They are authorised by
//! a server token — a JWT signed with the media plane's API key and secret (what LiveKit's
//! server SDKs make for RoomService calls) with `roomAdmin` and without `roomJoin`, which no
//! user's media token has — not by a user's session.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use livekit_api::access_token::TokenVerifier;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath as Path;
use super::error::{BadRequest, ErrorBody, MediaUnavailable, NotFound, Unauthorized};
use super::params::UserId;
use super::{ApiJson, State};
use crate::app::Services;
use crate::error::{Error, Result};
use crate::wallet::service::{self, Credit};

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default().routes(routes!(credit))
}

/// Checks the request's server token.
fn authorise(services: &Services, headers: &HeaderMap) -> Result<()> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Error::unauthorized("missing Authorization: Bearer <server token>"))?;
    let media = services.media()?;
    let claims = TokenVerifier::with_api_key(&media.access.api_key, &media.access.api_secret)
        .verify(token.trim())
        .map_err(|_| Error::unauthorized("the server token is invalid or expired"))?;
    if !claims.video.room_admin || claims.video.room_join {
        return Err(Error::unauthorized(
            "a server token needs roomAdmin and no roomJoin",
        ));
    }
    Ok(())
}

/// Coins to credit.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditRequest {
    #[schema(minimum = 1, maximum = 1_000_000)]
    amount: i64,
    /// What it was for (a payment's reference), up to 200 characters.
    #[schema(max_length = 200)]
    reason: Option<String>,
}

/// A credit and the balance after it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditResponse {
    credit: Credit,
    balance: i64,
}

/// Credit a user's wallet (server API)
///
/// Authorised by a server token: `Authorization: Bearer <JWT>` signed with the API key and
/// secret, with the video grant `roomAdmin` and without `roomJoin`. Needs an `Idempotency-Key`
/// header: the same key again answers 200 with the same credit and adds nothing.
#[utoipa::path(
    post,
    path = "/api/v1/admin/wallets/{userId}/credits",
    operation_id = "creditWallet",
    tag = "wallet",
    params(
        UserId,
        ("Idempotency-Key" = String, Header, description = "The caller's key for this credit (a payment's id)."),
    ),
    request_body = CreditRequest,
    responses(
        (status = 200, description = "This key's credit, made before.", body = CreditResponse),
        (status = 201, description = "The new credit.", body = CreditResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "The key was used for another credit (`conflict`).", body = ErrorBody),
        (status = 503, response = MediaUnavailable),
    ),
)]
async fn credit(
    state: State,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreditRequest>,
) -> Result<(StatusCode, Json<CreditResponse>)> {
    // After the body: a malformed one is a 400 whoever sends it (its shape is public).
    authorise(&state, &headers)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let done = service::credit(&state, &user_id, req.amount, key, req.reason).await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(CreditResponse {
            credit: done.credit,
            balance: done.balance,
        }),
    ))
}
