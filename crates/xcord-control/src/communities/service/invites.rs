//! Invites: any member creates them (optionally limited in uses and lifetime); listing them
//! and revoking others' takes MANAGE_CHANNELS; anyone signed in may preview a code and join
//! by it, unless banned.

use std::sync::Arc;

use axum::http::StatusCode;

use super::actor;
use crate::accounts::User;
use crate::api::AppState;
use crate::communities::events::{self, COMMUNITY_CREATE, MEMBER_ADD};
use crate::communities::store::invites::JoinOutcome;
use crate::communities::{CommunityView, Invite, InvitePreview, Permissions, store, validate};
use crate::db::now_ms;
use crate::error::{AppError, AppResult};

fn invite_not_found() -> AppError {
    AppError::not_found("invite not found")
}

fn gone(message: &str) -> AppError {
    AppError::new(StatusCode::GONE, "invite_expired", message)
}

pub async fn create(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
    max_uses: Option<i64>,
    max_age_seconds: Option<i64>,
) -> AppResult<Invite> {
    actor(&state.db, community_id, user_id).await?;
    let max_uses = validate::invite_max_uses(max_uses)?;
    let expires_at = validate::invite_max_age(max_age_seconds)?.map(|s| now_ms() + s * 1000);
    Ok(store::invites::insert(&state.db, community_id, user_id, max_uses, expires_at).await?)
}

pub async fn list(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
) -> AppResult<Vec<Invite>> {
    let actor = actor(&state.db, community_id, user_id).await?;
    actor.require(Permissions::MANAGE_CHANNELS)?;
    Ok(store::invites::invites(&state.db, community_id).await?)
}

/// Deletes an invite: its creator may, and members with MANAGE_CHANNELS.
pub async fn revoke(state: &Arc<AppState>, user_id: &str, code: &str) -> AppResult<()> {
    let invite = store::invites::invite(&state.db, code)
        .await?
        .ok_or_else(invite_not_found)?;
    // To a non-member, another community's invite does not exist.
    let actor = actor(&state.db, &invite.community_id, user_id)
        .await
        .map_err(|e| {
            if e.status == StatusCode::NOT_FOUND {
                invite_not_found()
            } else {
                e
            }
        })?;
    if invite.creator_id != user_id {
        actor.require(Permissions::MANAGE_CHANNELS)?;
    }
    if store::invites::delete(&state.db, code).await? {
        Ok(())
    } else {
        Err(invite_not_found())
    }
}

/// What the code leads to; 410 when it can no longer be used.
pub async fn preview(state: &Arc<AppState>, code: &str) -> AppResult<InvitePreview> {
    let invite = store::invites::invite(&state.db, code)
        .await?
        .ok_or_else(invite_not_found)?;
    if invite.expires_at.is_some_and(|at| at <= now_ms()) {
        return Err(gone("invite has expired"));
    }
    if invite.max_uses.is_some_and(|max| invite.uses >= max) {
        return Err(gone("invite has reached its maximum uses"));
    }
    store::invites::preview(&state.db, code)
        .await?
        .ok_or_else(invite_not_found)
}

/// Joins the invite's community. Returns the community and whether the user joined now
/// (`false`: they were already a member, and no use was counted).
pub async fn join(
    state: &Arc<AppState>,
    user: &User,
    code: &str,
) -> AppResult<(CommunityView, bool)> {
    let (community, joined) = match store::invites::join(&state.db, code, &user.id).await? {
        JoinOutcome::Joined(c) => (c, true),
        JoinOutcome::AlreadyMember(c) => (c, false),
        JoinOutcome::NotFound => return Err(invite_not_found()),
        JoinOutcome::Expired => return Err(gone("invite has expired")),
        JoinOutcome::UsedUp => return Err(gone("invite has reached its maximum uses")),
        JoinOutcome::Banned => {
            return Err(AppError::forbidden("you are banned from this community"));
        }
    };
    let standing = store::standing(&state.db, &community.id, &user.id)
        .await?
        .ok_or_else(|| AppError::not_found("community not found"))?;
    let view = store::community::view(&state.db, standing.community, standing.permissions).await?;
    if joined {
        if let Some(member) = view.members.iter().find(|m| m.user.id == user.id) {
            let others = view
                .members
                .iter()
                .filter(|m| m.user.id != user.id)
                .map(|m| m.user.id.clone())
                .collect();
            events::publish(state, others, MEMBER_ADD, member);
        }
        events::publish(state, vec![user.id.clone()], COMMUNITY_CREATE, &view);
    }
    Ok((view, joined))
}
