//! Channel messages (every kind of channel has a chat): reading takes VIEW_CHANNEL, sending
//! also SEND_MESSAGES; authors edit their own messages; authors and members with
//! MANAGE_CHANNELS delete them. Pages are newest first, before a message id. Each user's sends
//! and edits together are limited (`crate::ratelimit::UserLimits::channel_messages`).

use super::channel_actor;
use crate::accounts::User;
use crate::app::Services;
use crate::communities::events::{self, MESSAGE_CREATE, MESSAGE_DELETE, MESSAGE_UPDATE};
use crate::communities::{Message, Permissions, store, validate};
use crate::db::looks_like_id;
use crate::error::{Error, Result};

/// A page request: `before` a message id (none: the newest), `limit` 1–100 (default 50).
pub struct PageRequest<'a> {
    pub before: Option<&'a str>,
    pub limit: Option<&'a str>,
}

/// A checked page request: the cursor and the size.
pub fn page_params<'a>(page: &PageRequest<'a>) -> Result<(Option<&'a str>, i64)> {
    let limit = validate::page_limit(page.limit)?;
    if let Some(before) = page.before
        && !looks_like_id(before)
    {
        return Err(Error::invalid(format!(
            "before must be a message id, got {before:?}"
        )));
    }
    Ok((page.before, limit))
}

fn message_not_found() -> Error {
    Error::not_found("message not found")
}

pub async fn list(
    services: &Services,
    user_id: &str,
    channel_id: &str,
    page: PageRequest<'_>,
) -> Result<Vec<Message>> {
    let (channel, actor) = channel_actor(&services.db, channel_id, user_id).await?;
    actor.require(Permissions::VIEW_CHANNEL)?;
    let (before, limit) = page_params(&page)?;
    Ok(store::messages::page(&services.db, &channel, before, limit).await?)
}

pub async fn send(
    services: &Services,
    user: &User,
    channel_id: &str,
    content: &str,
) -> Result<Message> {
    let (channel, actor) = channel_actor(&services.db, channel_id, &user.id).await?;
    actor.require(Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES)?;
    validate::content(content)?;
    services.user_limits.channel_messages.check_or_refuse(
        &user.id,
        services.clock.instant(),
        "messages",
    )?;
    let message = store::messages::insert(
        &services.db,
        &channel,
        user,
        content,
        services.clock.now_ms(),
    )
    .await?;
    events::to_viewers(services, &channel.community_id, MESSAGE_CREATE, &message).await;
    Ok(message)
}

pub async fn edit(
    services: &Services,
    user_id: &str,
    channel_id: &str,
    message_id: &str,
    content: &str,
) -> Result<Message> {
    let (channel, actor) = channel_actor(&services.db, channel_id, user_id).await?;
    actor.require(Permissions::VIEW_CHANNEL)?;
    let mut message = store::messages::message(&services.db, &channel, message_id)
        .await?
        .ok_or_else(message_not_found)?;
    if message.author.id != user_id {
        return Err(Error::forbidden("you can only edit your own messages"));
    }
    validate::content(content)?;
    services.user_limits.channel_messages.check_or_refuse(
        user_id,
        services.clock.instant(),
        "messages",
    )?;
    message.edited_at = Some(
        store::messages::edit(&services.db, message_id, content, services.clock.now_ms()).await?,
    );
    message.content = content.to_owned();
    events::to_viewers(services, &channel.community_id, MESSAGE_UPDATE, &message).await;
    Ok(message)
}

pub async fn delete(
    services: &Services,
    user_id: &str,
    channel_id: &str,
    message_id: &str,
) -> Result<()> {
    let (channel, actor) = channel_actor(&services.db, channel_id, user_id).await?;
    actor.require(Permissions::VIEW_CHANNEL)?;
    let message = store::messages::message(&services.db, &channel, message_id)
        .await?
        .ok_or_else(message_not_found)?;
    if message.author.id != user_id {
        actor.require(Permissions::MANAGE_CHANNELS)?;
    }
    if !store::messages::delete(&services.db, message_id).await? {
        return Err(message_not_found());
    }
    let data = serde_json::json!({ "id": message_id, "channelId": channel.id });
    events::to_viewers(services, &channel.community_id, MESSAGE_DELETE, data).await;
    Ok(())
}
