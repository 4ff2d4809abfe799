//! Who may join a session and in which role, as a pure decision over what the service read:
//! the session, the caller, whether they bought it, and how many others were admitted. The host
//! may join while scheduled (to get ready) or live; everyone else only while live.

use super::{LiveAccess, LiveKind, LiveRole, LiveSession, LiveState};

/// What the service knows about the caller.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub user_id: &'a str,
    /// They bought this session.
    pub purchased: bool,
    /// They were admitted before (a rejoin does not count twice against `maxViewers`).
    pub admitted_before: bool,
}

/// Why a join is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefusal {
    NotLive,
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

/// The caller's role, or why they may not join. `admitted` counts the audience admitted so far.
pub fn decide(s: &LiveSession, caller: Caller<'_>, admitted: i64) -> Result<LiveRole, JoinRefusal> {
    if caller.user_id == s.host_id {
        return match s.state {
            LiveState::Scheduled | LiveState::Live => Ok(LiveRole::Host),
            LiveState::Ended | LiveState::Failed => Err(JoinRefusal::NotLive),
        };
    }
    if s.state != LiveState::Live {
        return Err(JoinRefusal::NotLive);
    }
    match s.access {
        LiveAccess::Public => {}
        // No subscriptions exist yet: nobody but the host is a subscriber.
        LiveAccess::SubscribersOnly => return Err(JoinRefusal::SubscriptionRequired),
        LiveAccess::PayPerView if !caller.purchased => return Err(JoinRefusal::PaymentRequired),
        LiveAccess::PayPerView => {}
    }
    if let Some(max) = s.max_viewers
        && !caller.admitted_before
        && admitted >= max
    {
        return Err(JoinRefusal::SessionFull);
    }
    Ok(audience_role(s.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(state: LiveState, access: LiveAccess, max_viewers: Option<i64>) -> LiveSession {
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
            viewer_count: 0,
            peak_viewers: 0,
            started_at: None,
            ended_at: None,
            end_reason: None,
            created_at: 0,
            version: 1,
        }
    }

    fn caller(user_id: &str, purchased: bool, admitted_before: bool) -> Caller<'_> {
        Caller {
            user_id,
            purchased,
            admitted_before,
        }
    }

    #[test]
    fn the_host_joins_before_and_while_live() {
        for state in [LiveState::Scheduled, LiveState::Live] {
            let s = session(state, LiveAccess::PayPerView, Some(0));
            assert_eq!(
                decide(&s, caller("host", false, false), 9),
                Ok(LiveRole::Host)
            );
        }
        let ended = session(LiveState::Ended, LiveAccess::Public, None);
        assert_eq!(
            decide(&ended, caller("host", false, false), 0),
            Err(JoinRefusal::NotLive)
        );
    }

    #[test]
    fn the_audience_needs_a_live_session_and_its_access() {
        let scheduled = session(LiveState::Scheduled, LiveAccess::Public, None);
        assert_eq!(
            decide(&scheduled, caller("v", false, false), 0),
            Err(JoinRefusal::NotLive)
        );
        let public = session(LiveState::Live, LiveAccess::Public, None);
        assert_eq!(
            decide(&public, caller("v", false, false), 0),
            Ok(LiveRole::Listener)
        );
        let subs = session(LiveState::Live, LiveAccess::SubscribersOnly, None);
        assert_eq!(
            decide(&subs, caller("v", true, false), 0),
            Err(JoinRefusal::SubscriptionRequired)
        );
        let paid = session(LiveState::Live, LiveAccess::PayPerView, None);
        assert_eq!(
            decide(&paid, caller("v", false, false), 0),
            Err(JoinRefusal::PaymentRequired)
        );
        assert_eq!(
            decide(&paid, caller("v", true, false), 0),
            Ok(LiveRole::Listener)
        );
    }

    #[test]
    fn a_full_session_admits_only_those_admitted_before() {
        let s = session(LiveState::Live, LiveAccess::Public, Some(2));
        assert_eq!(
            decide(&s, caller("v", false, false), 1),
            Ok(LiveRole::Listener)
        );
        assert_eq!(
            decide(&s, caller("v", false, false), 2),
            Err(JoinRefusal::SessionFull)
        );
        assert_eq!(
            decide(&s, caller("v", false, true), 2),
            Ok(LiveRole::Listener)
        );
    }
}
