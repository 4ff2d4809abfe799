//! Live sessions as media sessions (`live-stream`): joining a live broadcast or audio room, in
//! any role, makes it the user's one media session — whatever they were in before (a voice
//! channel, a call, another live) ends as any replaced session does, the other parties told —
//! and leaving it, being kicked or banned from it, or the live session ending ends it. The owner
//! connection gets `MEDIA_SESSION_CONNECT` with a token for the live room in the user's role
//! (signed again at every handoff, so the access rules hold then too). A user with no gateway
//! connection (a media SDK alone) gets the ticket without a media session: there is no window
//! to hold one. When the media node is lost, every session in its rooms ends
//! ([`media_node_lost`]).

use super::presence::session_of_room;
use super::service::ticket_unstored;
use super::{LiveRole, LiveSession, room_of};
use crate::accounts::User;
use crate::app::Services;
use crate::error::{Error, Result};
use crate::media_session::effects::{RoomTicket, RoomTickets};
use crate::media_session::machine::Input;
use crate::media_session::model::{Context, SessionType};
use crate::media_session::store;
use crate::media_session::unit::Unit;

/// Tickets for live rooms at a media-session handoff: the live session's access rules, with the
/// role and the kind's publish defaults in `MEDIA_SESSION_CONNECT`.
pub struct LiveRoomTickets;

#[async_trait::async_trait]
impl RoomTickets for LiveRoomTickets {
    async fn ticket(
        &self,
        services: &Services,
        user: &User,
        room: &str,
    ) -> Result<Option<RoomTicket>> {
        let Some(live) = session_of_room(room) else {
            return Ok(None);
        };
        let ticket = ticket_unstored(services, user, live).await?;
        Ok(Some(RoomTicket {
            extra: serde_json::json!({"role": ticket.role, "publishDefaults": ticket.publish_defaults}),
            url: ticket.url,
            token: ticket.token,
        }))
    }
}

/// Why a live's media sessions end when the live session is over.
pub const LIVE_ENDED: &str = "live_ended";

/// Makes `session` (joined as `role`) `user`'s media session, unless it already is (a rejoin
/// keeps the session and its owner); `prefer` names the connection that should own it.
pub async fn join(
    services: &Services,
    user: &User,
    session: &LiveSession,
    role: LiveRole,
    prefer: Option<String>,
) -> Result<()> {
    let room = room_of(&session.id);
    let mut unit = Unit::begin(services).await;
    let current = unit.session(&user.id).await?;
    let already = current.session_type == SessionType::LiveStream
        && current.room.as_deref() == Some(room.as_str());
    // A media session is held by a gateway connection: a client without one (an SDK alone)
    // just connects with its ticket.
    let held = !current.connections.is_empty();
    if held && !already {
        let start = Input::Start {
            session_type: SessionType::LiveStream,
            context: Box::new(Context {
                live_id: Some(session.id.clone()),
                live_title: Some(session.title.clone()),
                live_role: Some(role),
                ..Context::default()
            }),
            room,
            prefer,
        };
        unit.feed(&user.id, start)
            .await?
            .map_err(|r| Error::conflict(r.to_string()))?;
    }
    unit.commit(None).await
}

/// Ends `user_id`'s media session if it is live session `live_id`'s, for `reason`.
pub async fn leave(services: &Services, user_id: &str, live_id: &str, reason: &str) -> Result<()> {
    let room = room_of(live_id);
    let mut unit = Unit::begin(services).await;
    if unit.session(user_id).await?.room.as_deref() == Some(room.as_str()) {
        let _ = unit
            .feed(
                user_id,
                Input::End {
                    reason: reason.to_owned(),
                },
            )
            .await?;
    }
    unit.commit(None).await
}

/// Live session `live_id` is over: every media session in its room ends (`live_ended`).
pub async fn ended(services: &Services, live_id: &str) -> Result<()> {
    let room = room_of(live_id);
    let mut unit = Unit::begin(services).await;
    for user in store::users_in_room(&services.db, &room).await? {
        let _ = unit
            .feed(
                &user,
                Input::End {
                    reason: LIVE_ENDED.to_owned(),
                },
            )
            .await?;
    }
    unit.commit(None).await
}

/// Why sessions end when their media node is lost.
pub const MEDIA_NODE_LOST: &str = "media_node_lost";

/// The media node stopped answering: every session in one of its rooms — calls, channels,
/// lives — ends (`media_node_lost`), each party told, without asking the node for anything.
/// Returns how many ended.
pub async fn media_node_lost(services: &Services) -> Result<usize> {
    let users = store::users_in_any_room(&services.db).await?;
    let mut unit = Unit::begin(services).await;
    unit.node_gone();
    for user in &users {
        let _ = unit
            .feed(
                user,
                Input::End {
                    reason: MEDIA_NODE_LOST.to_owned(),
                },
            )
            .await?;
    }
    unit.commit(None).await?;
    Ok(users.len())
}
