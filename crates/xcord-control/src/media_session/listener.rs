//! Media sessions' side of media-plane events, for call rooms (`dm_<call>`) and channel rooms
//! (`vc_<channel>`) (in live rooms, `live_<session>`, only the user's own media connection): who is in each room (keyed by participant sid, so a replaced connection's
//! late `participant_left` changes nothing), a call's parties joining and leaving its room (the
//! call's disconnect grace), the user's own media connection, and a new snapshot for everyone
//! whose session is in the room. What the server enforces is applied again to new tracks: a
//! muted user's microphone is muted, a deafened user does not receive new audio.
//!
//! Voice claims each event in the inbox; this listener is idempotent by state instead.

use async_trait::async_trait;
use livekit_protocol as proto;
use xcord_sfu::events::names;

use super::effects;
use super::machine::Input;
use super::model::live_of_room;
use super::store::{self, RoomParticipant};
use super::unit::Unit;
use crate::app::Services;
use crate::calls::call_of_room;
use crate::calls::machine::CallInput;
use crate::error::Result;
use crate::media::{MediaEvent, MediaEventListener};
use crate::voice::channel_of_room;

pub struct MediaSessionListener;

#[async_trait]
impl MediaEventListener for MediaSessionListener {
    async fn on_media_event(&self, services: &Services, event: &MediaEvent) {
        if let Err(e) = apply(services, event).await {
            tracing::warn!(
                id = %event.id,
                event = %event.event,
                room = event.room.as_ref().map_or("", |r| r.name.as_str()),
                participant = event.participant.as_ref().map_or("", |p| p.sid.as_str()),
                user = event.participant.as_ref().map_or("", |p| p.identity.as_str()),
                "media event not applied to media sessions: {e}"
            );
        }
    }
}

fn has(tracks: &[proto::TrackInfo], source: proto::TrackSource, unmuted: bool) -> bool {
    tracks
        .iter()
        .any(|t| t.source == source as i32 && (!unmuted || !t.muted))
}

async fn apply(services: &Services, event: &MediaEvent) -> Result<()> {
    let room = event.room.as_ref().map(|r| r.name.as_str()).unwrap_or("");
    if live_of_room(room).is_some() {
        return live_presence(services, room, event).await;
    }
    if call_of_room(room).is_none() && channel_of_room(room).is_none() {
        return Ok(());
    }
    let now = services.clock.now_ms();
    let (changed, presence) = match (event.event.as_str(), event.participant.as_ref()) {
        (
            names::PARTICIPANT_JOINED | names::TRACK_PUBLISHED | names::TRACK_UNPUBLISHED,
            Some(p),
        ) => {
            let row = RoomParticipant {
                sid: &p.sid,
                room,
                user_id: &p.identity,
                muted: !has(&p.tracks, proto::TrackSource::Microphone, true),
                camera: has(&p.tracks, proto::TrackSource::Camera, true),
                screen_share: has(&p.tracks, proto::TrackSource::ScreenShare, false),
            };
            let changed = store::upsert_participant(&services.db, &row, now).await?;
            (changed, Some((p.identity.clone(), true)))
        }
        (names::PARTICIPANT_LEFT | names::PARTICIPANT_CONNECTION_ABORTED, Some(p)) => {
            let known = store::remove_participant(&services.db, &p.sid).await?;
            (known, known.then(|| (p.identity.clone(), false)))
        }
        _ => (false, None),
    };
    let in_room = store::users_in_room(&services.db, room).await?;
    {
        let mut unit = Unit::begin(services).await;
        if let Some((user, present)) = &presence {
            if let Some(call_id) = call_of_room(room) {
                let input = if *present {
                    CallInput::Joined { user: user.clone() }
                } else {
                    CallInput::Left { user: user.clone() }
                };
                let _ = unit.feed_call(call_id, input).await?;
            }
            let _ = unit
                .feed(
                    user,
                    Input::MediaPresence {
                        room: room.to_owned(),
                        present: *present,
                    },
                )
                .await?;
        }
        if changed {
            for user in &in_room {
                let _ = unit.feed(user, Input::Touch).await?;
            }
        }
        unit.commit(None).await?;
    }
    if changed {
        for user in &in_room {
            let snapshot = super::snapshot(services, user).await?;
            if event.event == names::TRACK_PUBLISHED || event.event == names::PARTICIPANT_JOINED {
                enforce_again(services, user, room, &snapshot.controls).await;
            }
        }
    }
    Ok(())
}

/// In a live room only the user's own media connection shows in their session (the audience is
/// hidden, and the live session keeps who is in the room).
async fn live_presence(services: &Services, room: &str, event: &MediaEvent) -> Result<()> {
    let present = match event.event.as_str() {
        names::PARTICIPANT_JOINED => true,
        names::PARTICIPANT_LEFT | names::PARTICIPANT_CONNECTION_ABORTED => false,
        _ => return Ok(()),
    };
    let Some(p) = event.participant.as_ref() else {
        return Ok(());
    };
    let mut unit = Unit::begin(services).await;
    let _ = unit
        .feed(
            &p.identity,
            Input::MediaPresence {
                room: room.to_owned(),
                present,
            },
        )
        .await?;
    unit.commit(None).await
}

async fn enforce_again(
    services: &Services,
    user: &str,
    room: &str,
    controls: &super::model::Controls,
) {
    if controls.muted
        && let Err(e) = effects::mute_microphone(services, user, room).await
    {
        tracing::warn!(%user, "could not keep a muted microphone muted: {e}");
    }
    if controls.deafened
        && let Err(e) = effects::deafen(services, user, room, true).await
    {
        tracing::warn!(%user, "could not keep a deafened user deaf: {e}");
    }
}
