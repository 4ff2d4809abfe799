//! How many rooms, participants and tracks the engine holds (for the metrics gauges).

use super::Engine;
use crate::metrics::Census;

impl Engine {
    pub(crate) fn census(&self) -> Census {
        Census {
            rooms: self.rooms.len(),
            participants: self.participants.len(),
            tracks: self.tracks.len(),
        }
    }
}
