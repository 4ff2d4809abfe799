//! Direct conversations between two users and their messages. Only the two participants see a
//! conversation; to anyone else it does not exist (404). Starting a conversation with someone
//! returns the existing one when there is one.
//!
//! Events: `CONVERSATION_CREATE` (the conversation) and `DM_MESSAGE_CREATE` (the message), to
//! both participants.

pub mod service;
pub mod store;

use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::User;
use crate::schema::Id;

pub use store::conversations_of;

pub const CONVERSATION_CREATE: &str = "CONVERSATION_CREATE";
pub const DM_MESSAGE_CREATE: &str = "DM_MESSAGE_CREATE";

/// A direct conversation between two users, as both see it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Conversation)]
pub struct ConversationView {
    #[schema(value_type = Id)]
    pub id: String,
    /// The two participants, in a fixed order.
    #[schema(value_type = Vec<User>, min_items = 2, max_items = 2)]
    pub participants: [User; 2],
    /// Unix milliseconds.
    pub created_at: i64,
    /// When the last message was sent; `null` before the first.
    #[schema(required = true)]
    pub last_message_at: Option<i64>,
}

/// A message in a direct conversation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DmMessage {
    #[schema(value_type = Id)]
    pub id: String,
    #[schema(value_type = Id)]
    pub conversation_id: String,
    pub author: User,
    pub content: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last edit; `null`: never edited.
    #[schema(required = true)]
    pub edited_at: Option<i64>,
    /// `text` for what a user wrote; `call` for the system message a call leaves.
    pub kind: MessageKind,
    /// The call a `call` message records (absent on text messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<CallRecord>,
}

/// What a direct message is.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Call,
}

/// The call a system message records, as it ended.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    #[schema(value_type = Id)]
    pub id: String,
    /// The call's final state (`declined`, `canceled`, `no_answer`, `busy`, `ended`).
    pub state: String,
    pub video: bool,
    /// How long it was connected; 0 when it never was.
    pub duration_ms: i64,
}
