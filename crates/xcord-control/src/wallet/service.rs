//! Wallet rules: reading one's wallet, top-ups (a development server's own credit), and credits
//! through the server API, once per idempotency key (how a payment provider's webhook handler
//! adds coins on a real server).

use super::{MAX_TOPUP, Wallet, store};
use crate::app::Services;
use crate::error::{Error, Result};

/// `user_id`'s balance and newest entries.
pub async fn wallet(services: &Services, user_id: &str) -> Result<Wallet> {
    Ok(Wallet {
        balance: store::balance(&services.db, user_id).await?,
        entries: store::entries(&services.db, user_id).await?,
    })
}

/// Adds `amount` coins to the caller's own wallet: only on a development server (`--dev`).
pub async fn top_up(services: &Services, user_id: &str, amount: i64) -> Result<Wallet> {
    if !services.dev {
        return Err(Error::forbidden(
            "top-ups are only allowed on a development server (--dev)",
        ));
    }
    if !(1..=MAX_TOPUP).contains(&amount) {
        return Err(Error::invalid(format!(
            "amount must be between 1 and {MAX_TOPUP}"
        )));
    }
    let mut tx = services.db.pool.begin().await?;
    let change = store::Change {
        user_id,
        reason: "topup",
        reference: None,
        now: services.clock.now_ms(),
    };
    store::credit(&mut tx, &change, amount).await?;
    tx.commit().await?;
    wallet(services, user_id).await
}

/// A credit made through the server API (a payment provider's webhook handler).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credit {
    #[schema(value_type = crate::schema::Id)]
    pub id: String,
    #[schema(value_type = crate::schema::Id)]
    pub user_id: String,
    pub amount: i64,
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A credit and the balance after it; `created` is false when the key was used before.
pub struct Credited {
    pub credit: Credit,
    pub balance: i64,
    pub created: bool,
}

/// The longest idempotency key and reason.
pub const MAX_KEY_CHARS: usize = 100;
pub const MAX_REASON_CHARS: usize = 200;

async fn credit_by_key(services: &Services, key: &str) -> Result<Option<Credit>> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT id, user_id, amount, reason, created_at FROM wallet_credits WHERE idempotency_key = $1",
    )
    .bind(key)
    .fetch_optional(&services.db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Credit {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        amount: row.try_get("amount")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
    }))
}

/// The earlier credit with `key`: the same answer again, or a conflict when it was another.
async fn replay(
    services: &Services,
    key: &str,
    user_id: &str,
    amount: i64,
) -> Result<Option<Credited>> {
    let Some(credit) = credit_by_key(services, key).await? else {
        return Ok(None);
    };
    if credit.user_id != user_id || credit.amount != amount {
        return Err(Error::conflict(
            "this Idempotency-Key was used for another credit",
        ));
    }
    Ok(Some(Credited {
        balance: store::balance(&services.db, &credit.user_id).await?,
        credit,
        created: false,
    }))
}

/// Credits `amount` coins to `user_id` once per idempotency `key` (the server API's credit:
/// the caller is authorised by the API layer).
pub async fn credit(
    services: &Services,
    user_id: &str,
    amount: i64,
    key: &str,
    reason: Option<String>,
) -> Result<Credited> {
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(format!(
            "an Idempotency-Key header of 1 to {MAX_KEY_CHARS} visible ASCII characters is required"
        )));
    }
    if !(1..=MAX_TOPUP).contains(&amount) {
        return Err(Error::invalid(format!(
            "amount must be between 1 and {MAX_TOPUP}"
        )));
    }
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason
        && (r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control))
    {
        return Err(Error::invalid(format!(
            "reason must be at most {MAX_REASON_CHARS} characters without control characters"
        )));
    }
    if crate::accounts::store::user_by_id(&services.db, user_id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("user not found"));
    }
    if let Some(done) = replay(services, key, user_id, amount).await? {
        return Ok(done);
    }
    let credit = Credit {
        id: crate::db::new_id(),
        user_id: user_id.to_owned(),
        amount,
        reason,
        created_at: services.clock.now_ms(),
    };
    let mut tx = services.db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO wallet_credits (idempotency_key, id, user_id, amount, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key)
    .bind(&credit.id)
    .bind(&credit.user_id)
    .bind(credit.amount)
    .bind(credit.reason.as_deref())
    .bind(credit.created_at)
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        drop(tx);
        if crate::db::is_unique_violation(&e)
            && let Some(done) = replay(services, key, user_id, amount).await?
        {
            return Ok(done);
        }
        return Err(e.into());
    }
    let change = store::Change {
        user_id,
        reason: "credit",
        reference: Some(&credit.id),
        now: credit.created_at,
    };
    let balance = store::credit(&mut tx, &change, amount).await?;
    tx.commit().await?;
    Ok(Credited {
        credit,
        balance,
        created: true,
    })
}
