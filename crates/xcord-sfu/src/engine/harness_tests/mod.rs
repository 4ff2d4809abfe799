//! Engine behaviour through [`TestSfu`](super::harness::TestSfu): real str0m peers on both
//! sides, virtual time, a network the test controls.

#[cfg(feature = "alloc-count")]
mod allocations;
mod bandwidth;
mod forwarding;
mod keyframes;
mod red;
mod resume;
mod reuse;
mod rooms;
mod temporal;
mod video;
