//! Creator subscriptions over HTTP: subscribing (paid from the wallet, 30 days) and cancelling
//! at the period's end. The rules live in `crate::live::subscriptions`.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath as Path;
use super::error::{BadRequest, ErrorBody, NotFound, Unauthorized};
use super::params::UserId;
use super::{Session, State};
use crate::app::Services;
use crate::error::Result;
use crate::live::subscriptions::{self, Subscription};

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default().routes(routes!(subscribe, cancel))
}

/// A subscription and the subscriber's balance.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionResponse {
    subscription: Subscription,
    balance: i64,
}

/// Subscribe to a creator
///
/// Charges the creator's `subscriptionPriceCoins` for 30 days (201). While a period runs,
/// subscribing again charges nothing and undoes a cancellation (200). No request body.
#[utoipa::path(
    put,
    path = "/api/v1/creators/{userId}/subscription",
    operation_id = "subscribeToCreator",
    tag = "wallet",
    params(UserId),
    responses(
        (status = 200, description = "The running subscription (nothing charged).", body = SubscriptionResponse),
        (status = 201, description = "A new period, paid.", body = SubscriptionResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, description = "The balance does not cover the price (`insufficient_funds`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 409, description = "The user offers no subscription (`conflict`).", body = ErrorBody),
    ),
)]
async fn subscribe(
    state: State,
    session: Session,
    Path(user_id): Path<String>,
) -> Result<(StatusCode, Json<SubscriptionResponse>)> {
    let done = subscriptions::subscribe(&state, &session.user, &user_id).await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SubscriptionResponse {
            subscription: done.subscription,
            balance: done.balance,
        }),
    ))
}

/// Cancel a subscription
///
/// It runs until `currentPeriodEnd`, then ends (no renewal). No request body.
#[utoipa::path(
    delete,
    path = "/api/v1/creators/{userId}/subscription",
    operation_id = "cancelCreatorSubscription",
    tag = "wallet",
    params(UserId),
    responses(
        (status = 200, description = "The subscription, cancelled at its period's end.", body = Subscription),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn cancel(
    state: State,
    session: Session,
    Path(user_id): Path<String>,
) -> Result<Json<Subscription>> {
    Ok(Json(
        subscriptions::cancel(&state, &session.user, &user_id).await?,
    ))
}
