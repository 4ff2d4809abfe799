//! A call as clients see it (`GET /api/v1/calls/{id}`, `CALL_UPDATE`).

use serde::Serialize;
use utoipa::ToSchema;

use super::machine::{Call, CallState};
use crate::schema::Id;

#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Call)]
pub struct CallView {
    #[schema(value_type = Id)]
    pub id: String,
    #[schema(value_type = Id)]
    pub conversation_id: String,
    #[schema(value_type = Id)]
    pub caller_id: String,
    #[schema(value_type = Id)]
    pub callee_id: String,
    pub video: bool,
    pub state: CallState,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When it was accepted; `null` if it never was.
    #[schema(required = true)]
    pub answered_at: Option<i64>,
    /// When it reached its final state; `null` while ringing or connected.
    #[schema(required = true)]
    pub ended_at: Option<i64>,
    /// `declined`, `canceled`, `no_answer`, `busy`, or for `ended`: `hangup`, `replaced`,
    /// `disconnected`, `no_connection`; `null` while ringing or connected.
    #[schema(required = true)]
    pub end_reason: Option<String>,
    /// Unix milliseconds: when ringing stops by itself.
    pub ring_expires_at: i64,
}

impl From<&Call> for CallView {
    fn from(c: &Call) -> Self {
        Self {
            id: c.id.clone(),
            conversation_id: c.conversation_id.clone(),
            caller_id: c.caller_id.clone(),
            callee_id: c.callee_id.clone(),
            video: c.video,
            state: c.state,
            created_at: c.created_at,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            end_reason: c.end_reason.clone(),
            ring_expires_at: c.ring_expires_at,
        }
    }
}
