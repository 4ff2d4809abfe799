//! SQL for channel messages: newest-first pages read by id (ids are time-ordered).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::User;
use crate::communities::users::{user_columns, user_from_row};
use crate::communities::{Channel, Message};
use crate::db::Db;
use crate::db::new_id;

fn from_row(row: &AnyRow, community_id: &str) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: row.try_get("id")?,
        channel_id: row.try_get("channel_id")?,
        community_id: community_id.to_owned(),
        author: user_from_row(row)?,
        content: row.try_get("content")?,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
    })
}

fn select() -> String {
    format!(
        "SELECT m.id, m.channel_id, m.content, m.created_at, m.edited_at, {} \
         FROM channel_messages m JOIN users u ON u.id = m.author_id",
        user_columns("u")
    )
}

pub async fn insert(
    db: &Db,
    channel: &Channel,
    author: &User,
    content: &str,
    now: i64,
) -> Result<Message, sqlx::Error> {
    let message = Message {
        id: new_id(),
        channel_id: channel.id.clone(),
        community_id: channel.community_id.clone(),
        author: author.clone(),
        content: content.to_owned(),
        created_at: now,
        edited_at: None,
    };
    sqlx::query(
        "INSERT INTO channel_messages (id, channel_id, author_id, content, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&message.id)
    .bind(&message.channel_id)
    .bind(&author.id)
    .bind(&message.content)
    .bind(message.created_at)
    .execute(&db.pool)
    .await?;
    Ok(message)
}

pub async fn message(db: &Db, channel: &Channel, id: &str) -> Result<Option<Message>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "{} WHERE m.channel_id = $1 AND m.id = $2",
        select()
    ))
    .bind(&channel.id)
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref()
        .map(|r| from_row(r, &channel.community_id))
        .transpose()
}

/// Up to `limit` messages older than `before` (or the newest), newest first.
pub async fn page(
    db: &Db,
    channel: &Channel,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Message>, sqlx::Error> {
    let rows = match before {
        Some(before) => {
            sqlx::query(&format!(
                "{} WHERE m.channel_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3",
                select()
            ))
            .bind(&channel.id)
            .bind(before)
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "{} WHERE m.channel_id = $1 ORDER BY m.id DESC LIMIT $2",
                select()
            ))
            .bind(&channel.id)
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
    };
    rows.iter()
        .map(|r| from_row(r, &channel.community_id))
        .collect()
}

/// Replaces a message's content; the edit time.
pub async fn edit(db: &Db, id: &str, content: &str, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query("UPDATE channel_messages SET content = $1, edited_at = $2 WHERE id = $3")
        .bind(content)
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(now)
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM channel_messages WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}
