//! A remote LiveKit-compatible media plane: RoomService calls over Twirp (LiveKit's own Rust
//! server SDK), each bounded by [`REQUEST_TIMEOUT`]. Its events arrive as signed webhooks,
//! received by `api::webhooks`.

use async_trait::async_trait;
use livekit_api::services::ServerError;
use livekit_api::services::ServiceError;
use livekit_api::services::room::{
    CreateRoomOptions, RoomClient, SendDataOptions, UpdateParticipantOptions,
};
use livekit_protocol as proto;

use super::{MediaError, MediaPlane};

pub struct LiveKitHttpMediaPlane {
    client: RoomClient,
}

impl LiveKitHttpMediaPlane {
    /// A client for the server at `url` (http(s) or ws(s)) with the given credentials.
    pub fn new(url: &str, api_key: &str, api_secret: &str) -> Self {
        xcord_sfu::webhook::ensure_tls_provider();
        let http_url = url
            .replacen("ws://", "http://", 1)
            .replacen("wss://", "https://", 1);
        Self {
            client: RoomClient::with_api_key(&http_url, api_key, api_secret),
        }
    }
}

fn map_err(e: ServiceError) -> MediaError {
    match e {
        ServiceError::Twirp(ServerError::Twirp(code)) => match code.code.as_str() {
            "not_found" => MediaError::NotFound(code.msg),
            "invalid_argument" | "malformed" => MediaError::Invalid(code.msg),
            _ => MediaError::Unavailable(format!("{}: {}", code.code, code.msg)),
        },
        other => MediaError::Unavailable(other.to_string()),
    }
}

/// How long one call to the media server may take: a node that stopped silently (a frozen
/// process, a dropped network) answers nothing, and a call must not wait for it forever.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs one RoomService call within [`REQUEST_TIMEOUT`].
async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, ServiceError>>,
) -> Result<T, MediaError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(answer) => answer.map_err(map_err),
        Err(_) => Err(MediaError::Unavailable(format!(
            "no answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

#[async_trait]
impl MediaPlane for LiveKitHttpMediaPlane {
    fn kind(&self) -> &'static str {
        "livekit-http"
    }

    async fn create_room(&self, req: proto::CreateRoomRequest) -> Result<proto::Room, MediaError> {
        let options = CreateRoomOptions {
            empty_timeout: req.empty_timeout,
            departure_timeout: req.departure_timeout,
            max_participants: req.max_participants,
            node_id: req.node_id,
            metadata: req.metadata,
            egress: req.egress,
        };
        bounded(self.client.create_room(&req.name, options)).await
    }

    async fn list_rooms(&self, names: Vec<String>) -> Result<Vec<proto::Room>, MediaError> {
        bounded(self.client.list_rooms(names)).await
    }

    async fn delete_room(&self, room: &str) -> Result<(), MediaError> {
        bounded(self.client.delete_room(room)).await
    }

    async fn update_room_metadata(
        &self,
        room: &str,
        metadata: &str,
    ) -> Result<proto::Room, MediaError> {
        bounded(self.client.update_room_metadata(room, metadata)).await
    }

    async fn list_participants(
        &self,
        room: &str,
    ) -> Result<Vec<proto::ParticipantInfo>, MediaError> {
        bounded(self.client.list_participants(room)).await
    }

    async fn get_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<proto::ParticipantInfo, MediaError> {
        bounded(self.client.get_participant(room, identity)).await
    }

    async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), MediaError> {
        bounded(self.client.remove_participant(room, identity)).await
    }

    async fn mute_published_track(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
        muted: bool,
    ) -> Result<proto::TrackInfo, MediaError> {
        bounded(
            self.client
                .mute_published_track(room, identity, track_sid, muted),
        )
        .await
    }

    async fn update_participant(
        &self,
        req: proto::UpdateParticipantRequest,
    ) -> Result<proto::ParticipantInfo, MediaError> {
        let options = UpdateParticipantOptions {
            metadata: req.metadata,
            attributes: req.attributes,
            permission: req.permission,
            name: req.name,
        };
        bounded(
            self.client
                .update_participant(&req.room, &req.identity, options),
        )
        .await
    }

    async fn update_subscriptions(
        &self,
        room: &str,
        identity: &str,
        track_sids: Vec<String>,
        subscribe: bool,
    ) -> Result<(), MediaError> {
        bounded(
            self.client
                .update_subscriptions(room, identity, track_sids, subscribe),
        )
        .await
    }

    #[allow(deprecated)]
    async fn send_data(&self, req: proto::SendDataRequest) -> Result<(), MediaError> {
        let kind = proto::data_packet::Kind::try_from(req.kind)
            .unwrap_or(proto::data_packet::Kind::Reliable);
        let options = SendDataOptions {
            kind,
            destination_identities: req.destination_identities,
            topic: req.topic,
            ..Default::default()
        };
        bounded(self.client.send_data(&req.room, req.data, options)).await
    }
}
