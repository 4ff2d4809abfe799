//! Channels: members with VIEW_CHANNEL see them; creating, editing and deleting them takes
//! MANAGE_CHANNELS. A channel's kind is fixed at creation; only voice and video channels have a
//! user limit.

use super::{actor, channel_actor};
use crate::app::Services;
use crate::communities::events::{self, CHANNEL_CREATE, CHANNEL_DELETE, CHANNEL_UPDATE};
use crate::communities::hooks;
use crate::communities::{Channel, Permissions, store, validate};
use crate::error::{Error, Result};

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

pub async fn list(services: &Services, user_id: &str, community_id: &str) -> Result<Vec<Channel>> {
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::VIEW_CHANNEL)?;
    Ok(store::channels::channels(&services.db, community_id).await?)
}

pub async fn get(services: &Services, user_id: &str, channel_id: &str) -> Result<Channel> {
    let (channel, actor) = channel_actor(&services.db, channel_id, user_id).await?;
    actor.require(Permissions::VIEW_CHANNEL)?;
    Ok(channel)
}

pub async fn create(
    services: &Services,
    user_id: &str,
    community_id: &str,
    new: NewChannel<'_>,
) -> Result<Channel> {
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::MANAGE_CHANNELS)?;
    let name = validate::name("name", new.name)?;
    let kind = validate::channel_kind(new.kind)?;
    let user_limit = validate::user_limit(kind, new.user_limit.unwrap_or(0))?;
    let position = new.position.map(validate::position).transpose()?;
    let channel = store::channels::insert(
        &services.db,
        community_id,
        name,
        kind,
        user_limit,
        position,
        services.clock.now_ms(),
    )
    .await?;
    events::to_viewers(services, community_id, CHANNEL_CREATE, &channel).await;
    Ok(channel)
}

pub async fn update(
    services: &Services,
    user_id: &str,
    channel_id: &str,
    changes: ChannelChanges<'_>,
) -> Result<Channel> {
    let (channel, actor) = channel_actor(&services.db, channel_id, user_id).await?;
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
    let channel = store::channels::update(&services.db, channel_id, name, user_limit, position)
        .await?
        .ok_or_else(|| Error::not_found("channel not found"))?;
    events::to_viewers(services, &channel.community_id, CHANNEL_UPDATE, &channel).await;
    Ok(channel)
}

pub async fn delete(services: &Services, user_id: &str, channel_id: &str) -> Result<()> {
    let (channel, actor) = channel_actor(&services.db, channel_id, user_id).await?;
    actor.require(Permissions::MANAGE_CHANNELS)?;
    if !store::channels::delete(&services.db, channel_id).await? {
        return Err(Error::not_found("channel not found"));
    }
    let data = serde_json::json!({ "id": channel_id, "communityId": channel.community_id });
    events::to_viewers(services, &channel.community_id, CHANNEL_DELETE, data).await;
    hooks::channels_deleted(services, &[channel_id.to_owned()]).await;
    Ok(())
}
