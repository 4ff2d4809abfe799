//! SQL for conversations (one per pair of users, stored as `user_a < user_b`) and their
//! messages.

use sqlx::Row;
use sqlx::any::AnyRow;

use sqlx::{Any, Transaction};

use super::{CallRecord, ConversationView, DmMessage, MessageKind};
use crate::accounts::User;
use crate::communities::users::{user_columns, user_columns_as, user_from_row, user_from_row_as};
use crate::db::{Db, get_bool, is_unique_violation, new_id};

fn conversation_select() -> String {
    let a = user_columns_as("a", "a");
    let b = user_columns_as("b", "b");
    format!(
        "SELECT c.id, c.created_at, c.last_message_at, {a}, {b} FROM conversations c \
         JOIN users a ON a.id = c.user_a JOIN users b ON b.id = c.user_b"
    )
}

fn conversation_from_row(row: &AnyRow) -> Result<ConversationView, sqlx::Error> {
    Ok(ConversationView {
        id: row.try_get("id")?,
        participants: [user_from_row_as(row, "a")?, user_from_row_as(row, "b")?],
        created_at: row.try_get("created_at")?,
        last_message_at: row.try_get("last_message_at")?,
    })
}

/// The pair in stored order.
fn ordered<'a>(x: &'a str, y: &'a str) -> (&'a str, &'a str) {
    if x < y { (x, y) } else { (y, x) }
}

pub async fn between(db: &Db, x: &str, y: &str) -> Result<Option<ConversationView>, sqlx::Error> {
    let (a, b) = ordered(x, y);
    let row = sqlx::query(&format!(
        "{} WHERE c.user_a = $1 AND c.user_b = $2",
        conversation_select()
    ))
    .bind(a)
    .bind(b)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// The conversation between two users, created if there is none; whether it was created.
pub async fn get_or_create(
    db: &Db,
    x: &str,
    y: &str,
    now: i64,
) -> Result<(ConversationView, bool), sqlx::Error> {
    if let Some(c) = between(db, x, y).await? {
        return Ok((c, false));
    }
    let (a, b) = ordered(x, y);
    let inserted = sqlx::query(
        "INSERT INTO conversations (id, user_a, user_b, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id())
    .bind(a)
    .bind(b)
    .bind(now)
    .execute(&db.pool)
    .await;
    let created = match inserted {
        Ok(_) => true,
        // Someone created it at the same moment: theirs is the one.
        Err(e) if is_unique_violation(&e) => false,
        Err(e) => return Err(e),
    };
    let conversation = between(db, x, y)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound)?;
    Ok((conversation, created))
}

/// The conversation, if `user_id` takes part in it.
pub async fn conversation_for(
    db: &Db,
    id: &str,
    user_id: &str,
) -> Result<Option<ConversationView>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "{} WHERE c.id = $1 AND (c.user_a = $2 OR c.user_b = $2)",
        conversation_select()
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(conversation_from_row).transpose()
}

/// The conversations `user_id` takes part in, most recently active first.
pub async fn conversations_of(
    db: &Db,
    user_id: &str,
) -> Result<Vec<ConversationView>, sqlx::Error> {
    sqlx::query(&format!(
        "{} WHERE c.user_a = $1 OR c.user_b = $1 \
         ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC",
        conversation_select()
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(conversation_from_row)
    .collect()
}

fn message_from_row(row: &AnyRow) -> Result<DmMessage, sqlx::Error> {
    let call_id: Option<String> = row.try_get("call_id")?;
    let call = match call_id {
        Some(id) => {
            let answered_at: Option<i64> = row.try_get("call_answered_at")?;
            let ended_at: Option<i64> = row.try_get("call_ended_at")?;
            Some(CallRecord {
                id,
                state: row.try_get("call_state")?,
                video: get_bool(row, "call_video")?,
                duration_ms: match (answered_at, ended_at) {
                    (Some(a), Some(e)) => e.saturating_sub(a).max(0),
                    _ => 0,
                },
            })
        }
        None => None,
    };
    Ok(DmMessage {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        author: user_from_row(row)?,
        content: row.try_get("content")?,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        kind: if call.is_some() {
            MessageKind::Call
        } else {
            MessageKind::Text
        },
        call,
    })
}

/// Stores the system message of a finished call (authored by its caller) inside the
/// transaction that finishes it, and marks the conversation active.
pub async fn insert_call_message(
    tx: &mut Transaction<'_, Any>,
    conversation_id: &str,
    caller_id: &str,
    call_id: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query("UPDATE conversations SET last_message_at = $1 WHERE id = $2")
        .bind(now)
        .bind(conversation_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO dm_messages (id, conversation_id, author_id, content, created_at, call_id) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(conversation_id)
    .bind(caller_id)
    .bind("")
    .bind(now)
    .bind(call_id)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// One message by id, as the list shows it.
pub async fn message(db: &Db, id: &str) -> Result<Option<DmMessage>, sqlx::Error> {
    let row = sqlx::query(&format!("{} WHERE m.id = $1", message_select()))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(message_from_row).transpose()
}

fn message_select() -> String {
    format!(
        "SELECT m.id, m.conversation_id, m.content, m.created_at, m.edited_at, m.call_id, \
         k.state AS call_state, k.video AS call_video, k.answered_at AS call_answered_at, \
         k.ended_at AS call_ended_at, {} \
         FROM dm_messages m JOIN users u ON u.id = m.author_id \
         LEFT JOIN calls k ON k.id = m.call_id",
        user_columns("u")
    )
}

/// Stores a message and marks the conversation active, together.
pub async fn insert_message(
    db: &Db,
    conversation_id: &str,
    author: &User,
    content: &str,
    now: i64,
) -> Result<DmMessage, sqlx::Error> {
    let message = DmMessage {
        id: new_id(),
        conversation_id: conversation_id.to_owned(),
        author: author.clone(),
        content: content.to_owned(),
        created_at: now,
        edited_at: None,
        kind: MessageKind::Text,
        call: None,
    };
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE conversations SET last_message_at = $1 WHERE id = $2")
        .bind(message.created_at)
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO dm_messages (id, conversation_id, author_id, content, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&message.id)
    .bind(conversation_id)
    .bind(&author.id)
    .bind(&message.content)
    .bind(message.created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(message)
}

/// Up to `limit` messages older than `before` (or the newest), newest first.
pub async fn messages(
    db: &Db,
    conversation_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<DmMessage>, sqlx::Error> {
    let select = format!("{} WHERE m.conversation_id = $1", message_select());
    let rows = match before {
        Some(before) => {
            sqlx::query(&format!(
                "{select} AND m.id < $2 ORDER BY m.id DESC LIMIT $3"
            ))
            .bind(conversation_id)
            .bind(before)
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
        None => {
            sqlx::query(&format!("{select} ORDER BY m.id DESC LIMIT $2"))
                .bind(conversation_id)
                .bind(limit)
                .fetch_all(&db.pool)
                .await?
        }
    };
    rows.iter().map(message_from_row).collect()
}
