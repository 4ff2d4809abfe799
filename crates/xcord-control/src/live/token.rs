//! Media tokens of a session's roles: the host (and a co-host) publishes camera, microphone and
//! screen share; a speaker the microphone only; viewers and listeners publish nothing but data
//! (reactions), subscribe, and are hidden, so no participant list or grid ever shows them.

use livekit_api::access_token::VideoGrants;

use super::LiveRole;
use crate::accounts::User;
use crate::media::MediaAccess;
use crate::voice::token::{TOKEN_TTL, sign_user_token};

/// The track sources `role` may publish, in LiveKit's names.
pub fn sources(role: LiveRole) -> &'static [&'static str] {
    match role {
        LiveRole::Host | LiveRole::CoHost => {
            &["camera", "microphone", "screen_share", "screen_share_audio"]
        }
        LiveRole::Speaker => &["microphone"],
        LiveRole::Viewer | LiveRole::Listener => &[],
    }
}

/// The video grant of `role` in `room`.
pub fn grant(room: &str, role: LiveRole) -> VideoGrants {
    let sources = sources(role);
    VideoGrants {
        room_join: true,
        room: room.to_owned(),
        can_publish: Some(!sources.is_empty()),
        can_publish_sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        can_subscribe: Some(true),
        can_publish_data: Some(true),
        can_update_own_metadata: Some(false),
        hidden: matches!(role, LiveRole::Viewer | LiveRole::Listener),
        ..Default::default()
    }
}

/// The live permission of `role` (what a role change applies at the media plane, without a
/// reconnect).
pub fn permission(role: LiveRole) -> livekit_protocol::ParticipantPermission {
    xcord_sfu::auth::permission_from_grant(&grant("", role))
}

/// Signs `user`'s token for `room` in `role`; returns it and when it expires.
pub fn sign(
    access: &MediaAccess,
    user: &User,
    room: &str,
    role: LiveRole,
    now_ms: i64,
) -> Option<(String, i64)> {
    let token = sign_user_token(access, user, role.as_str(), grant(room, role))?;
    Some((token, now_ms + TOKEN_TTL.as_millis() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_hidden_and_publishes_only_data() {
        for role in [LiveRole::Viewer, LiveRole::Listener] {
            let g = grant("live_1", role);
            assert!(g.hidden && g.can_subscribe() && g.can_publish_data());
            assert!(!g.can_publish() && g.can_publish_sources.is_empty());
        }
        let host = grant("live_1", LiveRole::Host);
        assert!(!host.hidden && host.can_publish());
        assert!(
            host.can_publish_sources
                .contains(&"screen_share".to_owned())
        );
        assert_eq!(
            grant("live_1", LiveRole::Speaker).can_publish_sources,
            ["microphone"]
        );
    }
}
