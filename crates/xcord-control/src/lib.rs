//! xcord's control plane: the application backend around the media plane.
//!
//! # Layout
//! - `app`: [`app::Services`], what every part shares (database, clock, hub, media plane,
//!   hooks), built by [`services`], which registers each domain's hooks; `clock`: the one clock; `error`: domain errors with stable codes; `db`: storage.
//! - Domains, each owning its rules (`service`), SQL (`store`) and events: `accounts`,
//!   `communities`, `conversations`, `voice`, `calls`, `media_session` (each user's one media
//!   session, built on calls and voice), `live` (live broadcasts and audio rooms, their
//!   roles, access and pay-per-view purchases), `wallet` (coin balances and their ledger). They tell each other about changes through hooks
//!   (`communities::hooks`, `media::MediaEventListener`), never by calling handlers.
//! - `media`: the `MediaPlane` boundary (LiveKit's server API, in process or over HTTP), the
//!   event inbox and the event handler.
//! - `realtime`: the hub and resumable sessions; `gateway`: the WebSocket protocol and the
//!   Ready snapshot.
//! - `schema`: the OpenAPI schemas of shared values (ids, names, …) that the API's objects
//!   point at; `limits`: the field limits both the validators and the document read; `unicode`:
//!   invisible characters and bidirectional controls, for the validators.
//! - `api`: the HTTP edge — parse, call one service function, render. Nothing outside it
//!   imports it (`tests/structure.rs` checks this, and that the domains form no cycles).

use std::sync::Arc;

pub mod accounts;
pub mod api;
pub mod app;
pub mod calls;
pub mod clock;
pub mod communities;
pub mod conversations;
pub mod db;
pub mod error;
pub mod gateway;
pub mod limits;
pub mod live;
pub mod media;
pub mod media_probe;
pub mod media_session;
pub mod metrics;
pub mod ratelimit;
pub mod realtime;
pub mod schema;
pub mod tasks;
pub mod unicode;
pub mod voice;
pub mod wallet;

/// Services over `db` with every domain's hooks registered (voice hears of removed members and
/// deleted channels, and applies media events; media sessions follow media events and run their
/// timer task): the composition root, so that `app` names no
/// domain and no domain names another's implementation.
pub fn services(db: db::Db) -> app::ServicesBuilder {
    app::Services::builder(db)
        .community_hook(Arc::new(voice::hooks::VoiceCommunityHooks))
        .media_listener(Arc::new(voice::apply::VoiceMediaListener))
        .media_listener(Arc::new(media_session::listener::MediaSessionListener))
        .on_start(media_session::timers::start)
        .on_start(media_session::speaking::start)
        .media_listener(Arc::new(live::presence::LiveMediaListener))
        .room_tickets(Arc::new(live::media_session::LiveRoomTickets))
        .on_start(live::timers::start)
}
