//! 1-1 calls in direct conversations: who calls whom, ringing, the answer, the end.
//!
//! - `machine`: the call lifecycle as a pure state machine (ring timeout, answer races,
//!   disconnect grace), tested at exact instants.

pub mod machine;
