//! The embedding application's say over who joins a room. The SFU checks tokens; an application
//! that hands out tokens (xcord's control plane) also knows whether the holder may still be
//! there — a member who was banned after their ticket was issued, a channel that is full. A
//! [`JoinGate`] is asked at `/rtc` and `/rtc/validate`, after the token is verified and before
//! the participant is admitted, so a refused client fails fast with a reason instead of being
//! removed after it connected.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use livekit_protocol::participant_info::Kind;

/// A boxed future the gate answers with: `Err(reason)` refuses the join.
pub type GateFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Decides whether `identity` (a participant of `kind`) may join `room` now.
pub trait JoinGate: Send + Sync + 'static {
    fn check(&self, room: &str, identity: &str, kind: Kind) -> GateFuture;
}

/// Where the SFU finds its gate, set once after start (the application is built after the SFU
/// whose router it serves). Without one, every verified token joins.
#[derive(Clone, Default)]
pub struct GateSlot(Arc<OnceLock<Arc<dyn JoinGate>>>);

impl GateSlot {
    /// Installs the gate; false if one was installed already.
    pub fn set(&self, gate: Arc<dyn JoinGate>) -> bool {
        self.0.set(gate).is_ok()
    }

    /// Asks the gate, if there is one.
    pub async fn check(&self, room: &str, identity: &str, kind: Kind) -> Result<(), String> {
        match self.0.get() {
            Some(gate) => gate.check(room, identity, kind).await,
            None => Ok(()),
        }
    }
}
