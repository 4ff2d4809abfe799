//! Who may join a session, as a pure decision over what the service read: the session (with
//! its audience count from media events), the caller, whether they are banned, subscribed or
//! bought it, and whether they are in the room already. The host may join while scheduled (to
//! get ready) or live; everyone else only while live. The role an admitted member of the
//! audience gets is the stage's to say (`super::stage`).

use super::{LiveAccess, LiveKind, LiveRole, LiveSession, LiveState};

/// What the service knows about the caller.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub user_id: &'a str,
    /// Banned from the host's sessions.
    pub banned: bool,
    /// They have an active subscription to the host.
    pub subscribed: bool,
    /// They bought this session.
    pub purchased: bool,
    /// They are in the room now (a rejoin replaces that connection and keeps its place).
    pub present: bool,
}

/// Why a join is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefusal {
    NotLive,
    Banned,
    SubscriptionRequired,
    PaymentRequired,
    SessionFull,
}

/// The audience role of a session's kind.
pub fn audience_role(kind: LiveKind) -> LiveRole {
    match kind {
        LiveKind::VideoLive => LiveRole::Viewer,
        LiveKind::AudioRoom => LiveRole::Listener,
    }
}

/// The caller's role (host or the audience's), or why they may not join. The audience count is
/// the session's `viewer_count`.
pub fn decide(s: &LiveSession, caller: Caller<'_>) -> Result<LiveRole, JoinRefusal> {
    if caller.user_id == s.host_id {
        return match s.state {
            LiveState::Scheduled | LiveState::Live => Ok(LiveRole::Host),
            LiveState::Ended | LiveState::Failed => Err(JoinRefusal::NotLive),
        };
    }
    if s.state != LiveState::Live {
        return Err(if caller.banned {
            JoinRefusal::Banned
        } else {
            JoinRefusal::NotLive
        });
    }
    entitled(s, caller)?;
    if let Some(max) = s.max_viewers
        && !caller.present
        && s.viewer_count >= max
    {
        return Err(JoinRefusal::SessionFull);
    }
    Ok(audience_role(s.kind))
}

/// Whether the caller (not the host) may watch the session at all, whatever its state and
/// audience: not banned, and its access rule met (also what reading and writing its chat needs).
pub fn entitled(s: &LiveSession, caller: Caller<'_>) -> Result<(), JoinRefusal> {
    if caller.user_id == s.host_id {
        return Ok(());
    }
    if caller.banned {
        return Err(JoinRefusal::Banned);
    }
    match s.access {
        LiveAccess::Public => {}
        LiveAccess::SubscribersOnly if !caller.subscribed => {
            return Err(JoinRefusal::SubscriptionRequired);
        }
        LiveAccess::SubscribersOnly => {}
        LiveAccess::PayPerView if !caller.purchased => return Err(JoinRefusal::PaymentRequired),
        LiveAccess::PayPerView => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(state: LiveState, access: LiveAccess, max_viewers: Option<i64>) -> LiveSession {
        session_with(state, access, max_viewers, 0)
    }

    fn session_with(
        state: LiveState,
        access: LiveAccess,
        max_viewers: Option<i64>,
        viewer_count: i64,
    ) -> LiveSession {
        LiveSession {
            id: "s".into(),
            host_id: "host".into(),
            kind: LiveKind::AudioRoom,
            title: "t".into(),
            access,
            price_coins: 5,
            state,
            max_viewers,
            max_duration_seconds: None,
            viewer_count,
            peak_viewers: 0,
            started_at: None,
            ended_at: None,
            end_reason: None,
            host_connected_at: None,
            host_lost_at: None,
            created_at: 0,
            version: 1,
        }
    }

    fn caller(user_id: &str, purchased: bool, present: bool) -> Caller<'_> {
        Caller {
            user_id,
            banned: false,
            subscribed: false,
            purchased,
            present,
        }
    }

    #[test]
    fn the_host_joins_before_and_while_live() {
        for state in [LiveState::Scheduled, LiveState::Live] {
            let s = session(state, LiveAccess::PayPerView, Some(0));
            assert_eq!(decide(&s, caller("host", false, false)), Ok(LiveRole::Host));
        }
        let ended = session(LiveState::Ended, LiveAccess::Public, None);
        assert_eq!(
            decide(&ended, caller("host", false, false)),
            Err(JoinRefusal::NotLive)
        );
    }

    #[test]
    fn the_audience_needs_a_live_session_and_its_access() {
        let scheduled = session(LiveState::Scheduled, LiveAccess::Public, None);
        assert_eq!(
            decide(&scheduled, caller("v", false, false)),
            Err(JoinRefusal::NotLive)
        );
        let public = session(LiveState::Live, LiveAccess::Public, None);
        assert_eq!(
            decide(&public, caller("v", false, false)),
            Ok(LiveRole::Listener)
        );
        let subs = session(LiveState::Live, LiveAccess::SubscribersOnly, None);
        assert_eq!(
            decide(&subs, caller("v", true, false)),
            Err(JoinRefusal::SubscriptionRequired)
        );
        let subscriber = Caller {
            subscribed: true,
            ..caller("v", false, false)
        };
        assert_eq!(decide(&subs, subscriber), Ok(LiveRole::Listener));
        let banned = Caller {
            banned: true,
            subscribed: true,
            ..caller("v", true, false)
        };
        assert_eq!(decide(&public, banned), Err(JoinRefusal::Banned));
        let paid = session(LiveState::Live, LiveAccess::PayPerView, None);
        assert_eq!(
            decide(&paid, caller("v", false, false)),
            Err(JoinRefusal::PaymentRequired)
        );
        assert_eq!(
            decide(&paid, caller("v", true, false)),
            Ok(LiveRole::Listener)
        );
    }

    #[test]
    fn a_full_session_admits_only_those_in_the_room() {
        let s = session_with(LiveState::Live, LiveAccess::Public, Some(2), 1);
        assert_eq!(
            decide(&s, caller("v", false, false)),
            Ok(LiveRole::Listener)
        );
        let full = session_with(LiveState::Live, LiveAccess::Public, Some(2), 2);
        assert_eq!(
            decide(&full, caller("v", false, false)),
            Err(JoinRefusal::SessionFull)
        );
        assert_eq!(
            decide(&full, caller("v", false, true)),
            Ok(LiveRole::Listener)
        );
    }
}
