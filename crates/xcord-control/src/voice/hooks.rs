//! Voice's side of the community hooks: a member who is gone from a community is removed from
//! its voice and video rooms and its earlier tickets refused; deleted channels have their rooms
//! closed and voice states cleared; when permissions change, everyone in the community's voice
//! is judged again (removed, or given their new live permissions).

use async_trait::async_trait;

use super::{room_of_channel, service, store, token};
use crate::app::Services;
use crate::communities::{self, hooks::CommunityHooks};
use crate::media::MediaError;

/// The hooks voice registers with communities.
pub struct VoiceCommunityHooks;

#[async_trait]
impl CommunityHooks for VoiceCommunityHooks {
    async fn member_removed(&self, services: &Services, community_id: &str, user_id: &str) {
        let Some(media) = &services.media else {
            return;
        };
        let channels = match communities::channel_ids_of_community(&services.db, community_id).await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(user = %user_id, "channels of a removed member's community unreadable: {e}");
                return;
            }
        };
        // Every channel room, not only the one they are in: a ticket for another channel
        // issued before the removal must not bring them back either.
        for channel in channels {
            let room = room_of_channel(&channel);
            match media
                .plane
                .revoke_participant(&room, user_id, token::TOKEN_TTL)
                .await
            {
                Ok(_) | Err(MediaError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(user = %user_id, room = ?room, "could not remove a removed member from voice: {e}")
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

    async fn permissions_changed(&self, services: &Services, community_id: &str) {
        let states = match communities::channel_ids_of_community(&services.db, community_id).await {
            Ok(channels) => store::in_channels(&services.db, &channels).await,
            Err(e) => Err(e),
        };
        match states {
            Ok(states) => {
                for s in states {
                    service::rejudge(services, &s).await;
                }
            }
            Err(e) => {
                tracing::warn!(%community_id, "voice states to re-check unreadable: {e}")
            }
        }
    }
}
