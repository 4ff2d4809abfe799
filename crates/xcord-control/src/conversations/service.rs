//! The rules of direct conversations: a user may start one with another user who shares a
//! community with them (not themselves); to anyone else the other user does not exist (404, the
//! same answer as for an unknown id, so the API cannot be used to find out who has an account).
//! Only the two participants read a conversation, and they write in it while they share a
//! community (403 once they no longer do). Each user's messages are limited
//! (`crate::ratelimit::UserLimits::dm_messages`).

use super::{CONVERSATION_CREATE, ConversationView, DM_MESSAGE_CREATE, DmMessage, store};
use crate::accounts::{User, store as accounts};
use crate::app::Services;
use crate::communities::service::messages::{PageRequest, page_params};
use crate::communities::store::members as communities;
use crate::communities::validate;
use crate::error::{Error, Result};
use crate::realtime::hub::{Audience, GatewayEvent};

fn not_found() -> Error {
    Error::not_found("conversation not found")
}

fn participant_ids(c: &ConversationView) -> Vec<String> {
    c.participants.iter().map(|u| u.id.clone()).collect()
}

/// The conversation between `user` and `other`, created when there is none (then both are
/// told). Returns it and whether it was created.
pub async fn open(
    services: &Services,
    user: &User,
    other: &str,
) -> Result<(ConversationView, bool)> {
    if other == user.id {
        return Err(Error::invalid("cannot start a conversation with yourself"));
    }
    if !communities::share_a_community(&services.db, &user.id, other).await?
        || accounts::user_by_id(&services.db, other).await?.is_none()
    {
        return Err(Error::not_found("user not found"));
    }
    let (conversation, created) =
        store::get_or_create(&services.db, &user.id, other, services.clock.now_ms()).await?;
    if created {
        services.hub.publish(
            Audience::Users(participant_ids(&conversation)),
            GatewayEvent::new(CONVERSATION_CREATE, &conversation),
        );
    }
    Ok((conversation, created))
}

pub async fn mine(services: &Services, user_id: &str) -> Result<Vec<ConversationView>> {
    Ok(store::conversations_of(&services.db, user_id).await?)
}

pub async fn get(services: &Services, user_id: &str, id: &str) -> Result<ConversationView> {
    store::conversation_for(&services.db, id, user_id)
        .await?
        .ok_or_else(not_found)
}

pub async fn messages(
    services: &Services,
    user_id: &str,
    id: &str,
    page: PageRequest<'_>,
) -> Result<Vec<DmMessage>> {
    get(services, user_id, id).await?;
    let (before, limit) = page_params(&page)?;
    Ok(store::messages(&services.db, id, before, limit).await?)
}

pub async fn send(services: &Services, user: &User, id: &str, content: &str) -> Result<DmMessage> {
    let conversation = get(services, &user.id, id).await?;
    validate::content(content)?;
    let other = conversation
        .participants
        .iter()
        .find(|p| p.id != user.id)
        .map(|p| p.id.as_str())
        .unwrap_or_default();
    if !communities::share_a_community(&services.db, &user.id, other).await? {
        return Err(Error::forbidden(
            "you no longer share a community with this user",
        ));
    }
    services.user_limits.dm_messages.check_or_refuse(
        &user.id,
        services.clock.instant(),
        "messages",
    )?;
    let message =
        store::insert_message(&services.db, id, user, content, services.clock.now_ms()).await?;
    services.hub.publish(
        Audience::Users(participant_ids(&conversation)),
        GatewayEvent::new(DM_MESSAGE_CREATE, &message),
    );
    Ok(message)
}
