//! Channels: members with VIEW_CHANNEL see them; creating, editing and deleting them takes
//! MANAGE_CHANNELS. A channel's kind is fixed at creation; only voice and video channels have a
//! user limit.

use std::sync::Arc;

use super::{actor, channel_actor};
use crate::api::AppState;
use crate::communities::events::{self, CHANNEL_CREATE, CHANNEL_DELETE, CHANNEL_UPDATE};
use crate::communities::{Channel, Permissions, store, validate};
use crate::error::{AppError, AppResult};

/// A new channel as requested.
pub struct NewChannel<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub user_limit: Option<i64>,
    pub position: Option<i64>,
}

/// Changes to a channel; `None` keeps the value.
pub struct ChannelChanges<'a> {
    pub name: Option<&'a str>,
    pub user_limit: Option<i64>,
    pub position: Option<i64>,
}

pub async fn list(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
) -> AppResult<Vec<Channel>> {
    let actor = actor(&state.db, community_id, user_id).await?;
    actor.require(Permissions::VIEW_CHANNEL)?;
    Ok(store::channels::channels(&state.db, community_id).await?)
}

pub async fn get(state: &Arc<AppState>, user_id: &str, channel_id: &str) -> AppResult<Channel> {
    let (channel, actor) = channel_actor(&state.db, channel_id, user_id).await?;
    actor.require(Permissions::VIEW_CHANNEL)?;
    Ok(channel)
}

pub async fn create(
    state: &Arc<AppState>,
    user_id: &str,
    community_id: &str,
    new: NewChannel<'_>,
) -> AppResult<Channel> {
    let actor = actor(&state.db, community_id, user_id).await?;
    actor.require(Permissions::MANAGE_CHANNELS)?;
    let name = validate::name("name", new.name)?;
    let kind = validate::channel_kind(new.kind)?;
    let user_limit = validate::user_limit(kind, new.user_limit.unwrap_or(0))?;
    let position = new.position.map(validate::position).transpose()?;
    let channel =
        store::channels::insert(&state.db, community_id, name, kind, user_limit, position).await?;
    events::to_viewers(state, community_id, CHANNEL_CREATE, &channel).await;
    Ok(channel)
}

pub async fn update(
    state: &Arc<AppState>,
    user_id: &str,
    channel_id: &str,
    changes: ChannelChanges<'_>,
) -> AppResult<Channel> {
    let (channel, actor) = channel_actor(&state.db, channel_id, user_id).await?;
    actor.require(Permissions::MANAGE_CHANNELS)?;
    let name = changes
        .name
        .map(|n| validate::name("name", n))
        .transpose()?;
    let user_limit = changes
        .user_limit
        .map(|l| validate::user_limit(channel.kind, l))
        .transpose()?;
    let position = changes.position.map(validate::position).transpose()?;
    let channel = store::channels::update(&state.db, channel_id, name, user_limit, position)
        .await?
        .ok_or_else(|| AppError::not_found("channel not found"))?;
    events::to_viewers(state, &channel.community_id, CHANNEL_UPDATE, &channel).await;
    Ok(channel)
}

pub async fn delete(state: &Arc<AppState>, user_id: &str, channel_id: &str) -> AppResult<()> {
    let (channel, actor) = channel_actor(&state.db, channel_id, user_id).await?;
    actor.require(Permissions::MANAGE_CHANNELS)?;
    if !store::channels::delete(&state.db, channel_id).await? {
        return Err(AppError::not_found("channel not found"));
    }
    let data = serde_json::json!({ "id": channel_id, "communityId": channel.community_id });
    events::to_viewers(state, &channel.community_id, CHANNEL_DELETE, data).await;
    crate::voice::close_rooms(state, &[channel_id.to_owned()]).await;
    Ok(())
}
