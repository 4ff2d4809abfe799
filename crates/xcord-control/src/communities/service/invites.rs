//! Invites: any member creates them (optionally limited in uses and lifetime); listing them
//! and revoking others' takes MANAGE_CHANNELS; anyone signed in may preview a code and join
//! by it, unless banned. Each user's invite creation is limited
//! (`crate::ratelimit::UserLimits::invites`).

use super::actor;
use crate::accounts::User;
use crate::app::Services;
use crate::communities::events::{self, COMMUNITY_CREATE, MEMBER_ADD};
use crate::communities::store::invites::JoinOutcome;
use crate::communities::{CommunityView, Invite, InvitePreview, Permissions, store, validate};
use crate::error::{Error, ErrorCode, Result};

fn invite_not_found() -> Error {
    Error::not_found("invite not found")
}

fn gone(message: &str) -> Error {
    Error::new(ErrorCode::InviteExpired, message)
}

pub async fn create(
    services: &Services,
    user_id: &str,
    community_id: &str,
    max_uses: Option<i64>,
    max_age_seconds: Option<i64>,
) -> Result<Invite> {
    actor(&services.db, community_id, user_id).await?;
    let max_uses = validate::invite_max_uses(max_uses)?;
    let now = services.clock.now_ms();
    let expires_at = validate::invite_max_age(max_age_seconds)?.map(|s| now + s * 1000);
    services
        .user_limits
        .invites
        .check_or_refuse(user_id, services.clock.instant(), "invites")?;
    Ok(store::invites::insert(
        &services.db,
        community_id,
        user_id,
        max_uses,
        expires_at,
        now,
    )
    .await?)
}

pub async fn list(services: &Services, user_id: &str, community_id: &str) -> Result<Vec<Invite>> {
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::MANAGE_CHANNELS)?;
    Ok(store::invites::invites(&services.db, community_id).await?)
}

/// Deletes an invite: its creator may, and members with MANAGE_CHANNELS.
pub async fn revoke(services: &Services, user_id: &str, code: &str) -> Result<()> {
    let invite = store::invites::invite(&services.db, code)
        .await?
        .ok_or_else(invite_not_found)?;
    // To a non-member, another community's invite does not exist.
    let actor = actor(&services.db, &invite.community_id, user_id)
        .await
        .map_err(|e| {
            if e.code() == ErrorCode::NotFound {
                invite_not_found()
            } else {
                e
            }
        })?;
    if invite.creator_id != user_id {
        actor.require(Permissions::MANAGE_CHANNELS)?;
    }
    if store::invites::delete(&services.db, code).await? {
        Ok(())
    } else {
        Err(invite_not_found())
    }
}

/// What the code leads to; 410 when it can no longer be used.
pub async fn preview(services: &Services, code: &str) -> Result<InvitePreview> {
    let invite = store::invites::invite(&services.db, code)
        .await?
        .ok_or_else(invite_not_found)?;
    if invite
        .expires_at
        .is_some_and(|at| at <= services.clock.now_ms())
    {
        return Err(gone("invite has expired"));
    }
    if invite.max_uses.is_some_and(|max| invite.uses >= max) {
        return Err(gone("invite has reached its maximum uses"));
    }
    store::invites::preview(&services.db, code)
        .await?
        .ok_or_else(invite_not_found)
}

/// Joins the invite's community. Returns the community and whether the user joined now
/// (`false`: they were already a member, and no use was counted).
pub async fn join(services: &Services, user: &User, code: &str) -> Result<(CommunityView, bool)> {
    let (community, joined) =
        match store::invites::join(&services.db, code, &user.id, services.clock.now_ms()).await? {
            JoinOutcome::Joined(c) => (c, true),
            JoinOutcome::AlreadyMember(c) => (c, false),
            JoinOutcome::NotFound => return Err(invite_not_found()),
            JoinOutcome::Expired => return Err(gone("invite has expired")),
            JoinOutcome::UsedUp => return Err(gone("invite has reached its maximum uses")),
            JoinOutcome::Banned => {
                return Err(Error::forbidden("you are banned from this community"));
            }
        };
    let standing = store::standing(&services.db, &community.id, &user.id)
        .await?
        .ok_or_else(|| Error::not_found("community not found"))?;
    let view =
        store::community::view(&services.db, standing.community, standing.permissions).await?;
    if joined {
        if let Some(member) = view.members.iter().find(|m| m.user.id == user.id) {
            let others = view
                .members
                .iter()
                .filter(|m| m.user.id != user.id)
                .map(|m| m.user.id.clone())
                .collect();
            events::publish(services, others, MEMBER_ADD, member);
        }
        events::publish(services, vec![user.id.clone()], COMMUNITY_CREATE, &view);
    }
    Ok((view, joined))
}
