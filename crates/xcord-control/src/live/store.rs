//! Live-session SQL: sessions (compare-and-set on `version`) and purchases (whose insert runs in
//! the purchase's transaction, next to the wallet debit; refunds mark them once).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::{LiveAccess, LiveKind, LiveSession, LiveState};
use crate::db::Db;

const COLUMNS: &str = "id, host_id, kind, title, access, price_coins, state, max_viewers, \
    max_duration_seconds, viewer_count, peak_viewers, created_at, started_at, ended_at, \
    end_reason, version, host_connected_at, host_lost_at";

fn bad(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("live_sessions.{column}: unknown value {value:?}").into())
}

fn session_from_row(row: &AnyRow) -> Result<LiveSession, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let access: String = row.try_get("access")?;
    let state: String = row.try_get("state")?;
    Ok(LiveSession {
        id: row.try_get("id")?,
        host_id: row.try_get("host_id")?,
        kind: LiveKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        title: row.try_get("title")?,
        access: LiveAccess::parse(&access).ok_or_else(|| bad("access", &access))?,
        price_coins: row.try_get("price_coins")?,
        state: LiveState::parse(&state).ok_or_else(|| bad("state", &state))?,
        max_viewers: row.try_get("max_viewers")?,
        max_duration_seconds: row.try_get("max_duration_seconds")?,
        viewer_count: row.try_get("viewer_count")?,
        peak_viewers: row.try_get("peak_viewers")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        end_reason: row.try_get("end_reason")?,
        version: row.try_get("version")?,
        host_connected_at: row.try_get("host_connected_at")?,
        host_lost_at: row.try_get("host_lost_at")?,
    })
}

pub async fn insert(db: &Db, s: &LiveSession) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO live_sessions ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(&s.id)
    .bind(&s.host_id)
    .bind(s.kind.as_str())
    .bind(&s.title)
    .bind(s.access.as_str())
    .bind(s.price_coins)
    .bind(s.state.as_str())
    .bind(s.max_viewers)
    .bind(s.max_duration_seconds)
    .bind(s.viewer_count)
    .bind(s.peak_viewers)
    .bind(s.created_at)
    .bind(s.started_at)
    .bind(s.ended_at)
    .bind(s.end_reason.as_deref())
    .bind(s.version)
    .bind(s.host_connected_at)
    .bind(s.host_lost_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<LiveSession>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM live_sessions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(session_from_row).transpose()
}

/// Up to `limit` sessions, newest first, in `state` if given.
pub async fn list(
    db: &Db,
    state: Option<LiveState>,
    limit: i64,
) -> Result<Vec<LiveSession>, sqlx::Error> {
    let rows = match state {
        Some(state) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM live_sessions WHERE state = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(state.as_str())
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM live_sessions ORDER BY id DESC LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(&db.pool)
            .await?
        }
    };
    rows.iter().map(session_from_row).collect()
}

/// Stores a state change made from the session at `s.version - 1`; false when another change
/// came first.
pub async fn update_state(conn: &mut AnyConnection, s: &LiveSession) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE live_sessions SET state = $1, started_at = $2, ended_at = $3, end_reason = $4, \
         version = $5 WHERE id = $6 AND version = $7",
    )
    .bind(s.state.as_str())
    .bind(s.started_at)
    .bind(s.ended_at)
    .bind(s.end_reason.as_deref())
    .bind(s.version)
    .bind(&s.id)
    .bind(s.version - 1)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A pay-per-view purchase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Purchase {
    #[schema(value_type = crate::schema::Id)]
    pub id: String,
    #[schema(value_type = crate::schema::Id)]
    pub session_id: String,
    #[schema(value_type = crate::schema::Id)]
    pub buyer_id: String,
    pub price_coins: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    #[serde(skip)]
    pub idempotency_key: String,
}

const PURCHASE_COLUMNS: &str = "id, session_id, buyer_id, price_coins, idempotency_key, created_at";

fn purchase_from_row(row: &AnyRow) -> Result<Purchase, sqlx::Error> {
    Ok(Purchase {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        buyer_id: row.try_get("buyer_id")?,
        price_coins: row.try_get("price_coins")?,
        idempotency_key: row.try_get("idempotency_key")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts a purchase in the caller's transaction (a unique violation: a purchase of the same
/// session, or with the same key, exists).
pub async fn insert_purchase(conn: &mut AnyConnection, p: &Purchase) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO live_purchases ({PURCHASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&p.id)
    .bind(&p.session_id)
    .bind(&p.buyer_id)
    .bind(p.price_coins)
    .bind(&p.idempotency_key)
    .bind(p.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The buyer's purchase with `key`.
pub async fn purchase_by_key(
    db: &Db,
    buyer_id: &str,
    key: &str,
) -> Result<Option<Purchase>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {PURCHASE_COLUMNS} FROM live_purchases WHERE buyer_id = $1 AND idempotency_key = $2"
    ))
    .bind(buyer_id)
    .bind(key)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(purchase_from_row).transpose()
}

/// Whether `buyer_id` bought `session_id`.
pub async fn has_purchase(db: &Db, session_id: &str, buyer_id: &str) -> Result<bool, sqlx::Error> {
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM live_purchases WHERE session_id = $1 AND buyer_id = $2",
    )
    .bind(session_id)
    .bind(buyer_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(found > 0)
}

/// The live sessions due to end or fail by `now` (their deadline: see `machine::deadline`):
/// `grace_ms` after the start without the host, `lost_grace_ms` after the host was lost.
pub async fn due(
    db: &Db,
    now: i64,
    grace_ms: i64,
    lost_grace_ms: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM live_sessions WHERE state = 'live' AND ( \
         (max_duration_seconds IS NOT NULL AND started_at + max_duration_seconds * 1000 <= $1) \
         OR (host_connected_at IS NULL AND started_at + $2 <= $1) \
         OR (host_connected_at IS NOT NULL AND host_lost_at IS NOT NULL \
             AND host_lost_at + $3 <= $1))",
    )
    .bind(now)
    .bind(grace_ms)
    .bind(lost_grace_ms)
    .fetch_all(&db.pool)
    .await
}

/// The earliest instant a live session ends or fails by itself.
pub async fn earliest_deadline(
    db: &Db,
    grace_ms: i64,
    lost_grace_ms: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let max: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(started_at + max_duration_seconds * 1000) FROM live_sessions \
         WHERE state = 'live' AND max_duration_seconds IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await?;
    let grace: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(started_at) FROM live_sessions WHERE state = 'live' AND host_connected_at IS NULL",
    )
    .fetch_one(&db.pool)
    .await?;
    let lost: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(host_lost_at) FROM live_sessions WHERE state = 'live' \
         AND host_connected_at IS NOT NULL AND host_lost_at IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok(max
        .into_iter()
        .chain(grace.map(|g| g + grace_ms))
        .chain(lost.map(|l| l + lost_grace_ms))
        .min())
}

/// Records the host's media connection: the first one (`host_connected_at`), and any one after
/// a loss (`host_lost_at` cleared). A change of the session: its version moves, so a timer that
/// judged the session without it must read it again. True when something changed.
pub async fn host_connected(db: &Db, session_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE live_sessions SET host_connected_at = COALESCE(host_connected_at, $1), \
         host_lost_at = NULL, version = version + 1 \
         WHERE id = $2 AND (host_connected_at IS NULL OR host_lost_at IS NOT NULL)",
    )
    .bind(now)
    .bind(session_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that the host's last media connection was lost while live (once, until they are
/// back); true when it was recorded now.
pub async fn host_lost(db: &Db, session_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE live_sessions SET host_lost_at = $1, version = version + 1 \
         WHERE id = $2 AND state = 'live' AND host_connected_at IS NOT NULL \
         AND host_lost_at IS NULL",
    )
    .bind(now)
    .bind(session_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The purchases of `session_id` not refunded yet.
pub async fn unrefunded(
    conn: &mut AnyConnection,
    session_id: &str,
) -> Result<Vec<Purchase>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {PURCHASE_COLUMNS} FROM live_purchases WHERE session_id = $1 AND refunded_at IS NULL"
    ))
    .bind(session_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(purchase_from_row).collect()
}

/// Marks a purchase refunded in the caller's transaction; false when it already was.
pub async fn mark_refunded(
    conn: &mut AnyConnection,
    purchase_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE live_purchases SET refunded_at = $1 WHERE id = $2 AND refunded_at IS NULL",
    )
    .bind(now)
    .bind(purchase_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
