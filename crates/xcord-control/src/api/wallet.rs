//! Coin wallets over HTTP: one's balance and ledger, and development top-ups. The rules live in
//! `crate::wallet::service`.

use std::sync::Arc;

use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{BadRequest, ErrorBody, Unauthorized};
use super::{ApiJson, Session, State};
use crate::app::Services;
use crate::error::Result;
use crate::wallet::{Wallet, service};

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .routes(routes!(wallet))
        .routes(routes!(top_up))
}

/// One's wallet
#[utoipa::path(
    get,
    path = "/api/v1/wallet",
    operation_id = "getWallet",
    tag = "wallet",
    responses(
        (status = 200, description = "The balance and the newest 100 ledger entries, newest first.", body = Wallet),
        (status = 401, response = Unauthorized),
    ),
)]
async fn wallet(state: State, session: Session) -> Result<Json<Wallet>> {
    Ok(Json(service::wallet(&state, &session.user.id).await?))
}

/// Coins to add.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopUpRequest {
    #[schema(minimum = 1, maximum = 1_000_000)]
    amount: i64,
}

/// Top up one's own wallet
///
/// Only on a development server (`xcord serve --dev`).
#[utoipa::path(
    post,
    path = "/api/v1/wallet/topups",
    operation_id = "topUpWallet",
    tag = "wallet",
    request_body = TopUpRequest,
    responses(
        (status = 200, description = "The wallet after the top-up.", body = Wallet),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a development server (`forbidden`).", body = ErrorBody),
    ),
)]
async fn top_up(
    state: State,
    session: Session,
    ApiJson(req): ApiJson<TopUpRequest>,
) -> Result<Json<Wallet>> {
    Ok(Json(
        service::top_up(&state, &session.user.id, req.amount).await?,
    ))
}
