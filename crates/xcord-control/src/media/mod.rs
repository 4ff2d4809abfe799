//! The boundary between the control plane and a media plane: LiveKit's public server API.
//! One trait, two implementations that deliver the same events to one handler:
//! - [`embedded::EmbeddedMediaPlane`]: direct calls into xcord's own SFU, events from its bus;
//! - [`livekit_http::LiveKitHttpMediaPlane`]: any LiveKit-compatible server (an `xcord media`
//!   node, a LiveKit cluster, LiveKit Cloud) through Twirp, events from signed webhooks.

pub mod embedded;
pub mod events;
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
}
