//! A session's lifecycle as a pure function: [`apply`] takes a session, one input and the
//! instant it happens at (the injected clock's Unix milliseconds) and returns the next session,
//! or why the input is refused. No I/O, no clock reads. Time is applied before the input: a
//! live session past its `maxDurationSeconds` has ended (`max_duration`) before a later start
//! or end is considered.

use super::{LiveSession, LiveState};

/// What can happen to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveInput {
    /// The host goes live.
    Start,
    /// The host ends it (a scheduled session is cancelled).
    End,
    /// Time passed.
    Tick,
}

/// Why an input was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the session is already live")]
    AlreadyLive,
    #[error("the session is over")]
    Over,
}

/// How long after going live the host's media connection must have been seen; a session whose
/// host never connects by then fails (`host_never_connected`).
pub const HOST_CONNECT_GRACE_MS: i64 = 60_000;

/// What ends a live session by itself, and when: its maximum duration, or the host's grace
/// period when the host never connected (the earlier; the maximum duration on a tie).
fn timeout(s: &LiveSession) -> Option<(i64, LiveState, &'static str)> {
    let started = match (s.state, s.started_at) {
        (LiveState::Live, Some(started)) => started,
        _ => return None,
    };
    let max = s.max_duration_seconds.map(|max| {
        (
            started.saturating_add(max.saturating_mul(1000)),
            LiveState::Ended,
            "max_duration",
        )
    });
    let grace = s.host_connected_at.is_none().then(|| {
        (
            started.saturating_add(HOST_CONNECT_GRACE_MS),
            LiveState::Failed,
            "host_never_connected",
        )
    });
    match (max, grace) {
        (Some(m), Some(g)) if g.0 < m.0 => Some(g),
        (Some(m), _) => Some(m),
        (None, g) => g,
    }
}

/// When a live session ends (or fails) by itself, if it does.
pub fn deadline(s: &LiveSession) -> Option<i64> {
    timeout(s).map(|(at, _, _)| at)
}

fn end(s: &LiveSession, state: LiveState, reason: &str, at: i64) -> LiveSession {
    LiveSession {
        state,
        ended_at: Some(at),
        end_reason: Some(reason.to_owned()),
        ..s.clone()
    }
}

/// The session after `input` at `now` (unchanged when nothing happens).
pub fn apply(s: &LiveSession, input: LiveInput, now: i64) -> Result<LiveSession, Refusal> {
    let s = match timeout(s) {
        Some((at, state, reason)) if now >= at => end(s, state, reason, at),
        _ => s.clone(),
    };
    match (input, s.state) {
        (LiveInput::Tick, _) => Ok(s),
        (LiveInput::Start, LiveState::Scheduled) => Ok(LiveSession {
            state: LiveState::Live,
            started_at: Some(now),
            ..s
        }),
        (LiveInput::Start, LiveState::Live) => Err(Refusal::AlreadyLive),
        (LiveInput::End, LiveState::Scheduled) => Ok(end(&s, LiveState::Ended, "cancelled", now)),
        (LiveInput::End, LiveState::Live) => Ok(end(&s, LiveState::Ended, "host_ended", now)),
        (LiveInput::Start | LiveInput::End, LiveState::Ended | LiveState::Failed) => {
            Err(Refusal::Over)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{LiveAccess, LiveKind};

    fn scheduled(max_duration_seconds: Option<i64>) -> LiveSession {
        LiveSession {
            id: "s".into(),
            host_id: "h".into(),
            kind: LiveKind::VideoLive,
            title: "t".into(),
            access: LiveAccess::Public,
            price_coins: 0,
            state: LiveState::Scheduled,
            max_viewers: None,
            max_duration_seconds,
            viewer_count: 0,
            peak_viewers: 0,
            started_at: None,
            ended_at: None,
            end_reason: None,
            host_connected_at: Some(0),
            created_at: 0,
            version: 1,
        }
    }

    #[test]
    fn scheduled_goes_live_then_ends() {
        let live = apply(&scheduled(None), LiveInput::Start, 100).unwrap();
        assert_eq!((live.state, live.started_at), (LiveState::Live, Some(100)));
        assert_eq!(
            apply(&live, LiveInput::Start, 150),
            Err(Refusal::AlreadyLive)
        );
        let ended = apply(&live, LiveInput::End, 200).unwrap();
        assert_eq!(ended.state, LiveState::Ended);
        assert_eq!(ended.ended_at, Some(200));
        assert_eq!(ended.end_reason.as_deref(), Some("host_ended"));
        assert_eq!(apply(&ended, LiveInput::Start, 300), Err(Refusal::Over));
        assert_eq!(apply(&ended, LiveInput::End, 300), Err(Refusal::Over));
        assert_eq!(apply(&ended, LiveInput::Tick, 300).unwrap(), ended);
    }

    #[test]
    fn ending_before_the_start_cancels() {
        let ended = apply(&scheduled(None), LiveInput::End, 5).unwrap();
        assert_eq!(ended.end_reason.as_deref(), Some("cancelled"));
        assert_eq!(ended.started_at, None);
    }

    #[test]
    fn a_live_session_ends_at_its_maximum_duration() {
        let live = apply(&scheduled(Some(60)), LiveInput::Start, 1_000).unwrap();
        assert_eq!(deadline(&live), Some(61_000));
        assert_eq!(apply(&live, LiveInput::Tick, 60_999).unwrap(), live);
        let over = apply(&live, LiveInput::Tick, 61_000).unwrap();
        assert_eq!(over.state, LiveState::Ended);
        assert_eq!(over.ended_at, Some(61_000));
        assert_eq!(over.end_reason.as_deref(), Some("max_duration"));
        // Time first: an end that comes later finds it over, and its end time is the deadline.
        assert_eq!(apply(&live, LiveInput::End, 70_000), Err(Refusal::Over));
        assert_eq!(deadline(&scheduled(Some(60))), None);
    }

    #[test]
    fn a_host_who_never_connects_fails_the_session_after_the_grace() {
        let mut never = scheduled(Some(3600));
        never.host_connected_at = None;
        let live = apply(&never, LiveInput::Start, 1_000).unwrap();
        assert_eq!(deadline(&live), Some(1_000 + HOST_CONNECT_GRACE_MS));
        assert_eq!(
            apply(&live, LiveInput::Tick, HOST_CONNECT_GRACE_MS).unwrap(),
            live
        );
        let failed = apply(&live, LiveInput::Tick, 1_000 + HOST_CONNECT_GRACE_MS).unwrap();
        assert_eq!(failed.state, LiveState::Failed);
        assert_eq!(failed.end_reason.as_deref(), Some("host_never_connected"));
        // Connected in time: only the maximum duration remains.
        let connected = LiveSession {
            host_connected_at: Some(2_000),
            ..live
        };
        assert_eq!(deadline(&connected), Some(1_000 + 3_600_000));
    }
}
