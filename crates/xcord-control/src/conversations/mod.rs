//! Direct conversations between two users and their messages. Only the two participants see a
//! conversation; to anyone else it does not exist (404). Starting a conversation with someone
//! returns the existing one when there is one.
//!
//! Events: `CONVERSATION_CREATE` (the conversation) and `DM_MESSAGE_CREATE` (the message), to
//! both participants.

pub mod service;
pub mod store;

use serde::Serialize;

use crate::accounts::User;

pub use store::conversations_of;

pub const CONVERSATION_CREATE: &str = "CONVERSATION_CREATE";
pub const DM_MESSAGE_CREATE: &str = "DM_MESSAGE_CREATE";

/// A conversation as both participants see it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: String,
    /// The two participants, in a fixed order.
    pub participants: [User; 2],
    pub created_at: i64,
    /// When the last message was sent; `None` before the first.
    pub last_message_at: Option<i64>,
}

/// A message in a direct conversation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DmMessage {
    pub id: String,
    pub conversation_id: String,
    pub author: User,
    pub content: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
}
