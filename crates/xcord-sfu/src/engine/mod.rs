//! The media engine: one thread that owns every room, participant, str0m peer connection and the
//! media socket. Signalling tasks talk to it over a bounded command queue; it answers each
//! participant over that participant's outbound signal queue, never waiting on either. Nothing
//! here takes a lock.
//!
//! The loop waits on three things: the socket, the command channel and the earliest peer
//! deadline (a heap of each peer's own next timeout, never a poll of every peer).

mod admin;
mod data;
mod dispatch;
mod forward;
mod isolate;
mod join;
mod participant;
mod peer;
mod publish;
mod quality;
mod revoke;
#[cfg(test)]
mod robustness;
mod room;
mod sdp;
mod single_pc;
mod speakers;
mod subscribe;
#[cfg(test)]
mod testing;
#[cfg(test)]
pub(crate) mod testing_handle;
mod timers;
mod udp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use slotmap::SlotMap;
use tokio::sync::{mpsc, oneshot};

use crate::config::SfuConfig;
use crate::events::EventBus;
pub use admin::RoomServiceError;
pub use join::{JoinError, JoinRequest, Joined};
use participant::Participant;
use peer::Peer;
use room::Room;
use subscribe::DownTrack;
use timers::Timers;
use udp::UdpIo;

slotmap::new_key_type! {
    /// A participant in some room.
    pub struct ParticipantKey;
    /// One str0m peer connection (publisher or subscriber side of a participant).
    pub struct PeerKey;
    /// A published track.
    pub struct TrackKey;
    /// One subscriber's subscription to a track.
    pub struct DownKey;
}

/// What the engine sends to a participant's signal connection.
#[derive(Debug)]
pub enum Outbound {
    /// A signal message, written as one binary frame.
    Signal(Box<proto::SignalResponse>),
    /// Close the connection after the queued messages.
    Close,
    /// The participant's name, metadata, attributes or permission changed: tokens refreshed
    /// from now on carry these (and a permission change sends one at once).
    Grants(Box<LiveGrants>),
}

/// What a participant is now, as its refreshed tokens must say.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveGrants {
    pub name: String,
    pub metadata: String,
    pub attributes: std::collections::HashMap<String, String>,
    pub permission: proto::ParticipantPermission,
}

/// Queue of a participant's outbound signal messages.
pub type SignalSender = mpsc::Sender<Outbound>;

/// Capacity of a participant's outbound signal queue; a client that lets it fill up is dropped.
pub const SIGNAL_QUEUE: usize = 1024;

/// Capacity of the engine's command queue. When it is full, async callers (joins, signal
/// requests, room service calls) wait for room, which slows the signal connections feeding it,
/// not the media thread; a caller that cannot wait gets [`Unavailable`].
pub const COMMAND_QUEUE: usize = 4096;
/// Commands handled per wake-up before the socket and timers get a turn.
const COMMAND_BATCH: usize = 256;

/// The engine did not take a command: it has stopped, or its queue is full and the caller could
/// not wait.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("media engine unavailable")]
pub struct Unavailable;

enum Command {
    Join(Box<JoinRequest>, oneshot::Sender<Result<Joined, JoinError>>),
    Signal(ParticipantKey, Box<proto::signal_request::Message>),
    Disconnected(ParticipantKey, proto::DisconnectReason),
    /// Runs a closure on the engine thread (the room service API).
    Call(Box<dyn FnOnce(&mut Engine) + Send>),
}

/// Cheap, cloneable access to the engine thread.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    media_addr: SocketAddr,
}

impl EngineHandle {
    /// Admits a participant; on success its JoinResponse is already queued on `req.out`.
    pub async fn join(&self, req: JoinRequest) -> Result<Joined, JoinError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Join(Box::new(req), tx)).await?;
        rx.await.map_err(|_| JoinError::Unavailable)?
    }

    /// Hands a signal request from a participant to the engine.
    pub async fn signal(
        &self,
        participant: ParticipantKey,
        msg: proto::signal_request::Message,
    ) -> Result<(), Unavailable> {
        self.send(Command::Signal(participant, Box::new(msg))).await
    }

    /// Tells the engine the participant's signal connection is gone, and why.
    pub async fn disconnected(
        &self,
        participant: ParticipantKey,
        reason: proto::DisconnectReason,
    ) -> Result<(), Unavailable> {
        self.send(Command::Disconnected(participant, reason)).await
    }

    /// [`EngineHandle::disconnected`] for callers that cannot wait: fails if the queue is full.
    pub fn try_disconnected(
        &self,
        participant: ParticipantKey,
        reason: proto::DisconnectReason,
    ) -> Result<(), Unavailable> {
        self.tx
            .try_send(Command::Disconnected(participant, reason))
            .map_err(|_| Unavailable)
    }

    /// Runs `f` on the engine thread and returns its result.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> R + Send + 'static,
    ) -> Result<R, Unavailable> {
        let (tx, rx) = oneshot::channel();
        let job: Box<dyn FnOnce(&mut Engine) + Send> = Box::new(move |engine| {
            let _ = tx.send(f(engine));
        });
        self.send(Command::Call(job)).await?;
        rx.await.map_err(|_| Unavailable)
    }

    /// Queues a command, waiting while the queue is full.
    async fn send(&self, cmd: Command) -> Result<(), Unavailable> {
        self.tx.send(cmd).await.map_err(|_| Unavailable)
    }

    /// The address the media socket is bound to.
    pub fn media_addr(&self) -> SocketAddr {
        self.media_addr
    }
}

/// Binds the media socket and starts the engine thread.
pub fn spawn(cfg: Arc<SfuConfig>, events: EventBus) -> std::io::Result<EngineHandle> {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("xcord-media".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let bind_ip = match cfg.node_ips.as_slice() {
                    [only] if cfg.udp_bind.is_unspecified() => *only,
                    _ => cfg.udp_bind,
                };
                let udp = match UdpIo::bind(SocketAddr::new(bind_ip, cfg.udp_port)) {
                    Ok(u) => u,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(udp.local_addr()));
                // A panic here is a bug (str0m fails fast on broken invariants). Media without its
                // engine would leave every room silently dead, so the process exits and its
                // supervisor restarts it; clients reconnect.
                let engine = std::panic::AssertUnwindSafe(Engine::new(cfg, udp, events).run(rx));
                if futures_util::FutureExt::catch_unwind(engine).await.is_err() {
                    tracing::error!(
                        "the media engine panicked; exiting so the server can be restarted"
                    );
                    std::process::exit(70);
                }
            });
        })?;
    let media_addr = ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("media thread ended during start-up"))??;
    Ok(EngineHandle { tx, media_addr })
}

/// Largest datagram read from the socket.
const MAX_DATAGRAM: usize = 2048;
/// Datagrams read per wake-up before commands and timers get a turn.
const RECV_BATCH: usize = 64;
/// How often rooms and connection deadlines are checked, at most (see [`housekeeping_period`]).
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How often they are checked, at least.
const MIN_HOUSEKEEPING: Duration = Duration::from_millis(10);

/// How often rooms and connection deadlines are checked: once a second, or often enough that
/// nothing outlives the shortest configured room or connection timeout by more than a quarter of
/// it (tests configure timeouts of a few hundred milliseconds).
fn housekeeping_period(cfg: &SfuConfig) -> Duration {
    [
        cfg.empty_timeout,
        cfg.departure_timeout,
        cfg.connect_timeout,
    ]
    .into_iter()
    .map(|t| t / 4)
    .fold(HOUSEKEEPING, Duration::min)
    .max(MIN_HOUSEKEEPING)
}

pub struct Engine {
    cfg: Arc<SfuConfig>,
    udp: UdpIo,
    rooms: HashMap<String, Room>,
    participants: SlotMap<ParticipantKey, Participant>,
    peers: SlotMap<PeerKey, Peer>,
    tracks: SlotMap<TrackKey, publish::Track>,
    downs: SlotMap<DownKey, DownTrack>,
    by_ufrag: HashMap<String, PeerKey>,
    by_addr: HashMap<SocketAddr, PeerKey>,
    timers: Timers,
    /// Peers written to since their last drain.
    dirty: Vec<PeerKey>,
    /// Local ICE host candidates (one per node IP, all on the media port).
    candidates: Vec<str0m::Candidate>,
    events: EventBus,
    /// Identities removed for cause, refused with their old tokens.
    revoked: revoke::Revocations,
}

impl Engine {
    fn new(cfg: Arc<SfuConfig>, udp: UdpIo, events: EventBus) -> Self {
        let port = udp.local_addr().port();
        let candidates = cfg
            .node_ips
            .iter()
            .filter_map(|ip| {
                str0m::Candidate::host(SocketAddr::new(*ip, port), str0m::net::Protocol::Udp)
                    .map_err(|e| tracing::warn!(%ip, "unusable candidate address: {e}"))
                    .ok()
            })
            .collect();
        Self {
            cfg,
            udp,
            rooms: HashMap::new(),
            participants: SlotMap::with_key(),
            peers: SlotMap::with_key(),
            tracks: SlotMap::with_key(),
            downs: SlotMap::with_key(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            timers: Timers::default(),
            dirty: Vec::new(),
            candidates,
            events,
            revoked: revoke::Revocations::default(),
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut housekeeping = tokio::time::interval(housekeeping_period(&self.cfg));
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut speakers_tick = tokio::time::interval(speakers::SPEAKER_INTERVAL);
        speakers_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut quality_tick = tokio::time::interval(quality::QUALITY_INTERVAL);
        quality_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next_timer = self
                .timers
                .next()
                .unwrap_or_else(|| Instant::now() + HOUSEKEEPING);
            tokio::select! {
                readable = self.udp.readable() => {
                    if let Err(e) = readable {
                        tracing::error!("media socket failed: {e}");
                        return;
                    }
                    self.read_datagrams(&mut buf);
                }
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { return };
                    self.on_command(cmd);
                    for _ in 1..COMMAND_BATCH {
                        let Ok(cmd) = commands.try_recv() else { break };
                        self.on_command(cmd);
                    }
                }
                _ = tokio::time::sleep_until(next_timer.into()) => {
                    self.fire_timers(Instant::now());
                }
                _ = housekeeping.tick() => {
                    self.isolated("housekeeping", None, |e| e.housekeeping(Instant::now()));
                }
                _ = speakers_tick.tick() => {
                    self.isolated("active speakers", None, Engine::update_speakers);
                }
                _ = quality_tick.tick() => {
                    self.isolated("connection quality", None, Engine::update_quality);
                }
            }
            self.flush_dirty(Instant::now());
        }
    }

    fn read_datagrams(&mut self, buf: &mut [u8]) {
        for _ in 0..RECV_BATCH {
            match self.udp.try_recv(buf) {
                Ok(r) => {
                    let now = Instant::now();
                    if let Some(data) = buf.get(..r.len) {
                        let owner = self
                            .by_addr
                            .get(&r.source)
                            .and_then(|peer| self.owner_of(*peer));
                        self.isolated("datagram", owner, |e| {
                            e.on_datagram(now, r.source, r.destination, data)
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors surface here on Linux; they concern one peer, not the socket.
                    tracing::debug!("media recv: {e}");
                }
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Join(req, reply) => {
                // A panic drops `reply`: the caller sees the engine as unavailable.
                self.isolated("join", None, |e| {
                    let _ = reply.send(e.join(*req));
                });
            }
            Command::Signal(participant, msg) => {
                self.isolated("signal request", Some(participant), |e| {
                    e.on_signal(participant, *msg)
                });
            }
            Command::Disconnected(participant, reason) => {
                self.isolated("departure", None, |e| {
                    e.remove_participant(participant, reason, None)
                });
            }
            Command::Call(job) => {
                self.isolated("room service call", None, job);
            }
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some((at, peer_key)) = self.timers.pop_due(now) {
            let Some(peer) = self.peers.get_mut(peer_key) else {
                continue;
            };
            if peer.scheduled != Some(at) {
                continue; // superseded by an earlier entry
            }
            peer.scheduled = None;
            if peer.deadline > now {
                peer.scheduled = Some(peer.deadline);
                self.timers.schedule(peer_key, peer.deadline);
                continue;
            }
            let owner = peer.participant;
            self.isolated("peer timeout", Some(owner), |e| {
                if let Some(peer) = e.peers.get_mut(peer_key)
                    && let Err(err) = peer.rtc.handle_input(str0m::Input::Timeout(now))
                {
                    tracing::debug!("peer timeout input: {err}");
                }
                e.drain(peer_key, now);
            });
        }
    }

    /// Marks a peer as written to; it is drained before the loop sleeps again.
    fn mark_dirty(&mut self, peer_key: PeerKey) {
        if let Some(peer) = self.peers.get_mut(peer_key)
            && !peer.dirty
        {
            peer.dirty = true;
            self.dirty.push(peer_key);
        }
    }

    fn flush_dirty(&mut self, now: Instant) {
        while let Some(peer_key) = self.dirty.pop() {
            let Some(peer) = self.peers.get_mut(peer_key) else {
                continue;
            };
            peer.dirty = false;
            let owner = peer.participant;
            self.isolated("peer output", Some(owner), |e| {
                if let Some(peer) = e.peers.get_mut(peer_key)
                    && let Err(err) = peer.rtc.handle_input(str0m::Input::Timeout(now))
                {
                    tracing::debug!("peer time advance: {err}");
                }
                e.drain(peer_key, now);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyStore;

    #[tokio::test]
    async fn a_full_queue_makes_async_callers_wait_and_others_fail() {
        use futures_util::FutureExt;
        let (tx, mut rx) = mpsc::channel(1);
        let handle = EngineHandle {
            tx,
            media_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let participant = ParticipantKey::default();
        let reason = proto::DisconnectReason::ClientInitiated;
        handle.try_disconnected(participant, reason).unwrap();

        assert_eq!(
            handle.try_disconnected(participant, reason),
            Err(Unavailable)
        );
        let leave = proto::signal_request::Message::Leave(proto::LeaveRequest::default());
        let signal = handle.signal(participant, leave);
        tokio::pin!(signal);
        assert!(signal.as_mut().now_or_never().is_none(), "waits while full");
        rx.recv().await.unwrap();
        assert_eq!(signal.await, Ok(()));

        drop(rx);
        assert_eq!(
            handle.disconnected(participant, reason).await,
            Err(Unavailable)
        );
    }

    #[test]
    fn housekeeping_keeps_up_with_short_timeouts() {
        let mut cfg = SfuConfig::new(KeyStore::default(), Vec::new());
        assert_eq!(housekeeping_period(&cfg), HOUSEKEEPING);
        cfg.departure_timeout = Duration::from_millis(200);
        assert_eq!(housekeeping_period(&cfg), Duration::from_millis(50));
        cfg.empty_timeout = Duration::ZERO;
        assert_eq!(housekeeping_period(&cfg), MIN_HOUSEKEEPING);
    }
}
