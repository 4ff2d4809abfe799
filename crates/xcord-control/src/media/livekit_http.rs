//! A remote LiveKit-compatible media plane: RoomService calls over Twirp (LiveKit's own Rust
//! server SDK), and events from its webhooks, received at `/api/v1/webhooks/livekit`, verified
//! (signature, then body hash) and refused with 401 when bad or stale.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use livekit_api::access_token::TokenVerifier;
use livekit_api::services::ServerError;
use livekit_api::services::ServiceError;
use livekit_api::services::room::{
    CreateRoomOptions, RoomClient, SendDataOptions, UpdateParticipantOptions,
};
use livekit_api::webhooks::WebhookReceiver;
use livekit_protocol as proto;
use tokio::sync::mpsc;

use super::{MediaError, MediaEvent, MediaPlane};
use crate::db::Db;

/// Path of the webhook receiver.
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/livekit";

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

/// The webhook receiver route: verified events are stored in the inbox of `db` (when given)
/// before they are acknowledged, then handed to `events`.
pub fn webhook_router(
    api_key: &str,
    api_secret: &str,
    events: mpsc::UnboundedSender<MediaEvent>,
    db: Option<Db>,
) -> Router {
    let receiver = Arc::new(WebhookReceiver::new(TokenVerifier::with_api_key(
        api_key, api_secret,
    )));
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .with_state(Arc::new(ReceiverState {
            receiver,
            events,
            db,
        }))
}

struct ReceiverState {
    receiver: Arc<WebhookReceiver>,
    events: mpsc::UnboundedSender<MediaEvent>,
    db: Option<Db>,
}

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({ "code": code, "message": message });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn receive(
    State(st): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (receiver, events) = (&st.receiver, &st.events);
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "missing Authorization header".into(),
        );
    };
    let auth = auth.strip_prefix("Bearer ").unwrap_or(auth);
    match receiver.receive(&body, auth) {
        Ok(event) => {
            let event = Arc::new(event);
            if let Some(db) = &st.db
                && let Err(e) = crate::voice::inbox::store(db, &event).await
            {
                tracing::warn!(id = %event.id, "webhook not stored: {e}");
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "cannot store the event now".into(),
                );
            }
            if events.send(event).is_err() {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "event handler stopped".into(),
                );
            }
            StatusCode::OK.into_response()
        }
        Err(e) => refuse(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!("webhook refused: {e}"),
        ),
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
        self.client
            .create_room(&req.name, options)
            .await
            .map_err(map_err)
    }

    async fn list_rooms(&self, names: Vec<String>) -> Result<Vec<proto::Room>, MediaError> {
        self.client.list_rooms(names).await.map_err(map_err)
    }

    async fn delete_room(&self, room: &str) -> Result<(), MediaError> {
        self.client.delete_room(room).await.map_err(map_err)
    }

    async fn update_room_metadata(
        &self,
        room: &str,
        metadata: &str,
    ) -> Result<proto::Room, MediaError> {
        self.client
            .update_room_metadata(room, metadata)
            .await
            .map_err(map_err)
    }

    async fn list_participants(
        &self,
        room: &str,
    ) -> Result<Vec<proto::ParticipantInfo>, MediaError> {
        self.client.list_participants(room).await.map_err(map_err)
    }

    async fn get_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<proto::ParticipantInfo, MediaError> {
        self.client
            .get_participant(room, identity)
            .await
            .map_err(map_err)
    }

    async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), MediaError> {
        self.client
            .remove_participant(room, identity)
            .await
            .map_err(map_err)
    }

    async fn mute_published_track(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
        muted: bool,
    ) -> Result<proto::TrackInfo, MediaError> {
        self.client
            .mute_published_track(room, identity, track_sid, muted)
            .await
            .map_err(map_err)
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
        self.client
            .update_participant(&req.room, &req.identity, options)
            .await
            .map_err(map_err)
    }

    async fn update_subscriptions(
        &self,
        room: &str,
        identity: &str,
        track_sids: Vec<String>,
        subscribe: bool,
    ) -> Result<(), MediaError> {
        self.client
            .update_subscriptions(room, identity, track_sids, subscribe)
            .await
            .map_err(map_err)
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
        self.client
            .send_data(&req.room, req.data, options)
            .await
            .map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn post_hook(router: Router, body: &str, auth: Option<&str>) -> StatusCode {
        let mut req =
            Request::post(WEBHOOK_PATH).header(header::CONTENT_TYPE, "application/webhook+json");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        match router
            .oneshot(req.body(Body::from(body.to_owned())).unwrap_or_default())
            .await
        {
            Ok(resp) => resp.status(),
            Err(e) => match e {},
        }
    }

    #[tokio::test]
    async fn accepts_signed_events_and_refuses_bad_ones() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let router = webhook_router("devkey", "secret", tx, None);
        let body = r#"{"event":"room_started","room":{"name":"r1"},"id":"EV_1","createdAt":"1"}"#;
        let good =
            xcord_sfu::webhook::sign("devkey", "secret", body.as_bytes()).unwrap_or_default();
        assert_eq!(
            post_hook(router.clone(), body, Some(&good)).await,
            StatusCode::OK
        );
        let got = rx.try_recv().map(|e| (e.event.clone(), e.id.clone()));
        assert_eq!(got.ok(), Some(("room_started".into(), "EV_1".into())));

        let tampered = body.replace("r1", "r2");
        assert_eq!(
            post_hook(router.clone(), &tampered, Some(&good)).await,
            StatusCode::UNAUTHORIZED
        );
        let wrong_secret =
            xcord_sfu::webhook::sign("devkey", "other", body.as_bytes()).unwrap_or_default();
        assert_eq!(
            post_hook(router.clone(), body, Some(&wrong_secret)).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            post_hook(router.clone(), body, None).await,
            StatusCode::UNAUTHORIZED
        );
        assert!(
            rx.try_recv().is_err(),
            "refused requests must not reach the handler"
        );
    }

    #[tokio::test]
    async fn refuses_stale_signatures() {
        use base64::Engine as _;
        use sha2::Digest as _;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let router = webhook_router("devkey", "secret", tx, None);
        let body = r#"{"event":"room_finished","id":"EV_2"}"#;
        // livekit-api installs jsonwebtoken's HMAC provider on first use.
        let _ = xcord_sfu::webhook::sign("devkey", "secret", b"");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as usize)
            .unwrap_or_default();
        let claims = livekit_api::access_token::Claims {
            iss: "devkey".into(),
            nbf: now - 600,
            exp: now - 300,
            sha256: base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body)),
            ..Default::default()
        };
        let stale = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"secret"),
        )
        .unwrap_or_default();
        assert_eq!(
            post_hook(router, body, Some(&stale)).await,
            StatusCode::UNAUTHORIZED
        );
        assert!(rx.try_recv().is_err());
    }
}
