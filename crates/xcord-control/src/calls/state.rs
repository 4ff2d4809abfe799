//! The states of a call, with their wire names.

use serde::{Deserialize, Serialize};

/// Where a call is in its life. Every state but `ringing` and `accepted` is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Ringing,
    Accepted,
    Declined,
    Canceled,
    NoAnswer,
    Busy,
    Ended,
}

impl CallState {
    pub fn is_final(self) -> bool {
        !matches!(self, CallState::Ringing | CallState::Accepted)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Accepted => "accepted",
            CallState::Declined => "declined",
            CallState::Canceled => "canceled",
            CallState::NoAnswer => "no_answer",
            CallState::Busy => "busy",
            CallState::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            CallState::Ringing,
            CallState::Accepted,
            CallState::Declined,
            CallState::Canceled,
            CallState::NoAnswer,
            CallState::Busy,
            CallState::Ended,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}
