//! Members: listing, leaving (not the owner), kicking (KICK_MEMBERS) and banning
//! (BAN_MEMBERS). Nobody can kick or ban the owner, and only the owner and administrators can
//! remove a member whose permissions exceed their own.

use super::{Actor, actor};
use crate::accounts::store as accounts;
use crate::app::Services;
use crate::communities::{Ban, Member, Permissions, on_member_removed, store};
use crate::error::{Error, Result};

fn member_not_found() -> Error {
    Error::not_found("member not found")
}

pub async fn list(services: &Services, user_id: &str, community_id: &str) -> Result<Vec<Member>> {
    actor(&services.db, community_id, user_id).await?;
    Ok(store::members::members(&services.db, community_id).await?)
}

pub async fn get(
    services: &Services,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> Result<Member> {
    actor(&services.db, community_id, user_id).await?;
    store::members::member(&services.db, community_id, target)
        .await?
        .ok_or_else(member_not_found)
}

/// Ends the user's own membership. The owner must delete the community instead.
pub async fn leave(services: &Services, user_id: &str, community_id: &str) -> Result<()> {
    let actor = actor(&services.db, community_id, user_id).await?;
    if actor.is_owner() {
        return Err(Error::conflict(
            "the owner cannot leave the community; delete it instead",
        ));
    }
    if !store::members::remove(&services.db, community_id, user_id).await? {
        return Err(Error::not_found("community not found"));
    }
    on_member_removed(services, community_id, user_id).await;
    Ok(())
}

/// Refuses to act on the owner, or on a member whose permissions exceed the actor's.
async fn check_target(services: &Services, actor: &Actor, target: &str, verb: &str) -> Result<()> {
    if actor.community.owner_id == target {
        return Err(Error::forbidden(format!("the owner cannot be {verb}")));
    }
    if let Some(s) = store::standing(&services.db, &actor.community.id, target).await?
        && s.is_member
        && actor.permissions.missing(s.permissions) != Permissions::empty()
    {
        return Err(Error::forbidden(format!(
            "a member whose permissions exceed yours cannot be {verb} by you"
        )));
    }
    Ok(())
}

/// Removes another member (a user removing themselves leaves).
pub async fn kick(
    services: &Services,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> Result<()> {
    if target == user_id {
        return leave(services, user_id, community_id).await;
    }
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::KICK_MEMBERS)?;
    check_target(services, &actor, target, "kicked").await?;
    if !store::members::remove(&services.db, community_id, target).await? {
        return Err(member_not_found());
    }
    on_member_removed(services, community_id, target).await;
    Ok(())
}

/// Bans a user (member or not): they are removed and cannot join again, even by invite.
/// Returns the ban and whether it is new.
pub async fn ban(
    services: &Services,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> Result<(Ban, bool)> {
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::BAN_MEMBERS)?;
    if target == user_id {
        return Err(Error::invalid("you cannot ban yourself"));
    }
    check_target(services, &actor, target, "banned").await?;
    if accounts::user_by_id(&services.db, target).await?.is_none() {
        return Err(Error::not_found("user not found"));
    }
    let banned = store::bans::ban(
        &services.db,
        community_id,
        target,
        user_id,
        services.clock.now_ms(),
    )
    .await?;
    if banned.was_member {
        on_member_removed(services, community_id, target).await;
    }
    let ban = store::bans::ban_of(&services.db, community_id, target)
        .await?
        .ok_or_else(|| Error::internal("a ban just written is missing"))?;
    Ok((ban, banned.new))
}

pub async fn unban(
    services: &Services,
    user_id: &str,
    community_id: &str,
    target: &str,
) -> Result<()> {
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::BAN_MEMBERS)?;
    if store::bans::unban(&services.db, community_id, target).await? {
        Ok(())
    } else {
        Err(Error::not_found("ban not found"))
    }
}

pub async fn bans(services: &Services, user_id: &str, community_id: &str) -> Result<Vec<Ban>> {
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::BAN_MEMBERS)?;
    Ok(store::bans::bans(&services.db, community_id).await?)
}
