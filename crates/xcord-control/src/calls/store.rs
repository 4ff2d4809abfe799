//! SQL for calls: each call is one row written with compare-and-set on its version, with the
//! next deadline beside it for the timer task.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::machine::{Call, CallState};
use crate::db::{Db, get_bool};

const COLUMNS: &str = "id, conversation_id, caller_id, callee_id, video, state, created_at, \
    ring_expires_at, answered_at, ended_at, end_reason, caller_absent_since, callee_absent_since, \
    version";

fn from_row(row: &AnyRow) -> Result<Call, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(Call {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        caller_id: row.try_get("caller_id")?,
        callee_id: row.try_get("callee_id")?,
        video: get_bool(row, "video")?,
        state: CallState::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown call state {state:?}").into()))?,
        created_at: row.try_get("created_at")?,
        ring_expires_at: row.try_get("ring_expires_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        end_reason: row.try_get("end_reason")?,
        caller_absent_since: row.try_get("caller_absent_since")?,
        callee_absent_since: row.try_get("callee_absent_since")?,
        version: row.try_get("version")?,
    })
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Call>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM calls WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Stores a new call (version 0 → 1). `false`: a call with that id exists.
pub async fn insert(tx: &mut Transaction<'_, Any>, call: &Call) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "INSERT INTO calls ({COLUMNS}, next_deadline) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(&call.id)
    .bind(&call.conversation_id)
    .bind(&call.caller_id)
    .bind(&call.callee_id)
    .bind(call.video)
    .bind(call.state.as_str())
    .bind(call.created_at)
    .bind(call.ring_expires_at)
    .bind(call.answered_at)
    .bind(call.ended_at)
    .bind(call.end_reason.as_deref())
    .bind(call.caller_absent_since)
    .bind(call.callee_absent_since)
    .bind(call.version)
    .bind(call.next_deadline())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes `call` if the stored version is still `read_version`; `false` when someone else wrote
/// first (the caller re-reads and decides again).
pub async fn update(
    tx: &mut Transaction<'_, Any>,
    call: &Call,
    read_version: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calls SET state = $1, answered_at = $2, ended_at = $3, end_reason = $4, \
         caller_absent_since = $5, callee_absent_since = $6, next_deadline = $7, version = $8 \
         WHERE id = $9 AND version = $10",
    )
    .bind(call.state.as_str())
    .bind(call.answered_at)
    .bind(call.ended_at)
    .bind(call.end_reason.as_deref())
    .bind(call.caller_absent_since)
    .bind(call.callee_absent_since)
    .bind(call.next_deadline())
    .bind(call.version)
    .bind(&call.id)
    .bind(read_version)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Calls whose deadline has come by `now`.
pub async fn due(db: &Db, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT id FROM calls WHERE next_deadline <= $1")
        .bind(now)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("id")).collect()
}

/// The earliest deadline of any call.
pub async fn earliest_deadline(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT MIN(next_deadline) AS t FROM calls")
        .fetch_one(&db.pool)
        .await?
        .try_get("t")
}
