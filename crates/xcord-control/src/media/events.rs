//! The one handler of media-plane events, whichever plane delivers them: it logs each event,
//! appends it as a JSON line to a file when configured (an audit trail that also lets tests
//! compare what the control plane saw), and applies it to voice states (stored in the inbox
//! first, so duplicates are no-ops). At start it applies what was stored but not yet applied.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::MediaEvent;
use crate::api::AppState;

/// Consumes events until every sender is gone.
pub fn spawn_handler(
    mut events: mpsc::UnboundedReceiver<MediaEvent>,
    log_file: Option<PathBuf>,
    state: Option<Arc<AppState>>,
) {
    tokio::spawn(async move {
        if let Some(state) = &state {
            match crate::voice::inbox::pending(&state.db).await {
                Ok(pending) => {
                    for event in pending {
                        crate::voice::apply::handle(state, &event).await;
                    }
                }
                Err(e) => tracing::warn!("media event inbox unreadable: {e}"),
            }
        }
        let mut file = match &log_file {
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
        while let Some(event) = events.recv().await {
            tracing::info!(
                event = %event.event,
                id = %event.id,
                room = event.room.as_ref().map(|r| r.name.as_str()).unwrap_or_default(),
                participant = event.participant.as_ref().map(|p| p.identity.as_str()).unwrap_or_default(),
                "media event"
            );
            if let Some(f) = file.as_mut()
                && let Ok(mut line) = serde_json::to_vec(event.as_ref())
            {
                line.push(b'\n');
                if let Err(e) = f.write_all(&line).await {
                    tracing::warn!("media event log write failed: {e}");
                }
                let _ = f.flush().await;
            }
            if let Some(state) = &state {
                crate::voice::apply::handle(state, &event).await;
            }
        }
    });
}
