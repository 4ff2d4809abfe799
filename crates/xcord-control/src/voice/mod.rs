//! Voice states — who is in which voice or video channel, with their mute, deafen, camera and
//! screen-share flags — driven by media-plane events, keyed by participant sid; the inbox that
//! makes those events idempotent; the reconciler that removes ghosts; and media tokens for
//! joining a channel.

pub mod apply;
pub mod inbox;
pub mod reconcile;
pub mod store;
pub mod token;

use serde::Serialize;

/// The media room of a voice or video channel.
pub fn room_of_channel(channel_id: &str) -> String {
    format!("vc_{channel_id}")
}

/// The channel of a media room, if it is a channel room.
pub fn channel_of_room(room: &str) -> Option<&str> {
    room.strip_prefix("vc_").filter(|c| !c.is_empty())
}

/// A user's presence in a voice channel, as clients see it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VoiceState {
    pub user_id: String,
    pub channel_id: String,
    pub participant_sid: String,
    pub self_mute: bool,
    pub self_deaf: bool,
    pub server_mute: bool,
    pub server_deaf: bool,
    pub camera: bool,
    pub screen_share: bool,
    pub joined_at: i64,
}

/// The ids of a community's channels (read before the community is deleted).
pub async fn channels_of_community(
    db: &crate::db::Db,
    community_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT id FROM channels WHERE community_id = $1")
        .bind(community_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("id")).collect()
}

/// Closes the media rooms of deleted channels (everyone in them is disconnected with
/// ROOM_DELETED) and forgets their voice states.
pub async fn close_rooms(state: &crate::api::AppState, channel_ids: &[String]) {
    for channel in channel_ids {
        if let Some(media) = &state.media {
            match media.delete_room(&room_of_channel(channel)).await {
                Ok(()) | Err(crate::media::MediaError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(%channel, "could not close the voice room of a deleted channel: {e}")
                }
            }
        }
        if let Err(e) = sqlx::query("DELETE FROM voice_states WHERE channel_id = $1")
            .bind(channel)
            .execute(&state.db.pool)
            .await
        {
            tracing::warn!(%channel, "could not clear voice states of a deleted channel: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_and_channels_map_both_ways() {
        assert_eq!(room_of_channel("abc"), "vc_abc");
        assert_eq!(channel_of_room("vc_abc"), Some("abc"));
        assert_eq!(channel_of_room("vc_"), None);
        assert_eq!(channel_of_room("live_x"), None);
    }
}
