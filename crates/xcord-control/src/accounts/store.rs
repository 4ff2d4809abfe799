//! SQL for users and sessions.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::User;
use crate::db::{Db, get_bool};

pub struct NewUser<'a> {
    pub id: &'a str,
    pub handle: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub avatar: &'a [String; 2],
    pub is_creator: bool,
}

const USER_COLUMNS: &str = "id, handle, display_name, avatar_from, avatar_to, is_creator, subscription_price_coins, created_at";

fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        handle: row.try_get("handle")?,
        display_name: row.try_get("display_name")?,
        avatar_gradient: [row.try_get("avatar_from")?, row.try_get("avatar_to")?],
        is_creator: get_bool(row, "is_creator")?,
        subscription_price_coins: row.try_get("subscription_price_coins")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts a user; a duplicate handle is a unique violation.
pub async fn insert_user(db: &Db, u: NewUser<'_>, now: i64) -> Result<User, sqlx::Error> {
    let created_at = now;
    sqlx::query(
        "INSERT INTO users (id, handle, handle_lower, display_name, password_hash, avatar_from, avatar_to, is_creator, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(u.id)
    .bind(u.handle)
    .bind(u.handle.to_lowercase())
    .bind(u.display_name)
    .bind(u.password_hash)
    .bind(&u.avatar[0])
    .bind(&u.avatar[1])
    .bind(u.is_creator)
    .bind(created_at)
    .execute(&db.pool)
    .await?;
    Ok(User {
        id: u.id.to_owned(),
        handle: u.handle.to_owned(),
        display_name: u.display_name.to_owned(),
        avatar_gradient: u.avatar.clone(),
        is_creator: u.is_creator,
        subscription_price_coins: None,
        created_at,
    })
}

pub async fn user_by_id(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// The user with this handle (case-insensitive) and their password hash.
pub async fn credentials_by_handle(
    db: &Db,
    handle: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE handle_lower = $1"
    ))
    .bind(handle.to_lowercase())
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
        None => Ok(None),
    }
}

/// Applies profile changes (fields given as `Some`).
pub async fn update_profile(
    db: &Db,
    id: &str,
    display_name: Option<&str>,
    handle: Option<&str>,
    avatar: Option<&[String; 2]>,
    is_creator: Option<bool>,
    subscription_price_coins: Option<i64>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    if let Some(n) = display_name {
        sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(n)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(h) = handle {
        sqlx::query("UPDATE users SET handle = $1, handle_lower = $2 WHERE id = $3")
            .bind(h)
            .bind(h.to_lowercase())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(a) = avatar {
        sqlx::query("UPDATE users SET avatar_from = $1, avatar_to = $2 WHERE id = $3")
            .bind(&a[0])
            .bind(&a[1])
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(p) = subscription_price_coins {
        sqlx::query("UPDATE users SET subscription_price_coins = $1 WHERE id = $2")
            .bind((p > 0).then_some(p))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(c) = is_creator {
        sqlx::query("UPDATE users SET is_creator = $1 WHERE id = $2")
            .bind(c)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

pub async fn insert_session(
    db: &Db,
    token_hash: &str,
    user_id: &str,
    ttl_ms: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The user a live session belongs to.
pub async fn session_user(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<User>, sqlx::Error> {
    Ok(live_session(db, token_hash, now).await?.map(|(u, _)| u))
}

/// The user a live session belongs to, and when the session expires (unix ms).
pub async fn live_session(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<(User, i64)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {}, s.expires_at AS session_expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("session_expires_at")?))),
        None => Ok(None),
    }
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}
