//! Performing a session's effects after its change is stored: the owner connection is told to
//! connect (with a fresh token for the session's room), a replaced owner is told, and the SFU
//! enforces what the server can enforce itself — leaving a room, muting the microphone,
//! stopping audio to a deafened user. Failures are logged: the stored state is the truth, and
//! the next change or media event repairs what did not happen.

use livekit_protocol as proto;
use serde_json::json;

use super::machine::Effect;
use super::{MEDIA_SESSION_CONNECT, MEDIA_SESSION_REPLACED};
use crate::accounts::User;
use crate::accounts::store as accounts;
use crate::app::Services;
use crate::calls::call_of_room;
use crate::communities::Permissions;
use crate::error::{Error, Result};
use crate::media::MediaError;
use crate::realtime::hub::GatewayEvent;
use crate::voice::{self, token};

/// Tickets for rooms other modules own (live rooms): the module that owns such rooms registers
/// one (`ServicesBuilder::room_tickets`), so that media sessions need not know its rules.
#[async_trait::async_trait]
pub trait RoomTickets: Send + Sync {
    /// `None` if `room` is not one of this source's rooms; otherwise where to connect, the
    /// token, and fields added to `MEDIA_SESSION_CONNECT`.
    async fn ticket(
        &self,
        services: &Services,
        user: &User,
        room: &str,
    ) -> Result<Option<RoomTicket>>;
}

/// What `MEDIA_SESSION_CONNECT` carries for a room a [`RoomTickets`] source owns.
pub struct RoomTicket {
    pub url: String,
    pub token: String,
    /// Added to the event (e.g. the live role and its publish defaults).
    pub extra: serde_json::Value,
}

pub async fn perform(services: &Services, user_id: &str, effect: Effect) {
    let done = match &effect {
        Effect::Connect {
            connection_id,
            room,
            epoch,
        } => connect(services, user_id, connection_id, room, *epoch).await,
        Effect::Replaced {
            connection_id,
            previous,
        } => {
            to_connection(
                services,
                user_id,
                connection_id,
                GatewayEvent::new(
                    MEDIA_SESSION_REPLACED,
                    json!({"previous": previous, "reason": "replaced"}),
                ),
            );
            Ok(())
        }
        Effect::LeaveRoom { room } => leave_room(services, user_id, room).await,
        Effect::MuteMicrophone { room } => mute_microphone(services, user_id, room).await,
        Effect::Deafen { room, deafened } => deafen(services, user_id, room, *deafened).await,
        Effect::Ended { .. } => Ok(()),
    };
    if let Err(e) = done {
        tracing::warn!(user = %user_id, ?effect, "media session effect failed: {e}");
    }
}

/// Sends `event` to one gateway connection of the user.
fn to_connection(services: &Services, user_id: &str, connection_id: &str, event: GatewayEvent) {
    match services.sessions.get(connection_id) {
        Some(handle) if handle.user_id == user_id => {
            services.hub.publish_to(user_id, handle.hub_id, event);
        }
        _ => tracing::debug!(connection = %connection_id, "event for a connection that is gone"),
    }
}

/// `MEDIA_SESSION_CONNECT` with a fresh token: for a call's room signed here for its party, for
/// a channel's room through voice's join checks, for a live room through the live session's
/// access rules (with the role and the kind's publish defaults).
async fn connect(
    services: &Services,
    user_id: &str,
    connection_id: &str,
    room: &str,
    epoch: i64,
) -> Result<()> {
    let user = accounts::user_by_id(&services.db, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user not found"))?;
    let mut extra = json!({});
    let mut owned = None;
    for source in &services.room_tickets {
        if let Some(ticket) = source.ticket(services, &user, room).await? {
            owned = Some(ticket);
            break;
        }
    }
    let (url, token) = if let Some(ticket) = owned {
        extra = ticket.extra;
        (ticket.url, ticket.token)
    } else if call_of_room(room).is_some() {
        let media = services.media()?;
        let (token, _) = token::sign_for_room(
            &media.access,
            &user,
            room,
            Permissions::EVERYONE_DEFAULT,
            services.clock.now_ms(),
        )
        .ok_or_else(|| Error::internal("signing a media token failed"))?;
        (media.access.url.clone(), token)
    } else if let Some(channel) = voice::channel_of_room(room) {
        let ticket = voice::service::join(services, &user, channel).await?;
        (ticket.url, ticket.token)
    } else {
        return Err(Error::internal(format!("no token for room {room}")));
    };
    let mut connect = json!({"url": url, "token": token, "room": room, "epoch": epoch});
    if let (Some(fields), Some(extra)) = (connect.as_object_mut(), extra.as_object()) {
        fields.extend(extra.clone());
    }
    to_connection(
        services,
        user_id,
        connection_id,
        GatewayEvent::new(MEDIA_SESSION_CONNECT, connect),
    );
    Ok(())
}

async fn leave_room(services: &Services, user_id: &str, room: &str) -> Result<()> {
    let media = services.media()?;
    match media.plane.remove_participant(room, user_id).await {
        Ok(()) | Err(MediaError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Mutes the user's published microphone tracks at the SFU (none published: nothing to do;
/// the owner publishes muted, as the snapshot says).
pub async fn mute_microphone(services: &Services, user_id: &str, room: &str) -> Result<()> {
    let media = services.media()?;
    let participant = match media.plane.get_participant(room, user_id).await {
        Ok(p) => p,
        Err(MediaError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for track in participant
        .tracks
        .iter()
        .filter(|t| t.source == proto::TrackSource::Microphone as i32 && !t.muted)
    {
        media
            .plane
            .mute_published_track(room, user_id, &track.sid, true)
            .await?;
    }
    Ok(())
}

/// Stops (or restarts) forwarding the other participants' audio to the user.
pub async fn deafen(services: &Services, user_id: &str, room: &str, deafened: bool) -> Result<()> {
    let media = services.media()?;
    let participants = match media.plane.list_participants(room).await {
        Ok(p) => p,
        Err(MediaError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let audio: Vec<String> = participants
        .iter()
        .filter(|p| p.identity != user_id)
        .flat_map(|p| p.tracks.iter())
        .filter(|t| t.r#type == proto::TrackType::Audio as i32)
        .map(|t| t.sid.clone())
        .collect();
    if audio.is_empty() {
        return Ok(());
    }
    match media
        .plane
        .update_subscriptions(room, user_id, audio, !deafened)
        .await
    {
        Ok(()) | Err(MediaError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
