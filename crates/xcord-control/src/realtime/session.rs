//! Gateway sessions: one per identified connection, outliving its WebSocket for a resume window.
//! A session's task owns its hub queue, numbers every event (`s`), keeps the last
//! `REPLAY_BUFFER` of them, and forwards them to the attached socket. A resuming socket gets
//! every event after the sequence it last saw, or `Gap` when those are no longer buffered (the
//! client then identifies again and gets a fresh snapshot).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::hub::{ConnectionId, GatewayEvent, Hub};
use crate::tasks::Tasks;

/// Events kept for resuming.
pub const REPLAY_BUFFER: usize = 1000;
/// How long a session without a socket stays resumable.
pub const RESUME_WINDOW: Duration = Duration::from_secs(120);

/// What kind of client a connection is (the owner-window choice prefers `main`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    Main,
    Overlay,
    Mobile,
}

/// A numbered event on its way to a socket.
#[derive(Clone, Debug)]
pub struct Sequenced {
    pub seq: u64,
    pub event: Arc<GatewayEvent>,
}

/// Why a resume was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ResumeError {
    UnknownSession,
    WrongUser,
    Gap,
}

enum Command {
    Attach {
        socket: mpsc::Sender<Sequenced>,
        after: u64,
        reply: oneshot::Sender<Result<u64, ResumeError>>,
    },
    Detach,
    /// The account session ended (log-out): end this gateway session now.
    Close,
}

/// A live gateway session, as the registry knows it.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: String,
    pub user_id: String,
    pub kind: ConnectionKind,
    /// The account session (bearer token hash) it was opened with; it ends with it.
    pub token_hash: String,
    /// Its queue at the hub (for events to this connection only).
    pub hub_id: ConnectionId,
    commands: mpsc::UnboundedSender<Command>,
}

impl SessionHandle {
    /// Attaches a socket; events after `after` are replayed to it first. Returns how many.
    pub async fn attach(
        &self,
        socket: mpsc::Sender<Sequenced>,
        after: u64,
    ) -> Result<u64, ResumeError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Attach {
                socket,
                after,
                reply,
            })
            .map_err(|_| ResumeError::UnknownSession)?;
        rx.await.map_err(|_| ResumeError::UnknownSession)?
    }

    pub fn detach(&self) {
        let _ = self.commands.send(Command::Detach);
    }

    /// Ends the session and closes its socket.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// All gateway sessions of this process. Session tasks belong to `tasks` and end at its
/// shutdown signal.
#[derive(Clone, Default)]
pub struct Sessions {
    by_id: Arc<Mutex<HashMap<String, SessionHandle>>>,
    tasks: Tasks,
}

impl Sessions {
    pub fn new(tasks: Tasks) -> Self {
        Self {
            by_id: Arc::default(),
            tasks,
        }
    }

    /// Starts a session for `user_id`, registered with the hub from this moment on, opened with
    /// the account session `token_hash`, which ends in `lifetime`.
    pub fn start(
        &self,
        hub: Arc<Hub>,
        user_id: &str,
        kind: ConnectionKind,
        token_hash: &str,
        lifetime: Duration,
    ) -> SessionHandle {
        let (hub_id, events) = hub.connect(user_id);
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = SessionHandle {
            id: crate::db::new_id(),
            user_id: user_id.to_owned(),
            kind,
            token_hash: token_hash.to_owned(),
            hub_id,
            commands: tx,
        };
        if let Ok(mut map) = self.by_id.lock() {
            map.insert(handle.id.clone(), handle.clone());
        }
        let shutdown = self.tasks.shutdown_signal();
        self.tasks.spawn(run(
            self.clone(),
            hub,
            hub_id,
            handle.clone(),
            events,
            rx,
            shutdown,
            lifetime,
        ));
        handle
    }

    pub fn get(&self, id: &str) -> Option<SessionHandle> {
        self.by_id.lock().ok()?.get(id).cloned()
    }

    /// Live sessions of a user.
    pub fn of_user(&self, user_id: &str) -> Vec<SessionHandle> {
        self.by_id
            .lock()
            .map(|m| {
                m.values()
                    .filter(|s| s.user_id == user_id)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends every gateway session opened with the account session `token_hash` (log-out).
    pub fn close_token(&self, token_hash: &str) {
        let matching: Vec<SessionHandle> = self
            .by_id
            .lock()
            .map(|m| {
                m.values()
                    .filter(|s| s.token_hash == token_hash)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for s in matching {
            s.close();
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut map) = self.by_id.lock() {
            map.remove(id);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    sessions: Sessions,
    hub: Arc<Hub>,
    hub_id: ConnectionId,
    handle: SessionHandle,
    mut events: mpsc::Receiver<GatewayEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    shutdown: tokio_util::sync::CancellationToken,
    lifetime: Duration,
) {
    let account_expiry = tokio::time::sleep(lifetime);
    tokio::pin!(account_expiry);
    let mut seq: u64 = 0;
    let mut buffer: VecDeque<Sequenced> = VecDeque::with_capacity(64);
    let mut socket: Option<mpsc::Sender<Sequenced>> = None;
    let expiry = tokio::time::sleep(RESUME_WINDOW);
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                seq += 1;
                let item = Sequenced { seq, event: Arc::new(event) };
                if buffer.len() == REPLAY_BUFFER {
                    buffer.pop_front();
                }
                buffer.push_back(item.clone());
                if let Some(tx) = &socket
                    && tx.try_send(item).is_err()
                {
                    socket = None;
                    expiry.as_mut().reset(tokio::time::Instant::now() + RESUME_WINDOW);
                }
            }
            command = commands.recv() => match command {
                Some(Command::Attach { socket: tx, after, reply }) => {
                    let oldest = buffer.front().map_or(seq + 1, |e| e.seq);
                    if after > seq || after + 1 < oldest {
                        let _ = reply.send(Err(ResumeError::Gap));
                        continue;
                    }
                    let mut replayed = 0;
                    for item in buffer.iter().filter(|e| e.seq > after) {
                        if tx.try_send(item.clone()).is_err() {
                            break;
                        }
                        replayed += 1;
                    }
                    socket = Some(tx);
                    let _ = reply.send(Ok(replayed));
                }
                Some(Command::Detach) => {
                    socket = None;
                    expiry.as_mut().reset(tokio::time::Instant::now() + RESUME_WINDOW);
                }
                Some(Command::Close) | None => break,
            },
            _ = &mut expiry, if socket.is_none() => break,
            () = shutdown.cancelled() => break,
            () = &mut account_expiry => break,
        }
    }
    hub.disconnect(&handle.user_id, hub_id);
    sessions.remove(&handle.id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::hub::Audience;

    const DAY: Duration = Duration::from_secs(86_400);

    #[tokio::test]
    async fn numbers_events_and_replays_after_a_sequence() {
        let hub = Arc::new(Hub::default());
        let sessions = Sessions::default();
        let s = sessions.start(hub.clone(), "alice", ConnectionKind::Main, "t1", DAY);
        let (tx, mut rx) = mpsc::channel(16);
        assert_eq!(s.attach(tx, 0).await, Ok(0));
        for i in 0..3 {
            hub.publish(Audience::User("alice".into()), GatewayEvent::new("E", i));
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(rx.recv().await.map(|e| e.seq));
        }
        assert_eq!(got, vec![Some(1), Some(2), Some(3)]);
        // the socket goes away; two more events arrive meanwhile
        s.detach();
        hub.publish(Audience::User("alice".into()), GatewayEvent::new("E", 3));
        hub.publish(Audience::User("alice".into()), GatewayEvent::new("E", 4));
        tokio::task::yield_now().await;
        let (tx2, mut rx2) = mpsc::channel(16);
        let resumed = sessions.get(&s.id);
        let replayed = match resumed {
            Some(h) => h.attach(tx2, 2).await,
            None => Err(ResumeError::UnknownSession),
        };
        assert_eq!(replayed, Ok(3));
        let seqs: Vec<u64> = std::iter::from_fn(|| rx2.try_recv().ok().map(|e| e.seq)).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        // a sequence from the future is a gap
        let (tx3, _rx3) = mpsc::channel(16);
        assert_eq!(s.attach(tx3, 99).await, Err(ResumeError::Gap));
    }

    #[tokio::test]
    async fn too_old_a_sequence_is_a_gap() {
        let hub = Arc::new(Hub::default());
        let sessions = Sessions::default();
        let s = sessions.start(hub.clone(), "bob", ConnectionKind::Overlay, "t2", DAY);
        let total = REPLAY_BUFFER + 5;
        for i in 0..total {
            hub.publish(Audience::User("bob".into()), GatewayEvent::new("E", i));
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Attach at the newest sequence: this proves the session has numbered every event
        // (attaching after a sequence it has not reached is also a gap, which must not be what
        // the check below sees).
        let (tx, _rx) = mpsc::channel(2048);
        let newest = total as u64;
        let mut attached = Err(ResumeError::Gap);
        for _ in 0..1000 {
            attached = s.attach(tx.clone(), newest).await;
            if attached.is_ok() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(attached, Ok(0));
        s.detach();
        // Everything after 1 is no longer buffered; after the oldest kept one it still is.
        let (tx, _rx) = mpsc::channel(2048);
        assert_eq!(s.attach(tx.clone(), 1).await, Err(ResumeError::Gap));
        let oldest_kept = newest - REPLAY_BUFFER as u64 + 1;
        assert_eq!(
            s.attach(tx, oldest_kept - 1).await,
            Ok(REPLAY_BUFFER as u64)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_detached_session_lives_exactly_the_resume_window() {
        let hub = Arc::new(Hub::default());
        let sessions = Sessions::default();
        let s = sessions.start(hub.clone(), "carol", ConnectionKind::Main, "t3", DAY);
        let (tx, _rx) = mpsc::channel(16);
        assert_eq!(s.attach(tx, 0).await, Ok(0));
        s.detach();
        tokio::task::yield_now().await;
        tokio::time::advance(RESUME_WINDOW - Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
        assert!(
            sessions.get(&s.id).is_some(),
            "gone before the window ended"
        );
        assert_eq!(hub.connections("carol"), 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            sessions.get(&s.id).is_none(),
            "still there after the window"
        );
        assert_eq!(hub.connections("carol"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_every_session() {
        let hub = Arc::new(Hub::default());
        let tasks = Tasks::new();
        let sessions = Sessions::new(tasks.clone());
        let s = sessions.start(hub.clone(), "dave", ConnectionKind::Mobile, "t4", DAY);
        assert!(tasks.shutdown(Duration::from_secs(1)).await);
        assert!(sessions.get(&s.id).is_none());
        assert_eq!(hub.connections("dave"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn closing_a_token_ends_its_sessions_and_their_sockets() {
        let hub = Arc::new(Hub::default());
        let sessions = Sessions::default();
        let a = sessions.start(hub.clone(), "erin", ConnectionKind::Main, "tok-a", DAY);
        let b = sessions.start(hub.clone(), "erin", ConnectionKind::Overlay, "tok-b", DAY);
        let (tx, mut socket) = mpsc::channel(16);
        assert_eq!(a.attach(tx, 0).await, Ok(0));
        sessions.close_token("tok-a");
        assert!(socket.recv().await.is_none(), "the socket's queue closes");
        assert!(sessions.get(&a.id).is_none());
        assert!(
            sessions.get(&b.id).is_some(),
            "another log-in's session stays"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_ends_when_its_account_session_expires() {
        let hub = Arc::new(Hub::default());
        let sessions = Sessions::default();
        let lifetime = Duration::from_secs(60);
        let s = sessions.start(hub.clone(), "fay", ConnectionKind::Main, "tok", lifetime);
        let (tx, mut socket) = mpsc::channel(16);
        assert_eq!(s.attach(tx, 0).await, Ok(0));
        tokio::time::advance(lifetime - Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
        assert!(sessions.get(&s.id).is_some());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(socket.recv().await.is_none());
        assert!(sessions.get(&s.id).is_none());
    }
}
