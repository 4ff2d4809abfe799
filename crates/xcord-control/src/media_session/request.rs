//! A media-session command as clients send it: `{"id", "epoch"?, "type", …fields of that
//! type}`, read strictly (a field no command takes, or one its type does not, is refused by
//! name).

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::model::ConnectionState;
use crate::error::{Error, Result};
use crate::schema::Id;

/// The longest client-chosen command id.
pub const MAX_COMMAND_ID: usize = 100;

/// A command: the client's `id`, the `epoch` it was sent at (optional) and its `type`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandRequest {
    #[serde(rename_all = "camelCase")]
    StartCall {
        id: String,
        epoch: Option<i64>,
        #[schema(value_type = Id)]
        conversation_id: String,
        #[serde(default)]
        video: bool,
        /// The caller's gateway connection that acted (Ready's `sessionId`): it becomes the
        /// owner of the new session when it is live (otherwise the usual election decides).
        #[serde(default)]
        connection_id: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    AcceptCall {
        id: String,
        epoch: Option<i64>,
        #[schema(value_type = Id)]
        call_id: String,
        /// The caller's gateway connection that acted (Ready's `sessionId`): it becomes the
        /// owner of the new session when it is live (otherwise the usual election decides).
        #[serde(default)]
        connection_id: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    DeclineCall {
        id: String,
        epoch: Option<i64>,
        #[schema(value_type = Id)]
        call_id: String,
    },
    #[serde(rename_all = "camelCase")]
    JoinChannel {
        id: String,
        epoch: Option<i64>,
        #[schema(value_type = Id)]
        channel_id: String,
        /// The caller's gateway connection that acted (Ready's `sessionId`): it becomes the
        /// owner of the new session when it is live (otherwise the usual election decides).
        #[serde(default)]
        connection_id: Option<String>,
    },
    Leave {
        id: String,
        epoch: Option<i64>,
    },
    SetMute {
        id: String,
        epoch: Option<i64>,
        muted: bool,
    },
    SetDeafen {
        id: String,
        epoch: Option<i64>,
        deafened: bool,
    },
    SetCamera {
        id: String,
        epoch: Option<i64>,
        enabled: bool,
    },
    SetScreenShare {
        id: String,
        epoch: Option<i64>,
        enabled: bool,
    },
    SetPip {
        id: String,
        epoch: Option<i64>,
        enabled: bool,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        minimized: bool,
    },
    #[serde(rename_all = "camelCase")]
    ClaimOwner {
        id: String,
        epoch: Option<i64>,
        /// A live gateway connection of the caller (Ready's `sessionId`).
        connection_id: String,
    },
    #[serde(rename_all = "camelCase")]
    ReportConnection {
        id: String,
        epoch: Option<i64>,
        /// The owner connection (Ready's `sessionId`).
        connection_id: String,
        state: ConnectionState,
    },
}

/// Every field any command takes.
const FIELDS: [&str; 17] = [
    "id",
    "epoch",
    "type",
    "conversationId",
    "video",
    "callId",
    "channelId",
    "muted",
    "deafened",
    "enabled",
    "x",
    "y",
    "width",
    "height",
    "minimized",
    "connectionId",
    "state",
];

/// Reads a command from a JSON body: a field no command takes is named first, then the
/// command's type decides which fields it needs and allows.
pub fn parse(body: Value) -> Result<CommandRequest> {
    let Some(fields) = body.as_object() else {
        return Err(Error::invalid("a command is a JSON object"));
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Error::invalid(format!(
            "unknown field `{unknown}`: a command takes id, epoch, type and its type's fields"
        )));
    }
    serde_json::from_value(body).map_err(|e| Error::invalid(e.to_string()))
}

impl CommandRequest {
    /// The client's id and the epoch it sent the command at.
    pub fn id_and_epoch(&self) -> (&str, Option<i64>) {
        use CommandRequest::*;
        match self {
            StartCall { id, epoch, .. }
            | AcceptCall { id, epoch, .. }
            | DeclineCall { id, epoch, .. }
            | JoinChannel { id, epoch, .. }
            | Leave { id, epoch }
            | SetMute { id, epoch, .. }
            | SetDeafen { id, epoch, .. }
            | SetCamera { id, epoch, .. }
            | SetScreenShare { id, epoch, .. }
            | SetPip { id, epoch, .. }
            | ClaimOwner { id, epoch, .. }
            | ReportConnection { id, epoch, .. } => (id, *epoch),
        }
    }
}
