//! Creating, reading, renaming (ADMINISTRATOR) and deleting (owner only) communities.

use super::actor;
use crate::accounts::User;
use crate::app::Services;
use crate::communities::events::{self, COMMUNITY_CREATE, COMMUNITY_DELETE, COMMUNITY_UPDATE};
use crate::communities::hooks;
use crate::communities::{Community, CommunityView, Permissions, store, validate};
use crate::error::{Error, Result};

/// Creates a community owned by `user`, who becomes its first member.
pub async fn create(services: &Services, user: &User, name: &str) -> Result<CommunityView> {
    let name = validate::name("name", name)?;
    let community =
        store::community::create(&services.db, &user.id, name, services.clock.now_ms()).await?;
    let view = store::community::view(&services.db, community, Permissions::all()).await?;
    events::publish(services, vec![user.id.clone()], COMMUNITY_CREATE, &view);
    Ok(view)
}

pub async fn get(services: &Services, user_id: &str, id: &str) -> Result<CommunityView> {
    let actor = actor(&services.db, id, user_id).await?;
    Ok(store::community::view(&services.db, actor.community, actor.permissions).await?)
}

pub async fn mine(services: &Services, user_id: &str) -> Result<Vec<CommunityView>> {
    Ok(store::communities_of(&services.db, user_id).await?)
}

pub async fn rename(services: &Services, user_id: &str, id: &str, name: &str) -> Result<Community> {
    let actor = actor(&services.db, id, user_id).await?;
    actor.require(Permissions::ADMINISTRATOR)?;
    let name = validate::name("name", name)?;
    let community = store::community::rename(&services.db, id, name)
        .await?
        .ok_or_else(|| Error::not_found("community not found"))?;
    events::to_members(services, id, COMMUNITY_UPDATE, &community).await;
    Ok(community)
}

/// Deletes the community with everything in it; only its owner may.
pub async fn delete(services: &Services, user_id: &str, id: &str) -> Result<()> {
    let actor = actor(&services.db, id, user_id).await?;
    if !actor.is_owner() {
        return Err(Error::forbidden("only the owner can delete the community"));
    }
    let members = store::member_ids(&services.db, id).await?;
    let channels = store::channel_ids_of_community(&services.db, id).await?;
    if !store::community::delete(&services.db, id).await? {
        return Err(Error::not_found("community not found"));
    }
    events::publish(
        services,
        members,
        COMMUNITY_DELETE,
        serde_json::json!({ "id": id }),
    );
    hooks::channels_deleted(services, &channels).await;
    Ok(())
}
