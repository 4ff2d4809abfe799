//! xcord's media plane: a selective forwarding unit that speaks LiveKit's signal protocol, so
//! the official LiveKit SDKs connect to it unchanged, and LiveKit's server API (Twirp
//! RoomService, signed webhooks) so LiveKit's server SDKs manage it.
//!
//! [`Sfu::start`] binds the media sockets and starts the engine threads (one per shard, see
//! [`shards`]); [`Sfu::router`] gives the
//! HTTP/WebSocket routes to serve; [`Sfu::set_join_gate`] lets the application refuse joins; [`Sfu::rooms`] and [`Sfu::events`] are the same API for an
//! in-process control plane; [`Sfu::shutdown`] sends everyone away and delivers the last
//! webhooks before the process exits.

pub mod auth;
pub mod config;
mod engine;
#[cfg(feature = "fuzzing")]
pub use engine::fuzzing;
pub mod events;
pub mod gate;
pub mod ids;
pub mod metrics;
pub mod rooms;
pub mod shards;
mod signal;
mod time;
mod twirp;
#[cfg(any(test, feature = "fuzzing"))]
mod twirp_fuzzing;
pub mod webhook;

/// Counts allocations for the per-packet allocation benchmark (`--features alloc-count`).
#[cfg(all(test, feature = "alloc-count"))]
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

use std::sync::Arc;
use std::time::Duration;

pub use config::SfuConfig;
pub use engine::EngineHandle;
use events::EventBus;
use rooms::RoomService;
use shards::MediaShards;
use webhook::WebhookSenders;

/// A running SFU.
pub struct Sfu {
    cfg: Arc<SfuConfig>,
    engine: MediaShards,
    events: EventBus,
    webhooks: Option<WebhookSenders>,
    gate: gate::GateSlot,
    turn: Option<xcord_turn::TurnAddrs>,
}

/// Why [`Sfu::shutdown`] did not finish cleanly.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum ShutdownError {
    /// The media engine has stopped, or did not answer before the deadline: participants were
    /// not told.
    #[error("media engine unavailable: participants were not told")]
    EngineUnavailable,
    /// Webhooks were still being delivered at the deadline; they were abandoned.
    #[error("webhook deliveries abandoned at the shutdown deadline")]
    WebhooksPending,
}

impl Sfu {
    /// Binds the UDP media sockets, starts the media engines (`cfg.media_threads` shards) and,
    /// when configured, webhook delivery. Must be called within a tokio runtime.
    pub fn start(cfg: SfuConfig) -> std::io::Result<Self> {
        let cfg = Arc::new(cfg);
        let events = EventBus::default();
        let webhook_events = events.subscribe();
        let engine = MediaShards::start(cfg.clone(), events.clone())?;
        let media_ports: Vec<u16> = engine.media_addrs().iter().map(|a| a.port()).collect();
        let turn = match &cfg.turn {
            Some(t) => Some(start_turn(&cfg, t, &media_ports)?),
            None => None,
        };
        let webhooks = match cfg.webhooks.clone() {
            Some(webhooks) if !webhooks.urls.is_empty() => {
                webhook::spawn_notifier(webhooks, webhook_events)
            }
            _ => None,
        };
        Ok(Self {
            cfg,
            engine,
            events,
            webhooks,
            gate: gate::GateSlot::default(),
            turn,
        })
    }

    /// Where the embedded TURN server listens, if it runs.
    pub fn turn_addrs(&self) -> Option<xcord_turn::TurnAddrs> {
        self.turn
    }

    /// The signalling routes (`/`, `/rtc`, `/rtc/validate`, `/rtc/v1…`) and the Twirp
    /// RoomService (`/twirp/livekit.RoomService/…`).
    pub fn router(&self) -> axum::Router {
        signal::router(self.cfg.clone(), self.engine.clone(), self.gate.clone())
            .merge(twirp::router(self.cfg.keys.clone(), self.rooms()))
    }

    /// Installs the application's [`gate::JoinGate`], asked before anyone joins (routers built
    /// earlier use it too). False if a gate was installed already.
    pub fn set_join_gate(&self, gate: Arc<dyn gate::JoinGate>) -> bool {
        self.gate.set(gate)
    }

    /// The room service, for in-process callers.
    pub fn rooms(&self) -> RoomService {
        RoomService::new(self.engine.clone())
    }

    /// The event stream (webhook events), for in-process subscribers.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Address of the first shard's media socket (the only one with `media_threads` 1).
    pub fn media_addr(&self) -> std::net::SocketAddr {
        self.engine.all()[0].media_addr()
    }

    /// Address of the media socket of the shard that owns `room`.
    pub fn media_addr_for_room(&self, room: &str) -> std::net::SocketAddr {
        self.engine.for_room(room).media_addr()
    }

    /// Addresses of every shard's media socket, in shard order.
    pub fn media_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.engine.media_addrs()
    }

    pub fn config(&self) -> &SfuConfig {
        &self.cfg
    }

    /// Stops the SFU before the process exits: every participant gets a LeaveRequest with
    /// SERVER_SHUTDOWN and the reconnect action (the SDKs reconnect once the server is back),
    /// every room is closed, and the webhooks published up to then (those departures and
    /// `room_finished`s included) are delivered. Waits at most `deadline` in all; what is still
    /// undelivered then is abandoned.
    ///
    /// The engine keeps running: signal connections accepted afterwards are served as usual, but
    /// their webhooks are no longer delivered.
    pub async fn shutdown(&self, deadline: Duration) -> Result<(), ShutdownError> {
        let until = tokio::time::Instant::now() + deadline;
        let told = tokio::time::timeout_at(until, self.rooms().shutdown()).await;
        let delivered = match &self.webhooks {
            Some(webhooks) => webhooks.drain(until).await,
            None => true,
        };
        if !matches!(told, Ok(Ok(()))) {
            Err(ShutdownError::EngineUnavailable)
        } else if !delivered {
            Err(ShutdownError::WebhooksPending)
        } else {
            Ok(())
        }
    }
}

/// Starts the embedded TURN server: it relays only to the SFU's own media addresses (every
/// node IP on every shard's media port), and its relayed addresses carry the first IPv4 node IP (or the
/// TURN host, when that is an IP).
fn start_turn(
    cfg: &SfuConfig,
    turn: &config::TurnSettings,
    media_ports: &[u16],
) -> std::io::Result<xcord_turn::TurnAddrs> {
    let public_ip = turn
        .host
        .parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| cfg.node_ips.iter().copied().find(|ip| ip.is_ipv4()))
        .ok_or_else(|| std::io::Error::other("TURN needs an IPv4 node IP for relayed addresses"))?;
    let allowed_peers = cfg
        .node_ips
        .iter()
        .flat_map(|ip| {
            media_ports
                .iter()
                .map(|port| std::net::SocketAddr::new(*ip, *port))
        })
        .collect();
    xcord_turn::start(xcord_turn::TurnConfig {
        secret: turn.secret.clone(),
        realm: turn.host.clone(),
        udp_bind: turn
            .udp_port
            .map(|p| std::net::SocketAddr::new(turn.bind_ip, p)),
        tls: turn
            .tls
            .as_ref()
            .map(|(p, tls)| (std::net::SocketAddr::new(turn.bind_ip, *p), tls.clone())),
        public_ip,
        relay_bind_ip: turn.bind_ip,
        allowed_peers,
        max_allocations: turn.max_allocations,
        max_allocations_per_ip: turn.max_allocations_per_ip,
    })
}
