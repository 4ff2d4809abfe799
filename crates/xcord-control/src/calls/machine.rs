//! The call lifecycle as a pure state machine: [`decide`] takes a call, one input and the
//! instant it happens at (the injected clock's Unix milliseconds), and returns the next call and
//! what the service must do. No I/O, no clock reads: every timer is a deadline in the call
//! ([`Call::next_deadline`]) that the service's timer task turns into [`CallInput::Tick`].
//!
//! Timers are applied before the input: a ring whose deadline has come is `no_answer` even when
//! an accept arrives at that very millisecond, and an accepted call whose party has been out of
//! the room for the whole grace period is over before anything else is considered.

use std::time::Duration;

/// How long an accepted call waits for a party that is not (or no longer) in its room.
pub const DISCONNECT_GRACE: Duration = Duration::from_secs(20);

pub use super::state::CallState;

/// A 1-1 call. Times are Unix milliseconds of the injected clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub id: String,
    pub conversation_id: String,
    pub caller_id: String,
    pub callee_id: String,
    pub video: bool,
    pub state: CallState,
    pub created_at: i64,
    /// When ringing stops by itself (`no_answer`).
    pub ring_expires_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Why it ended: the final state's name, or for `ended` `hangup`, `replaced`,
    /// `disconnected`, `no_connection`.
    pub end_reason: Option<String>,
    /// Since when each party (caller, callee) has been out of the room, while accepted.
    pub caller_absent_since: Option<i64>,
    pub callee_absent_since: Option<i64>,
    /// Compare-and-set counter: grows with every stored change.
    pub version: i64,
}

/// What can happen to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallInput {
    /// The callee answers.
    Accept { by: String },
    /// The callee refuses.
    Decline { by: String },
    /// A party leaves (or its session is replaced): while ringing the caller cancels and the
    /// callee declines; once accepted the call ends with `reason`.
    Leave { by: String, reason: String },
    /// A party's media connection is in the call's room.
    Joined { user: String },
    /// A party's media connection left the call's room.
    Left { user: String },
    /// Time passed (a deadline came).
    Tick,
}

/// Why an input was refused (the call may still have changed: a timer that came first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallRefusal {
    #[error("only the callee can answer this call")]
    NotCallee,
    #[error("not a party to this call")]
    NotAParty,
    #[error("the call is no longer ringing ({})", .0.as_str())]
    NotRinging(CallState),
}

/// What the service does after a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEffect {
    /// The call changed: tell both parties (`CALL_UPDATE`).
    Announce,
    /// The callee answered: their session moves into the call.
    Answered,
    /// The call reached a final state: ringing stops everywhere, sessions in it end, and the
    /// conversation gets the call's system message.
    Finished,
}

/// The outcome of one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub call: Call,
    pub effects: Vec<CallEffect>,
    /// `Ok(true)`: the input changed the call; `Ok(false)`: it was already so (a second accept
    /// from another connection, say), nothing more to do.
    pub verdict: Result<bool, CallRefusal>,
}

impl Call {
    /// A new call that rings until `now + ring_timeout`.
    #[allow(clippy::too_many_arguments)]
    pub fn ringing(
        id: String,
        conversation_id: String,
        caller_id: String,
        callee_id: String,
        video: bool,
        now: i64,
        ring_timeout: Duration,
    ) -> Self {
        Self {
            id,
            conversation_id,
            caller_id,
            callee_id,
            video,
            state: CallState::Ringing,
            created_at: now,
            ring_expires_at: now.saturating_add(millis(ring_timeout)),
            answered_at: None,
            ended_at: None,
            end_reason: None,
            caller_absent_since: None,
            callee_absent_since: None,
            version: 0,
        }
    }

    /// A call refused at once because the callee is busy.
    pub fn busy(mut self, now: i64) -> Self {
        self.finish(CallState::Busy, "busy", now);
        self
    }

    pub fn is_party(&self, user: &str) -> bool {
        self.caller_id == user || self.callee_id == user
    }

    /// The other party, seen from `user`.
    pub fn other(&self, user: &str) -> &str {
        if self.caller_id == user {
            &self.callee_id
        } else {
            &self.caller_id
        }
    }

    /// How long the call was connected, for the system message.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.ended_at?.saturating_sub(self.answered_at?).max(0))
    }

    /// The next instant at which time alone changes the call.
    pub fn next_deadline(&self) -> Option<i64> {
        match self.state {
            CallState::Ringing => Some(self.ring_expires_at),
            CallState::Accepted => [self.caller_absent_since, self.callee_absent_since]
                .into_iter()
                .flatten()
                .min()
                .map(|since| since.saturating_add(millis(DISCONNECT_GRACE))),
            _ => None,
        }
    }

    fn finish(&mut self, state: CallState, reason: &str, now: i64) {
        self.state = state;
        self.ended_at = Some(now);
        self.end_reason = Some(reason.to_owned());
        self.caller_absent_since = None;
        self.callee_absent_since = None;
    }

    /// Applies the deadlines that have come by `now`.
    fn expire(&mut self, now: i64) {
        if let Some(deadline) = self.next_deadline()
            && deadline <= now
        {
            match self.state {
                CallState::Ringing => self.finish(CallState::NoAnswer, "no_answer", deadline),
                _ => self.finish(CallState::Ended, "disconnected", deadline),
            }
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Decides what `input` at `now` does to `call`.
pub fn decide(call: &Call, input: CallInput, now: i64) -> Decision {
    let mut next = call.clone();
    next.expire(now);
    let verdict = apply(&mut next, input, now);
    let mut effects = Vec::new();
    if next != *call {
        effects.push(CallEffect::Announce);
        if next.state == CallState::Accepted && call.state == CallState::Ringing {
            effects.push(CallEffect::Answered);
        }
        if next.state.is_final() && !call.state.is_final() {
            effects.push(CallEffect::Finished);
        }
    }
    Decision {
        call: next,
        effects,
        verdict,
    }
}

fn apply(call: &mut Call, input: CallInput, now: i64) -> Result<bool, CallRefusal> {
    match input {
        CallInput::Tick => Ok(false),
        CallInput::Accept { by } => {
            if !call.is_party(&by) {
                return Err(CallRefusal::NotAParty);
            }
            if by != call.callee_id {
                return Err(CallRefusal::NotCallee);
            }
            match call.state {
                CallState::Ringing => {
                    call.state = CallState::Accepted;
                    call.answered_at = Some(now);
                    // Neither is in the room yet: both have the grace period to get there.
                    call.caller_absent_since = Some(now);
                    call.callee_absent_since = Some(now);
                    Ok(true)
                }
                CallState::Accepted => Ok(false),
                settled => Err(CallRefusal::NotRinging(settled)),
            }
        }
        CallInput::Decline { by } => {
            if !call.is_party(&by) {
                return Err(CallRefusal::NotAParty);
            }
            if by != call.callee_id {
                return Err(CallRefusal::NotCallee);
            }
            match call.state {
                CallState::Ringing => {
                    call.finish(CallState::Declined, "declined", now);
                    Ok(true)
                }
                CallState::Declined => Ok(false),
                settled => Err(CallRefusal::NotRinging(settled)),
            }
        }
        CallInput::Leave { by, reason } => {
            if !call.is_party(&by) {
                return Err(CallRefusal::NotAParty);
            }
            match call.state {
                CallState::Ringing if by == call.caller_id => {
                    call.finish(CallState::Canceled, "canceled", now);
                    Ok(true)
                }
                CallState::Ringing => {
                    call.finish(CallState::Declined, "declined", now);
                    Ok(true)
                }
                CallState::Accepted => {
                    call.finish(CallState::Ended, &reason, now);
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        CallInput::Joined { user } => {
            if call.state != CallState::Accepted {
                return Ok(false);
            }
            let slot = if user == call.caller_id {
                &mut call.caller_absent_since
            } else if user == call.callee_id {
                &mut call.callee_absent_since
            } else {
                return Err(CallRefusal::NotAParty);
            };
            Ok(slot.take().is_some())
        }
        CallInput::Left { user } => {
            if call.state != CallState::Accepted {
                return Ok(false);
            }
            let slot = if user == call.caller_id {
                &mut call.caller_absent_since
            } else if user == call.callee_id {
                &mut call.callee_absent_since
            } else {
                return Err(CallRefusal::NotAParty);
            };
            if slot.is_some() {
                return Ok(false);
            }
            *slot = Some(now);
            Ok(true)
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
