//! SQL for media sessions: each user's session is one row (the session as JSON, with its room
//! and next deadline beside it for queries), written with compare-and-set on its version; the
//! first answer of each command id; and who is in each media room.

use sqlx::{Any, Row, Transaction};

use super::machine::next_deadline;
use super::model::{Participant, Session};
use crate::db::{Db, get_bool};

fn decode(json: &str) -> Result<Session, sqlx::Error> {
    serde_json::from_str(json).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The user's session; an idle one when none was ever stored.
pub async fn load(db: &Db, user_id: &str) -> Result<Session, sqlx::Error> {
    let row = sqlx::query("SELECT state FROM media_sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    match row {
        Some(r) => decode(&r.try_get::<String, _>("state")?),
        None => Ok(Session::idle(user_id)),
    }
}

/// Writes `session` if the stored version is still `read_version` (0: none stored yet);
/// `false` when someone else wrote first.
pub async fn save(
    tx: &mut Transaction<'_, Any>,
    session: &Session,
    read_version: i64,
) -> Result<bool, sqlx::Error> {
    let state = serde_json::to_string(session).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let room = session.room.as_deref();
    let deadline = next_deadline(session);
    let done = if read_version == 0 {
        sqlx::query(
            "INSERT INTO media_sessions (user_id, version, state, room, next_deadline) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(&session.user_id)
        .bind(session.version)
        .bind(state)
        .bind(room)
        .bind(deadline)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query(
            "UPDATE media_sessions SET version = $1, state = $2, room = $3, next_deadline = $4 \
             WHERE user_id = $5 AND version = $6",
        )
        .bind(session.version)
        .bind(state)
        .bind(room)
        .bind(deadline)
        .bind(&session.user_id)
        .bind(read_version)
        .execute(&mut **tx)
        .await?
    };
    Ok(done.rows_affected() == 1)
}

/// Users whose session deadline has come by `now`.
pub async fn due(db: &Db, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT user_id FROM media_sessions WHERE next_deadline <= $1")
        .bind(now)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("user_id")).collect()
}

pub async fn earliest_deadline(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT MIN(next_deadline) AS t FROM media_sessions")
        .fetch_one(&db.pool)
        .await?
        .try_get("t")
}

/// Users whose session is in `room`.
pub async fn users_in_room(db: &Db, room: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT user_id FROM media_sessions WHERE room = $1")
        .bind(room)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("user_id")).collect()
}

/// Users whose session is in a media room.
pub async fn users_in_any_room(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT user_id FROM media_sessions WHERE room IS NOT NULL")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("user_id")).collect()
}

/// Users whose session is in `room` and deafened.
pub async fn deafened_in_room(db: &Db, room: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT state FROM media_sessions WHERE room = $1")
        .bind(room)
        .fetch_all(&db.pool)
        .await?;
    let mut deafened = Vec::new();
    for r in &rows {
        let s = decode(&r.try_get::<String, _>("state")?)?;
        if s.controls.deafened {
            deafened.push(s.user_id);
        }
    }
    Ok(deafened)
}

/// The first answer given to the command `command_id` of `user_id`.
pub async fn answer(
    db: &Db,
    user_id: &str,
    command_id: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT answer FROM media_session_commands WHERE user_id = $1 AND command_id = $2",
    )
    .bind(user_id)
    .bind(command_id)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(r) => serde_json::from_str(&r.try_get::<String, _>("answer")?)
            .map(Some)
            .map_err(|e| sqlx::Error::Decode(Box::new(e))),
        None => Ok(None),
    }
}

/// Keeps a command's answer; `false` when the id already had one.
pub async fn keep_answer(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    command_id: &str,
    answer: &serde_json::Value,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO media_session_commands (user_id, command_id, answer, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, command_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(command_id)
    .bind(answer.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A participant's media state in a room, by its sid.
pub struct RoomParticipant<'a> {
    pub sid: &'a str,
    pub room: &'a str,
    pub user_id: &'a str,
    pub muted: bool,
    pub camera: bool,
    pub screen_share: bool,
}

/// Records (or updates) a participant; whether anything changed.
pub async fn upsert_participant(
    db: &Db,
    p: &RoomParticipant<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let existing = sqlx::query(
        "SELECT muted, camera, screen_share FROM media_room_participants WHERE participant_sid = $1",
    )
    .bind(p.sid)
    .fetch_optional(&db.pool)
    .await?;
    if let Some(row) = existing {
        let same = get_bool(&row, "muted")? == p.muted
            && get_bool(&row, "camera")? == p.camera
            && get_bool(&row, "screen_share")? == p.screen_share;
        if same {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE media_room_participants SET muted = $1, camera = $2, screen_share = $3 \
             WHERE participant_sid = $4",
        )
        .bind(p.muted)
        .bind(p.camera)
        .bind(p.screen_share)
        .bind(p.sid)
        .execute(&db.pool)
        .await?;
        return Ok(true);
    }
    // One participant per user and room: a newer connection replaces the older one.
    sqlx::query("DELETE FROM media_room_participants WHERE room = $1 AND user_id = $2")
        .bind(p.room)
        .bind(p.user_id)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO media_room_participants \
         (participant_sid, room, user_id, muted, camera, screen_share, joined_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (participant_sid) DO NOTHING",
    )
    .bind(p.sid)
    .bind(p.room)
    .bind(p.user_id)
    .bind(p.muted)
    .bind(p.camera)
    .bind(p.screen_share)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(true)
}

/// Forgets a participant by sid; whether it was known.
pub async fn remove_participant(db: &Db, sid: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM media_room_participants WHERE participant_sid = $1")
        .bind(sid)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Who is in `room`, seen by `viewer` (`local` marks them).
pub async fn participants(
    db: &Db,
    room: &str,
    viewer: &str,
) -> Result<Vec<Participant>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.user_id, p.muted, p.camera, p.screen_share, u.display_name, \
         u.avatar_from, u.avatar_to FROM media_room_participants p \
         JOIN users u ON u.id = p.user_id WHERE p.room = $1 ORDER BY p.joined_at, p.user_id",
    )
    .bind(room)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let user_id: String = r.try_get("user_id")?;
            Ok(Participant {
                local: user_id == viewer,
                display_name: r.try_get("display_name")?,
                avatar_gradient: [r.try_get("avatar_from")?, r.try_get("avatar_to")?],
                muted: get_bool(r, "muted")?,
                deafened: false,
                speaking: false,
                camera: get_bool(r, "camera")?,
                screen_share: get_bool(r, "screen_share")?,
                user_id,
            })
        })
        .collect()
}
