//! Who is speaking, in the snapshots: the media plane's speaker updates (the embedded SFU's
//! active speakers; a remote LiveKit server sends none) are kept per room in memory — speaking
//! is momentary, not worth a row — and every user whose session is in that room gets a new
//! snapshot (a version bump, like any other change of its participants).
//!
//! Voice and video channels show who speaks to everyone who can see the channel, also those
//! not in it: `VOICE_SPEAKING {channelId, userIds}` (user ids, loudest first; empty when nobody
//! speaks), at most one per channel per [`VOICE_SPEAKING_INTERVAL_MS`] — a change inside that
//! interval is held and sent when it ends (the last one wins), so the final state always arrives.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast::error::RecvError;

use super::machine::Input;
use super::store;
use super::unit::Unit;
use crate::app::Services;
use crate::error::Result;
use crate::realtime::hub::{Audience, GatewayEvent};
use crate::voice;

/// The gateway event of who speaks in a voice or video channel.
pub const VOICE_SPEAKING: &str = "VOICE_SPEAKING";
/// The least time between two `VOICE_SPEAKING` of one channel.
pub const VOICE_SPEAKING_INTERVAL_MS: i64 = 250;

/// The rate limit of `VOICE_SPEAKING`, per room, on instants it is given (pure).
#[derive(Debug, Default)]
pub struct Throttle {
    rooms: HashMap<String, Sent>,
}

#[derive(Debug)]
struct Sent {
    at: i64,
    /// The change held until the interval ends.
    held: Option<Vec<String>>,
}

impl Throttle {
    /// A room's speakers changed at `now`: `Some` to send now, `None` when held for later.
    pub fn offer(&mut self, room: &str, speaking: Vec<String>, now: i64) -> Option<Vec<String>> {
        match self.rooms.entry(room.to_owned()) {
            Entry::Vacant(v) => {
                v.insert(Sent {
                    at: now,
                    held: None,
                });
                Some(speaking)
            }
            Entry::Occupied(mut o) => {
                let sent = o.get_mut();
                if now >= sent.at.saturating_add(VOICE_SPEAKING_INTERVAL_MS) && sent.held.is_none()
                {
                    sent.at = now;
                    Some(speaking)
                } else {
                    sent.held = Some(speaking);
                    None
                }
            }
        }
    }

    /// When the earliest held change is due.
    pub fn next_due(&self) -> Option<i64> {
        self.rooms
            .values()
            .filter(|s| s.held.is_some())
            .map(|s| s.at.saturating_add(VOICE_SPEAKING_INTERVAL_MS))
            .min()
    }

    /// The held changes due by `now`, to send; rooms quiet for a whole interval are forgotten.
    pub fn due(&mut self, now: i64) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        self.rooms.retain(|room, sent| {
            let end = sent.at.saturating_add(VOICE_SPEAKING_INTERVAL_MS);
            if end > now {
                return true;
            }
            match sent.held.take() {
                Some(speaking) => {
                    sent.at = now;
                    out.push((room.clone(), speaking));
                    true
                }
                None => false,
            }
        });
        out
    }
}

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
        let mut throttle = Throttle::default();
        loop {
            let received = match throttle.next_due() {
                Some(due) => tokio::select! {
                    r = updates.recv() => Some(r),
                    () = services.clock.sleep_until_ms(due) => None,
                },
                None => Some(updates.recv().await),
            };
            let update = match received {
                None => {
                    for (room, speaking) in throttle.due(services.clock.now_ms()) {
                        announce_channel(&services, &room, speaking).await;
                    }
                    continue;
                }
                Some(Ok(u)) => u,
                // Fell behind: later updates carry the whole set again, so skipping is safe.
                Some(Err(RecvError::Lagged(_))) => continue,
                Some(Err(RecvError::Closed)) => return,
            };
            if voice::channel_of_room(&update.room).is_some()
                && let Some(speaking) = throttle.offer(
                    &update.room,
                    update.speaking.clone(),
                    services.clock.now_ms(),
                )
            {
                announce_channel(&services, &update.room, speaking).await;
            }
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

/// `VOICE_SPEAKING` to everyone who sees the channel of `room`.
async fn announce_channel(services: &Services, room: &str, speaking: Vec<String>) {
    let Some(channel) = voice::channel_of_room(room) else {
        return;
    };
    match voice::apply::audience(&services.db, channel).await {
        Ok(users) => services.hub.publish(
            Audience::Users(users),
            GatewayEvent::new(
                VOICE_SPEAKING,
                serde_json::json!({"channelId": channel, "userIds": speaking}),
            ),
        ),
        Err(e) => tracing::warn!(room = ?room, "speakers not announced: {e}"),
    }
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

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn voice_speaking_is_sent_at_most_once_per_interval_and_the_last_change_arrives() {
        let mut t = Throttle::default();
        let i = VOICE_SPEAKING_INTERVAL_MS;
        assert_eq!(t.offer("vc_a", ids(&["u1"]), 1_000), Some(ids(&["u1"])));
        assert_eq!(t.next_due(), None, "nothing held");
        // another room is limited on its own
        assert_eq!(t.offer("vc_b", ids(&["u9"]), 1_001), Some(ids(&["u9"])));
        // two changes inside the interval: held, the last wins
        assert_eq!(t.offer("vc_a", ids(&["u1", "u2"]), 1_010), None);
        assert_eq!(t.offer("vc_a", ids(&[]), 1_020), None);
        assert_eq!(t.next_due(), Some(1_000 + i));
        assert_eq!(t.due(1_000 + i - 1), vec![], "not before the interval ends");
        assert_eq!(t.due(1_000 + i), vec![("vc_a".to_owned(), ids(&[]))]);
        // just sent (the held one): the next change waits a whole interval again
        assert_eq!(t.offer("vc_a", ids(&["u3"]), 1_000 + i + 1), None);
        assert_eq!(t.next_due(), Some(1_000 + 2 * i));
        assert_eq!(
            t.due(1_000 + 2 * i),
            vec![("vc_a".to_owned(), ids(&["u3"]))]
        );
        // after a quiet interval the room is forgotten and a change goes out at once
        assert_eq!(t.due(1_000 + 3 * i), vec![]);
        assert_eq!(
            t.offer("vc_a", ids(&["u4"]), 1_000 + 3 * i + 5),
            Some(ids(&["u4"]))
        );
        // a change after the interval with nothing held goes out at once too
        assert_eq!(
            t.offer("vc_a", ids(&["u5"]), 1_000 + 4 * i + 5),
            Some(ids(&["u5"]))
        );
    }
}
