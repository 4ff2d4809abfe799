//! The stage: members of the audience raise a hand, a host or co-host invites them, and only
//! once they accept an invitation (two flags: invited by the host's side, accepted by their
//! own) does the server give them the stage role — `speaker` in an audio room (microphone),
//! `co_host` in a live video (camera and microphone) — applied live at the media plane as the
//! participant's permission, without a reconnect. A host or co-host can send them back to the
//! audience (and anyone can leave the stage). Every change is a `STAGE_UPDATE` with the whole
//! stage: hands (oldest first), invitations and roles.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{
    LiveKind, LiveRole, LiveSession, LiveState, access, events, presence, room_of, service, token,
};
use crate::accounts::User;
use crate::app::Services;
use crate::db::Db;
use crate::error::{Error, ErrorCode, Result};
use crate::media::MediaError;
use livekit_protocol as proto;

/// A raised hand.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hand {
    #[schema(value_type = crate::schema::Id)]
    pub user_id: String,
    /// Unix milliseconds.
    pub raised_at: i64,
}

/// An invitation to the stage, not accepted yet.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    #[schema(value_type = crate::schema::Id)]
    pub user_id: String,
    #[schema(value_type = crate::schema::Id)]
    pub invited_by: String,
    /// Unix milliseconds.
    pub invited_at: i64,
}

/// Someone on stage.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnStage {
    #[schema(value_type = crate::schema::Id)]
    pub user_id: String,
    pub role: LiveRole,
}

/// A session's stage (the data of `STAGE_UPDATE`).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    #[schema(value_type = crate::schema::Id)]
    pub session_id: String,
    pub hands: Vec<Hand>,
    pub invites: Vec<Invite>,
    /// The host first, then everyone invited who accepted.
    pub roles: Vec<OnStage>,
    /// The audience members in the room (user ids), only in a read of the stage
    /// (`GET /api/v1/live/{id}/stage`): in an audio room for everyone who may listen, in a live
    /// video for the host and co-hosts only (viewers stay hidden from each other).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::schema::Id>>)]
    pub audience: Option<Vec<String>>,
}

/// The stage role of a session's kind.
pub fn stage_role(kind: LiveKind) -> LiveRole {
    match kind {
        LiveKind::VideoLive => LiveRole::CoHost,
        LiveKind::AudioRoom => LiveRole::Speaker,
    }
}

/// `user_id`'s role in the session (the host's, a stage role, or the audience's).
pub async fn role_of(db: &Db, s: &LiveSession, user_id: &str) -> Result<LiveRole> {
    if user_id == s.host_id {
        return Ok(LiveRole::Host);
    }
    let role: Option<Option<String>> =
        sqlx::query_scalar("SELECT role FROM live_stage WHERE session_id = $1 AND user_id = $2")
            .bind(&s.id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(role
        .flatten()
        .and_then(|r| LiveRole::parse(&r))
        .unwrap_or_else(|| access::audience_role(s.kind)))
}

/// The session's stage.
pub async fn stage(db: &Db, s: &LiveSession) -> Result<Stage> {
    let rows = sqlx::query(
        "SELECT user_id, hand_raised_at, invited_at, invited_by, role FROM live_stage \
         WHERE session_id = $1 ORDER BY hand_raised_at, invited_at, user_id",
    )
    .bind(&s.id)
    .fetch_all(&db.pool)
    .await?;
    let mut stage = Stage {
        session_id: s.id.clone(),
        hands: Vec::new(),
        invites: Vec::new(),
        roles: vec![OnStage {
            user_id: s.host_id.clone(),
            role: LiveRole::Host,
        }],
        audience: None,
    };
    for row in rows {
        let user_id: String = row.try_get("user_id")?;
        let role: Option<String> = row.try_get("role")?;
        if let Some(role) = role.as_deref().and_then(LiveRole::parse) {
            stage.roles.push(OnStage { user_id, role });
            continue;
        }
        if let Some(raised_at) = row.try_get::<Option<i64>, _>("hand_raised_at")? {
            stage.hands.push(Hand {
                user_id: user_id.clone(),
                raised_at,
            });
        }
        let invited_at: Option<i64> = row.try_get("invited_at")?;
        let invited_by: Option<String> = row.try_get("invited_by")?;
        if let (Some(invited_at), Some(invited_by)) = (invited_at, invited_by) {
            stage.invites.push(Invite {
                user_id,
                invited_by,
                invited_at,
            });
        }
    }
    stage.hands.sort_by_key(|h| h.raised_at);
    Ok(stage)
}

/// The stage of session `id` as `user` may see it (whoever may watch it), with the audience
/// in the room where they may see it.
pub async fn read(services: &Services, user: &User, id: &str) -> Result<Stage> {
    let s = service::entitled(services, user, id).await?;
    let mut stage = stage(&services.db, &s).await?;
    if s.kind == LiveKind::AudioRoom || is_manager(&services.db, &s, &user.id).await? {
        let mut audience = presence::present(&services.db, &s.id).await?;
        audience.retain(|u| !stage.roles.iter().any(|r| &r.user_id == u));
        stage.audience = Some(audience);
    }
    Ok(stage)
}

async fn announce(services: &Services, s: &LiveSession) -> Result<Stage> {
    let stage = stage(&services.db, s).await?;
    events::publish(services, s, &[], events::STAGE_UPDATE, &stage).await;
    Ok(stage)
}

/// A live session, for a stage change.
async fn live_session(services: &Services, id: &str) -> Result<LiveSession> {
    let s = service::get(services, id).await?;
    if s.state != LiveState::Live {
        return Err(Error::new(ErrorCode::NotLive, "the session is not live"));
    }
    Ok(s)
}

/// Makes sure `user_id` has a stage row.
async fn ensure_row(db: &Db, session_id: &str, user_id: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO live_stage (session_id, user_id) VALUES ($1, $2) \
         ON CONFLICT (session_id, user_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// `user` raises (`raised`) or lowers their hand; they must be in the session's room.
pub async fn hand(services: &Services, user: &User, id: &str, raised: bool) -> Result<Stage> {
    let s = live_session(services, id).await?;
    if user.id == s.host_id {
        return Err(Error::invalid("the host is on stage already"));
    }
    if raised && !presence::is_present(&services.db, &s.id, &user.id).await? {
        return Err(Error::conflict(
            "join the session's room before raising a hand",
        ));
    }
    ensure_row(&services.db, &s.id, &user.id).await?;
    sqlx::query("UPDATE live_stage SET hand_raised_at = $1 WHERE session_id = $2 AND user_id = $3")
        .bind(raised.then(|| services.clock.now_ms()))
        .bind(&s.id)
        .bind(&user.id)
        .execute(&services.db.pool)
        .await?;
    announce(services, &s).await
}

/// Whether `user_id` may manage the stage and moderate: the host or a co-host.
pub async fn is_manager(db: &Db, s: &LiveSession, user_id: &str) -> Result<bool> {
    Ok(matches!(
        role_of(db, s, user_id).await?,
        LiveRole::Host | LiveRole::CoHost
    ))
}

/// The host or a co-host invites `target` (in the room, not on stage) to the stage.
pub async fn invite(services: &Services, actor: &User, id: &str, target: &str) -> Result<Stage> {
    let s = live_session(services, id).await?;
    if !is_manager(&services.db, &s, &actor.id).await? {
        return Err(Error::forbidden(
            "only the host or a co-host may invite to the stage",
        ));
    }
    if target == s.host_id {
        return Err(Error::invalid("the host is on stage already"));
    }
    if role_of(&services.db, &s, target).await? != access::audience_role(s.kind) {
        return Err(Error::conflict("that user is on stage already"));
    }
    if !presence::is_present(&services.db, &s.id, target).await? {
        return Err(Error::not_found("that user is not in the session's room"));
    }
    ensure_row(&services.db, &s.id, target).await?;
    sqlx::query(
        "UPDATE live_stage SET invited_at = $1, invited_by = $2 WHERE session_id = $3 AND user_id = $4",
    )
    .bind(services.clock.now_ms())
    .bind(&actor.id)
    .bind(&s.id)
    .bind(target)
    .execute(&services.db.pool)
    .await?;
    announce(services, &s).await
}

/// Applies `role`'s permission to `user_id`'s connection (if they are in the room).
async fn apply_role(
    services: &Services,
    s: &LiveSession,
    user_id: &str,
    role: LiveRole,
) -> Result<()> {
    let media = services.media()?;
    let done = media
        .plane
        .update_participant(proto::UpdateParticipantRequest {
            room: room_of(&s.id),
            identity: user_id.to_owned(),
            permission: Some(token::permission(role)),
            ..Default::default()
        })
        .await;
    match done {
        Ok(_) | Err(MediaError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `user` accepts their invitation: the second flag, so they go on stage.
pub async fn accept(services: &Services, user: &User, id: &str) -> Result<Stage> {
    let s = live_session(services, id).await?;
    let role = stage_role(s.kind);
    let done = sqlx::query(
        "UPDATE live_stage SET role = $1, hand_raised_at = NULL, invited_at = NULL \
         WHERE session_id = $2 AND user_id = $3 AND invited_at IS NOT NULL AND role IS NULL",
    )
    .bind(role.as_str())
    .bind(&s.id)
    .bind(&user.id)
    .execute(&services.db.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::conflict(
            "there is no invitation to the stage to accept",
        ));
    }
    apply_role(services, &s, &user.id, role).await?;
    announce(services, &s).await
}

/// Sends `target` back to the audience (by the host, a co-host, or themselves); their
/// invitation and hand are cleared too.
pub async fn remove(services: &Services, actor: &User, id: &str, target: &str) -> Result<Stage> {
    let s = live_session(services, id).await?;
    if actor.id != target && !is_manager(&services.db, &s, &actor.id).await? {
        return Err(Error::forbidden(
            "only the host or a co-host may take others off the stage",
        ));
    }
    if target == s.host_id {
        return Err(Error::invalid("the host cannot leave the stage"));
    }
    if actor.id != target {
        super::moderation::check_rank(services, &s, &actor.id, target).await?;
    }
    clear(services, &s, target).await?;
    announce(services, &s).await
}

/// Clears `user_id`'s stage state and, if they were on stage, gives them the audience's
/// permission again.
pub async fn clear(services: &Services, s: &LiveSession, user_id: &str) -> Result<()> {
    let was = role_of(&services.db, s, user_id).await?;
    sqlx::query("DELETE FROM live_stage WHERE session_id = $1 AND user_id = $2")
        .bind(&s.id)
        .bind(user_id)
        .execute(&services.db.pool)
        .await?;
    if was != access::audience_role(s.kind) {
        apply_role(services, s, user_id, access::audience_role(s.kind)).await?;
    }
    Ok(())
}
