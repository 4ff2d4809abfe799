//! Webhook delivery: each event is POSTed to every configured URL as protojson with
//! `Content-Type: application/webhook+json` and `Authorization: <JWT>` (HS256 with the webhook
//! API key, `sha256` claim = base64 SHA-256 of the body). Events of one room reach each URL in
//! order, one at a time; a failed delivery is retried with exponential backoff. All of it runs
//! on tokio tasks fed by the event bus, so the media thread never waits for a receiver; those
//! tasks are owned by a [`WebhookSenders`], which drains them at shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use livekit_api::access_token::AccessToken;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::events::Event;

/// Attempts per event before it is dropped (and logged).
const MAX_ATTEMPTS: u32 = 8;
/// First retry delay; doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A per-room delivery worker with nothing to send for this long ends.
const WORKER_IDLE: Duration = Duration::from_secs(300);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to deliver webhooks.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub urls: Vec<String>,
    pub api_key: String,
    pub api_secret: String,
}

/// The signed `Authorization` value for a webhook body.
pub fn sign(api_key: &str, api_secret: &str, body: &[u8]) -> Option<String> {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    AccessToken::with_api_key(api_key, api_secret)
        .with_sha256(&hash)
        .with_ttl(Duration::from_secs(300))
        .to_jwt()
        .ok()
}

/// Installs the process-wide TLS crypto provider HTTP clients need (idempotent).
pub fn ensure_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What a (URL, room) worker is given: the event (for logs), its serialized body and when it
/// was queued (for the delivery-lag metric).
type Delivery = (Event, bytes::Bytes, std::time::Instant);

/// The webhook delivery tasks of one SFU: a dispatcher reading the event bus and, under it, one
/// worker per (URL, room) posting that room's events in order.
///
/// Dropping this handle leaves delivery running for as long as the event bus lives (the binary
/// may keep only the router); [`WebhookSenders::drain`] is how delivery ends.
pub struct WebhookSenders {
    close: Arc<Notify>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

impl WebhookSenders {
    /// Delivers every event published so far, then stops: waits until each of them has been
    /// delivered (or given up after its retries), or until `until`, when whatever is still
    /// pending is abandoned. Returns whether everything finished in time. Events published after
    /// the call are not delivered; a second call returns `true` at once.
    pub async fn drain(&self, until: tokio::time::Instant) -> bool {
        let dispatcher = self.dispatcher.lock().ok().and_then(|mut d| d.take());
        let Some(mut dispatcher) = dispatcher else {
            return true;
        };
        self.close.notify_one();
        match tokio::time::timeout_at(until, &mut dispatcher).await {
            Ok(_) => true,
            Err(_) => {
                // Its workers belong to its JoinSet and are aborted with it.
                dispatcher.abort();
                false
            }
        }
    }
}

/// Starts delivering every event from `events` to the configured URLs; `None` (and an error
/// logged) if no HTTP client can be built.
pub fn spawn_notifier(
    cfg: WebhookConfig,
    events: mpsc::UnboundedReceiver<Event>,
) -> Option<WebhookSenders> {
    ensure_tls_provider();
    let client = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("webhooks disabled: cannot build HTTP client: {e}");
            return None;
        }
    };
    let close = Arc::new(Notify::new());
    let dispatcher = Dispatcher {
        cfg,
        client,
        workers: HashMap::new(),
        running: JoinSet::new(),
    };
    let dispatcher = tokio::spawn(dispatcher.run(events, close.clone()));
    Some(WebhookSenders {
        close,
        dispatcher: Mutex::new(Some(dispatcher)),
    })
}

/// Reads the event bus and hands each event to the worker of its (URL, room).
struct Dispatcher {
    cfg: WebhookConfig,
    client: reqwest::Client,
    /// Queues of the live workers, by (URL index, room name).
    workers: HashMap<(usize, String), mpsc::UnboundedSender<Delivery>>,
    /// Every worker task, so that draining can wait for them (and aborting takes them along).
    running: JoinSet<()>,
}

impl Dispatcher {
    async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>, close: Arc<Notify>) {
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.route(event),
                    None => break,
                },
                () = close.notified() => {
                    while let Ok(event) = events.try_recv() {
                        self.route(event);
                    }
                    break;
                }
            }
        }
        // Closing the queues lets each worker finish what it has and end.
        self.workers.clear();
        while self.running.join_next().await.is_some() {}
    }

    fn route(&mut self, event: Event) {
        let body = match serde_json::to_vec(event.as_ref()) {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                tracing::error!("webhook event not serializable: {e}");
                return;
            }
        };
        let room = event
            .room
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let queued = std::time::Instant::now();
        let depth = metrics::gauge!(crate::metrics::WEBHOOK_QUEUE);
        for (i, url) in self.cfg.urls.iter().enumerate() {
            let key = (i, room.clone());
            let item = (event.clone(), body.clone(), queued);
            depth.increment(1.0);
            let item = match self.workers.get(&key) {
                Some(worker) => match worker.send(item) {
                    Ok(()) => continue,
                    // That worker ended (idle); a new one takes over.
                    Err(mpsc::error::SendError(item)) => item,
                },
                None => item,
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = tx.send(item);
            self.workers.insert(key, tx);
            self.running.spawn(deliver_in_order(
                self.client.clone(),
                url.clone(),
                self.cfg.clone(),
                rx,
            ));
        }
        self.workers.retain(|_, w| !w.is_closed());
        while self.running.try_join_next().is_some() {}
    }
}

/// Posts one room's events to one URL in order, retrying each; ends when its queue is closed and
/// empty, or after `WORKER_IDLE` without events.
async fn deliver_in_order(
    client: reqwest::Client,
    url: String,
    cfg: WebhookConfig,
    mut queue: mpsc::UnboundedReceiver<Delivery>,
) {
    let depth = metrics::gauge!(crate::metrics::WEBHOOK_QUEUE);
    let lag = metrics::histogram!(crate::metrics::WEBHOOK_LAG);
    while let Ok(Some((event, body, queued))) =
        tokio::time::timeout(WORKER_IDLE, queue.recv()).await
    {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=MAX_ATTEMPTS {
            match post(&client, &url, &cfg, &body).await {
                Ok(()) => {
                    lag.record(queued.elapsed().as_secs_f64());
                    break;
                }
                Err(e) if attempt == MAX_ATTEMPTS => {
                    metrics::counter!(crate::metrics::WEBHOOKS_DROPPED).increment(1);
                    tracing::warn!(%url, event = %event.event, id = %event.id, "webhook dropped after {attempt} attempts: {e}");
                }
                Err(e) => {
                    tracing::debug!(%url, event = %event.event, attempt, "webhook delivery failed: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        depth.decrement(1.0);
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    cfg: &WebhookConfig,
    body: &bytes::Bytes,
) -> Result<(), String> {
    let token = sign(&cfg.api_key, &cfg.api_secret, body).ok_or("cannot sign webhook")?;
    let resp = client
        .post(url)
        .header("Content-Type", "application/webhook+json")
        .header("Authorization", token)
        .header("User-Agent", "xcord")
        .body(body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("receiver answered {}", resp.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::access_token::TokenVerifier;
    use livekit_api::webhooks::WebhookReceiver;

    #[test]
    fn signature_verifies_with_livekits_receiver() {
        let body = br#"{"event":"room_started","id":"EV_x"}"#;
        let token = sign("devkey", "secret", body).unwrap();
        let receiver = WebhookReceiver::new(TokenVerifier::with_api_key("devkey", "secret"));
        let text = std::str::from_utf8(body).unwrap();
        let event = receiver.receive(text, &token).unwrap();
        assert_eq!(event.event, "room_started");
        let tampered = r#"{"event":"room_finished","id":"EV_x"}"#;
        assert!(receiver.receive(tampered, &token).is_err());
    }
}
