//! The SFU's event stream (LiveKit's webhook events): emitted by the engine in order, copied to
//! every subscriber (the webhook notifier, in-process control planes). Publishing never blocks
//! the media thread: subscriber queues are unbounded and a gone subscriber is dropped.
//!
//! Beside it, for in-process control planes only (LiveKit has no webhook for it): who is
//! speaking in each room, each time that changes ([`SpeakersUpdate`]), on a bounded broadcast
//! where a slow subscriber loses old updates rather than slowing the engine.

use std::sync::{Arc, Mutex};

use livekit_protocol as proto;
use tokio::sync::mpsc;

/// One event, shared between subscribers.
pub type Event = Arc<proto::WebhookEvent>;

/// Names of the events xcord emits.
pub mod names {
    pub const ROOM_STARTED: &str = "room_started";
    pub const ROOM_FINISHED: &str = "room_finished";
    pub const PARTICIPANT_JOINED: &str = "participant_joined";
    pub const PARTICIPANT_LEFT: &str = "participant_left";
    pub const PARTICIPANT_CONNECTION_ABORTED: &str = "participant_connection_aborted";
    pub const TRACK_PUBLISHED: &str = "track_published";
    pub const TRACK_UNPUBLISHED: &str = "track_unpublished";
}

/// Who speaks in a room now (identities, loudest first); sent when that set changes.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeakersUpdate {
    pub room: String,
    pub speaking: Vec<String>,
}

/// Speaker updates a subscriber may fall behind by before it loses the oldest.
const SPEAKERS_BACKLOG: usize = 256;

#[derive(Clone)]
pub struct EventBus {
    subscribers: Arc<Mutex<Vec<mpsc::UnboundedSender<Event>>>>,
    speakers: tokio::sync::broadcast::Sender<Arc<SpeakersUpdate>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            subscribers: Arc::default(),
            speakers: tokio::sync::broadcast::channel(SPEAKERS_BACKLOG).0,
        }
    }
}

impl EventBus {
    /// A new receiver of every event published from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
        rx
    }

    /// A new receiver of speaker updates from now on.
    pub fn subscribe_speakers(&self) -> tokio::sync::broadcast::Receiver<Arc<SpeakersUpdate>> {
        self.speakers.subscribe()
    }

    /// Hands a speaker update to its subscribers (none is fine).
    pub fn publish_speakers(&self, update: SpeakersUpdate) {
        let _ = self.speakers.send(Arc::new(update));
    }

    /// Stamps `event` with a fresh id and time and hands it to every subscriber.
    pub fn publish(&self, mut event: proto::WebhookEvent) {
        event.id = crate::ids::event_id();
        event.created_at = crate::time::unix_ms() / 1000;
        let event = Arc::new(event);
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.retain(|s| s.send(event.clone()).is_ok());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_gets_every_event_in_order_with_unique_ids() {
        let bus = EventBus::default();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for name in [names::ROOM_STARTED, names::ROOM_FINISHED] {
            bus.publish(proto::WebhookEvent {
                event: name.into(),
                ..Default::default()
            });
        }
        let got: Vec<_> = std::iter::from_fn(|| a.try_recv().ok()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].event, names::ROOM_STARTED);
        assert_eq!(got[1].event, names::ROOM_FINISHED);
        assert!(got[0].id.starts_with("EV_") && got[0].id != got[1].id);
        assert!(got[0].created_at > 1_700_000_000);
        assert_eq!(b.try_recv().unwrap().id, got[0].id);
        drop(b);
        bus.publish(proto::WebhookEvent::default());
        assert!(a.try_recv().is_ok());
    }
}
