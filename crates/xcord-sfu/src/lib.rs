//! xcord's media plane: a selective forwarding unit that speaks LiveKit's signal protocol, so
//! the official LiveKit SDKs connect to it unchanged, and LiveKit's server API (Twirp
//! RoomService, signed webhooks) so LiveKit's server SDKs manage it.
//!
//! [`Sfu::start`] binds the media socket and starts the engine thread; [`Sfu::router`] gives the
//! HTTP/WebSocket routes to serve; [`Sfu::rooms`] and [`Sfu::events`] are the same API for an
//! in-process control plane.

pub mod auth;
pub mod config;
mod engine;
pub mod events;
pub mod ids;
pub mod rooms;
mod signal;
mod time;
mod twirp;
pub mod webhook;

use std::sync::Arc;

pub use config::SfuConfig;
pub use engine::EngineHandle;
use events::EventBus;
use rooms::RoomService;

/// A running SFU.
pub struct Sfu {
    cfg: Arc<SfuConfig>,
    engine: EngineHandle,
    events: EventBus,
}

impl Sfu {
    /// Binds the UDP media socket, starts the media engine and, when configured, webhook
    /// delivery. Must be called within a tokio runtime.
    pub fn start(cfg: SfuConfig) -> std::io::Result<Self> {
        let cfg = Arc::new(cfg);
        let events = EventBus::default();
        if let Some(webhooks) = cfg.webhooks.clone()
            && !webhooks.urls.is_empty()
        {
            webhook::spawn_notifier(webhooks, events.subscribe());
        }
        let engine = engine::spawn(cfg.clone(), events.clone())?;
        Ok(Self {
            cfg,
            engine,
            events,
        })
    }

    /// The signalling routes (`/`, `/rtc`, `/rtc/validate`, `/rtc/v1…`) and the Twirp
    /// RoomService (`/twirp/livekit.RoomService/…`).
    pub fn router(&self) -> axum::Router {
        signal::router(self.cfg.clone(), self.engine.clone())
            .merge(twirp::router(self.cfg.keys.clone(), self.rooms()))
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
}
