//! Each user's one media session across all their windows and devices: its type and context,
//! controls, the owner connection that holds the media connection and the followers, incoming
//! calls (call waiting), picture-in-picture. The flows of calls (ringing on every connection,
//! busy, accepting into a call, ending the other party's session) run here, on top of
//! `crate::calls`.
//!
//! - `model`: the session's data and the snapshot clients get;
//! - `machine`: ownership, handoff, fencing and timers as a pure state machine (`controls`:
//!   what the control commands do);
//! - `unit`: one change across sessions and calls, decided by the machines, stored with
//!   compare-and-set in one transaction, then its effects performed (`effects`);
//! - `commands`: `POST /api/v1/media-session/commands` (idempotent by the client's id;
//!   `request`: how a command is read);
//! - `connections`: what the gateway reports (a connection opened, heartbeat, closed);
//! - `live`: live sessions as media sessions (`live-stream`);
//! - `listener`: the media plane's events (participants, presence in a call's room);
//! - `timers`: the task that turns deadlines into ticks, on the injected clock;
//! - `speaking`: who speaks in each room (the media plane's speaker updates), in snapshots;
//! - `store`: SQL.
//!
//! Events: `MEDIA_SESSION_UPDATE` (the snapshot, to every connection of the user),
//! `MEDIA_SESSION_CONNECT` `{url, token, room, epoch}` (to the owner connection only),
//! `MEDIA_SESSION_REPLACED` `{previous, reason}` (to the owner of a replaced session).

pub mod commands;
pub mod connections;
pub mod controls;
pub mod effects;
pub mod listener;
pub mod machine;
pub mod model;
pub mod request;
pub mod speaking;
pub mod store;
pub mod timers;
pub mod unit;

use std::time::Duration;

use crate::app::Services;
use crate::error::Result;

pub const MEDIA_SESSION_UPDATE: &str = "MEDIA_SESSION_UPDATE";
pub const MEDIA_SESSION_CONNECT: &str = "MEDIA_SESSION_CONNECT";
pub const MEDIA_SESSION_REPLACED: &str = "MEDIA_SESSION_REPLACED";

/// The settings of calls (`--ring-timeout`, `--max-incoming-calls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How long a call rings.
    pub ring_timeout: Duration,
    /// How many calls may ring for one user at once; one more is `busy`.
    pub max_incoming_calls: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(30),
            max_incoming_calls: 3,
        }
    }
}

/// What the media sessions share at run time: the settings, the lock that makes this process
/// decide one change at a time (the store's compare-and-set guards against other processes),
/// and the timer task's wake-up.
#[derive(Debug, Default)]
pub struct Runtime {
    pub settings: Settings,
    /// Who speaks in each room, from the media plane.
    pub speaking: speaking::Speaking,
    lock: tokio::sync::Mutex<()>,
    wake: tokio::sync::Notify,
}

impl Runtime {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// Tells the timer task that deadlines may have changed.
    pub fn wake_timers(&self) {
        self.wake.notify_one();
    }
}

/// The user's snapshot (`GET /api/v1/users/@me/media-session`, Ready's `mediaSession`).
pub async fn snapshot(services: &Services, user_id: &str) -> Result<model::Snapshot> {
    let session = store::load(&services.db, user_id).await?;
    unit::render(services, &session).await
}
