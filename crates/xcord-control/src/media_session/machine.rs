//! Media-session ownership as a pure state machine: [`decide`] takes a user's session, one
//! input and the instant (the injected clock's Unix milliseconds) and returns the next session
//! and the effects the service performs (connect the owner, tell a replaced owner, remove the
//! participant from a room, mute or deafen at the SFU). Every timer — a connection's lease, the
//! grace of a session left without connections, an incoming call's expiry — is a deadline in
//! the session ([`next_deadline`]); the timer task turns it into [`Input::Tick`]. Deadlines that
//! have come are applied before the input.

use std::time::Duration;

pub use super::controls::Control;
use super::model::{
    Connection, ConnectionState, Context, IncomingCall, Owner, Session, SessionType,
};
use crate::realtime::session::ConnectionKind;

/// A connection's lease: one and a half heartbeat intervals, as the gateway's own silence limit.
pub const LEASE: Duration = Duration::from_millis(22_500);
/// How long an active session outlives its last connection.
pub const NO_CONNECTION_GRACE: Duration = Duration::from_secs(20);

/// What can happen to a session.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A gateway connection identified (or resumed).
    Opened {
        connection_id: String,
        kind: ConnectionKind,
    },
    /// A connection's heartbeat: its lease starts again.
    Heartbeat { connection_id: String },
    /// A connection's socket closed.
    Closed { connection_id: String },
    /// Time passed.
    Tick,
    /// A new session replaces whatever there was.
    Start {
        session_type: SessionType,
        context: Box<Context>,
        room: String,
        /// The connection that acted (the command's `connectionId`): it owns the new session
        /// when it is one of the user's live connections; otherwise the usual election decides.
        prefer: Option<String>,
    },
    /// The session ends (left, its call ended).
    End { reason: String },
    /// A call rings for the user, unless they already have `max` ringing or one from that caller.
    Ring { call: IncomingCall, max: usize },
    /// A call stops ringing for the user.
    Unring { call_id: String },
    /// The user's own media participant joined (`true`) or left the session's room.
    MediaPresence { room: String, present: bool },
    /// Something the snapshot shows changed outside the session (its room's participants).
    Touch,
    /// A control command from one of the user's connections, fenced by its epoch.
    Control {
        epoch: Option<i64>,
        control: Control,
    },
}

/// Why an input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("epoch {sent} is stale: the session is at epoch {current}")]
    StaleEpoch { sent: i64, current: i64 },
    #[error("the user is busy: too many calls ringing, or this caller's call already is")]
    Busy,
    #[error("connection {0} is not a live connection of this user")]
    NotLive(String),
    #[error("only the owner connection reports the media connection")]
    NotOwner,
}

/// What the service does after a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Tell the owner connection to connect to `room` (`MEDIA_SESSION_CONNECT`).
    Connect {
        connection_id: String,
        room: String,
        epoch: i64,
    },
    /// Tell the old owner its session was replaced (`MEDIA_SESSION_REPLACED`).
    Replaced {
        connection_id: String,
        previous: SessionType,
    },
    /// Remove the user's participant from `room`.
    LeaveRoom { room: String },
    /// The session that had `context` is over (its call, if any, ends too).
    Ended {
        context: Box<Context>,
        reason: String,
    },
    /// Mute the user's microphone track at the SFU.
    MuteMicrophone { room: String },
    /// Stop (or restart) forwarding audio to the user.
    Deafen { room: String, deafened: bool },
}

/// The outcome of one input: the next session (its version grown when it changed) and the
/// effects, or a refusal (with the session as the deadlines left it).
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub session: Session,
    pub effects: Vec<Effect>,
    pub verdict: Result<(), Refusal>,
}

/// Refuses a command carrying an epoch older than the session's.
pub fn fence(session: &Session, epoch: Option<i64>) -> Result<(), Refusal> {
    match epoch {
        Some(sent) if sent < session.epoch => Err(Refusal::StaleEpoch {
            sent,
            current: session.epoch,
        }),
        _ => Ok(()),
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn rank(kind: ConnectionKind) -> u8 {
    match kind {
        ConnectionKind::Main => 0,
        ConnectionKind::Overlay => 1,
        ConnectionKind::Mobile => 2,
    }
}

/// The preferred live connection: main before overlay before mobile, the most recent of a kind.
pub fn preferred(connections: &[Connection]) -> Option<&Connection> {
    connections
        .iter()
        .enumerate()
        .min_by_key(|(i, c)| (rank(c.kind), std::cmp::Reverse((c.opened_at, *i))))
        .map(|(_, c)| c)
}

/// The next instant at which time alone changes the session.
pub fn next_deadline(s: &Session) -> Option<i64> {
    let leases = s.connections.iter().map(|c| c.lease_until);
    let rings = s.incoming_calls.iter().map(|c| c.expires_at);
    let unattended = s
        .unattended_since
        .filter(|_| s.is_active())
        .map(|t| t.saturating_add(millis(NO_CONNECTION_GRACE)));
    leases.chain(rings).chain(unattended).min()
}

/// Decides what `input` at `now` does to `session`.
pub fn decide(session: &Session, input: Input, now: i64) -> Decision {
    let mut next = session.clone();
    let mut effects = Vec::new();
    let touched = input == Input::Touch;
    expire(&mut next, now, &mut effects);
    let verdict = apply(&mut next, input, now, &mut effects);
    if next != *session || touched {
        next.version = session.version + 1;
    }
    Decision {
        session: next,
        effects,
        verdict,
    }
}

fn expire(s: &mut Session, now: i64, effects: &mut Vec<Effect>) {
    let lapsed: Vec<(String, i64)> = s
        .connections
        .iter()
        .filter(|c| c.lease_until <= now)
        .map(|c| (c.id.clone(), c.lease_until))
        .collect();
    for (id, at) in lapsed {
        close(s, &id, at, effects);
    }
    s.incoming_calls.retain(|c| c.expires_at > now);
    if let Some(since) = s.unattended_since
        && s.is_active()
        && since.saturating_add(millis(NO_CONNECTION_GRACE)) <= now
    {
        end(s, "no_connection", effects);
    }
}

/// Hands ownership to the preferred live connection (a new epoch) and tells it to connect.
fn elect(s: &mut Session, now: i64, effects: &mut Vec<Effect>) {
    elect_preferring(s, None, now, effects);
}

/// Like [`elect`], but `prefer` (a live connection of the user) wins over the usual ranking.
fn elect_preferring(s: &mut Session, prefer: Option<&str>, now: i64, effects: &mut Vec<Effect>) {
    let named = prefer.and_then(|id| s.connections.iter().find(|c| c.id == id));
    let chosen = named.or_else(|| preferred(&s.connections)).map(|c| Owner {
        connection_id: c.id.clone(),
        kind: c.kind,
    });
    if chosen == s.owner {
        return;
    }
    s.owner = chosen;
    s.epoch += 1;
    match (&s.owner, &s.room) {
        (Some(owner), Some(room)) => {
            s.unattended_since = None;
            effects.push(Effect::Connect {
                connection_id: owner.connection_id.clone(),
                room: room.clone(),
                epoch: s.epoch,
            });
        }
        (None, Some(_)) => {
            s.connection = ConnectionState::Disconnected;
            s.unattended_since = Some(now);
        }
        _ => {}
    }
}

fn close(s: &mut Session, connection_id: &str, at: i64, effects: &mut Vec<Effect>) {
    s.connections.retain(|c| c.id != connection_id);
    if s.owner.as_ref().map(|o| o.connection_id.as_str()) == Some(connection_id) {
        if s.is_active() {
            s.connection = ConnectionState::Reconnecting;
        }
        elect(s, at, effects);
    } else if s.is_active() && s.owner.is_none() && s.connections.is_empty() {
        s.unattended_since.get_or_insert(at);
    }
}

fn end(s: &mut Session, reason: &str, effects: &mut Vec<Effect>) {
    if let Some(room) = s.room.take() {
        effects.push(Effect::LeaveRoom { room });
    }
    effects.push(Effect::Ended {
        context: Box::new(std::mem::take(&mut s.context)),
        reason: reason.to_owned(),
    });
    s.session_type = SessionType::Idle;
    s.connection = ConnectionState::Disconnected;
    s.controls.camera = false;
    s.controls.screen_share = false;
    s.unattended_since = None;
    s.owner = None;
    s.epoch += 1;
}

fn apply(s: &mut Session, input: Input, now: i64, fx: &mut Vec<Effect>) -> Result<(), Refusal> {
    match input {
        Input::Tick | Input::Touch => {}
        Input::Opened {
            connection_id,
            kind,
        } => {
            let lease_until = now.saturating_add(millis(LEASE));
            match s.connections.iter_mut().find(|c| c.id == connection_id) {
                Some(c) => c.lease_until = lease_until,
                None => s.connections.push(Connection {
                    id: connection_id,
                    kind,
                    opened_at: now,
                    lease_until,
                }),
            }
            if s.owner.is_none() && s.is_active() {
                elect(s, now, fx);
            }
        }
        Input::Heartbeat { connection_id } => {
            if let Some(c) = s.connections.iter_mut().find(|c| c.id == connection_id) {
                c.lease_until = now.saturating_add(millis(LEASE));
            }
        }
        Input::Closed { connection_id } => close(s, &connection_id, now, fx),
        Input::Start {
            session_type,
            context,
            room,
            prefer,
        } => {
            let previous = s.session_type;
            if s.is_active() {
                if let Some(owner) = &s.owner {
                    fx.push(Effect::Replaced {
                        connection_id: owner.connection_id.clone(),
                        previous,
                    });
                }
                end(s, "replaced", fx);
            }
            s.session_type = session_type;
            s.context = *context;
            s.room = Some(room);
            s.connection = ConnectionState::Connecting;
            s.controls.camera = matches!(session_type, SessionType::DmVideo);
            s.controls.screen_share = false;
            s.owner = None;
            s.epoch += 1;
            s.unattended_since = Some(now);
            elect_preferring(s, prefer.as_deref(), now, fx);
        }
        Input::End { reason } => {
            if s.is_active() {
                end(s, &reason, fx);
            }
        }
        Input::Ring { call, max } => {
            let from_same_caller = s.incoming_calls.iter().any(|c| c.from.id == call.from.id);
            if s.incoming_calls.len() >= max || from_same_caller {
                return Err(Refusal::Busy);
            }
            s.incoming_calls.push(call);
        }
        Input::Unring { call_id } => s.incoming_calls.retain(|c| c.call_id != call_id),
        Input::MediaPresence { room, present } => {
            if s.room.as_deref() == Some(room.as_str()) {
                s.connection = if present {
                    ConnectionState::Connected
                } else {
                    ConnectionState::Disconnected
                };
            }
        }
        Input::Control { epoch, control } => {
            fence(s, epoch)?;
            super::controls::apply(s, control, fx)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
