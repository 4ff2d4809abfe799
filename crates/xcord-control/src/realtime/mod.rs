//! Realtime delivery to clients, below any domain: the hub that routes events to each user's
//! live connections, and the resumable sessions (sequence numbers, replay buffer) on top of it.
//! The gateway protocol that uses them is `crate::gateway`.

pub mod hub;
pub mod session;
