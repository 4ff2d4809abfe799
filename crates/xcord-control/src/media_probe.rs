//! The media node's health probe: a remote media plane is asked a cheap question (RoomService
//! `ListRooms`) every [`ProbeSettings::every`], each within [`ProbeSettings::timeout`]. A node
//! that fails [`ProbeSettings::failures`] probes in a row — refused, erroring, or silent (a frozen
//! process or a dropped network never resets the connection) — is lost: every media session in
//! its rooms ends (`media_node_lost`: calls, voice channels and lives, each party told), every
//! voice state goes, and every live session fails (`media_node_lost`, refunded by the refund
//! rule). A node that answers again is healthy again (new sessions use it); what was ended stays
//! ended. It sits above the domain modules it ends things in (`media_session`, `voice`, `live`),
//! beside `media`, which they all use.

use std::sync::Arc;
use std::time::Duration;

use crate::app::Services;
use crate::media::MediaPlane;

/// How often and how patiently the node is probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSettings {
    pub every: Duration,
    pub timeout: Duration,
    /// Failed probes in a row that make the node lost.
    pub failures: u32,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            failures: 3,
        }
    }
}

/// Whether the node answers one probe in time.
pub async fn probe(plane: &dyn MediaPlane, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, plane.list_rooms(Vec::new())).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::debug!("media node probe failed: {e}");
            false
        }
        Err(_) => {
            tracing::debug!("media node probe: no answer within {timeout:?}");
            false
        }
    }
}

/// Counts failed probes in a row and says when the node becomes lost (once per loss).
#[derive(Debug, Default)]
pub struct Health {
    failed: u32,
    lost: bool,
}

impl Health {
    /// Records one probe; true when this one makes the node lost.
    pub fn record(&mut self, answered: bool, failures: u32) -> bool {
        if answered {
            if self.lost {
                tracing::info!("the media node answers again");
            }
            *self = Self::default();
            return false;
        }
        self.failed = self.failed.saturating_add(1);
        if self.failed >= failures.max(1) && !self.lost {
            self.lost = true;
            return true;
        }
        false
    }
}

/// Probes the media plane until shutdown.
pub fn spawn(services: Arc<Services>, settings: ProbeSettings) {
    let Some(plane) = services.media.as_ref().map(|m| m.plane.clone()) else {
        return;
    };
    services.tasks.clone().spawn_until_shutdown(async move {
        let mut health = Health::default();
        let mut tick = tokio::time::interval(settings.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let answered = probe(plane.as_ref(), settings.timeout).await;
            if health.record(answered, settings.failures) {
                node_lost(&services).await;
            }
        }
    });
}

/// What losing the node does: sessions end first (nothing asked of the node), then voice states
/// go, then live sessions fail (closing their rooms is tried, bounded by the plane's timeout).
pub async fn node_lost(services: &Services) {
    tracing::warn!("the media node stopped answering: ending what ran on it");
    match crate::live::media_session::media_node_lost(services).await {
        Ok(n) => tracing::warn!(sessions = n, "media sessions ended: media_node_lost"),
        Err(e) => tracing::warn!("media sessions not ended after the media node was lost: {e}"),
    }
    match crate::voice::reconcile::media_node_lost(services).await {
        Ok(n) => tracing::warn!(states = n, "voice states removed: media_node_lost"),
        Err(e) => tracing::warn!("voice states not removed after the media node was lost: {e}"),
    }
    match crate::live::service::media_node_lost(services).await {
        Ok(n) => tracing::warn!(sessions = n, "live sessions failed: media_node_lost"),
        Err(e) => tracing::warn!("live sessions not failed after the media node was lost: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_lost_after_n_failures_in_a_row_once_and_recovers_on_an_answer() {
        let mut h = Health::default();
        assert!(!h.record(false, 3));
        assert!(!h.record(true, 3));
        assert!(!h.record(false, 3));
        assert!(!h.record(false, 3));
        assert!(h.record(false, 3), "the third failure in a row loses it");
        assert!(!h.record(false, 3), "lost once, not again at every probe");
        assert!(!h.record(true, 3));
        assert!(!h.record(false, 3) && !h.record(false, 3));
        assert!(h.record(false, 3), "lost again after a recovery");
    }
}
