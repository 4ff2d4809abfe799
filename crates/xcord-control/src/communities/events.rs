//! Realtime events of communities, published to the hub after each committed change, to
//! the users who should see them: community, member and role events to every member; channel
//! and message events to the members who may view channels.
//!
//! The data of an event is the JSON object the REST API returns for the thing, except for
//! deletions: `COMMUNITY_DELETE` `{id}`, `ROLE_DELETE` and `CHANNEL_DELETE` `{id, communityId}`,
//! `MESSAGE_DELETE` `{id, channelId}`, and `MEMBER_REMOVE` `{communityId, userId}` (sent to the
//! removed user too, whose client then drops the community). A `ROLE_DELETE` also takes the role
//! from every member that had it, without a `MEMBER_UPDATE` each.

use serde::Serialize;

use super::{hooks, store};
use crate::app::Services;
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
pub(crate) fn publish(services: &Services, users: Vec<String>, kind: &str, data: impl Serialize) {
    if !users.is_empty() {
        services
            .hub
            .publish(Audience::Users(users), GatewayEvent::new(kind, data));
    }
}

/// Sends an event to every member of a community. The change is already committed, so a
/// failing audience query is logged, not returned.
pub(crate) async fn to_members(
    services: &Services,
    community_id: &str,
    kind: &str,
    data: impl Serialize,
) {
    match store::member_ids(&services.db, community_id).await {
        Ok(users) => publish(services, users, kind, data),
        Err(e) => tracing::error!(community_id, kind, "event audience: {e}"),
    }
}

/// Sends an event to the members of a community who may view its channels.
pub(crate) async fn to_viewers(
    services: &Services,
    community_id: &str,
    kind: &str,
    data: impl Serialize,
) {
    match store::viewers(&services.db, community_id).await {
        Ok(users) => publish(services, users, kind, data),
        Err(e) => tracing::error!(community_id, kind, "event audience: {e}"),
    }
}

/// Called after a membership ended and was committed (leave, kick or ban): tells the remaining
/// members and the removed user (`MEMBER_REMOVE`), then the hooks (voice drops the user from
/// the community's voice and video channels).
pub async fn on_member_removed(services: &Services, community_id: &str, user_id: &str) {
    let data = serde_json::json!({ "communityId": community_id, "userId": user_id });
    match store::member_ids(&services.db, community_id).await {
        Ok(mut users) => {
            users.push(user_id.to_owned());
            publish(services, users, MEMBER_REMOVE, data);
        }
        Err(e) => {
            tracing::error!(community_id, user_id, "member removal audience: {e}");
            publish(services, vec![user_id.to_owned()], MEMBER_REMOVE, data);
        }
    }
    hooks::member_removed(services, community_id, user_id).await;
}
