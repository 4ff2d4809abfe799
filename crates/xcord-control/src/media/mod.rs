//! The boundary between the control plane and a media plane: LiveKit's public server API.
//! One trait, two implementations that deliver the same events to one handler:
//! - [`embedded::EmbeddedMediaPlane`]: direct calls into xcord's own SFU, events from its bus;
//! - [`livekit_http::LiveKitHttpMediaPlane`]: any LiveKit-compatible server (an `xcord media`
//!   node, a LiveKit cluster, LiveKit Cloud) through Twirp, events from signed webhooks.
//!
//! Events are stored in the [`inbox`] before they are applied, and handed by [`events`] to the
//! domains that listen ([`MediaEventListener`]; voice today). A remote node's health is
//! probed by `crate::media_probe`.

pub mod embedded;
pub mod events;
pub mod inbox;
pub mod livekit_http;

use async_trait::async_trait;
use livekit_protocol as proto;

/// A media-plane event, in LiveKit's webhook shape (room_started, participant_joined, …).
pub type MediaEvent = std::sync::Arc<proto::WebhookEvent>;

/// Why a media-plane call failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("media plane unavailable: {0}")]
    Unavailable(String),
}

/// How the control plane issues media tokens: where clients connect and the key pair that
/// signs their access tokens (the media plane's). `Debug` never shows the secret.
#[derive(Clone)]
pub struct MediaAccess {
    /// The LiveKit URL clients connect to (`ws(s)://…`).
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
}

impl std::fmt::Debug for MediaAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaAccess")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"[redacted]")
            .finish()
    }
}

impl From<MediaError> for crate::error::Error {
    fn from(e: MediaError) -> Self {
        use crate::error::{Error, ErrorCode};
        match e {
            MediaError::NotFound(m) => Error::not_found(m),
            MediaError::Invalid(m) => Error::invalid(m),
            MediaError::Unavailable(m) => Error::new(ErrorCode::MediaUnavailable, m),
        }
    }
}

/// A domain that applies media events (voice states today; calls and live later). Called for
/// every event after it is stored in the inbox, in arrival order; it claims the event in the
/// transaction that applies it ([`inbox::claim`]) and logs its own failures.
#[async_trait]
pub trait MediaEventListener: Send + Sync + 'static {
    async fn on_media_event(&self, services: &crate::app::Services, event: &MediaEvent);
}

/// What the control plane asks of a media plane (LiveKit's RoomService).
#[async_trait]
pub trait MediaPlane: Send + Sync + 'static {
    /// Which implementation this is, for logs.
    fn kind(&self) -> &'static str;
    async fn create_room(&self, req: proto::CreateRoomRequest) -> Result<proto::Room, MediaError>;
    async fn list_rooms(&self, names: Vec<String>) -> Result<Vec<proto::Room>, MediaError>;
    async fn delete_room(&self, room: &str) -> Result<(), MediaError>;
    async fn update_room_metadata(
        &self,
        room: &str,
        metadata: &str,
    ) -> Result<proto::Room, MediaError>;
    async fn list_participants(
        &self,
        room: &str,
    ) -> Result<Vec<proto::ParticipantInfo>, MediaError>;
    async fn get_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<proto::ParticipantInfo, MediaError>;
    async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), MediaError>;
    /// Removes `identity` from `room` (if there) and, where the media plane can, refuses the
    /// tokens issued to it so far for `token_lifetime`; returns whether it could. A LiveKit
    /// server cannot: there a join with an old ticket is caught, and undone, when its
    /// `participant_joined` event arrives.
    async fn revoke_participant(
        &self,
        room: &str,
        identity: &str,
        token_lifetime: std::time::Duration,
    ) -> Result<bool, MediaError> {
        let _ = token_lifetime;
        match self.remove_participant(room, identity).await {
            Ok(()) | Err(MediaError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
    async fn mute_published_track(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
        muted: bool,
    ) -> Result<proto::TrackInfo, MediaError>;
    async fn update_participant(
        &self,
        req: proto::UpdateParticipantRequest,
    ) -> Result<proto::ParticipantInfo, MediaError>;
    async fn update_subscriptions(
        &self,
        room: &str,
        identity: &str,
        track_sids: Vec<String>,
        subscribe: bool,
    ) -> Result<(), MediaError>;
    async fn send_data(&self, req: proto::SendDataRequest) -> Result<(), MediaError>;
    /// Who speaks in each room, as it changes, where the media plane tells (the embedded SFU;
    /// LiveKit's server API has no such event).
    fn speakers(&self) -> Option<tokio::sync::broadcast::Receiver<SpeakersUpdate>> {
        None
    }
}

/// Who speaks in a room now (identities, loudest first).
pub type SpeakersUpdate = std::sync::Arc<xcord_sfu::events::SpeakersUpdate>;
