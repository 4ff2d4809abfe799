//! Voice's side of the community hooks: a member who is gone from a community is removed from
//! its voice and video rooms; deleted channels have their rooms closed and voice states cleared.

use async_trait::async_trait;

use super::{room_of_channel, store};
use crate::app::Services;
use crate::communities::{self, hooks::CommunityHooks};
use crate::media::MediaError;

/// The hooks voice registers with communities.
pub struct VoiceCommunityHooks;

#[async_trait]
impl CommunityHooks for VoiceCommunityHooks {
    async fn member_removed(&self, services: &Services, community_id: &str, user_id: &str) {
        let s = match store::of_user(&services.db, user_id).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(user = %user_id, "voice state of a removed member unreadable: {e}");
                return;
            }
        };
        let in_community =
            match communities::community_of_channel(&services.db, &s.channel_id).await {
                Ok(c) => c.as_deref() == Some(community_id),
                Err(e) => {
                    tracing::warn!(user = %user_id, "channel of a removed member unreadable: {e}");
                    return;
                }
            };
        if !in_community {
            return;
        }
        if let Some(media) = &services.media {
            match media
                .plane
                .remove_participant(&room_of_channel(&s.channel_id), user_id)
                .await
            {
                Ok(()) | Err(MediaError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(user = %user_id, "could not remove a removed member from voice: {e}")
                }
            }
        }
    }

    async fn channels_deleted(&self, services: &Services, channel_ids: &[String]) {
        for channel in channel_ids {
            if let Some(media) = &services.media {
                match media.plane.delete_room(&room_of_channel(channel)).await {
                    Ok(()) | Err(MediaError::NotFound(_)) => {}
                    Err(e) => {
                        tracing::warn!(%channel, "could not close the voice room of a deleted channel: {e}")
                    }
                }
            }
            if let Err(e) = store::delete_channel(&services.db, channel).await {
                tracing::warn!(%channel, "could not clear voice states of a deleted channel: {e}");
            }
        }
    }
}
