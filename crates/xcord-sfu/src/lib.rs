//! xcord's media plane: a selective forwarding unit that speaks LiveKit's signal protocol, so
//! the official LiveKit SDKs connect to it unchanged.
//!
//! [`Sfu::start`] binds the media socket and starts the engine thread; [`Sfu::router`] gives the
//! HTTP/WebSocket routes to serve.

pub mod auth;
pub mod config;
mod engine;
pub mod ids;
mod signal;

use std::sync::Arc;

pub use config::SfuConfig;
pub use engine::EngineHandle;

/// A running SFU.
pub struct Sfu {
    cfg: Arc<SfuConfig>,
    engine: EngineHandle,
}

impl Sfu {
    /// Binds the UDP media socket and starts the media engine.
    pub fn start(cfg: SfuConfig) -> std::io::Result<Self> {
        let cfg = Arc::new(cfg);
        let engine = engine::spawn(cfg.clone())?;
        Ok(Self { cfg, engine })
    }

    /// The signalling routes (`/`, `/rtc`, `/rtc/validate`, `/rtc/v1…`).
    pub fn router(&self) -> axum::Router {
        signal::router(self.cfg.clone(), self.engine.clone())
    }

    /// Address of the media socket.
    pub fn media_addr(&self) -> std::net::SocketAddr {
        self.engine.media_addr()
    }

    pub fn config(&self) -> &SfuConfig {
        &self.cfg
    }
}
