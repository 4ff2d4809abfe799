//! Communities ("servers"): members, invites, bans, roles with permission bit sets, channels
//! (text, voice, video) and channel messages, with their realtime events.
//!
//! - `permissions`: the bit set; `model`: what the API shows; `validate`: field rules.
//! - `store`: SQL, and the read functions other code calls (`communities_of`,
//!   `channel_access`, `member_ids`, `is_member`, re-exported here).
//! - `service`: the rules (who may do what), the writes and the events that follow them.
//! - `events`: publishing to the hub, and `on_member_removed`, what follows a leave, kick or
//!   ban.
//! - `hooks`: how other domains (voice) hear of removed members and deleted channels.

pub mod events;
pub mod hooks;
pub mod model;
pub mod permissions;
pub mod service;
pub mod store;
pub(crate) mod users;
pub mod validate;

pub use events::on_member_removed;
pub use model::{
    Ban, Channel, ChannelAccess, ChannelKind, Community, CommunityView, Invite, InvitePreview,
    Member, Message, Role,
};
pub use permissions::Permissions;
pub use store::{
    channel_access, channel_ids_of_community, channel_viewers, communities_of,
    community_of_channel, is_member, member_ids, viewers,
};
