//! Access tokens: HS256 verification against the configured API keys, and the translation of a
//! token's video grant into what a participant may do. Refusals carry LiveKit's HTTP statuses and
//! plain-text bodies, because the SDKs read them from the validate endpoint.
#![allow(deprecated)] // LiveKit's wire format still carries (and clients read) deprecated fields.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use livekit_api::access_token::{
    AccessToken, AccessTokenError, Claims, TokenVerifier, VideoGrants,
};
use livekit_protocol::{ParticipantPermission, TrackSource};

/// Longest identity or room name accepted at join, as in the reference server.
const MAX_NAME_LEN: usize = 256;

/// API key → secret pairs the server accepts tokens from.
#[derive(Clone, Default)]
pub struct KeyStore {
    keys: HashMap<String, String>,
}

/// Lists the key ids only: secrets never reach `Debug` output or logs.
impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("KeyStore").field("key_ids", &ids).finish()
    }
}

/// Why a request's credentials were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("invalid authorization header. Must start with Bearer ")]
    BadHeader,
    #[error("invalid authorization token")]
    Malformed,
    #[error("invalid API key")]
    UnknownKey,
    #[error("invalid authorization token: {0}")]
    Invalid(String),
    #[error("no permissions to access the room")]
    NoGrant,
    #[error("permissions denied")]
    JoinDenied,
    #[error("identity cannot be empty")]
    NoIdentity,
    #[error("no room name")]
    NoRoom,
    #[error("{0} is too long")]
    TooLong(&'static str),
}

impl AuthError {
    /// The HTTP status the reference server answers with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::NoIdentity | AuthError::NoRoom | AuthError::TooLong(_) => 400,
            _ => 401,
        }
    }
}

impl KeyStore {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            keys: pairs.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn secret(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }

    /// Any one configured pair, used to sign tokens the server issues itself.
    pub fn first(&self) -> Option<(&str, &str)> {
        let mut keys: Vec<_> = self.keys.iter().collect();
        keys.sort();
        keys.first().map(|(k, s)| (k.as_str(), s.as_str()))
    }

    /// Verifies a raw JWT: known `iss`, HS256 signature, `exp` present and not passed (60 s
    /// leeway), `nbf` reached.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let unverified = Claims::from_unverified(token).map_err(|_| AuthError::Malformed)?;
        let secret = self.secret(&unverified.iss).ok_or(AuthError::UnknownKey)?;
        TokenVerifier::with_api_key(&unverified.iss, secret)
            .verify(token)
            .map_err(|e| AuthError::Invalid(describe(&e)))
    }

    /// Signs a fresh token with the same identity, grants and attributes as `claims`.
    pub fn reissue(&self, claims: &Claims, ttl: Duration) -> Option<String> {
        let secret = self.secret(&claims.iss)?;
        AccessToken::with_api_key(&claims.iss, secret)
            .with_identity(&claims.sub)
            .with_name(&claims.name)
            .with_kind(&claims.kind)
            .with_metadata(&claims.metadata)
            .with_attributes(claims.attributes.clone())
            .with_grants(claims.video.clone())
            .with_ttl(ttl)
            .to_jwt()
            .ok()
    }
}

fn describe(e: &AccessTokenError) -> String {
    match e {
        AccessTokenError::Encoding(e) => match e.kind() {
            ErrorKind::ExpiredSignature => "token is expired".into(),
            ErrorKind::ImmatureSignature => "token is not valid yet".into(),
            ErrorKind::InvalidSignature => "signature is invalid".into(),
            ErrorKind::MissingRequiredClaim(c) => format!("missing required claim {c}"),
            ErrorKind::InvalidIssuer => "invalid issuer".into(),
            ErrorKind::InvalidAlgorithm => "signing method is not HS256".into(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

/// Extracts the token from `Authorization: Bearer …` (preferred) or the `access_token` query value.
pub fn token_from_request(
    authorization: Option<&str>,
    query_token: Option<&str>,
) -> Result<Option<String>, AuthError> {
    if let Some(h) = authorization {
        return match h.strip_prefix("Bearer ") {
            Some(t) => Ok(Some(t.trim().to_owned())),
            None => Err(AuthError::BadHeader),
        };
    }
    Ok(query_token.filter(|t| !t.is_empty()).map(str::to_owned))
}

/// What a verified token allows a joining participant.
#[derive(Clone, Debug)]
pub struct JoinGrant {
    pub identity: String,
    pub room: String,
    pub name: String,
    pub metadata: String,
    pub attributes: HashMap<String, String>,
    pub kind: livekit_protocol::participant_info::Kind,
    pub permission: ParticipantPermission,
    pub claims: Claims,
}

/// Checks that `claims` allow joining a room and derives the participant's permissions.
pub fn join_grant(claims: Claims) -> Result<JoinGrant, AuthError> {
    let video = &claims.video;
    if *video == VideoGrants::default() {
        return Err(AuthError::NoGrant);
    }
    if !video.room_join {
        return Err(AuthError::JoinDenied);
    }
    let identity = claims.sub.clone();
    if identity.is_empty() {
        return Err(AuthError::NoIdentity);
    }
    if identity.len() > MAX_NAME_LEN {
        return Err(AuthError::TooLong("identity"));
    }
    if video.room.is_empty() {
        return Err(AuthError::NoRoom);
    }
    if video.room.len() > MAX_NAME_LEN {
        return Err(AuthError::TooLong("room name"));
    }
    Ok(JoinGrant {
        identity,
        room: video.room.clone(),
        name: claims.name.clone(),
        metadata: claims.metadata.clone(),
        attributes: claims.attributes.clone(),
        kind: kind_from_claim(&claims.kind),
        permission: permission_from_grant(video),
        claims,
    })
}

/// The `ParticipantPermission` a video grant confers (absent canPublish = true, absent
/// canPublishData = canPublish, absent canUpdateOwnMetadata = false).
pub fn permission_from_grant(video: &VideoGrants) -> ParticipantPermission {
    ParticipantPermission {
        can_subscribe: video.can_subscribe(),
        can_publish: video.can_publish(),
        can_publish_data: video.can_publish_data(),
        can_publish_sources: video
            .can_publish_sources
            .iter()
            .filter_map(|s| source_from_name(s))
            .map(|s| s as i32)
            .collect(),
        hidden: video.hidden,
        recorder: video.recorder,
        can_update_metadata: video.can_update_own_metadata(),
        agent: video.agent,
        ..Default::default()
    }
}

/// `base` (room, join, admin flags) with the publish/subscribe rights of a live `permission`:
/// what a refreshed token must carry once the server changed the participant's permissions.
/// `permission_from_grant(&grant_with_permission(base, p))` gives back `p`'s rights.
pub fn grant_with_permission(
    base: &VideoGrants,
    permission: &ParticipantPermission,
) -> VideoGrants {
    VideoGrants {
        can_publish: Some(permission.can_publish),
        can_subscribe: Some(permission.can_subscribe),
        can_publish_data: Some(permission.can_publish_data),
        can_publish_sources: permission
            .can_publish_sources
            .iter()
            .filter_map(|s| TrackSource::try_from(*s).ok())
            .filter_map(source_name)
            .map(str::to_owned)
            .collect(),
        can_update_own_metadata: Some(permission.can_update_metadata),
        hidden: permission.hidden,
        recorder: permission.recorder,
        agent: permission.agent,
        ..base.clone()
    }
}

/// The lowercase name of a source as used in `canPublishSources`.
pub fn source_name(source: TrackSource) -> Option<&'static str> {
    match source {
        TrackSource::Camera => Some("camera"),
        TrackSource::Microphone => Some("microphone"),
        TrackSource::ScreenShare => Some("screen_share"),
        TrackSource::ScreenShareAudio => Some("screen_share_audio"),
        TrackSource::Unknown => None,
    }
}

/// Parses a lowercase source name as used in `canPublishSources`.
pub fn source_from_name(name: &str) -> Option<TrackSource> {
    match name {
        "camera" => Some(TrackSource::Camera),
        "microphone" => Some(TrackSource::Microphone),
        "screen_share" => Some(TrackSource::ScreenShare),
        "screen_share_audio" => Some(TrackSource::ScreenShareAudio),
        _ => None,
    }
}

/// Whether `permission` allows publishing a track of `source`.
pub fn may_publish_source(permission: &ParticipantPermission, source: TrackSource) -> bool {
    permission.can_publish
        && (permission.can_publish_sources.is_empty()
            || permission.can_publish_sources.contains(&(source as i32)))
}

/// Whether a track of this media type may carry this declared source: audio only as
/// microphone or screen-share audio, video only as camera or screen share. `Unknown` passes
/// only when the participant has no source list (then every source is allowed anyway).
pub fn source_fits_type(
    permission: &ParticipantPermission,
    source: TrackSource,
    kind: livekit_protocol::TrackType,
) -> bool {
    use livekit_protocol::TrackType;
    match (kind, source) {
        (TrackType::Audio, TrackSource::Microphone | TrackSource::ScreenShareAudio) => true,
        (TrackType::Video, TrackSource::Camera | TrackSource::ScreenShare) => true,
        (TrackType::Audio | TrackType::Video, TrackSource::Unknown) => {
            permission.can_publish_sources.is_empty()
        }
        _ => false,
    }
}

fn kind_from_claim(kind: &str) -> livekit_protocol::participant_info::Kind {
    use livekit_protocol::participant_info::Kind;
    match kind {
        "ingress" => Kind::Ingress,
        "egress" => Kind::Egress,
        "sip" => Kind::Sip,
        "agent" => Kind::Agent,
        _ => Kind::Standard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> KeyStore {
        KeyStore::new([("devkey".to_owned(), "secret".to_owned())])
    }

    fn token(secret: &str, grants: VideoGrants, ttl: Duration) -> String {
        AccessToken::with_api_key("devkey", secret)
            .with_identity("alice")
            .with_grants(grants)
            .with_ttl(ttl)
            .to_jwt()
            .unwrap()
    }

    fn join(room: &str) -> VideoGrants {
        VideoGrants {
            room_join: true,
            room: room.into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_token_yields_default_permissions() {
        let claims = store()
            .verify(&token("secret", join("r1"), Duration::from_secs(60)))
            .unwrap();
        let grant = join_grant(claims).unwrap();
        assert_eq!(grant.identity, "alice");
        assert_eq!(grant.room, "r1");
        let perm = grant.permission;
        assert!(perm.can_publish && perm.can_subscribe && perm.can_publish_data);
        assert!(!perm.can_update_metadata);
    }

    #[test]
    fn wrong_secret_and_unknown_key_are_refused() {
        let t = token("other", join("r1"), Duration::from_secs(60));
        assert!(matches!(store().verify(&t), Err(AuthError::Invalid(_))));
        let empty = KeyStore::default();
        assert_eq!(empty.verify(&t).err(), Some(AuthError::UnknownKey));
        assert_eq!(store().verify("garbage").err(), Some(AuthError::Malformed));
    }

    #[test]
    fn expiry_has_sixty_seconds_leeway() {
        let mut claims = Claims {
            iss: "devkey".into(),
            sub: "alice".into(),
            video: join("r1"),
            ..Default::default()
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as usize;
        // livekit-api installs jsonwebtoken's HMAC provider on first use.
        let _ = AccessToken::with_api_key("k", "s").to_jwt();
        let sign = |c: &Claims| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                c,
                &jsonwebtoken::EncodingKey::from_secret(b"secret"),
            )
            .unwrap()
        };
        claims.exp = now - 30;
        assert!(store().verify(&sign(&claims)).is_ok());
        claims.exp = now - 120;
        assert_eq!(
            store().verify(&sign(&claims)).err(),
            Some(AuthError::Invalid("token is expired".into()))
        );
    }

    #[test]
    fn grants_are_checked() {
        let no_join = VideoGrants {
            room: "r1".into(),
            can_publish: Some(false),
            ..Default::default()
        };
        let c = store()
            .verify(&token("secret", no_join, Duration::from_secs(60)))
            .unwrap();
        assert_eq!(join_grant(c).err(), Some(AuthError::JoinDenied));

        let limited = VideoGrants {
            can_publish_sources: vec!["microphone".into()],
            can_publish_data: Some(false),
            ..join("r1")
        };
        let perm = permission_from_grant(&limited);
        assert!(may_publish_source(&perm, TrackSource::Microphone));
        assert!(!may_publish_source(&perm, TrackSource::Camera));
        assert!(!perm.can_publish_data);
    }

    #[test]
    fn bearer_header_wins_and_must_be_bearer() {
        assert_eq!(
            token_from_request(Some("Bearer abc"), Some("q")),
            Ok(Some("abc".into()))
        );
        assert_eq!(token_from_request(None, Some("q")), Ok(Some("q".into())));
        assert_eq!(
            token_from_request(Some("Basic x"), None),
            Err(AuthError::BadHeader)
        );
    }

    #[test]
    fn a_live_permission_round_trips_through_a_refreshed_grant() {
        let base = VideoGrants {
            room_admin: true,
            ..join("r1")
        };
        let live = ParticipantPermission {
            can_subscribe: false,
            can_publish: true,
            can_publish_data: false,
            can_publish_sources: vec![TrackSource::Camera as i32, TrackSource::ScreenShare as i32],
            can_update_metadata: true,
            ..Default::default()
        };
        let g = grant_with_permission(&base, &live);
        assert!(g.room_join && g.room_admin && g.room == "r1");
        assert_eq!(g.can_publish_sources, vec!["camera", "screen_share"]);
        let back = permission_from_grant(&g);
        assert_eq!(back.can_subscribe, live.can_subscribe);
        assert_eq!(back.can_publish, live.can_publish);
        assert_eq!(back.can_publish_data, live.can_publish_data);
        assert_eq!(back.can_publish_sources, live.can_publish_sources);
        assert_eq!(back.can_update_metadata, live.can_update_metadata);
    }

    #[test]
    fn audio_and_video_carry_only_their_own_sources() {
        use livekit_protocol::TrackType::{Audio, Video};
        let any = ParticipantPermission {
            can_publish: true,
            ..Default::default()
        };
        let listed = ParticipantPermission {
            can_publish: true,
            can_publish_sources: vec![TrackSource::Microphone as i32],
            ..Default::default()
        };
        assert!(source_fits_type(&any, TrackSource::Microphone, Audio));
        assert!(source_fits_type(&any, TrackSource::ScreenShareAudio, Audio));
        assert!(source_fits_type(&any, TrackSource::Camera, Video));
        assert!(source_fits_type(&any, TrackSource::ScreenShare, Video));
        assert!(!source_fits_type(&any, TrackSource::Camera, Audio));
        assert!(!source_fits_type(&any, TrackSource::ScreenShare, Audio));
        assert!(!source_fits_type(&any, TrackSource::Microphone, Video));
        assert!(!source_fits_type(
            &any,
            TrackSource::ScreenShareAudio,
            Video
        ));
        assert!(source_fits_type(&any, TrackSource::Unknown, Audio));
        assert!(!source_fits_type(&listed, TrackSource::Unknown, Audio));
    }
}
