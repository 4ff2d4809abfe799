//! What the API shows of communities: the JSON objects of REST responses and gateway events.

use serde::Serialize;

use super::Permissions;
use crate::accounts::User;

/// A community ("server").
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Community {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub created_at: i64,
}

/// What a channel is for. Every kind also has its own chat.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Text,
    Voice,
    /// A hybrid voice + camera channel.
    Video,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Voice => "voice",
            Self::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Self::Text),
            "voice" => Some(Self::Voice),
            "video" => Some(Self::Video),
            _ => None,
        }
    }

    /// Whether members connect to it for media (and it has a user limit).
    pub fn is_media(self) -> bool {
        matches!(self, Self::Voice | Self::Video)
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub id: String,
    pub community_id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// The most members connected at once; 0 is unlimited (always 0 for text channels).
    pub user_limit: u32,
    pub position: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: String,
    pub community_id: String,
    pub name: String,
    pub permissions: Permissions,
    pub position: i64,
    /// The role every member has implicitly (its id is the community's id).
    pub is_everyone: bool,
    pub created_at: i64,
}

/// A member of a community with the roles assigned to them (`@everyone` is implicit).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub community_id: String,
    pub user: User,
    pub role_ids: Vec<String>,
    pub joined_at: i64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    pub code: String,
    pub community_id: String,
    pub creator_id: String,
    /// `None`: unlimited.
    pub max_uses: Option<i64>,
    pub uses: i64,
    /// Unix milliseconds; `None`: never.
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// What someone holding an invite code may see before joining.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InvitePreview {
    pub code: String,
    pub community_id: String,
    pub community_name: String,
    pub member_count: i64,
    pub expires_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Ban {
    pub community_id: String,
    pub user: User,
    pub banned_by: String,
    pub created_at: i64,
}

/// A message in a channel's chat.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub channel_id: String,
    pub community_id: String,
    pub author: User,
    pub content: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
}

/// Everything a client needs to render one community: the community, the channels the viewer
/// may see, the roles and the members with their role ids.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CommunityView {
    #[serde(flatten)]
    pub community: Community,
    pub channels: Vec<Channel>,
    pub roles: Vec<Role>,
    pub members: Vec<Member>,
}

/// A user's standing towards a channel: what voice join and the gateway check.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccess {
    pub community_id: String,
    pub channel_id: String,
    pub kind: ChannelKind,
    pub user_limit: u32,
    pub is_member: bool,
    pub banned: bool,
    /// The user's effective permissions in the community (all for the owner and
    /// administrators, none for non-members).
    pub permissions: Permissions,
}
