//! Live broadcasts (`video_live`) and audio rooms (`audio_room`): a creator's session with its
//! access rule (public, subscribers only, pay per view), its lifecycle (scheduled → live →
//! ended or failed, a pure machine in [`machine`], ended by itself by the [`timers`] task), who
//! may join in which role ([`access`], also pure), the media tokens and live permissions of
//! each role ([`token`]), the publishing presets of each kind ([`presets`]), who is in the room and the audience counts from media events
//! ([`presence`]), the stage ([`stage`]), moderation ([`moderation`]) and who may act on whom
//! ([`ranks`]), chat ([`chat`]), creator
//! subscriptions ([`subscriptions`]), pay-per-view purchases paid from the caller's wallet
//! (`crate::wallet`), the gateway events ([`events`]) and the sessions' SQL ([`store`]). Each
//! session is the media room `live_<id>`.

pub mod access;
pub mod chat;
pub mod events;
pub mod machine;
pub mod media_session;
pub mod moderation;
pub mod presence;
pub mod presets;
pub mod ranks;
pub mod service;
pub mod stage;
pub mod store;
pub mod subscriptions;
pub mod timers;
pub mod token;

use crate::ratelimit::RateLimiter;

/// Live sessions' run-time coordination: the timer task's wake-up and the chat's rate limits.
pub struct Runtime {
    wake: tokio::sync::Notify,
    /// Chat messages per user and session.
    pub chat_limits: RateLimiter,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            chat_limits: RateLimiter::new(chat::RATE_MAX, chat::RATE_WINDOW, 100_000),
        }
    }
}

impl Runtime {
    /// Tells the timer task a deadline may have moved.
    pub fn wake_timers(&self) {
        self.wake.notify_one();
    }
}

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a session carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveKind {
    /// Video to many viewers.
    VideoLive,
    /// Audio with a host, speakers on stage and listeners.
    AudioRoom,
}

/// Who may watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveAccess {
    Public,
    /// Only the host's subscribers (a running creator subscription).
    SubscribersOnly,
    /// One purchase of `priceCoins` per viewer.
    PayPerView,
}

/// Where a session is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    Scheduled,
    Live,
    Ended,
    Failed,
}

/// A participant's role in a session's room (defined beside media sessions, which record it).
pub use crate::media_session::model::LiveRole;

macro_rules! wire_names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The wire (and stored) name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
            /// The value of a wire (or stored) name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

wire_names!(LiveKind { VideoLive => "video_live", AudioRoom => "audio_room" });
wire_names!(LiveAccess {
    Public => "public",
    SubscribersOnly => "subscribers_only",
    PayPerView => "pay_per_view",
});
wire_names!(LiveState { Scheduled => "scheduled", Live => "live", Ended => "ended", Failed => "failed" });
wire_names!(LiveRole {
    Host => "host",
    CoHost => "co_host",
    Speaker => "speaker",
    Viewer => "viewer",
    Listener => "listener",
});

/// A live session as the API shows it. Times are Unix milliseconds of the injected clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveSession {
    #[schema(value_type = crate::schema::Id)]
    pub id: String,
    #[schema(value_type = crate::schema::Id)]
    pub host_id: String,
    pub kind: LiveKind,
    pub title: String,
    pub access: LiveAccess,
    /// The price of one purchase (`pay_per_view`); 0 otherwise.
    pub price_coins: i64,
    pub state: LiveState,
    /// The most audience members admitted; `null`: no limit.
    pub max_viewers: Option<i64>,
    /// A live session ends by itself this long after it started; `null`: no limit.
    pub max_duration_seconds: Option<i64>,
    /// Audience members in the room now (from the media plane's events; the host is not
    /// counted).
    pub viewer_count: i64,
    /// The most audience members in the room at once.
    pub peak_viewers: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Why it ended: `host_ended`, `cancelled` (ended before it started), `max_duration`, or
    /// (`failed`) `host_never_connected`, `host_connection_lost`, `media_room_closed` or
    /// `media_node_lost`.
    pub end_reason: Option<String>,
    /// When the host's media connection was first seen.
    #[serde(skip)]
    pub host_connected_at: Option<i64>,
    /// When the host's last media connection was lost while live (`None`: connected, or never).
    #[serde(skip)]
    pub host_lost_at: Option<i64>,
    #[serde(skip)]
    pub created_at: i64,
    #[serde(skip)]
    pub version: i64,
}

/// The media room of session `id`.
pub fn room_of(id: &str) -> String {
    format!("live_{id}")
}
