//! xcord's media plane: a selective forwarding unit that speaks LiveKit's signal protocol, so
//! the official LiveKit SDKs connect to it unchanged, and LiveKit's server API (Twirp
//! RoomService, signed webhooks) so LiveKit's server SDKs manage it.
//!
//! [`Sfu::start`] binds the media socket and starts the engine thread; [`Sfu::router`] gives the
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
mod signal;
mod time;
mod twirp;
#[cfg(any(test, feature = "fuzzing"))]
mod twirp_fuzzing;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

pub use config::SfuConfig;
pub use engine::EngineHandle;
use events::EventBus;
use rooms::RoomService;
use webhook::WebhookSenders;

/// A running SFU.
pub struct Sfu {
    cfg: Arc<SfuConfig>,
    engine: EngineHandle,
    events: EventBus,
    webhooks: Option<WebhookSenders>,
    gate: gate::GateSlot,
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
    /// Binds the UDP media socket, starts the media engine and, when configured, webhook
    /// delivery. Must be called within a tokio runtime.
    pub fn start(cfg: SfuConfig) -> std::io::Result<Self> {
        let cfg = Arc::new(cfg);
        let events = EventBus::default();
        let webhook_events = events.subscribe();
        let engine = engine::spawn(cfg.clone(), events.clone())?;
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
        })
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

    /// Address of the media socket.
    pub fn media_addr(&self) -> std::net::SocketAddr {
        self.engine.media_addr()
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
