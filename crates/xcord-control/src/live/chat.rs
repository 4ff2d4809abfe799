//! Live chat: messages of a session, stored and broadcast in order (ids grow with time), for
//! everyone who may watch it (the host, and anyone its access rule admits who is not banned).
//! Writing needs the session live, and is limited per user (a count per window) and in length.
//! A deleted message (by its author, or by the host or a co-host, which the moderation log
//! records) disappears from reads and everyone gets `LIVE_MESSAGE_DELETE`.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use super::moderation::{self, reason};
use super::{LiveState, events, service, stage};
use crate::accounts::User;
use crate::app::Services;
use crate::db::new_id;
use crate::error::{Error, ErrorCode, Result};

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// How many messages a read shows (the newest, oldest first).
pub const READ_LIMIT: i64 = 100;
/// Each user may send this many messages per [`RATE_WINDOW`] in a session.
pub const RATE_MAX: u32 = 5;
pub const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// A chat message.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveMessage {
    #[schema(value_type = crate::schema::Id)]
    pub id: String,
    #[schema(value_type = crate::schema::Id)]
    pub session_id: String,
    #[schema(value_type = crate::schema::Id)]
    pub author_id: String,
    pub content: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

fn message_from_row(row: &AnyRow) -> Result<LiveMessage, sqlx::Error> {
    Ok(LiveMessage {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        author_id: row.try_get("author_id")?,
        content: row.try_get("content")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The newest messages of session `id`, oldest first.
pub async fn list(services: &Services, user: &User, id: &str) -> Result<Vec<LiveMessage>> {
    let s = service::entitled(services, user, id).await?;
    let rows = sqlx::query(
        "SELECT id, session_id, author_id, content, created_at FROM live_messages \
         WHERE session_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2",
    )
    .bind(&s.id)
    .bind(READ_LIMIT)
    .fetch_all(&services.db.pool)
    .await?;
    let mut messages = rows
        .iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    messages.reverse();
    Ok(messages)
}

/// `user` writes `content` to session `id`'s chat.
pub async fn post(
    services: &Services,
    user: &User,
    id: &str,
    content: &str,
) -> Result<LiveMessage> {
    let content = content.trim();
    let chars = content.chars().count();
    if chars == 0
        || chars > MAX_MESSAGE_CHARS
        || content.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::invalid(format!(
            "content must be 1 to {MAX_MESSAGE_CHARS} characters without control characters"
        )));
    }
    let s = service::entitled(services, user, id).await?;
    if s.state != LiveState::Live {
        return Err(Error::new(ErrorCode::NotLive, "the session is not live"));
    }
    let key = format!("{}:{}", s.id, user.id);
    if let Err(wait) = services
        .live
        .chat_limits
        .check(&key, services.clock.instant())
    {
        return Err(Error::busy(
            ErrorCode::RateLimited,
            format!(
                "at most {RATE_MAX} messages per {} s",
                RATE_WINDOW.as_secs()
            ),
            u32::try_from(wait.as_secs().max(1)).unwrap_or(u32::MAX),
        ));
    }
    let message = LiveMessage {
        id: new_id(),
        session_id: s.id.clone(),
        author_id: user.id.clone(),
        content: content.to_owned(),
        created_at: services.clock.now_ms(),
    };
    sqlx::query(
        "INSERT INTO live_messages (id, session_id, author_id, content, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&message.id)
    .bind(&message.session_id)
    .bind(&message.author_id)
    .bind(&message.content)
    .bind(message.created_at)
    .execute(&services.db.pool)
    .await?;
    events::publish(services, &s, &[], events::LIVE_MESSAGE_CREATE, &message).await;
    Ok(message)
}

/// Deletes message `message_id` of session `id` (its author, or the host or a co-host: then
/// logged with `why`).
pub async fn delete(
    services: &Services,
    user: &User,
    id: &str,
    message_id: &str,
    why: Option<String>,
) -> Result<()> {
    let why = reason(why)?;
    let s = service::get(services, id).await?;
    let author: Option<String> = sqlx::query_scalar(
        "SELECT author_id FROM live_messages WHERE id = $1 AND session_id = $2 AND deleted_at IS NULL",
    )
    .bind(message_id)
    .bind(&s.id)
    .fetch_optional(&services.db.pool)
    .await?;
    let author = author.ok_or_else(|| Error::not_found("no such message"))?;
    let moderator = stage::is_manager(&services.db, &s, &user.id).await?;
    if author != user.id && !moderator {
        return Err(Error::forbidden(
            "only its author, the host or a co-host may delete a message",
        ));
    }
    if author != user.id {
        moderation::check_rank(services, &s, &user.id, &author).await?;
    }
    let done = sqlx::query(
        "UPDATE live_messages SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
    )
    .bind(services.clock.now_ms())
    .bind(message_id)
    .execute(&services.db.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("no such message"));
    }
    if moderator && author != user.id {
        let mut e = moderation::entry(services, &s, user, "delete_message", Some(&author), why);
        e.message_id = Some(message_id.to_owned());
        moderation::log(&services.db, &e).await?;
    }
    events::publish(
        services,
        &s,
        &[],
        events::LIVE_MESSAGE_DELETE,
        serde_json::json!({"id": message_id, "sessionId": s.id}),
    )
    .await;
    Ok(())
}
