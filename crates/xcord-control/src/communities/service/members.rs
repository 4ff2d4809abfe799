//! Members: listing, leaving (not the owner), kicking (KICK_MEMBERS) and banning
//! (BAN_MEMBERS). Nobody can kick or ban the owner, and only the owner and administrators can
//! remove a member whose permissions exceed their own.

use std::sync::Arc;

use super::{Actor, actor};
use crate::accounts::store as accounts;
use crate::api::AppState;
use crate::communities::{Ban, Member, Permissions, on_member_removed, store};
use crate::error::{AppError, AppResult};

fn member_not_found() -> AppError {
    AppError::not_found("member not found")
}

pub async fn list(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
) -> AppResult<Vec<Member>> {
    actor(&state.db, community_id, user_id).await?;
    Ok(store::members::members(&state.db, community_id).await?)
}

pub async fn get(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> AppResult<Member> {
    actor(&state.db, community_id, user_id).await?;
    store::members::member(&state.db, community_id, target)
        .await?
        .ok_or_else(member_not_found)
}

/// Ends the user's own membership. The owner must delete the community instead.
pub async fn leave(state: &Arc<AppState>, user_id: &str, community_id: &str) -> AppResult<()> {
    let actor = actor(&state.db, community_id, user_id).await?;
    if actor.is_owner() {
        return Err(AppError::conflict(
            "the owner cannot leave the community; delete it instead",
        ));
    }
    if !store::members::remove(&state.db, community_id, user_id).await? {
        return Err(AppError::not_found("community not found"));
    }
    on_member_removed(state, community_id, user_id).await;
    Ok(())
}

/// Refuses to act on the owner, or on a member whose permissions exceed the actor's.
async fn check_target(state: &AppState, actor: &Actor, target: &str, verb: &str) -> AppResult<()> {
    if actor.community.owner_id == target {
        return Err(AppError::forbidden(format!("the owner cannot be {verb}")));
    }
    if let Some(s) = store::standing(&state.db, &actor.community.id, target).await?
        && s.is_member
        && actor.permissions.missing(s.permissions) != Permissions::empty()
    {
        return Err(AppError::forbidden(format!(
            "a member whose permissions exceed yours cannot be {verb} by you"
        )));
    }
    Ok(())
}

/// Removes another member (a user removing themselves leaves).
pub async fn kick(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> AppResult<()> {
    if target == user_id {
        return leave(state, user_id, community_id).await;
    }
    let actor = actor(&state.db, community_id, user_id).await?;
    actor.require(Permissions::KICK_MEMBERS)?;
    check_target(state, &actor, target, "kicked").await?;
    if !store::members::remove(&state.db, community_id, target).await? {
        return Err(member_not_found());
    }
    on_member_removed(state, community_id, target).await;
    Ok(())
}

/// Bans a user (member or not): they are removed and cannot join again, even by invite.
/// Returns the ban and whether it is new.
pub async fn ban(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> AppResult<(Ban, bool)> {
    let actor = actor(&state.db, community_id, user_id).await?;
    actor.require(Permissions::BAN_MEMBERS)?;
    if target == user_id {
        return Err(AppError::invalid("you cannot ban yourself"));
    }
    check_target(state, &actor, target, "banned").await?;
    if accounts::user_by_id(&state.db, target).await?.is_none() {
        return Err(AppError::not_found("user not found"));
    }
    let banned = store::bans::ban(&state.db, community_id, target, user_id).await?;
    if banned.was_member {
        on_member_removed(state, community_id, target).await;
    }
    let ban = store::bans::ban_of(&state.db, community_id, target)
        .await?
        .ok_or_else(AppError::internal)?;
    Ok((ban, banned.new))
}

pub async fn unban(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> AppResult<()> {
    let actor = actor(&state.db, community_id, user_id).await?;
    actor.require(Permissions::BAN_MEMBERS)?;
    if store::bans::unban(&state.db, community_id, target).await? {
        Ok(())
    } else {
        Err(AppError::not_found("ban not found"))
    }
}

pub async fn bans(state: &Arc<AppState>, user_id: &str, community_id: &str) -> AppResult<Vec<Ban>> {
    let actor = actor(&state.db, community_id, user_id).await?;
    actor.require(Permissions::BAN_MEMBERS)?;
    Ok(store::bans::bans(&state.db, community_id).await?)
}
