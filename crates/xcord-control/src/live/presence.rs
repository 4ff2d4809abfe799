//! Who is in each session's room, from the media plane's events (`live_participants`: every
//! connection, keyed by participant sid, with when it joined and left). The audience count is
//! the session's `viewer_count`, changed only here: a joining audience member takes a place with
//! one conditional update (`viewer_count < max_viewers`), so concurrent joins never overshoot
//! `maxViewers` on SQLite or PostgreSQL; one who finds no place, a banned user, or anyone joining
//! an ended session is removed from the room. A user's new connection replacing an old one
//! (a rejoin) keeps its place. The host's first connection is recorded (a live session whose
//! host never connects fails), and so is the loss of their last one (a live session whose host
//! does not come back in time fails); a room that closes while live fails its session. Every
//! change of the counts is a `LIVE_UPDATE`.
//!
//! Voice claims each event in the inbox; this listener is idempotent by state instead (a
//! repeated `participant_joined` finds its sid recorded, a repeated `participant_left` finds it
//! gone).

use async_trait::async_trait;
use livekit_protocol as proto;
use sqlx::Row;
use xcord_sfu::events::names;

use super::{LiveRole, LiveSession, LiveState, access, events, moderation, service, stage, store};
use crate::app::Services;
use crate::db::Db;
use crate::error::Result;
use crate::media::{MediaError, MediaEvent, MediaEventListener};

/// The session of a media room, if it is a live room.
pub fn session_of_room(room: &str) -> Option<&str> {
    crate::media_session::model::live_of_room(room)
}

pub struct LiveMediaListener;

#[async_trait]
impl MediaEventListener for LiveMediaListener {
    async fn on_media_event(&self, services: &Services, event: &MediaEvent) {
        if let Err(e) = apply(services, event).await {
            tracing::warn!(id = %event.id, "media event not applied to live sessions: {e}");
        }
    }
}

async fn apply(services: &Services, event: &MediaEvent) -> Result<()> {
    let room = event.room.as_ref().map(|r| r.name.as_str()).unwrap_or("");
    let Some(session_id) = session_of_room(room) else {
        return Ok(());
    };
    match (event.event.as_str(), event.participant.as_ref()) {
        (names::PARTICIPANT_JOINED, Some(p))
            if p.kind == proto::participant_info::Kind::Standard as i32 =>
        {
            joined(services, session_id, p).await
        }
        (names::PARTICIPANT_LEFT | names::PARTICIPANT_CONNECTION_ABORTED, Some(p)) => {
            let now = services.clock.now_ms();
            if left(&services.db, &p.sid, "left", now).await? {
                host_maybe_lost(services, session_id, &p.identity, now).await?;
                announce(services, session_id).await;
            }
            Ok(())
        }
        (names::ROOM_FINISHED, _) => {
            // A room that closes while its session is live is a media-plane failure; the
            // session fails (and tells those present) before they are marked as left.
            service::media_failed(services, session_id).await?;
            if all_left(&services.db, session_id, services.clock.now_ms()).await? {
                announce(services, session_id).await;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Publishes the session's `LIVE_UPDATE` (as it is stored now).
pub async fn announce(services: &Services, session_id: &str) {
    match store::get(&services.db, session_id).await {
        Ok(Some(s)) => events::live_update(services, &s).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(session = %session_id, "live session unreadable: {e}"),
    }
}

/// Removes `identity` from the session's room (a refused or removed participant).
pub async fn remove(services: &Services, session_id: &str, identity: &str) {
    let Some(media) = &services.media else {
        return;
    };
    match media
        .plane
        .remove_participant(&super::room_of(session_id), identity)
        .await
    {
        Ok(()) | Err(MediaError::NotFound(_)) => {}
        Err(e) => {
            tracing::warn!(session = %session_id, user = %identity, "could not remove a live participant: {e}")
        }
    }
}

/// The host's connection `identity` left: when no other connection of the host is in the
/// room, the loss is recorded (the session fails unless they are back within the grace).
async fn host_maybe_lost(
    services: &Services,
    session_id: &str,
    identity: &str,
    now: i64,
) -> Result<()> {
    let Some(s) = store::get(&services.db, session_id).await? else {
        return Ok(());
    };
    if identity != s.host_id || is_present(&services.db, session_id, identity).await? {
        return Ok(());
    }
    if store::host_lost(&services.db, session_id, now).await? {
        services.live.wake_timers();
    }
    Ok(())
}

/// Why a joining participant may not stay.
enum Outcome {
    Stays,
    Duplicate,
    Refused,
}

async fn joined(services: &Services, session_id: &str, p: &proto::ParticipantInfo) -> Result<()> {
    let Some(s) = store::get(&services.db, session_id).await? else {
        return Ok(());
    };
    let now = services.clock.now_ms();
    if p.identity == s.host_id {
        record(&services.db, &s, p, LiveRole::Host, false, now).await?;
        if store::host_connected(&services.db, &s.id, now).await? {
            services.live.wake_timers();
        }
        return Ok(());
    }
    let over = matches!(s.state, LiveState::Ended | LiveState::Failed);
    let banned = moderation::is_banned(&services.db, &s.host_id, &p.identity).await?;
    if over || banned {
        record(
            &services.db,
            &s,
            p,
            access::audience_role(s.kind),
            false,
            now,
        )
        .await?;
        left(&services.db, &p.sid, "refused", now).await?;
        remove(services, &s.id, &p.identity).await;
        return Ok(());
    }
    let role = stage::role_of(&services.db, &s, &p.identity).await?;
    match take_place(&services.db, &s, p, role, now).await? {
        Outcome::Stays => announce(services, &s.id).await,
        Outcome::Duplicate => {}
        Outcome::Refused => remove(services, &s.id, &p.identity).await,
    }
    Ok(())
}

/// Records a connection (once per sid); false when it was recorded before.
async fn record(
    db: &Db,
    s: &LiveSession,
    p: &proto::ParticipantInfo,
    role: LiveRole,
    counted: bool,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO live_participants (participant_sid, session_id, user_id, role, counted, joined_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (participant_sid) DO NOTHING",
    )
    .bind(&p.sid)
    .bind(&s.id)
    .bind(&p.identity)
    .bind(role.as_str())
    .bind(i64::from(counted))
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An audience member's connection takes a place (or keeps the one of the connection it
/// replaces), in one transaction.
async fn take_place(
    db: &Db,
    s: &LiveSession,
    p: &proto::ParticipantInfo,
    role: LiveRole,
    now: i64,
) -> Result<Outcome> {
    let mut tx = db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO live_participants (participant_sid, session_id, user_id, role, counted, joined_at) \
         VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (participant_sid) DO NOTHING",
    )
    .bind(&p.sid)
    .bind(&s.id)
    .bind(&p.identity)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(Outcome::Duplicate);
    }
    let replaced = sqlx::query(
        "UPDATE live_participants SET left_at = $1, left_reason = 'replaced', counted = 0 \
         WHERE session_id = $2 AND user_id = $3 AND participant_sid <> $4 AND left_at IS NULL \
         AND counted = 1",
    )
    .bind(now)
    .bind(&s.id)
    .bind(&p.identity)
    .bind(&p.sid)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let placed = replaced > 0
        || sqlx::query(
            "UPDATE live_sessions SET viewer_count = viewer_count + 1, \
             peak_viewers = CASE WHEN viewer_count + 1 > peak_viewers THEN viewer_count + 1 \
             ELSE peak_viewers END \
             WHERE id = $1 AND (max_viewers IS NULL OR viewer_count < max_viewers)",
        )
        .bind(&s.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
    if placed {
        sqlx::query("UPDATE live_participants SET counted = 1 WHERE participant_sid = $1")
            .bind(&p.sid)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query(
            "UPDATE live_participants SET left_at = $1, left_reason = 'full' WHERE participant_sid = $2",
        )
        .bind(now)
        .bind(&p.sid)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(if placed {
        Outcome::Stays
    } else {
        Outcome::Refused
    })
}

/// Records that connection `sid` left (`reason`), freeing its place; false when it was not
/// present.
pub async fn left(db: &Db, sid: &str, reason: &str, now: i64) -> Result<bool> {
    let mut tx = db.pool.begin().await?;
    let row = sqlx::query(
        "UPDATE live_participants SET left_at = $1, left_reason = $2 \
         WHERE participant_sid = $3 AND left_at IS NULL RETURNING session_id, counted",
    )
    .bind(now)
    .bind(reason)
    .bind(sid)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(false);
    };
    let session_id: String = row.try_get("session_id")?;
    let counted: i64 = row.try_get("counted")?;
    if counted == 1 {
        sqlx::query(
            "UPDATE live_sessions SET viewer_count = viewer_count - 1 WHERE id = $1 AND viewer_count > 0",
        )
        .bind(&session_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Everyone left (the room closed); false when nobody was present.
pub async fn all_left(db: &Db, session_id: &str, now: i64) -> Result<bool> {
    let mut tx = db.pool.begin().await?;
    let gone = sqlx::query(
        "UPDATE live_participants SET left_at = $1, left_reason = 'closed' \
         WHERE session_id = $2 AND left_at IS NULL",
    )
    .bind(now)
    .bind(session_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("UPDATE live_sessions SET viewer_count = 0 WHERE id = $1")
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(gone > 0)
}

/// The users connected to the session's room now.
pub async fn present(db: &Db, session_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT user_id FROM live_participants WHERE session_id = $1 AND left_at IS NULL",
    )
    .bind(session_id)
    .fetch_all(&db.pool)
    .await?)
}

/// Every user who was ever connected to the session's room (whoever must hear of its end).
pub async fn seen(db: &Db, session_id: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT user_id FROM live_participants WHERE session_id = $1")
            .bind(session_id)
            .fetch_all(&db.pool)
            .await?,
    )
}

/// Whether `user_id` is connected to the session's room now.
pub async fn is_present(db: &Db, session_id: &str, user_id: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM live_participants WHERE session_id = $1 AND user_id = $2 AND left_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n > 0)
}

/// Records `user_id`'s present connections as left (`reason`), freeing their places (a kick,
/// a ban); true when one was present.
pub async fn user_left(
    db: &Db,
    session_id: &str,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<bool> {
    let sids: Vec<String> = sqlx::query_scalar(
        "SELECT participant_sid FROM live_participants WHERE session_id = $1 AND user_id = $2 AND left_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut any = false;
    for sid in sids {
        any |= left(db, &sid, reason, now).await?;
    }
    Ok(any)
}
