//! What a user's media session is made of — its type, context, controls, connections, owner,
//! incoming calls and picture-in-picture — and the snapshot clients receive. Plain data: the
//! rules that change it are in `machine`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::realtime::session::ConnectionKind;
use crate::schema::Id;

/// What the session is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SessionType {
    #[default]
    Idle,
    DmVoice,
    DmVideo,
    ServerVoice,
    ServerVideo,
    LiveStream,
    ScreenShare,
}

/// The owner connection's media connection, as it reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    #[default]
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Controls {
    pub muted: bool,
    pub deafened: bool,
    pub camera: bool,
    pub screen_share: bool,
}

/// Where the picture-in-picture window is (pixels) and whether it shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pip {
    pub enabled: bool,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub minimized: bool,
}

/// A user as a session shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[schema(value_type = Id)]
    pub id: String,
    pub display_name: String,
    pub avatar_gradient: [String; 2],
}

/// The ids and names the session's type needs (absent fields do not apply).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Id>)]
    pub call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Id>)]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_user: Option<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Id>)]
    pub community_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Id>)]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// The live session watched or hosted (`live-stream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Id>)]
    pub live_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_title: Option<String>,
    /// The user's role in it when they joined (`host`, `co_host`, `speaker`, `viewer`,
    /// `listener`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_role: Option<LiveRole>,
}

/// A live gateway connection of the user; its lease rides on its heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: String,
    pub kind: ConnectionKind,
    pub opened_at: i64,
    pub lease_until: i64,
}

/// The connection that holds the media connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The gateway connection (Ready's `sessionId`).
    pub connection_id: String,
    pub kind: ConnectionKind,
}

/// A call ringing for the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncomingCall {
    #[schema(value_type = Id)]
    pub call_id: String,
    pub from: Person,
    pub video: bool,
    /// Unix milliseconds: when it started ringing (the call's creation). A client shows at most
    /// `expiresAt - ringingSince` left, whatever its estimate of the server's clock; 0 in
    /// sessions stored before this field existed.
    #[serde(default)]
    pub ringing_since: i64,
    /// Unix milliseconds: when it stops ringing.
    pub expires_at: i64,
}

/// A user's one media session (idle when there is none), as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user_id: String,
    /// Grows with every stored change (compare-and-set).
    pub version: i64,
    /// Grows with every change of session (start, replace, end) and of owner.
    pub epoch: i64,
    pub session_type: SessionType,
    pub context: Context,
    /// The media room (`dm_<call>`, `vc_<channel>`, `live_<session>`) while active.
    pub room: Option<String>,
    pub controls: Controls,
    pub connection: ConnectionState,
    pub owner: Option<Owner>,
    pub connections: Vec<Connection>,
    pub incoming_calls: Vec<IncomingCall>,
    pub pip: Pip,
    /// Since when an active session has had no live connection.
    pub unattended_since: Option<i64>,
}

impl Session {
    pub fn idle(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            ..Self::default()
        }
    }

    pub fn is_active(&self) -> bool {
        self.session_type != SessionType::Idle
    }
}

/// A participant of the session's room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    #[schema(value_type = Id)]
    pub user_id: String,
    pub display_name: String,
    pub avatar_gradient: [String; 2],
    pub muted: bool,
    /// Whether their session is deafened (deafened also means muted).
    pub deafened: bool,
    pub speaking: bool,
    pub camera: bool,
    pub screen_share: bool,
    /// Whether it is the user themselves.
    pub local: bool,
}

/// What clients render: `GET /api/v1/users/@me/media-session`, Ready's `mediaSession`, and
/// every `MEDIA_SESSION_UPDATE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = MediaSession)]
pub struct Snapshot {
    pub version: i64,
    pub epoch: i64,
    #[serde(rename = "type")]
    pub session_type: SessionType,
    pub context: Context,
    pub controls: Controls,
    pub connection: ConnectionState,
    #[schema(required = true)]
    pub owner: Option<Owner>,
    pub participants: Vec<Participant>,
    pub incoming_calls: Vec<IncomingCall>,
    pub pip: Pip,
}

impl Snapshot {
    pub fn of(session: &Session, participants: Vec<Participant>) -> Self {
        Self {
            version: session.version,
            epoch: session.epoch,
            session_type: session.session_type,
            context: session.context.clone(),
            controls: session.controls,
            connection: session.connection,
            owner: session.owner.clone(),
            participants,
            incoming_calls: session.incoming_calls.clone(),
            pip: session.pip,
        }
    }
}

/// A participant's role in a live session's room (the live module gives it its rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveRole {
    Host,
    CoHost,
    Speaker,
    Viewer,
    Listener,
}

/// The live session whose media room `room` is (`live_<id>`), if it is one.
pub fn live_of_room(room: &str) -> Option<&str> {
    room.strip_prefix("live_").filter(|s| !s.is_empty())
}
