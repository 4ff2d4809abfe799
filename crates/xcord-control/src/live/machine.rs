//! A session's lifecycle as a pure function: [`apply`] takes a session, one input and the
//! instant it happens at (the injected clock's Unix milliseconds) and returns the next session,
//! or why the input is refused. No I/O, no clock reads. Time is applied before the input: a
//! live session past its `maxDurationSeconds` has ended (`max_duration`) before a later start
//! or end is considered.
//!
//! Media-plane failures make a live session `failed`: its host never connected within
//! [`HOST_CONNECT_GRACE_MS`] of the start (`host_never_connected`), its host's media connection
//! was lost and did not come back within [`HOST_RECONNECT_GRACE_MS`] (`host_connection_lost`),
//! or its media room disappeared while live ([`LiveInput::MediaFailed`]: `media_room_closed`), or
//! the media node holding it stopped answering ([`LiveInput::MediaNodeLost`]: `media_node_lost`).

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
    /// The media plane lost the session's room while live (it closed or its node is gone).
    MediaFailed,
    /// The media node holding the session's room stopped answering (the control plane's probe).
    MediaNodeLost,
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

/// How long a live session waits for its host's media connection to come back after it was
/// lost; then it fails (`host_connection_lost`). Longer than a client's reconnect attempts.
pub const HOST_RECONNECT_GRACE_MS: i64 = 60_000;

/// What ends a live session by itself, and when: its maximum duration, or the host's grace
/// period when the host never connected or lost their connection (the earlier; the maximum
/// duration on a tie).
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
    let grace = match (s.host_connected_at, s.host_lost_at) {
        (None, _) => Some((
            started.saturating_add(HOST_CONNECT_GRACE_MS),
            LiveState::Failed,
            "host_never_connected",
        )),
        (Some(_), Some(lost)) => Some((
            lost.max(started).saturating_add(HOST_RECONNECT_GRACE_MS),
            LiveState::Failed,
            "host_connection_lost",
        )),
        (Some(_), None) => None,
    };
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
        (LiveInput::MediaFailed, LiveState::Live) => {
            Ok(end(&s, LiveState::Failed, "media_room_closed", now))
        }
        (LiveInput::MediaNodeLost, LiveState::Live) => {
            Ok(end(&s, LiveState::Failed, "media_node_lost", now))
        }
        // A room closing before the start or after the end is no failure of the session.
        (LiveInput::MediaFailed | LiveInput::MediaNodeLost, _) => Ok(s),
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
            host_lost_at: None,
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

    #[test]
    fn a_host_who_loses_the_connection_fails_the_session_unless_back_in_time() {
        let live = apply(&scheduled(Some(3600)), LiveInput::Start, 1_000).unwrap();
        assert_eq!(deadline(&live), Some(1_000 + 3_600_000));
        let lost = LiveSession {
            host_lost_at: Some(10_000),
            ..live.clone()
        };
        assert_eq!(deadline(&lost), Some(10_000 + HOST_RECONNECT_GRACE_MS));
        let just_before = 10_000 + HOST_RECONNECT_GRACE_MS - 1;
        assert_eq!(apply(&lost, LiveInput::Tick, just_before).unwrap(), lost);
        let failed = apply(&lost, LiveInput::Tick, just_before + 1).unwrap();
        assert_eq!(failed.state, LiveState::Failed);
        assert_eq!(failed.end_reason.as_deref(), Some("host_connection_lost"));
        assert_eq!(failed.ended_at, Some(10_000 + HOST_RECONNECT_GRACE_MS));
        // Time first: ending after the grace finds it failed already.
        assert_eq!(
            apply(&lost, LiveInput::End, just_before + 5),
            Err(Refusal::Over)
        );
        // The maximum duration still wins when it comes first.
        let short = LiveSession {
            max_duration_seconds: Some(20),
            ..lost
        };
        assert_eq!(deadline(&short), Some(21_000));
        assert_eq!(
            apply(&short, LiveInput::Tick, 21_000)
                .unwrap()
                .end_reason
                .as_deref(),
            Some("max_duration")
        );
    }

    #[test]
    fn a_media_room_lost_while_live_fails_the_session() {
        let live = apply(&scheduled(None), LiveInput::Start, 1_000).unwrap();
        let failed = apply(&live, LiveInput::MediaFailed, 5_000).unwrap();
        assert_eq!(failed.state, LiveState::Failed);
        assert_eq!(failed.end_reason.as_deref(), Some("media_room_closed"));
        assert_eq!(failed.ended_at, Some(5_000));
        // Before the start or after the end it changes nothing.
        let scheduled = scheduled(None);
        assert_eq!(
            apply(&scheduled, LiveInput::MediaFailed, 5_000).unwrap(),
            scheduled
        );
        let lost = apply(&live, LiveInput::MediaNodeLost, 5_000).unwrap();
        assert_eq!(lost.state, LiveState::Failed);
        assert_eq!(lost.end_reason.as_deref(), Some("media_node_lost"));
        let ended = apply(&live, LiveInput::End, 2_000).unwrap();
        assert_eq!(apply(&ended, LiveInput::MediaFailed, 5_000).unwrap(), ended);
        assert_eq!(
            apply(&ended, LiveInput::MediaNodeLost, 5_000).unwrap(),
            ended
        );
        assert_eq!(
            apply(&failed, LiveInput::MediaFailed, 6_000).unwrap(),
            failed
        );
    }
}
