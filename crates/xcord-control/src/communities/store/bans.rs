//! SQL for bans: banning also ends the membership, in the same transaction.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::communities::Ban;
use crate::communities::users::{user_columns, user_from_row};
use crate::db::Db;

fn from_row(row: &AnyRow) -> Result<Ban, sqlx::Error> {
    Ok(Ban {
        community_id: row.try_get("community_id")?,
        user: user_from_row(row)?,
        banned_by: row.try_get("banned_by")?,
        created_at: row.try_get("created_at")?,
    })
}

fn select() -> String {
    format!(
        "SELECT b.community_id, b.banned_by, b.created_at, {} FROM bans b JOIN users u ON u.id = b.user_id",
        user_columns("u")
    )
}

/// A community's bans, newest first.
pub async fn bans(db: &Db, community_id: &str) -> Result<Vec<Ban>, sqlx::Error> {
    sqlx::query(&format!(
        "{} WHERE b.community_id = $1 ORDER BY b.created_at DESC, b.user_id",
        select()
    ))
    .bind(community_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn ban_of(
    db: &Db,
    community_id: &str,
    user_id: &str,
) -> Result<Option<Ban>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "{} WHERE b.community_id = $1 AND b.user_id = $2",
        select()
    ))
    .bind(community_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// What a ban changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Banned {
    /// The user was not banned before.
    pub new: bool,
    /// The user was a member and no longer is.
    pub was_member: bool,
}

/// Bans `user_id` and ends their membership, all or nothing.
pub async fn ban(
    db: &Db,
    community_id: &str,
    user_id: &str,
    banned_by: &str,
    now: i64,
) -> Result<Banned, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO bans (community_id, user_id, banned_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(community_id)
    .bind(user_id)
    .bind(banned_by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let removed =
        sqlx::query("DELETE FROM community_members WHERE community_id = $1 AND user_id = $2")
            .bind(community_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(Banned {
        new: inserted.rows_affected() > 0,
        was_member: removed.rows_affected() > 0,
    })
}

pub async fn unban(db: &Db, community_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM bans WHERE community_id = $1 AND user_id = $2")
        .bind(community_id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}
