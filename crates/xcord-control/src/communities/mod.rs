//! Communities ("servers"): members, invites, bans, roles with permission bit sets, channels
//! (text, voice, video) and channel messages, with their realtime events.
//!
//! - `permissions`: the bit set; `model`: what the API shows; `validate`: field rules.
//! - `store`: SQL, and the read functions other code calls (`communities_of`,
//!   `channel_access`, `member_ids`, `is_member`, re-exported here).
//! - `service`: the rules (who may do what), the writes and the events that follow them.
//! - `events`: publishing to the hub, and `on_member_removed`, the hook after a leave, kick or
//!   ban.

pub mod events;
pub mod ids;
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
pub use store::{channel_access, communities_of, is_member, member_ids};
