//! The webhook receiver of a remote media plane, `POST /api/v1/webhooks/livekit`: LiveKit's
//! signed webhook events are verified (signature, then body hash; 401 when bad or stale),
//! stored in the media event inbox before they are acknowledged, then handed to the event
//! handler. Errors are rendered like every API error.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use tokio::sync::mpsc;

use crate::app::Services;
use crate::error::{Error, ErrorCode};
use crate::media::{MediaEvent, inbox};

/// Path of the webhook receiver.
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/livekit";

/// The receiver route. Verified events are stored in the inbox of `services` (when given)
/// before they are acknowledged, then sent to `events`.
pub fn webhook_router(
    api_key: &str,
    api_secret: &str,
    events: mpsc::Sender<MediaEvent>,
    services: Option<Arc<Services>>,
) -> Router {
    let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(api_key, api_secret));
    Router::new()
        .route("/api/v1/webhooks/livekit", post(receive))
        .with_state(Arc::new(ReceiverState {
            receiver,
            events,
            services,
        }))
}

struct ReceiverState {
    receiver: WebhookReceiver,
    events: mpsc::Sender<MediaEvent>,
    services: Option<Arc<Services>>,
}

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
