//! The Ready snapshot: everything a client needs to render, replacing its state — the user,
//! their communities (channels, roles, members), the voice states of those communities' channels,
//! their direct conversations, their own voice state, and their media session.

use serde_json::{Value, json};

use crate::accounts::User;
use crate::app::Services;
use crate::error::Error;

pub async fn ready(state: &Services, user: &User) -> Result<Value, Error> {
    let communities = crate::communities::communities_of(&state.db, &user.id).await?;
    let channel_ids: Vec<String> = communities
        .iter()
        .flat_map(|c| c.channels.iter().map(|ch| ch.id.clone()))
        .collect();
    let voice_states = crate::voice::store::in_channels(&state.db, &channel_ids).await?;
    let conversations = crate::conversations::conversations_of(&state.db, &user.id).await?;
    let my_voice = crate::voice::store::of_user(&state.db, &user.id).await?;
    let media_session = crate::media_session::snapshot(state, &user.id).await?;
    Ok(json!({
        "user": user,
        "communities": communities,
        "voiceStates": voice_states,
        "conversations": conversations,
        "voiceState": my_voice,
        "mediaSession": media_session,
    }))
}
