//! The services every part of the control plane shares: the database, the clock, the realtime
//! hub and gateway sessions, account limits and the bounded password hasher, the media plane (when one is attached), and
//! the hooks through which domains hear of each other's changes. Built once by the binary (or a
//! test) and passed to services as `&Services`; the HTTP layer only carries it.

use std::sync::Arc;

use crate::accounts::passwords::Passwords;
use crate::accounts::ratelimit::AccountLimits;
use crate::clock::Clock;
use crate::communities::hooks::CommunityHooks;
use crate::db::Db;
use crate::error::{Error, ErrorCode};
use crate::gateway::admission::Admission;
use crate::live;
use crate::media::{MediaAccess, MediaEventListener, MediaPlane};
use crate::media_session;
use crate::ratelimit::UserLimits;
use crate::realtime::hub::Hub;
use crate::realtime::session::Sessions;
use crate::tasks::Tasks;

/// An attached media plane and how clients reach it.
#[derive(Clone)]
pub struct Media {
    pub plane: Arc<dyn MediaPlane>,
    pub access: MediaAccess,
}

/// What the control plane's services share.
pub struct Services {
    pub db: Db,
    pub clock: Clock,
    /// Log-in and registration limits.
    pub account_limits: AccountLimits,
    /// Bounded password hashing.
    pub passwords: Passwords,
    /// Per-user limits on messages and invites.
    pub user_limits: UserLimits,
    /// Live connections of each user (the gateway).
    pub hub: Arc<Hub>,
    /// Gateway sessions (resumable).
    pub sessions: Sessions,
    /// Open gateway sockets per client address, and their caps.
    pub gateway_admission: Arc<Admission>,
    /// The media plane, when one is attached (`xcord serve`).
    pub media: Option<Media>,
    /// Told about removed members and deleted channels (voice implements it).
    pub community_hooks: Vec<Arc<dyn CommunityHooks>>,
    /// Apply media-plane events (voice states today).
    pub media_listeners: Vec<Arc<dyn MediaEventListener>>,
    /// Where media-session handoffs get tickets for rooms another module owns (live rooms).
    pub room_tickets: Vec<Arc<dyn media_session::effects::RoomTickets>>,
    /// Background tasks and the shutdown signal they watch.
    pub tasks: Tasks,
    /// Media sessions' and calls' settings and run-time coordination.
    pub media_sessions: media_session::Runtime,
    /// Live sessions' timer wake-up and chat limits.
    pub live: live::Runtime,
    /// A development server (`--dev`): users may top up their own wallets.
    pub dev: bool,
}

/// Work started once the services exist (a domain's timer task), registered by the crate root.
pub type Starter = fn(&Arc<Services>);

impl Services {
    /// A builder with no domain hooks, to choose the clock, attach a media plane and register
    /// hooks; `crate::services` gives one with every domain's hooks registered.
    pub fn builder(db: Db) -> ServicesBuilder {
        ServicesBuilder::new(db)
    }

    /// The attached media plane, or `media_unavailable`.
    pub fn media(&self) -> Result<&Media, Error> {
        self.media
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::MediaUnavailable, "no media plane is attached"))
    }
}

/// Builds [`Services`].
pub struct ServicesBuilder {
    db: Db,
    clock: Clock,
    media: Option<Media>,
    tasks: Tasks,
    community_hooks: Vec<Arc<dyn CommunityHooks>>,
    media_listeners: Vec<Arc<dyn MediaEventListener>>,
    room_tickets: Vec<Arc<dyn media_session::effects::RoomTickets>>,
    call_settings: media_session::Settings,
    starters: Vec<Starter>,
    dev: bool,
}

impl ServicesBuilder {
    fn new(db: Db) -> Self {
        Self {
            db,
            clock: Clock::system(),
            media: None,
            tasks: Tasks::new(),
            community_hooks: Vec::new(),
            media_listeners: Vec::new(),
            room_tickets: Vec::new(),
            call_settings: media_session::Settings::default(),
            starters: Vec::new(),
            dev: false,
        }
    }

    /// Ring timeout and the most calls that may ring at once.
    pub fn call_settings(mut self, settings: media_session::Settings) -> Self {
        self.call_settings = settings;
        self
    }

    /// Work to start once the services are built (needs a tokio runtime).
    pub fn on_start(mut self, starter: Starter) -> Self {
        self.starters.push(starter);
        self
    }

    /// Adds a listener to membership and channel changes.
    pub fn community_hook(mut self, hook: Arc<dyn CommunityHooks>) -> Self {
        self.community_hooks.push(hook);
        self
    }

    /// Adds a listener to media-plane events.
    pub fn media_listener(mut self, listener: Arc<dyn MediaEventListener>) -> Self {
        self.media_listeners.push(listener);
        self
    }

    /// Adds a source of tickets for rooms another module owns (see `media_session::effects`).
    pub fn room_tickets(mut self, source: Arc<dyn media_session::effects::RoomTickets>) -> Self {
        self.room_tickets.push(source);
        self
    }

    /// The task set background work joins (the binary's, so one shutdown stops everything).
    pub fn tasks(mut self, tasks: Tasks) -> Self {
        self.tasks = tasks;
        self
    }

    /// A development server (`--dev`): users may top up their own wallets.
    pub fn dev(mut self, dev: bool) -> Self {
        self.dev = dev;
        self
    }

    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn media(mut self, plane: Arc<dyn MediaPlane>, access: MediaAccess) -> Self {
        self.media = Some(Media { plane, access });
        self
    }

    pub fn build(self) -> Arc<Services> {
        let services = Arc::new(Services {
            db: self.db,
            clock: self.clock,
            account_limits: AccountLimits::standard(),
            passwords: Passwords::per_core(),
            user_limits: UserLimits::standard(),
            hub: Arc::new(Hub::default()),
            sessions: Sessions::new(self.tasks.clone()),
            gateway_admission: Admission::standard(),
            media: self.media,
            community_hooks: self.community_hooks,
            media_listeners: self.media_listeners,
            room_tickets: self.room_tickets,
            tasks: self.tasks,
            media_sessions: media_session::Runtime::new(self.call_settings),
            live: live::Runtime::default(),
            dev: self.dev,
        });
        for start in self.starters {
            start(&services);
        }
        services
    }
}
