//! 1-1 calls in direct conversations: who calls whom, ringing, the answer, the end. The flows
//! that move users' media sessions with a call (ringing on every connection, call waiting, the
//! session that joins the call's room) are `crate::media_session`'s; this module owns the call
//! itself.
//!
//! - `machine`: the call lifecycle as a pure state machine (ring timeout, answer races,
//!   disconnect grace), tested at exact instants;
//! - `store`: SQL with compare-and-set on the version; `view`: the API's `Call`;
//! - `service`: reading a call (parties only) and what a finished call leaves behind.
//!
//! Event: `CALL_UPDATE` (the `Call`), to every connection of both parties.

pub mod machine;
pub mod service;
pub mod state;
pub mod store;
pub mod view;

pub use view::CallView;

pub const CALL_UPDATE: &str = "CALL_UPDATE";

/// The media room of a call.
pub fn room_of_call(call_id: &str) -> String {
    format!("dm_{call_id}")
}

/// The call of a media room, if it is a call room.
pub fn call_of_room(room: &str) -> Option<&str> {
    room.strip_prefix("dm_").filter(|c| !c.is_empty())
}
