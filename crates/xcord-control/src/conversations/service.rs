//! The rules of direct conversations: anyone signed in may start one with another existing
//! user (not themselves); only the two participants read or write it.

use super::{CONVERSATION_CREATE, ConversationView, DM_MESSAGE_CREATE, DmMessage, store};
use crate::accounts::{User, store as accounts};
use crate::app::Services;
use crate::communities::service::messages::{PageRequest, page_params};
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
    if accounts::user_by_id(&services.db, other).await?.is_none() {
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
    let message =
        store::insert_message(&services.db, id, user, content, services.clock.now_ms()).await?;
    services.hub.publish(
        Audience::Users(participant_ids(&conversation)),
        GatewayEvent::new(DM_MESSAGE_CREATE, &message),
    );
    Ok(message)
}
