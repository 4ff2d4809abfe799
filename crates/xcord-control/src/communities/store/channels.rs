//! SQL for channels.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::kind_from_db;
use crate::communities::{Channel, ChannelKind};
use crate::db::{Db, new_id};

const COLUMNS: &str = "id, community_id, name, kind, user_limit, position, created_at";

fn from_row(row: &AnyRow) -> Result<Channel, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(Channel {
        id: row.try_get("id")?,
        community_id: row.try_get("community_id")?,
        name: row.try_get("name")?,
        kind: kind_from_db(&kind)?,
        user_limit: u32::try_from(row.try_get::<i64, _>("user_limit")?).unwrap_or(0),
        position: row.try_get("position")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A community's channels by position.
pub async fn channels(db: &Db, community_id: &str) -> Result<Vec<Channel>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM channels WHERE community_id = $1 ORDER BY position, created_at, id"
    ))
    .bind(community_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn channel(db: &Db, id: &str) -> Result<Option<Channel>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Adds a channel at `position`, or after the last one.
pub async fn insert(
    db: &Db,
    community_id: &str,
    name: &str,
    kind: ChannelKind,
    user_limit: u32,
    position: Option<i64>,
    now: i64,
) -> Result<Channel, sqlx::Error> {
    let row = sqlx::query(&format!(
        "INSERT INTO channels (id, community_id, name, kind, user_limit, position, created_at) \
         SELECT $1, $2, $3, $4, $5, COALESCE($6, COALESCE(MAX(position), -1) + 1), $7 \
         FROM channels WHERE community_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(new_id())
    .bind(community_id)
    .bind(name)
    .bind(kind.as_str())
    .bind(i64::from(user_limit))
    .bind(position)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    from_row(&row)
}

/// Changes a channel's name, user limit and/or position.
pub async fn update(
    db: &Db,
    id: &str,
    name: Option<&str>,
    user_limit: Option<u32>,
    position: Option<i64>,
) -> Result<Option<Channel>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "UPDATE channels SET name = COALESCE($1, name), user_limit = COALESCE($2, user_limit), \
         position = COALESCE($3, position) WHERE id = $4 RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(user_limit.map(i64::from))
    .bind(position)
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes a channel and its messages (by cascade).
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM channels WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}
