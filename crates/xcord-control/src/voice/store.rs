//! SQL for voice states.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::VoiceState;
use crate::db::{Db, get_bool};

const COLUMNS: &str = "participant_sid, user_id, channel_id, self_mute, self_deaf, server_mute, server_deaf, camera, screen_share, joined_at";

fn from_row(r: &AnyRow) -> Result<VoiceState, sqlx::Error> {
    Ok(VoiceState {
        participant_sid: r.try_get("participant_sid")?,
        user_id: r.try_get("user_id")?,
        channel_id: r.try_get("channel_id")?,
        self_mute: get_bool(r, "self_mute")?,
        self_deaf: get_bool(r, "self_deaf")?,
        server_mute: get_bool(r, "server_mute")?,
        server_deaf: get_bool(r, "server_deaf")?,
        camera: get_bool(r, "camera")?,
        screen_share: get_bool(r, "screen_share")?,
        joined_at: r.try_get("joined_at")?,
    })
}

/// Voice states matching `WHERE {filter} = $1` (plus `suffix`), on a pool or a transaction.
async fn select<'e, E>(
    exec: E,
    filter: &str,
    value: &str,
    suffix: &str,
) -> Result<Vec<VoiceState>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM voice_states WHERE {filter} = $1 {suffix}"
    ))
    .bind(value)
    .fetch_all(exec)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_sid(
    tx: &mut Transaction<'_, Any>,
    sid: &str,
) -> Result<Option<VoiceState>, sqlx::Error> {
    Ok(select(&mut **tx, "participant_sid", sid, "")
        .await?
        .into_iter()
        .next())
}

pub async fn of_user_tx(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
) -> Result<Vec<VoiceState>, sqlx::Error> {
    select(&mut **tx, "user_id", user_id, "").await
}

pub async fn of_user(db: &Db, user_id: &str) -> Result<Option<VoiceState>, sqlx::Error> {
    Ok(select(&db.pool, "user_id", user_id, "")
        .await?
        .into_iter()
        .next())
}

pub async fn in_channel(db: &Db, channel_id: &str) -> Result<Vec<VoiceState>, sqlx::Error> {
    select(&db.pool, "channel_id", channel_id, "ORDER BY joined_at").await
}

pub async fn in_room_tx(
    tx: &mut Transaction<'_, Any>,
    room: &str,
) -> Result<Vec<VoiceState>, sqlx::Error> {
    select(&mut **tx, "room", room, "").await
}

pub async fn in_channels(db: &Db, channel_ids: &[String]) -> Result<Vec<VoiceState>, sqlx::Error> {
    let mut all = Vec::new();
    for c in channel_ids {
        all.extend(in_channel(db, c).await?);
    }
    Ok(all)
}

/// Rooms that currently have voice states (what the reconciler checks).
pub async fn rooms(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT DISTINCT room FROM voice_states")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("room")).collect()
}

pub async fn insert(
    tx: &mut Transaction<'_, Any>,
    s: &VoiceState,
    room: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO voice_states (participant_sid, user_id, channel_id, room, self_mute, self_deaf, server_mute, server_deaf, camera, screen_share, joined_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&s.participant_sid)
    .bind(&s.user_id)
    .bind(&s.channel_id)
    .bind(room)
    .bind(s.self_mute)
    .bind(s.self_deaf)
    .bind(s.server_mute)
    .bind(s.server_deaf)
    .bind(s.camera)
    .bind(s.screen_share)
    .bind(s.joined_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes every flag of an existing state.
pub async fn update_flags(
    tx: &mut Transaction<'_, Any>,
    s: &VoiceState,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE voice_states SET self_mute = $1, self_deaf = $2, server_mute = $3, server_deaf = $4, camera = $5, screen_share = $6, updated_at = $7 \
         WHERE participant_sid = $8",
    )
    .bind(s.self_mute)
    .bind(s.self_deaf)
    .bind(s.server_mute)
    .bind(s.server_deaf)
    .bind(s.camera)
    .bind(s.screen_share)
    .bind(now)
    .bind(&s.participant_sid)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Transaction<'_, Any>, sid: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM voice_states WHERE participant_sid = $1")
        .bind(sid)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Forgets every voice state of a (deleted) channel.
pub async fn delete_channel(db: &Db, channel_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM voice_states WHERE channel_id = $1")
        .bind(channel_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}
