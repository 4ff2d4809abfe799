//! Creating, reading, renaming (ADMINISTRATOR) and deleting (owner only) communities.

use std::sync::Arc;

use super::actor;
use crate::accounts::User;
use crate::api::AppState;
use crate::communities::events::{self, COMMUNITY_CREATE, COMMUNITY_DELETE, COMMUNITY_UPDATE};
use crate::communities::{Community, CommunityView, Permissions, store, validate};
use crate::error::{AppError, AppResult};

/// Creates a community owned by `user`, who becomes its first member.
pub async fn create(state: &Arc<AppState>, user: &User, name: &str) -> AppResult<CommunityView> {
    let name = validate::name("name", name)?;
    let community = store::community::create(&state.db, &user.id, name).await?;
    let view = store::community::view(&state.db, community, Permissions::all()).await?;
    events::publish(state, vec![user.id.clone()], COMMUNITY_CREATE, &view);
    Ok(view)
}

pub async fn get(state: &Arc<AppState>, user_id: &str, id: &str) -> AppResult<CommunityView> {
    let actor = actor(&state.db, id, user_id).await?;
    Ok(store::community::view(&state.db, actor.community, actor.permissions).await?)
}

pub async fn mine(state: &Arc<AppState>, user_id: &str) -> AppResult<Vec<CommunityView>> {
    Ok(store::communities_of(&state.db, user_id).await?)
}

pub async fn rename(
    state: &Arc<AppState>,
    user_id: &str,
    id: &str,
    name: &str,
) -> AppResult<Community> {
    let actor = actor(&state.db, id, user_id).await?;
    actor.require(Permissions::ADMINISTRATOR)?;
    let name = validate::name("name", name)?;
    let community = store::community::rename(&state.db, id, name)
        .await?
        .ok_or_else(|| AppError::not_found("community not found"))?;
    events::to_members(state, id, COMMUNITY_UPDATE, &community).await;
    Ok(community)
}

/// Deletes the community with everything in it; only its owner may.
pub async fn delete(state: &Arc<AppState>, user_id: &str, id: &str) -> AppResult<()> {
    let actor = actor(&state.db, id, user_id).await?;
    if !actor.is_owner() {
        return Err(AppError::forbidden(
            "only the owner can delete the community",
        ));
    }
    let members = store::member_ids(&state.db, id).await?;
    let channels = crate::voice::channels_of_community(&state.db, id).await?;
    if !store::community::delete(&state.db, id).await? {
        return Err(AppError::not_found("community not found"));
    }
    events::publish(
        state,
        members,
        COMMUNITY_DELETE,
        serde_json::json!({ "id": id }),
    );
    crate::voice::close_rooms(state, &channels).await;
    Ok(())
}
