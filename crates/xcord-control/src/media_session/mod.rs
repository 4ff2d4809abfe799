//! Each user's one media session across all their windows and devices.
//!
//! - `model`: the session's data and the snapshot clients get;
//! - `machine`: ownership, handoff, fencing and timers as a pure state machine.

pub mod machine;
pub mod model;
