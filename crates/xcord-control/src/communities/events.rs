//! Realtime events of communities, published to `state.hub` after each committed change, to
//! the users who should see them: community, member and role events to every member; channel
//! and message events to the members who may view channels.
//!
//! The data of an event is the JSON object the REST API returns for the thing, except for
//! deletions: `COMMUNITY_DELETE` `{id}`, `ROLE_DELETE` and `CHANNEL_DELETE` `{id, communityId}`,
//! `MESSAGE_DELETE` `{id, channelId}`, and `MEMBER_REMOVE` `{communityId, userId}` (sent to the
//! removed user too, whose client then drops the community). A `ROLE_DELETE` also takes the role
//! from every member that had it, without a `MEMBER_UPDATE` each.

use std::sync::Arc;

use serde::Serialize;

use super::{Permissions, store};
use crate::api::AppState;
use crate::realtime::hub::{Audience, GatewayEvent};

pub const COMMUNITY_CREATE: &str = "COMMUNITY_CREATE";
pub const COMMUNITY_UPDATE: &str = "COMMUNITY_UPDATE";
pub const COMMUNITY_DELETE: &str = "COMMUNITY_DELETE";
pub const MEMBER_ADD: &str = "MEMBER_ADD";
pub const MEMBER_UPDATE: &str = "MEMBER_UPDATE";
pub const MEMBER_REMOVE: &str = "MEMBER_REMOVE";
pub const ROLE_CREATE: &str = "ROLE_CREATE";
pub const ROLE_UPDATE: &str = "ROLE_UPDATE";
pub const ROLE_DELETE: &str = "ROLE_DELETE";
pub const CHANNEL_CREATE: &str = "CHANNEL_CREATE";
pub const CHANNEL_UPDATE: &str = "CHANNEL_UPDATE";
pub const CHANNEL_DELETE: &str = "CHANNEL_DELETE";
pub const MESSAGE_CREATE: &str = "MESSAGE_CREATE";
pub const MESSAGE_UPDATE: &str = "MESSAGE_UPDATE";
pub const MESSAGE_DELETE: &str = "MESSAGE_DELETE";

/// Sends one event to `users`.
pub(crate) fn publish(state: &AppState, users: Vec<String>, kind: &str, data: impl Serialize) {
    if !users.is_empty() {
        state
            .hub
            .publish(Audience::Users(users), GatewayEvent::new(kind, data));
    }
}

/// Sends an event to every member of a community. The change is already committed, so a
/// failing audience query is logged, not returned.
pub(crate) async fn to_members(
    state: &AppState,
    community_id: &str,
    kind: &str,
    data: impl Serialize,
) {
    match store::member_ids(&state.db, community_id).await {
        Ok(users) => publish(state, users, kind, data),
        Err(e) => tracing::error!(community_id, kind, "event audience: {e}"),
    }
}

/// Sends an event to the members of a community who may view its channels.
pub(crate) async fn to_viewers(
    state: &AppState,
    community_id: &str,
    kind: &str,
    data: impl Serialize,
) {
    match store::members::all_permissions(&state.db, community_id).await {
        Ok(all) => {
            let users = all
                .into_iter()
                .filter(|(_, p)| p.contains(Permissions::VIEW_CHANNEL))
                .map(|(u, _)| u)
                .collect();
            publish(state, users, kind, data);
        }
        Err(e) => tracing::error!(community_id, kind, "event audience: {e}"),
    }
}

/// Called after a membership ended and was committed (leave, kick or ban): tells the remaining
/// members and the removed user (`MEMBER_REMOVE`), and disconnects the user from the
/// community's voice and video channels.
pub async fn on_member_removed(state: &Arc<AppState>, community_id: &str, user_id: &str) {
    let data = serde_json::json!({ "communityId": community_id, "userId": user_id });
    match store::member_ids(&state.db, community_id).await {
        Ok(mut users) => {
            users.push(user_id.to_owned());
            publish(state, users, MEMBER_REMOVE, data);
        }
        Err(e) => {
            tracing::error!(community_id, user_id, "member removal audience: {e}");
            publish(state, vec![user_id.to_owned()], MEMBER_REMOVE, data);
        }
    }
    // Whoever is no longer a member is no longer in its voice channels either.
    crate::api::voice::drop_from_community_voice(state, community_id, user_id).await;
}
