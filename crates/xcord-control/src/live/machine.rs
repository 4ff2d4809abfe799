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

/// When a live session ends by itself, if it does.
pub fn deadline(s: &LiveSession) -> Option<i64> {
    match (s.state, s.started_at, s.max_duration_seconds) {
        (LiveState::Live, Some(started), Some(max)) => {
            Some(started.saturating_add(max.saturating_mul(1000)))
        }
        _ => None,
    }
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
    let s = match deadline(s) {
        Some(at) if now >= at => end(s, LiveState::Ended, "max_duration", at),
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
}
