//! The one handler of media-plane events, whichever plane delivers them: it logs each event,
//! appends it as a JSON line to a file when configured (an audit trail that also lets tests
//! compare what the control plane saw), stores it in the inbox, and hands it to the services'
//! media-event listeners. At start it first applies what was stored but never applied. It runs
//! until every sender is gone or it is told to stop, and always drains what was already queued.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::{MediaEvent, inbox};
use crate::app::Services;

/// Where received events go.
pub struct EventHandler {
    pub log_file: Option<PathBuf>,
    /// The control plane (absent on a node without one: events are only logged).
    pub services: Option<Arc<Services>>,
    /// Whether events arrive already stored in the inbox (the webhook receiver stores them
    /// before it acknowledges): then they are only dispatched, not stored a second time.
    pub arrive_stored: bool,
}

impl EventHandler {
    /// Consumes `events` until every sender is gone.
    pub async fn run(self, mut events: mpsc::Receiver<MediaEvent>) {
        if let Some(services) = &self.services {
            match inbox::pending(&services.db).await {
                Ok(pending) => {
                    for event in pending {
                        dispatch(services, &event).await;
                    }
                }
                Err(e) => tracing::warn!("media event inbox unreadable: {e}"),
            }
        }
        let mut file = match &self.log_file {
            Some(path) => match tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
            {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::error!(path = %path.display(), "cannot open media event log: {e}");
                    None
                }
            },
            None => None,
        };
        let queued = metrics::gauge!(crate::metrics::MEDIA_EVENTS_QUEUED);
        let lag = metrics::histogram!(crate::metrics::MEDIA_EVENT_LAG);
        while let Some(event) = events.recv().await {
            queued.set(events.len() as f64);
            let now_s = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            if event.created_at > 0 {
                lag.record(now_s.saturating_sub(event.created_at).max(0) as f64);
            }
            tracing::info!(
                event = %event.event,
                id = %event.id,
                room = ?event.room.as_ref().map(|r| r.name.as_str()).unwrap_or_default(),
                participant = ?event.participant.as_ref().map(|p| p.identity.as_str()).unwrap_or_default(),
                "media event"
            );
            if let Some(f) = file.as_mut() {
                append(f, &event).await;
            }
            if let Some(services) = &self.services {
                if self.arrive_stored {
                    // Listeners claim each event in the inbox, so a redelivery is a no-op.
                    dispatch(services, &event).await;
                } else {
                    deliver(services, &event).await;
                }
            }
        }
    }
}

async fn append(file: &mut tokio::fs::File, event: &MediaEvent) {
    match serde_json::to_vec(event.as_ref()) {
        Ok(mut line) => {
            line.push(b'\n');
            if let Err(e) = file.write_all(&line).await {
                tracing::warn!("media event log write failed: {e}");
            }
            if let Err(e) = file.flush().await {
                tracing::warn!("media event log flush failed: {e}");
            }
        }
        Err(e) => tracing::warn!("media event not serialisable: {e}"),
    }
}

/// Stores one event in the inbox and, unless it was already applied, hands it to the
/// listeners (a redelivered event is a no-op).
pub async fn deliver(services: &Services, event: &MediaEvent) {
    match inbox::store(&services.db, event, services.clock.now_ms()).await {
        Ok(true) => dispatch(services, event).await,
        Ok(false) => {}
        Err(e) => tracing::warn!(id = %event.id, "media event not stored: {e}"),
    }
}

async fn dispatch(services: &Services, event: &MediaEvent) {
    for listener in &services.media_listeners {
        listener.on_media_event(services, event).await;
    }
}
