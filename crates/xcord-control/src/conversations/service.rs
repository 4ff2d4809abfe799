//! The rules of direct conversations: anyone signed in may start one with another existing
//! user (not themselves); only the two participants read or write it.

use std::sync::Arc;

use super::{CONVERSATION_CREATE, ConversationView, DM_MESSAGE_CREATE, DmMessage, store};
use crate::accounts::{User, store as accounts};
use crate::api::AppState;
use crate::communities::service::messages::{PageRequest, page_params};
use crate::communities::validate;
use crate::error::{AppError, AppResult};
use crate::realtime::hub::{Audience, GatewayEvent};

fn not_found() -> AppError {
    AppError::not_found("conversation not found")
}

fn participant_ids(c: &ConversationView) -> Vec<String> {
    c.participants.iter().map(|u| u.id.clone()).collect()
}

/// The conversation between `user` and `other`, created when there is none (then both are
/// told). Returns it and whether it was created.
pub async fn open(
    state: &Arc<AppState>,
    user: &User,
    other: &str,
) -> AppResult<(ConversationView, bool)> {
    if other == user.id {
        return Err(AppError::invalid(
            "cannot start a conversation with yourself",
        ));
    }
    if accounts::user_by_id(&state.db, other).await?.is_none() {
        return Err(AppError::not_found("user not found"));
    }
    let (conversation, created) = store::get_or_create(&state.db, &user.id, other).await?;
    if created {
        state.hub.publish(
            Audience::Users(participant_ids(&conversation)),
            GatewayEvent::new(CONVERSATION_CREATE, &conversation),
        );
    }
    Ok((conversation, created))
}

pub async fn mine(state: &Arc<AppState>, user_id: &str) -> AppResult<Vec<ConversationView>> {
    Ok(store::conversations_of(&state.db, user_id).await?)
}

pub async fn get(state: &Arc<AppState>, user_id: &str, id: &str) -> AppResult<ConversationView> {
    store::conversation_for(&state.db, id, user_id)
        .await?
        .ok_or_else(not_found)
}

pub async fn messages(
    state: &Arc<AppState>,
    user_id: &str,
    id: &str,
    page: PageRequest<'_>,
) -> AppResult<Vec<DmMessage>> {
    get(state, user_id, id).await?;
    let (before, limit) = page_params(&page)?;
    Ok(store::messages(&state.db, id, before, limit).await?)
}

pub async fn send(
    state: &Arc<AppState>,
    user: &User,
    id: &str,
    content: &str,
) -> AppResult<DmMessage> {
    let conversation = get(state, &user.id, id).await?;
    validate::content(content)?;
    let message = store::insert_message(&state.db, id, user, content).await?;
    state.hub.publish(
        Audience::Users(participant_ids(&conversation)),
        GatewayEvent::new(DM_MESSAGE_CREATE, &message),
    );
    Ok(message)
}
