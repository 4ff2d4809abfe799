//! Moderation of a live session by its host or a co-host (only on roles below their own: see
//! `super::ranks`), each action at once and in the
//! session's moderation log (actor, target, optional reason, time): kick (removed from the room;
//! they may join again), ban (removed, the tokens issued to them refused where the media plane
//! can, and no new tokens for any of the host's sessions), mute (their published microphone
//! muted at the media plane), and deleting a chat message (`super::chat`).

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use super::{LiveSession, presence, ranks, room_of, service, stage};
use crate::accounts::User;
use crate::app::Services;
use crate::db::{Db, new_id};
use crate::error::{Error, Result};
use crate::media::MediaError;
use crate::voice::token::TOKEN_TTL;
use livekit_protocol as proto;

/// The longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 512;
/// The most log entries a read shows (the newest).
pub const LOG_LIMIT: i64 = 100;

/// One moderation action.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModerationEntry {
    #[schema(value_type = crate::schema::Id)]
    pub id: String,
    #[schema(value_type = crate::schema::Id)]
    pub session_id: String,
    #[schema(value_type = crate::schema::Id)]
    pub actor_id: String,
    /// `kick`, `ban`, `mute` or `delete_message`.
    pub action: String,
    /// The user acted on (for `delete_message`: the message's author).
    #[schema(value_type = Option<crate::schema::Id>)]
    pub target_id: Option<String>,
    #[schema(value_type = Option<crate::schema::Id>)]
    pub message_id: Option<String>,
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A checked reason (trimmed; empty is none).
pub fn reason(reason: Option<String>) -> Result<Option<String>> {
    let Some(r) = reason else {
        return Ok(None);
    };
    let r = r.trim().to_owned();
    if r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "reason must be at most {MAX_REASON_CHARS} characters without control characters"
        )));
    }
    Ok((!r.is_empty()).then_some(r))
}

/// Whether `user_id` is banned from `host_id`'s sessions.
pub async fn is_banned(db: &Db, host_id: &str, user_id: &str) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM live_bans WHERE host_id = $1 AND user_id = $2")
            .bind(host_id)
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?;
    Ok(n > 0)
}

/// Records an action in the session's log.
pub async fn log(db: &Db, entry: &ModerationEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO live_moderation_log (id, session_id, actor_id, action, target_id, message_id, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&entry.id)
    .bind(&entry.session_id)
    .bind(&entry.actor_id)
    .bind(&entry.action)
    .bind(entry.target_id.as_deref())
    .bind(entry.message_id.as_deref())
    .bind(entry.reason.as_deref())
    .bind(entry.created_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A new log entry of `actor` on session `s`.
pub fn entry(
    services: &Services,
    s: &LiveSession,
    actor: &User,
    action: &str,
    target: Option<&str>,
    reason: Option<String>,
) -> ModerationEntry {
    ModerationEntry {
        id: new_id(),
        session_id: s.id.clone(),
        actor_id: actor.id.clone(),
        action: action.to_owned(),
        target_id: target.map(str::to_owned),
        message_id: None,
        reason,
        created_at: services.clock.now_ms(),
    }
}

/// Session `id` if `actor` may moderate it (the host or a co-host).
pub async fn moderated(services: &Services, actor: &User, id: &str) -> Result<LiveSession> {
    let s = service::get(services, id).await?;
    if !stage::is_manager(&services.db, &s, &actor.id).await? {
        return Err(Error::forbidden(
            "only the host or a co-host may moderate this session",
        ));
    }
    Ok(s)
}

/// Refuses `actor` acting on `target` unless their role outranks the target's (see
/// [`super::ranks`]): a co-host never acts on another co-host or the host.
pub async fn check_rank(
    services: &Services,
    s: &LiveSession,
    actor: &str,
    target: &str,
) -> Result<()> {
    let (a, t) = (
        stage::role_of(&services.db, s, actor).await?,
        stage::role_of(&services.db, s, target).await?,
    );
    if !ranks::may_act_on(a, t) {
        return Err(Error::forbidden(format!(
            "a {} may not act on a {} (host > co_host > speaker > audience)",
            a.as_str(),
            t.as_str()
        )));
    }
    Ok(())
}

/// Session `id` and `target` if `actor` may act on them (never on the host, nor themselves,
/// and only on roles below their own).
async fn against(services: &Services, actor: &User, id: &str, target: &str) -> Result<LiveSession> {
    let s = moderated(services, actor, id).await?;
    if target == s.host_id || target == actor.id {
        return Err(Error::invalid(
            "neither the host nor oneself can be the target",
        ));
    }
    check_rank(services, &s, &actor.id, target).await?;
    Ok(s)
}

/// Takes `target` off the stage and out of the room, their places freed.
async fn remove_from_room(
    services: &Services,
    s: &LiveSession,
    target: &str,
    why: &str,
) -> Result<()> {
    stage::clear(services, s, target)
        .await
        .or_else(|e| match e {
            Error::Refused { .. } => Ok(()),
            e => Err(e),
        })?;
    presence::remove(services, &s.id, target).await;
    // their media session was this live: it ends, and their windows are told why
    super::media_session::leave(services, target, &s.id, why).await?;
    presence::user_left(&services.db, &s.id, target, why, services.clock.now_ms()).await?;
    presence::announce(services, &s.id).await;
    Ok(())
}

/// Kicks `target` out of the session's room.
pub async fn kick(
    services: &Services,
    actor: &User,
    id: &str,
    target: &str,
    why: Option<String>,
) -> Result<ModerationEntry> {
    let why = reason(why)?;
    let s = against(services, actor, id, target).await?;
    if !presence::is_present(&services.db, &s.id, target).await? {
        return Err(Error::not_found("that user is not in the session's room"));
    }
    remove_from_room(services, &s, target, "kicked").await?;
    let e = entry(services, &s, actor, "kick", Some(target), why);
    log(&services.db, &e).await?;
    Ok(e)
}

/// Bans `target` from the host's sessions and removes them from this one.
pub async fn ban(
    services: &Services,
    actor: &User,
    id: &str,
    target: &str,
    why: Option<String>,
) -> Result<ModerationEntry> {
    let why = reason(why)?;
    let s = against(services, actor, id, target).await?;
    if crate::accounts::store::user_by_id(&services.db, target)
        .await?
        .is_none()
    {
        return Err(Error::not_found("user not found"));
    }
    sqlx::query(
        "INSERT INTO live_bans (host_id, user_id, actor_id, reason, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (host_id, user_id) DO NOTHING",
    )
    .bind(&s.host_id)
    .bind(target)
    .bind(&actor.id)
    .bind(why.as_deref())
    .bind(services.clock.now_ms())
    .execute(&services.db.pool)
    .await?;
    if let Some(media) = &services.media {
        match media
            .plane
            .revoke_participant(&room_of(&s.id), target, TOKEN_TTL)
            .await
        {
            Ok(_) | Err(MediaError::NotFound(_)) => {}
            Err(e) => tracing::warn!(session = %s.id, "a banned user's tokens not revoked: {e}"),
        }
    }
    remove_from_room(services, &s, target, "banned").await?;
    let e = entry(services, &s, actor, "ban", Some(target), why);
    log(&services.db, &e).await?;
    Ok(e)
}

/// Mutes `target`'s published microphone at the media plane.
pub async fn mute(
    services: &Services,
    actor: &User,
    id: &str,
    target: &str,
    why: Option<String>,
) -> Result<ModerationEntry> {
    let why = reason(why)?;
    let s = against(services, actor, id, target).await?;
    let media = services.media()?;
    let room = room_of(&s.id);
    let participant = media
        .plane
        .get_participant(&room, target)
        .await
        .map_err(|e| match e {
            MediaError::NotFound(_) => Error::not_found("that user is not in the session's room"),
            e => e.into(),
        })?;
    for track in participant
        .tracks
        .iter()
        .filter(|t| t.source == proto::TrackSource::Microphone as i32 && !t.muted)
    {
        media
            .plane
            .mute_published_track(&room, target, &track.sid, true)
            .await?;
    }
    let e = entry(services, &s, actor, "mute", Some(target), why);
    log(&services.db, &e).await?;
    Ok(e)
}

fn entry_from_row(row: &AnyRow) -> Result<ModerationEntry, sqlx::Error> {
    Ok(ModerationEntry {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        actor_id: row.try_get("actor_id")?,
        action: row.try_get("action")?,
        target_id: row.try_get("target_id")?,
        message_id: row.try_get("message_id")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The session's moderation log, oldest first (the newest [`LOG_LIMIT`]); for its moderators.
pub async fn read_log(services: &Services, actor: &User, id: &str) -> Result<Vec<ModerationEntry>> {
    let s = moderated(services, actor, id).await?;
    let rows = sqlx::query(
        "SELECT id, session_id, actor_id, action, target_id, message_id, reason, created_at \
         FROM live_moderation_log WHERE session_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(&s.id)
    .bind(LOG_LIMIT)
    .fetch_all(&services.db.pool)
    .await?;
    let mut entries = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    entries.reverse();
    Ok(entries)
}
