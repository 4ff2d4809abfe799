//! The media engine: one thread that owns every room, participant, str0m peer connection and the
//! media socket of its shard (rooms are spread over shards, one engine each: see
//! [`crate::shards`]). Signalling tasks talk to it over a bounded command queue; it answers each
//! participant over that participant's outbound signal queue, never waiting on either. Nothing
//! here takes a lock.
//!
//! The loop waits on three things: the socket, the command channel and the earliest peer
//! deadline (a heap of each peer's own next timeout, never a poll of every peer).

mod admin;
mod bwe;
mod census;
mod data;
mod dispatch;
mod dynacast;
mod forward;
mod framing;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
#[cfg(test)]
pub(crate) mod harness;
#[cfg(test)]
mod harness_tests;
mod isolate;
mod join;
mod participant;
mod peer;
mod publish;
mod quality;
mod red;
mod renumber;
mod resume;
mod revoke;
#[cfg(test)]
mod robustness;
mod room;
mod run;
#[cfg(any(test, feature = "fuzzing"))]
mod sample_offer;
mod sdp;
mod sdp_rewrite;
mod single_pc;
mod speakers;
mod subscribe;
mod tcp;
mod temporal;
#[cfg(any(test, feature = "fuzzing"))]
mod testing;
#[cfg(test)]
pub(crate) mod testing_handle;
mod timers;
mod udp;

use std::collections::{HashMap, VecDeque};
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
pub use resume::{ResumeError, ResumeRequest};
use room::Room;
pub(crate) use run::spawn;
use subscribe::DownTrack;
use timers::Timers;

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

/// The engine did not take a command: it has stopped, or its queue is full and the caller could
/// not wait.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("media engine unavailable")]
pub struct Unavailable;

/// One signal connection of a participant: a resumed participant's older connection reports
/// its departure with an older epoch, which the engine ignores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalKey {
    pub participant: ParticipantKey,
    pub epoch: u32,
}

enum Command {
    Join(Box<JoinRequest>, oneshot::Sender<Result<Joined, JoinError>>),
    Resume(
        Box<ResumeRequest>,
        oneshot::Sender<Result<Joined, ResumeError>>,
    ),
    Signal(ParticipantKey, Box<proto::signal_request::Message>),
    Disconnected(SignalKey, proto::DisconnectReason),
    /// Runs a closure on the engine thread (the room service API).
    Call(Box<dyn FnOnce(&mut Engine) + Send>),
}

/// Cheap, cloneable access to one shard's engine thread.
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

    /// Resumes a participant whose signal connection broke; on success its ReconnectResponse
    /// and the room's state are already queued on `req.out`.
    pub async fn resume(&self, req: ResumeRequest) -> Result<Joined, ResumeError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Resume(Box::new(req), tx))
            .await
            .map_err(|_| ResumeError::Unavailable)?;
        rx.await.map_err(|_| ResumeError::Unavailable)?
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
        signal: SignalKey,
        reason: proto::DisconnectReason,
    ) -> Result<(), Unavailable> {
        self.send(Command::Disconnected(signal, reason)).await
    }

    /// [`EngineHandle::disconnected`] for callers that cannot wait: fails if the queue is full.
    pub fn try_disconnected(
        &self,
        signal: SignalKey,
        reason: proto::DisconnectReason,
    ) -> Result<(), Unavailable> {
        self.tx
            .try_send(Command::Disconnected(signal, reason))
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

/// The ports a shard's run loop binds (0: ephemeral) and then listens on, for the engine's host
/// candidates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MediaPorts {
    pub udp: u16,
    /// The ICE-TCP listener's port; `None` when ICE-TCP is off.
    pub tcp: Option<u16>,
}

/// One UDP host candidate per node IP and, with ICE-TCP on, one passive TCP candidate per node
/// IP (str0m gives TCP host candidates a lower priority, so clients prefer UDP when it works).
fn host_candidates(ips: &[std::net::IpAddr], ports: MediaPorts) -> Vec<str0m::Candidate> {
    let mut out = Vec::new();
    for ip in ips {
        let udp = str0m::Candidate::host(SocketAddr::new(*ip, ports.udp), "udp");
        let tcp = ports.tcp.map(|port| {
            str0m::Candidate::builder()
                .tcp()
                .host(SocketAddr::new(*ip, port))
                .tcptype(str0m::net::TcpType::Passive)
                .build()
        });
        for c in std::iter::once(udp).chain(tcp) {
            match c {
                Ok(c) => out.push(c),
                Err(e) => tracing::warn!(%ip, "unusable candidate address: {e}"),
            }
        }
    }
    out
}

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

/// The engine's state: every room, participant, peer connection and track. It does no I/O and
/// never reads the clock: inputs arrive with the instant they happened (a datagram, a command, a
/// timeout) and outputs are queued — datagrams in [`Engine::poll_transmit`], signal messages on
/// each participant's queue, events on the bus. The run loop ([`run`]) owns the socket and the
/// clock; the test harness drives the same engine on virtual time.
pub struct Engine {
    cfg: Arc<SfuConfig>,
    rooms: HashMap<String, Room>,
    participants: SlotMap<ParticipantKey, Participant>,
    peers: SlotMap<PeerKey, Peer>,
    tracks: SlotMap<TrackKey, publish::Track>,
    downs: SlotMap<DownKey, DownTrack>,
    by_ufrag: HashMap<String, PeerKey>,
    /// Peers by the (protocol, remote address) their datagrams come from: a UDP and a TCP
    /// client may share an address and port.
    by_addr: HashMap<(str0m::net::Protocol, SocketAddr), PeerKey>,
    timers: Timers,
    /// Peers written to since their last drain.
    dirty: Vec<PeerKey>,
    /// Datagrams to send, in order; the run loop empties it after every batch of inputs.
    outbox: VecDeque<str0m::net::Transmit>,
    /// The instant of the input being handled (never read from the clock).
    now: Instant,
    /// When housekeeping, active speakers and connection quality are next due.
    next_housekeeping: Instant,
    next_speakers: Instant,
    next_quality: Instant,
    /// Local ICE host candidates: one per node IP on the media port (UDP) and, with ICE-TCP on,
    /// one passive TCP candidate per node IP on the TCP port.
    candidates: Vec<str0m::Candidate>,
    events: EventBus,
    /// Identities removed for cause, refused with their old tokens.
    revoked: revoke::Revocations,
}

impl Engine {
    /// An engine whose media socket listens on `ports.udp` of every node IP (and, if set, its
    /// ICE-TCP listener on `ports.tcp`), at `now`.
    pub(crate) fn new(
        cfg: Arc<SfuConfig>,
        ports: MediaPorts,
        events: EventBus,
        now: Instant,
    ) -> Self {
        let candidates = host_candidates(&cfg.node_ips, ports);
        let housekeeping = housekeeping_period(&cfg);
        Self {
            cfg,
            rooms: HashMap::new(),
            participants: SlotMap::with_key(),
            peers: SlotMap::with_key(),
            tracks: SlotMap::with_key(),
            downs: SlotMap::with_key(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            timers: Timers::default(),
            dirty: Vec::new(),
            outbox: VecDeque::new(),
            now,
            next_housekeeping: now + housekeeping,
            next_speakers: now + speakers::SPEAKER_INTERVAL,
            next_quality: now + quality::QUALITY_INTERVAL,
            candidates,
            events,
            revoked: revoke::Revocations::default(),
        }
    }

    /// Moves the engine's notion of now forward (inputs may arrive with slightly older instants
    /// than the last one; time never runs backwards inside the engine).
    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// Input: one datagram received on the media socket.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        self.handle_receive(now, str0m::net::Protocol::Udp, source, destination, data);
    }

    /// Input: one datagram received over `proto`: from the media socket (`Protocol::Udp`) or one
    /// RFC 4571 frame from an ICE-TCP connection (`Protocol::Tcp`). str0m answers over the same
    /// protocol, so the transmit says which socket it leaves by.
    pub(crate) fn handle_receive(
        &mut self,
        now: Instant,
        proto: str0m::net::Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        let now = self.advance(now);
        let owner = self
            .by_addr
            .get(&(proto, source))
            .and_then(|peer| self.owner_of(*peer));
        self.isolated("datagram", owner, |e| {
            e.on_datagram(now, proto, source, destination, data)
        });
    }

    /// Input: one command from a signal task or the room service.
    fn handle_command(&mut self, now: Instant, cmd: Command) {
        self.advance(now);
        self.on_command(cmd);
    }

    /// Input: time has reached `now`; runs the peer timeouts and periodic work that are due.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        self.fire_timers(now);
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + housekeeping_period(&self.cfg);
            self.isolated("housekeeping", None, |e| e.housekeeping(now));
        }
        if now >= self.next_speakers {
            self.next_speakers = now + speakers::SPEAKER_INTERVAL;
            self.isolated("active speakers", None, Engine::update_speakers);
        }
        if now >= self.next_quality {
            self.next_quality = now + quality::QUALITY_INTERVAL;
            self.isolated("connection quality", None, Engine::update_quality);
        }
    }

    /// The earliest instant at which [`Engine::handle_timeout`] has work to do.
    pub(crate) fn next_deadline(&self) -> Instant {
        let periodic = self
            .next_housekeeping
            .min(self.next_speakers)
            .min(self.next_quality);
        self.timers.next().map_or(periodic, |t| t.min(periodic))
    }

    /// Ends a batch of inputs: every peer written to since the last flush is polled once, which
    /// queues its datagrams. Forwarding writes each packet into its subscribers' peers and
    /// leaves them dirty; polling them once per batch (not once per packet) is what lets str0m
    /// pace and bundle their output.
    pub(crate) fn flush(&mut self, now: Instant) {
        let now = self.advance(now);
        self.flush_dirty(now);
    }

    /// Output: the next datagram to send, oldest first.
    pub(crate) fn poll_transmit(&mut self) -> Option<str0m::net::Transmit> {
        self.outbox.pop_front()
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
            Command::Resume(req, reply) => {
                self.isolated("resume", None, |e| {
                    let _ = reply.send(e.resume(*req));
                });
            }
            Command::Disconnected(signal, reason) => {
                self.isolated("departure", None, |e| e.on_signal_closed(signal, reason));
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
        let participant = SignalKey {
            participant: ParticipantKey::default(),
            epoch: 0,
        };
        let reason = proto::DisconnectReason::ClientInitiated;
        handle.try_disconnected(participant, reason).unwrap();

        assert_eq!(
            handle.try_disconnected(participant, reason),
            Err(Unavailable)
        );
        let leave = proto::signal_request::Message::Leave(proto::LeaveRequest::default());
        let signal = handle.signal(participant.participant, leave);
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
