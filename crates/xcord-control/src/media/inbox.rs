//! The media event inbox: every event is stored (keyed by its id) before it is acknowledged or
//! applied, and claimed ([`claim`]) in the transaction that applies it, so an event is applied
//! exactly once even when it is delivered twice or the process restarts in between.

use sqlx::Row;

use sqlx::{Any, Transaction};

use super::MediaEvent;
use crate::db::{Db, get_bool, is_unique_violation};

/// Stores an event, received at `now_ms`, unless its id is already known. Returns whether it
/// still needs applying.
pub async fn store(db: &Db, event: &MediaEvent, now_ms: i64) -> Result<bool, sqlx::Error> {
    let payload =
        serde_json::to_string(event.as_ref()).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let room = event
        .room
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let inserted = sqlx::query(
        "INSERT INTO media_event_inbox (event_id, event, room, payload, processed, received_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&event.id)
    .bind(&event.event)
    .bind(room)
    .bind(payload)
    .bind(false)
    .bind(now_ms)
    .execute(&db.pool)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => {
            let row = sqlx::query("SELECT processed FROM media_event_inbox WHERE event_id = $1")
                .bind(&event.id)
                .fetch_one(&db.pool)
                .await?;
            Ok(!get_bool(&row, "processed")?)
        }
        Err(e) => Err(e),
    }
}

/// Events stored but not applied (after a restart), oldest first.
pub async fn pending(db: &Db) -> Result<Vec<MediaEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT payload FROM media_event_inbox WHERE processed = $1 ORDER BY received_at",
    )
    .bind(false)
    .fetch_all(&db.pool)
    .await?;
    let mut events = Vec::new();
    for r in rows {
        let payload: String = r.try_get("payload")?;
        match serde_json::from_str(&payload) {
            Ok(e) => events.push(std::sync::Arc::new(e)),
            Err(e) => tracing::error!("an unreadable media event in the inbox is skipped: {e}"),
        }
    }
    Ok(events)
}

/// Marks an event processed inside the transaction that applies it. `false`: it already was
/// (or is unknown), and must not be applied again.
pub async fn claim(tx: &mut Transaction<'_, Any>, event_id: &str) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE media_event_inbox SET processed = $1 WHERE event_id = $2 AND processed = $3",
    )
    .bind(true)
    .bind(event_id)
    .bind(false)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(claimed > 0)
}
