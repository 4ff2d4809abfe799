//! The hub: domain code publishes `GatewayEvent`s to users; every live gateway connection of
//! those users receives them, in publication order. Connections register per user; a connection
//! whose queue is full or closed is dropped (its client resumes or re-identifies).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::mpsc;

/// An event for clients: a type name (`MESSAGE_CREATE`, `VOICE_STATE_UPDATE`, …) and its data.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GatewayEvent {
    #[serde(rename = "t")]
    pub kind: String,
    #[serde(rename = "d")]
    pub data: serde_json::Value,
}

impl GatewayEvent {
    pub fn new(kind: &str, data: impl Serialize) -> Self {
        Self {
            kind: kind.to_owned(),
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Who receives an event.
#[derive(Clone, Debug)]
pub enum Audience {
    User(String),
    Users(Vec<String>),
}

/// Per-connection queue capacity; beyond it the connection is dropped.
pub const CONNECTION_QUEUE: usize = 1024;

pub type ConnectionId = u64;

#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: ConnectionId,
    by_user: HashMap<String, Vec<(ConnectionId, mpsc::Sender<GatewayEvent>)>>,
}

impl Hub {
    /// Registers a connection of `user_id`; events for the user arrive on the returned receiver.
    pub fn connect(&self, user_id: &str) -> (ConnectionId, mpsc::Receiver<GatewayEvent>) {
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let Ok(mut inner) = self.inner.lock() else {
            return (0, rx);
        };
        inner.next_id += 1;
        let id = inner.next_id;
        inner
            .by_user
            .entry(user_id.to_owned())
            .or_default()
            .push((id, tx));
        (id, rx)
    }

    pub fn disconnect(&self, user_id: &str, id: ConnectionId) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some(conns) = inner.by_user.get_mut(user_id)
        {
            conns.retain(|(c, _)| *c != id);
            if conns.is_empty() {
                inner.by_user.remove(user_id);
            }
        }
    }

    /// Number of live connections of a user.
    pub fn connections(&self, user_id: &str) -> usize {
        self.inner
            .lock()
            .map(|i| i.by_user.get(user_id).map_or(0, Vec::len))
            .unwrap_or(0)
    }

    /// Delivers `event` to one connection of `user_id` only (whether it was still live).
    pub fn publish_to(&self, user_id: &str, id: ConnectionId, event: GatewayEvent) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        let Some(conns) = inner.by_user.get_mut(user_id) else {
            return false;
        };
        let mut delivered = false;
        conns.retain(|(c, tx)| {
            if *c != id {
                return true;
            }
            delivered = tx.try_send(event.clone()).is_ok();
            delivered
        });
        delivered
    }

    /// Delivers `event` to every live connection of the audience.
    pub fn publish(&self, audience: Audience, event: GatewayEvent) {
        let users = match audience {
            Audience::User(u) => vec![u],
            Audience::Users(us) => us,
        };
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        for user in users {
            if let Some(conns) = inner.by_user.get_mut(&user) {
                conns.retain(|(_, tx)| tx.try_send(event.clone()).is_ok());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_every_connection_of_the_audience_only() {
        let hub = Hub::default();
        let (_, mut a1) = hub.connect("alice");
        let (a2_id, mut a2) = hub.connect("alice");
        let (_, mut b) = hub.connect("bob");
        hub.publish(Audience::User("alice".into()), GatewayEvent::new("PING", 1));
        assert_eq!(a1.try_recv().map(|e| e.kind).ok().as_deref(), Some("PING"));
        assert_eq!(a2.try_recv().map(|e| e.kind).ok().as_deref(), Some("PING"));
        assert!(b.try_recv().is_err());
        hub.disconnect("alice", a2_id);
        assert_eq!(hub.connections("alice"), 1);
        hub.publish(
            Audience::Users(vec!["alice".into(), "bob".into()]),
            GatewayEvent::new("X", "d"),
        );
        assert!(a1.try_recv().is_ok() && b.try_recv().is_ok());
        drop(b);
        hub.publish(Audience::User("bob".into()), GatewayEvent::new("Y", ()));
        assert_eq!(hub.connections("bob"), 0);
    }
}
