//! Who is speaking, in the snapshots: the media plane's speaker updates (the embedded SFU's
//! active speakers; a remote LiveKit server sends none) are kept per room in memory — speaking
//! is momentary, not worth a row — and every user whose session is in that room gets a new
//! snapshot (a version bump, like any other change of its participants).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast::error::RecvError;

use super::machine::Input;
use super::store;
use super::unit::Unit;
use crate::app::Services;
use crate::error::Result;

/// The identities speaking in each room, as last reported.
#[derive(Debug, Default)]
pub struct Speaking(Mutex<HashMap<String, Vec<String>>>);

impl Speaking {
    /// Records a room's speakers; returns whether that changed anything.
    pub fn set(&self, room: &str, speaking: Vec<String>) -> bool {
        let mut rooms = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if speaking.is_empty() {
            return rooms.remove(room).is_some();
        }
        rooms.insert(room.to_owned(), speaking.clone()) != Some(speaking)
    }

    pub fn is_speaking(&self, room: &str, user_id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room)
            .is_some_and(|s| s.iter().any(|u| u == user_id))
    }
}

/// Starts the task that follows the media plane's speaker updates (if it sends any).
pub fn start(services: &Arc<Services>) {
    let Some(mut updates) = services.media.as_ref().and_then(|m| m.plane.speakers()) else {
        return;
    };
    let services = services.clone();
    services.tasks.clone().spawn_until_shutdown(async move {
        loop {
            let update = match updates.recv().await {
                Ok(u) => u,
                // Fell behind: later updates carry the whole set again, so skipping is safe.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            if services
                .media_sessions
                .speaking
                .set(&update.room, update.speaking.clone())
                && let Err(e) = touch_room(&services, &update.room).await
            {
                tracing::warn!(room = ?update.room, "speakers not shown in media sessions: {e}");
            }
        }
    });
}

/// A new snapshot for everyone whose session is in `room`.
async fn touch_room(services: &Services, room: &str) -> Result<()> {
    let users = store::users_in_room(&services.db, room).await?;
    if users.is_empty() {
        return Ok(());
    }
    let mut unit = Unit::begin(services).await;
    for user in &users {
        let _ = unit.feed(user, Input::Touch).await?;
    }
    unit.commit(None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_count_and_silence_forgets_the_room() {
        let s = Speaking::default();
        assert!(!s.set("dm_1", vec![]), "nobody spoke before: no change");
        assert!(s.set("dm_1", vec!["a".into()]));
        assert!(
            !s.set("dm_1", vec!["a".into()]),
            "the same speakers are no change"
        );
        assert!(s.is_speaking("dm_1", "a") && !s.is_speaking("dm_1", "b"));
        assert!(!s.is_speaking("dm_2", "a"));
        assert!(s.set("dm_1", vec!["b".into(), "a".into()]));
        assert!(s.set("dm_1", vec![]));
        assert!(!s.is_speaking("dm_1", "a"));
    }
}
