//! The gateway events of live sessions, sent to everyone watching (the users connected to the
//! session's room) and the host: `LIVE_UPDATE` (the session: state and counts), `STAGE_UPDATE`
//! (hands, invitations and roles), `LIVE_MESSAGE_CREATE` and `LIVE_MESSAGE_DELETE`.

use serde::Serialize;

use super::{LiveSession, presence};
use crate::app::Services;
use crate::realtime::hub::{Audience, GatewayEvent};

pub const LIVE_UPDATE: &str = "LIVE_UPDATE";
pub const STAGE_UPDATE: &str = "STAGE_UPDATE";
pub const LIVE_MESSAGE_CREATE: &str = "LIVE_MESSAGE_CREATE";
pub const LIVE_MESSAGE_DELETE: &str = "LIVE_MESSAGE_DELETE";

/// Publishes `kind` with `data` to the session's watchers, its host and `also` (someone who
/// just left, say).
pub async fn publish(
    services: &Services,
    session: &LiveSession,
    also: &[&str],
    kind: &str,
    data: impl Serialize,
) {
    let mut users = match presence::present(&services.db, &session.id).await {
        Ok(users) => users,
        Err(e) => {
            tracing::warn!(session = %session.id, "live watchers unreadable: {e}");
            Vec::new()
        }
    };
    users.push(session.host_id.clone());
    users.extend(also.iter().map(|u| (*u).to_owned()));
    users.sort();
    users.dedup();
    services
        .hub
        .publish(Audience::Users(users), GatewayEvent::new(kind, data));
}

/// `LIVE_UPDATE` with the session.
pub async fn live_update(services: &Services, session: &LiveSession) {
    publish(services, session, &[], LIVE_UPDATE, session).await;
}
