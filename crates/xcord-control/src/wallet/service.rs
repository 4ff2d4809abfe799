//! Wallet rules: reading one's wallet, and top-ups (a development server's own credit; on a
//! real server coins come from a payment provider).

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
