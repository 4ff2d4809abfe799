//! The rules of communities: who may do what (membership, permissions, the owner), then the
//! write, then the events. The HTTP handlers call these; errors are API errors — 404 for what
//! the user may not see, 403 naming the missing permission, 400 for bad input, 409 for
//! conflicts.

pub mod channels;
pub mod community;
pub mod invites;
pub mod members;
pub mod messages;
pub mod roles;

use super::{Channel, Community, Permissions, store};
use crate::db::Db;
use crate::error::{Error, Result};

/// A member acting in their community.
#[derive(Clone, Debug)]
pub struct Actor {
    pub community: Community,
    pub user_id: String,
    /// Effective: all for the owner and administrators.
    pub permissions: Permissions,
}

impl Actor {
    pub fn is_owner(&self) -> bool {
        self.community.owner_id == self.user_id
    }

    /// 403 naming what is missing unless the actor has every permission of `needed`.
    pub fn require(&self, needed: Permissions) -> Result<()> {
        let missing = self.permissions.missing(needed);
        match missing.names().len() {
            0 => Ok(()),
            1 => Err(Error::forbidden(format!("missing permission {missing}"))),
            _ => Err(Error::forbidden(format!("missing permissions {missing}"))),
        }
    }

    /// 403 unless `granted` is within the actor's own permissions (no escalation); `what`
    /// says what would have granted them.
    pub fn require_within(&self, what: &str, granted: Permissions) -> Result<()> {
        let missing = self.permissions.missing(granted);
        if missing == Permissions::empty() {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "{what} has permissions you do not have: {missing}"
            )))
        }
    }
}

/// The user as a member of the community, or `None`.
async fn member_actor(db: &Db, community_id: &str, user_id: &str) -> Result<Option<Actor>> {
    Ok(store::standing(db, community_id, user_id)
        .await?
        .filter(|s| s.is_member)
        .map(|s| Actor {
            community: s.community,
            user_id: user_id.to_owned(),
            permissions: s.permissions,
        }))
}

/// The user as a member of the community; 404 when it does not exist or they are not in it.
pub async fn actor(db: &Db, community_id: &str, user_id: &str) -> Result<Actor> {
    member_actor(db, community_id, user_id)
        .await?
        .ok_or_else(|| Error::not_found("community not found"))
}

/// The channel and the user as a member of its community; 404 unless both hold.
pub async fn channel_actor(db: &Db, channel_id: &str, user_id: &str) -> Result<(Channel, Actor)> {
    let not_found = || Error::not_found("channel not found");
    let channel = store::channels::channel(db, channel_id)
        .await?
        .ok_or_else(not_found)?;
    let actor = member_actor(db, &channel.community_id, user_id)
        .await?
        .ok_or_else(not_found)?;
    Ok((channel, actor))
}
