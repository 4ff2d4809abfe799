//! Creator subscriptions: a user pays a creator's `subscriptionPriceCoins` (set on the
//! creator's profile) from their wallet for 30 days of the creator's `subscribers_only`
//! sessions. Subscribing again while a period runs charges nothing (and undoes a cancellation);
//! cancelling keeps the subscription until the period's end. There is no automatic renewal:
//! after the end, subscribing again starts (and charges) a new period. The charge, its ledger
//! entry and the period are one transaction; the period is a conditional upsert (only an
//! expired or missing one is replaced), so concurrent requests charge once.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use crate::accounts::{self, User};
use crate::app::Services;
use crate::db::Db;
use crate::error::{Error, ErrorCode, Result};
use crate::wallet;

/// How long one payment lasts.
pub const PERIOD_MS: i64 = 30 * 24 * 3600 * 1000;

/// A subscription to a creator.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[schema(value_type = crate::schema::Id)]
    pub creator_id: String,
    #[schema(value_type = crate::schema::Id)]
    pub subscriber_id: String,
    /// What the current period cost.
    pub price_coins: i64,
    /// Unix milliseconds: the subscription runs until then.
    pub current_period_end: i64,
    /// Cancelled: it ends at `currentPeriodEnd`.
    pub cancel_at_period_end: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

fn from_row(row: &AnyRow) -> Result<Subscription, sqlx::Error> {
    let canceled_at: Option<i64> = row.try_get("canceled_at")?;
    Ok(Subscription {
        creator_id: row.try_get("creator_id")?,
        subscriber_id: row.try_get("subscriber_id")?,
        price_coins: row.try_get("price_coins")?,
        current_period_end: row.try_get("current_period_end")?,
        cancel_at_period_end: canceled_at.is_some(),
        created_at: row.try_get("created_at")?,
    })
}

async fn read(db: &Db, subscriber: &str, creator: &str) -> Result<Option<Subscription>> {
    let row = sqlx::query(
        "SELECT creator_id, subscriber_id, price_coins, current_period_end, canceled_at, created_at \
         FROM creator_subscriptions WHERE subscriber_id = $1 AND creator_id = $2",
    )
    .bind(subscriber)
    .bind(creator)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Whether `subscriber` has a running subscription to `creator` at `now`.
pub async fn is_subscribed(db: &Db, subscriber: &str, creator: &str, now: i64) -> Result<bool> {
    Ok(read(db, subscriber, creator)
        .await?
        .is_some_and(|s| s.current_period_end > now))
}

/// A subscription and the subscriber's balance; `created`: a new period was paid now.
pub struct Subscribed {
    pub subscription: Subscription,
    pub balance: i64,
    pub created: bool,
}

/// `user` subscribes to `creator_id` (or keeps, and un-cancels, a running subscription).
pub async fn subscribe(services: &Services, user: &User, creator_id: &str) -> Result<Subscribed> {
    if creator_id == user.id {
        return Err(Error::invalid("one does not subscribe to oneself"));
    }
    let creator = accounts::store::user_by_id(&services.db, creator_id)
        .await?
        .ok_or_else(|| Error::not_found("user not found"))?;
    let price = match (creator.is_creator, creator.subscription_price_coins) {
        (true, Some(p)) if p > 0 => p,
        _ => {
            return Err(Error::conflict(
                "this user offers no subscription (isCreator and subscriptionPriceCoins)",
            ));
        }
    };
    let now = services.clock.now_ms();
    let mut tx = services.db.pool.begin().await?;
    // The write first: it takes SQLite's write lock at once; on PostgreSQL a concurrent
    // request waits on the row and then finds the period running.
    let started = sqlx::query(
        "INSERT INTO creator_subscriptions (subscriber_id, creator_id, price_coins, current_period_end, canceled_at, created_at) \
         VALUES ($1, $2, $3, $4, NULL, $5) \
         ON CONFLICT (subscriber_id, creator_id) DO UPDATE SET price_coins = excluded.price_coins, \
         current_period_end = excluded.current_period_end, canceled_at = NULL, created_at = excluded.created_at \
         WHERE creator_subscriptions.current_period_end <= $5",
    )
    .bind(&user.id)
    .bind(creator_id)
    .bind(price)
    .bind(now + PERIOD_MS)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if started {
        let change = wallet::store::Change {
            user_id: &user.id,
            reason: "subscription",
            reference: Some(creator_id),
            now,
        };
        if wallet::store::debit(&mut tx, &change, price)
            .await?
            .is_none()
        {
            return Err(Error::new(
                ErrorCode::InsufficientFunds,
                format!("a subscription costs {price} coins"),
            ));
        }
    } else {
        sqlx::query(
            "UPDATE creator_subscriptions SET canceled_at = NULL WHERE subscriber_id = $1 AND creator_id = $2",
        )
        .bind(&user.id)
        .bind(creator_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let subscription = read(&services.db, &user.id, creator_id)
        .await?
        .ok_or_else(|| Error::internal("a stored subscription is gone"))?;
    Ok(Subscribed {
        subscription,
        balance: wallet::store::balance(&services.db, &user.id).await?,
        created: started,
    })
}

/// `user` cancels their subscription to `creator_id`: it ends at the period's end.
pub async fn cancel(services: &Services, user: &User, creator_id: &str) -> Result<Subscription> {
    let now = services.clock.now_ms();
    sqlx::query(
        "UPDATE creator_subscriptions SET canceled_at = $1 \
         WHERE subscriber_id = $2 AND creator_id = $3 AND current_period_end > $1 AND canceled_at IS NULL",
    )
    .bind(now)
    .bind(&user.id)
    .bind(creator_id)
    .execute(&services.db.pool)
    .await?;
    read(&services.db, &user.id, creator_id)
        .await?
        .filter(|s| s.current_period_end > now)
        .ok_or_else(|| Error::not_found("no running subscription to this creator"))
}
