//! What the API shows of communities: the JSON objects of REST responses and gateway events,
//! with their OpenAPI schemas (the doc comments are the schemas' descriptions).

use serde::Serialize;
use utoipa::openapi::schema::{ArrayBuilder, Object, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::Permissions;
use crate::accounts::User;
use crate::schema::{Id, InviteCode};

/// A community ("server").
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Community {
    #[schema(value_type = Id)]
    pub id: String,
    pub name: String,
    #[schema(value_type = Id)]
    pub owner_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// What a channel is for: `voice` and `video` (voice + cameras) channels are joined for media
/// and may have a user limit. Every kind has its own chat.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash, ToSchema)]
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

/// A channel of a community.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    #[schema(value_type = Id)]
    pub id: String,
    #[schema(value_type = Id)]
    pub community_id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// The most members connected at once; 0 is unlimited (always 0 for text channels).
    #[schema(maximum = 99)]
    pub user_limit: u32,
    /// Channels are listed by position, then creation.
    #[schema(minimum = 0)]
    pub position: i64,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A role: a named set of permissions given to members.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// The `@everyone` role's id is the community's id.
    #[schema(value_type = Id)]
    pub id: String,
    #[schema(value_type = Id)]
    pub community_id: String,
    pub name: String,
    pub permissions: Permissions,
    /// `@everyone` is 0; new roles go last.
    #[schema(minimum = 0)]
    pub position: i64,
    /// Whether this is `@everyone`, the role every member has implicitly (its id is the
    /// community's id).
    pub is_everyone: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A member of a community with the roles assigned to them (`@everyone` is implicit).
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[schema(value_type = Id)]
    pub community_id: String,
    pub user: User,
    /// The roles assigned to the member (`@everyone` is implicit and not listed).
    #[schema(value_type = Vec<Id>)]
    pub role_ids: Vec<String>,
    /// Unix milliseconds.
    pub joined_at: i64,
}

/// An invite to a community.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    #[schema(value_type = InviteCode)]
    pub code: String,
    #[schema(value_type = Id)]
    pub community_id: String,
    #[schema(value_type = Id)]
    pub creator_id: String,
    /// `null`: unlimited.
    #[schema(required = true)]
    pub max_uses: Option<i64>,
    #[schema(minimum = 0)]
    pub uses: i64,
    /// Unix milliseconds; `null`: never.
    #[schema(required = true)]
    pub expires_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// What someone holding an invite code may see before joining.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitePreview {
    #[schema(value_type = InviteCode)]
    pub code: String,
    #[schema(value_type = Id)]
    pub community_id: String,
    pub community_name: String,
    #[schema(minimum = 0)]
    pub member_count: i64,
    /// Unix milliseconds; `null`: never.
    #[schema(required = true)]
    pub expires_at: Option<i64>,
}

/// A ban: the user cannot join the community (by invite) until it is lifted.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ban {
    #[schema(value_type = Id)]
    pub community_id: String,
    pub user: User,
    /// Who banned them.
    #[schema(value_type = Id)]
    pub banned_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A message in a channel's chat. Ids increase strictly with sending order.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[schema(value_type = Id)]
    pub id: String,
    #[schema(value_type = Id)]
    pub channel_id: String,
    #[schema(value_type = Id)]
    pub community_id: String,
    pub author: User,
    pub content: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last edit; `null`: never edited.
    #[schema(required = true)]
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

/// One flat object, as serde writes it: the community's fields (flattened) and the lists.
impl PartialSchema for CommunityView {
    fn schema() -> RefOr<Schema> {
        let mut object = match Community::schema() {
            RefOr::T(Schema::Object(community)) => community,
            _ => Object::new(),
        };
        object.description = Some(
            "Everything a client needs to render one community: the community's fields, the \
             channels the viewer may see, the roles and the members with their role ids."
                .to_owned(),
        );
        let lists = [
            (
                "channels",
                Channel::name(),
                Some("The channels the viewer may see (none without VIEW_CHANNEL), by position."),
            ),
            (
                "roles",
                Role::name(),
                Some("Every role, by position; `@everyone` first."),
            ),
            ("members", Member::name(), None),
        ];
        for (field, item, description) in lists {
            let list = ArrayBuilder::new()
                .items(Ref::from_schema_name(item))
                .description(description);
            object.properties.insert(field.to_owned(), list.into());
            object.required.push(field.to_owned());
        }
        object.into()
    }
}

impl ToSchema for CommunityView {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <Community as ToSchema>::schemas(schemas);
        schemas.push((Channel::name().into(), Channel::schema()));
        <Channel as ToSchema>::schemas(schemas);
        schemas.push((Role::name().into(), Role::schema()));
        <Role as ToSchema>::schemas(schemas);
        schemas.push((Member::name().into(), Member::schema()));
        <Member as ToSchema>::schemas(schemas);
    }
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
