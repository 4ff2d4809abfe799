//! The webhook receiver of a remote media plane, `POST /api/v1/webhooks/livekit`: LiveKit's
//! signed webhook events are verified (signature, then body hash; 401 when bad or stale),
//! stored in the media event inbox before they are acknowledged, then handed to the event
//! handler. Errors are rendered like every API error. The route is documented in the API's
//! OpenAPI document ([`document`], merged by `super::openapi`) though it is mounted apart from
//! `super::router`, and only when the media plane is a remote server.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use tokio::sync::mpsc;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, OpenApi, RefOr};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorBody;
use crate::app::Services;
use crate::error::{Error, ErrorCode};
use crate::media::{MediaEvent, inbox};

/// Path of the webhook receiver.
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/livekit";

/// The name of the webhook signature's security scheme in the API document (also in
/// `receive`'s `security`).
const SIGNATURE: &str = "livekitWebhook";

fn routes() -> OpenApiRouter<Arc<ReceiverState>> {
    OpenApiRouter::default().routes(routes!(receive))
}

/// The receiver route. Verified events are stored in the inbox of `services` (when given)
/// before they are acknowledged, then sent to `events`.
pub fn webhook_router(
    api_key: &str,
    api_secret: &str,
    events: mpsc::Sender<MediaEvent>,
    services: Option<Arc<Services>>,
) -> Router {
    let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(api_key, api_secret));
    let (router, _) = routes().split_for_parts();
    router.with_state(Arc::new(ReceiverState {
        receiver,
        events,
        services,
    }))
}

/// The receiver's part of the API document: its operation and the signature scheme.
pub(super) fn document() -> OpenApi {
    let mut document = routes().into_openapi();
    let signature = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(
            "LiveKit's webhook signature: a JWT signed with the media plane's API secret (HS256, \
             issuer the API key) whose `sha256` claim is the base64 SHA-256 of the body. The \
             `Bearer ` prefix is optional.",
        ))
        .build();
    let components = document
        .components
        .take()
        .map_or_else(ComponentsBuilder::new, Into::into)
        .security_scheme(SIGNATURE, SecurityScheme::Http(signature))
        .build();
    document.components = Some(components);
    document
}

/// A LiveKit webhook event (`livekit.WebhookEvent` as JSON), as the media plane sends it.
struct WebhookEvent;

impl PartialSchema for WebhookEvent {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A LiveKit webhook event (`livekit.WebhookEvent` in JSON: `event`, `id`, \
                 `createdAt`, and `room`, `participant` or `track` as the event has them).",
            ))
            .into()
    }
}

impl ToSchema for WebhookEvent {}

struct ReceiverState {
    receiver: WebhookReceiver,
    events: mpsc::Sender<MediaEvent>,
    services: Option<Arc<Services>>,
}

/// Receive a media-plane webhook
///
/// Mounted only when the media plane is a remote LiveKit-compatible server (`livekit` settings);
/// with the embedded media plane, events arrive in process and this path answers 404. The
/// event is verified and stored before it is acknowledged.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/livekit",
    operation_id = "receiveMediaWebhook",
    tag = "webhooks",
    request_body(
        description = "The signed event; any `Content-Type` is read (LiveKit sends `application/webhook+json`).",
        content((inline(WebhookEvent) = "application/webhook+json")),
    ),
    responses(
        (status = 200, description = "The event is stored and handed to the event handler."),
        (status = 401, description = "Missing, bad or stale signature, or a body that does not match it (`unauthorized`).", body = ErrorBody),
        (status = 404, description = "No receiver is mounted: the control plane uses the embedded media plane (`not_found`).", body = ErrorBody),
        (status = 503, description = "The event cannot be stored or handled now (`unavailable`).", body = ErrorBody),
    ),
    security(("livekitWebhook" = [])),
)]
async fn receive(
    State(st): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: String,
) -> Result<StatusCode, Error> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::unauthorized("missing Authorization header"))?;
    let auth = auth.strip_prefix("Bearer ").unwrap_or(auth);
    let event = st
        .receiver
        .receive(&body, auth)
        .map_err(|e| Error::unauthorized(format!("webhook refused: {e}")))?;
    let event = Arc::new(event);
    if let Some(services) = &st.services
        && let Err(e) = inbox::store(&services.db, &event, services.clock.now_ms()).await
    {
        tracing::warn!(id = %event.id, "webhook not stored: {e}");
        return Err(Error::new(
            ErrorCode::Unavailable,
            "cannot store the event now",
        ));
    }
    if st.events.send(event).await.is_err() {
        return Err(Error::new(ErrorCode::Unavailable, "event handler stopped"));
    }
    Ok(StatusCode::OK)
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
        let (tx, mut rx) = mpsc::channel(16);
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
        let (tx, mut rx) = mpsc::channel(16);
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
