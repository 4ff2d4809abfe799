//! Voice and video channels.
//!
//! - `service`: the rules — joining, one's own flags, moderation (server mute/deafen, move,
//!   disconnect), and bringing people already in voice in line with changed permissions.
//! - `admission`: who may be in a channel's room and with which live permissions (pure);
//!   checked when a ticket is issued, when the participant actually joins, and when roles change.
//! - `decide`: what a media event changes (pure); `apply` reads, decides and writes: voice
//!   states (who is in which channel, with their mute, deafen, camera and screen-share flags)
//!   keyed by participant sid, and removes participants the server refuses.
//! - `moderation`: server mute and deafen, persisted per member and community.
//! - `gate`: the same admission rules at the embedded SFU's door, before anyone joins.
//! - `reconcile`: removes ghosts the media plane no longer has.
//! - `hooks`: what voice does when communities remove a member or delete channels.
//! - `token`: media tokens for joining a channel; `store`: SQL.

pub mod admission;
pub mod apply;
pub mod decide;
pub mod gate;
pub mod hooks;
pub mod moderation;
pub mod reconcile;
pub mod service;
pub mod store;
pub mod token;

use serde::Serialize;
use utoipa::ToSchema;

use crate::schema::Id;

/// The media room of a voice or video channel.
pub fn room_of_channel(channel_id: &str) -> String {
    format!("vc_{channel_id}")
}

/// The channel of a media room, if it is a channel room.
pub fn channel_of_room(room: &str) -> Option<&str> {
    room.strip_prefix("vc_").filter(|c| !c.is_empty())
}

/// A user's presence in a voice or video channel, as clients see it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoiceState {
    #[schema(value_type = Id)]
    pub user_id: String,
    #[schema(value_type = Id)]
    pub channel_id: String,
    /// The media-plane participant's sid.
    pub participant_sid: String,
    pub self_mute: bool,
    pub self_deaf: bool,
    pub server_mute: bool,
    pub server_deaf: bool,
    /// Whether an unmuted camera track is published.
    pub camera: bool,
    pub screen_share: bool,
    /// Unix milliseconds.
    pub joined_at: i64,
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
