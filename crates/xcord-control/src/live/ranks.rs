//! Who may act on whom inside a live session, as a pure rule over roles: the host outranks a
//! co-host, who outranks a speaker, who outranks the audience (viewers and listeners). Only the
//! host and co-hosts moderate, and only people ranked strictly below them: a co-host can act on
//! speakers and the audience but never on another co-host or the host; the host on everyone but
//! themselves. The rule covers kick, ban, mute, taking someone off the stage and deleting
//! someone else's chat message.

use super::LiveRole;

/// A role's rank: higher acts on lower.
pub fn rank(role: LiveRole) -> u8 {
    match role {
        LiveRole::Host => 3,
        LiveRole::CoHost => 2,
        LiveRole::Speaker => 1,
        LiveRole::Viewer | LiveRole::Listener => 0,
    }
}

/// Whether `role` moderates at all (the host and co-hosts).
pub fn moderates(role: LiveRole) -> bool {
    matches!(role, LiveRole::Host | LiveRole::CoHost)
}

/// Whether someone in role `actor` may act on someone in role `target`.
pub fn may_act_on(actor: LiveRole, target: LiveRole) -> bool {
    moderates(actor) && rank(actor) > rank(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use LiveRole::*;

    #[test]
    fn higher_roles_act_on_lower_ones_only() {
        let all = [Host, CoHost, Speaker, Viewer, Listener];
        for target in [CoHost, Speaker, Viewer, Listener] {
            assert!(may_act_on(Host, target), "host on {target:?}");
        }
        assert!(!may_act_on(Host, Host));
        for target in [Speaker, Viewer, Listener] {
            assert!(may_act_on(CoHost, target), "co-host on {target:?}");
        }
        assert!(!may_act_on(CoHost, CoHost), "a co-host on another co-host");
        assert!(!may_act_on(CoHost, Host), "a co-host on the host");
        for actor in [Speaker, Viewer, Listener] {
            for target in all {
                assert!(!may_act_on(actor, target), "{actor:?} on {target:?}");
            }
        }
    }
}
