//! What communities tell other domains after a committed change, without knowing them: a member
//! is gone (left, kicked or banned), channels were deleted, members' permissions changed. Voice
//! implements this to drop people from voice, close rooms and update live permissions; later
//! domains (live, calls) can listen too.

use async_trait::async_trait;

use crate::app::Services;

/// Listens to membership and channel changes. Called after the change is committed; a hook
/// logs its own failures (the change stands).
#[async_trait]
pub trait CommunityHooks: Send + Sync + 'static {
    /// `user_id` is no longer a member of `community_id`.
    async fn member_removed(&self, services: &Services, community_id: &str, user_id: &str);
    /// These channels no longer exist (one deleted, or all of a deleted community's).
    async fn channels_deleted(&self, services: &Services, channel_ids: &[String]);
    /// Members' effective permissions in `community_id` may have changed (a role was edited,
    /// deleted, given or taken).
    async fn permissions_changed(&self, services: &Services, community_id: &str) {
        let _ = (services, community_id);
    }
}

/// Tells every hook that a member was removed.
pub(crate) async fn member_removed(services: &Services, community_id: &str, user_id: &str) {
    for hook in &services.community_hooks {
        hook.member_removed(services, community_id, user_id).await;
    }
}

/// Tells every hook that channels were deleted.
pub(crate) async fn channels_deleted(services: &Services, channel_ids: &[String]) {
    for hook in &services.community_hooks {
        hook.channels_deleted(services, channel_ids).await;
    }
}

/// Tells every hook that members' permissions in a community may have changed.
pub(crate) async fn permissions_changed(services: &Services, community_id: &str) {
    for hook in &services.community_hooks {
        hook.permissions_changed(services, community_id).await;
    }
}
