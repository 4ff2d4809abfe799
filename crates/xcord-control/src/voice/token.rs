//! Media tokens for voice and video channels: identity = user id, name = display name, JSON
//! metadata for other clients to render the participant, grants derived from community
//! permissions (no SPEAK → no microphone; no VIDEO → no camera; no SCREEN_SHARE → no screen),
//! a short TTL, room `vc_<channel id>`.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::User;
use crate::communities::permissions::Permissions;
use crate::media::MediaAccess;

/// How long a media token is valid (clients get refresh tokens from the SFU while connected).
pub const TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

/// What a client needs to connect to a voice or video channel.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaTicket {
    /// Where to connect (`ws://…` or `wss://…`).
    pub url: String,
    /// A media access token (JWT, valid for 10 minutes) whose grants follow the caller's
    /// permissions (SPEAK, VIDEO, SCREEN_SHARE, SEND_MESSAGES).
    pub token: String,
    /// The media room: `vc_<channelId>`.
    #[schema(pattern = "^vc_")]
    pub room: String,
    #[schema(value_type = crate::schema::Id)]
    pub channel_id: String,
    /// Unix milliseconds: when the token expires.
    pub expires_at: i64,
}

/// The track sources `perms` allow, in LiveKit's names.
pub fn sources(perms: Permissions) -> Vec<&'static str> {
    let mut s = Vec::new();
    if perms.grants(Permissions::SPEAK) {
        s.push("microphone");
    }
    if perms.grants(Permissions::VIDEO) {
        s.push("camera");
    }
    if perms.grants(Permissions::SCREEN_SHARE) {
        s.push("screen_share");
        s.push("screen_share_audio");
    }
    s
}

/// The video grant for `room` under `perms`, with server mute/deafen applied.
pub fn grant(room: &str, perms: Permissions, server_mute: bool, server_deaf: bool) -> VideoGrants {
    let mut sources = sources(perms);
    if server_mute {
        sources.retain(|s| *s != "microphone");
    }
    VideoGrants {
        room_join: true,
        room: room.to_owned(),
        can_publish: Some(!sources.is_empty()),
        can_publish_sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        can_subscribe: Some(!server_deaf),
        can_publish_data: Some(perms.grants(Permissions::SEND_MESSAGES)),
        can_update_own_metadata: Some(false),
        ..Default::default()
    }
}

/// The same grant as a live participant permission (for UpdateParticipant), converted by the
/// SFU's own rule so the token and the live permission never disagree.
pub fn permission(
    perms: Permissions,
    server_mute: bool,
    server_deaf: bool,
) -> proto::ParticipantPermission {
    xcord_sfu::auth::permission_from_grant(&grant("", perms, server_mute, server_deaf))
}

/// A role label for other clients' UIs.
pub fn role_label(perms: Permissions) -> &'static str {
    if perms.grants(Permissions::ADMINISTRATOR) {
        "admin"
    } else if perms.grants(Permissions::MUTE_MEMBERS) || perms.grants(Permissions::MOVE_MEMBERS) {
        "moderator"
    } else {
        "member"
    }
}

/// Signs a media token for `user` into `room`.
pub fn issue(
    access: &MediaAccess,
    user: &User,
    channel_id: &str,
    perms: Permissions,
    server_mute: bool,
    server_deaf: bool,
    now_ms: i64,
) -> Option<MediaTicket> {
    let room = super::room_of_channel(channel_id);
    let token = sign_user_token(
        access,
        user,
        role_label(perms),
        grant(&room, perms, server_mute, server_deaf),
    )?;
    Some(MediaTicket {
        url: access.url.clone(),
        token,
        room,
        channel_id: channel_id.to_owned(),
        expires_at: now_ms + TOKEN_TTL.as_millis() as i64,
    })
}

/// Signs a media token for `user` into any `room` (a call's `dm_<call>`) under `perms`, with
/// the same identity, name, metadata and grants as a channel's; returns it and when it expires.
pub fn sign_for_room(
    access: &MediaAccess,
    user: &User,
    room: &str,
    perms: Permissions,
    now_ms: i64,
) -> Option<(String, i64)> {
    let token = sign_user_token(
        access,
        user,
        role_label(perms),
        grant(room, perms, false, false),
    )?;
    Some((token, now_ms + TOKEN_TTL.as_millis() as i64))
}

/// A token for `user` with `grants`: identity = user id, name = display name, and the JSON
/// metadata other clients render the participant from (`role` is its role label); valid for
/// [`TOKEN_TTL`]. Channel, call and live tokens are all signed here.
pub fn sign_user_token(
    access: &MediaAccess,
    user: &User,
    role: &str,
    grants: VideoGrants,
) -> Option<String> {
    let metadata = serde_json::json!({
        "userId": user.id,
        "displayName": user.display_name,
        "handle": user.handle,
        "avatarGradient": user.avatar_gradient,
        "role": role,
    });
    AccessToken::with_api_key(&access.api_key, &access.api_secret)
        .with_identity(&user.id)
        .with_name(&user.display_name)
        .with_metadata(&metadata.to_string())
        .with_grants(grants)
        .with_ttl(TOKEN_TTL)
        .to_jwt()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_follow_permissions() {
        let everyone = Permissions::EVERYONE_DEFAULT;
        let g = grant("vc_1", everyone, false, false);
        assert_eq!(
            g.can_publish_sources,
            vec!["microphone", "camera", "screen_share", "screen_share_audio"]
        );
        assert!(g.room_join && g.can_subscribe());
        let no_speak =
            Permissions::from_bits_truncate(everyone.bits() & !Permissions::SPEAK.bits());
        assert!(
            !grant("vc_1", no_speak, false, false)
                .can_publish_sources
                .contains(&"microphone".to_owned())
        );
        let muted = grant("vc_1", everyone, true, false);
        assert!(!muted.can_publish_sources.contains(&"microphone".to_owned()));
        assert!(muted.can_publish());
        assert!(!grant("vc_1", everyone, false, true).can_subscribe());
        let listen_only = Permissions::from_bits_truncate(
            Permissions::CONNECT.bits() | Permissions::VIEW_CHANNEL.bits(),
        );
        assert!(!grant("vc_1", listen_only, false, false).can_publish());
        let p = permission(everyone, true, false);
        assert!(
            !p.can_publish_sources
                .contains(&(proto::TrackSource::Microphone as i32))
        );
    }
}
