//! Realtime delivery to clients: the hub that routes events to each user's live connections,
//! and (to come) the gateway WebSocket protocol on top of it.

pub mod hub;
pub mod session;
pub mod snapshot;
