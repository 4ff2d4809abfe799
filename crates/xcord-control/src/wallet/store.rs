//! Wallet SQL. Credits and debits take a connection, so that the caller's transaction holds
//! the balance change and its ledger entry (and, for a purchase, the purchase) together.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{ENTRIES_SHOWN, LedgerEntry};
use crate::db::{Db, new_id};

/// What a change is and what it was for.
pub struct Change<'a> {
    pub user_id: &'a str,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
    pub now: i64,
}

async fn record(
    conn: &mut AnyConnection,
    change: &Change<'_>,
    amount: i64,
    balance_after: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO wallet_entries (id, user_id, amount, balance_after, reason, reference, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(change.user_id)
    .bind(amount)
    .bind(balance_after)
    .bind(change.reason)
    .bind(change.reference)
    .bind(change.now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `amount` (> 0) and records it; returns the new balance.
pub async fn credit(
    conn: &mut AnyConnection,
    change: &Change<'_>,
    amount: i64,
) -> Result<i64, sqlx::Error> {
    let balance: i64 = sqlx::query_scalar(
        "INSERT INTO wallets (user_id, balance) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET balance = wallets.balance + excluded.balance \
         RETURNING balance",
    )
    .bind(change.user_id)
    .bind(amount)
    .fetch_one(&mut *conn)
    .await?;
    record(conn, change, amount, balance).await?;
    Ok(balance)
}

/// Takes `amount` (> 0) if the balance covers it and records it; returns the new balance, or
/// `None` (nothing changed) when it does not.
pub async fn debit(
    conn: &mut AnyConnection,
    change: &Change<'_>,
    amount: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let balance: Option<i64> = sqlx::query_scalar(
        "UPDATE wallets SET balance = balance - $1 WHERE user_id = $2 AND balance >= $1 \
         RETURNING balance",
    )
    .bind(amount)
    .bind(change.user_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(balance) = balance {
        record(conn, change, -amount, balance).await?;
    }
    Ok(balance)
}

/// The balance (0 for a user who never had coins).
pub async fn balance(db: &Db, user_id: &str) -> Result<i64, sqlx::Error> {
    let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM wallets WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(balance.unwrap_or(0))
}

fn entry_from_row(row: &AnyRow) -> Result<LedgerEntry, sqlx::Error> {
    Ok(LedgerEntry {
        id: row.try_get("id")?,
        amount: row.try_get("amount")?,
        balance_after: row.try_get("balance_after")?,
        reason: row.try_get("reason")?,
        reference: row.try_get("reference")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The newest ledger entries, newest first.
pub async fn entries(db: &Db, user_id: &str) -> Result<Vec<LedgerEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, amount, balance_after, reason, reference, created_at FROM wallet_entries \
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(ENTRIES_SHOWN)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(entry_from_row).collect()
}
