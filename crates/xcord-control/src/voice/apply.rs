//! Applying media events to voice states. Each event is applied once (the inbox's `processed`
//! flag turns in the same transaction); a participant is keyed by its sid, so events that arrive
//! out of order across rooms do the right thing: a join in a new channel replaces the user's old
//! state (one move, not a leave after a join), and a late `participant_left` for the old sid
//! finds nothing to remove.

use async_trait::async_trait;
use livekit_protocol as proto;
use xcord_sfu::events::names;

use super::{VoiceState, channel_of_room, store};
use crate::app::Services;
use crate::communities;
use crate::db::Db;
use crate::media::{MediaEvent, MediaEventListener, inbox};
use crate::realtime::hub::{Audience, GatewayEvent};

/// The gateway event of voice-state changes.
pub const VOICE_STATE_UPDATE: &str = "VOICE_STATE_UPDATE";

/// A change to announce after the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The user is now in this state (joined, flags changed, or moved from `previous`).
    Updated {
        state: VoiceState,
        previous: Option<String>,
    },
    /// The user left the channel.
    Left {
        user_id: String,
        channel_id: String,
        participant_sid: String,
    },
}

/// Users who see voice states of a channel: the members of its community who may view its
/// channels (the audience of every other channel event).
pub async fn audience(db: &Db, channel_id: &str) -> Result<Vec<String>, sqlx::Error> {
    communities::channel_viewers(db, channel_id).await
}

/// Announces changes on the gateway as VOICE_STATE_UPDATE (a left user has `channelId: null`
/// and `previousChannelId`).
pub async fn announce(services: &Services, changes: &[Change]) {
    for change in changes {
        let (channels, data) = match change {
            Change::Updated { state: s, previous } => {
                let mut data = serde_json::json!(s);
                if let Some(obj) = data.as_object_mut() {
                    obj.insert("previousChannelId".into(), serde_json::json!(previous));
                }
                let mut channels = vec![s.channel_id.clone()];
                channels.extend(previous.clone());
                (channels, data)
            }
            Change::Left {
                user_id,
                channel_id,
                participant_sid,
            } => (
                vec![channel_id.clone()],
                serde_json::json!({"userId": user_id, "channelId": null, "previousChannelId": channel_id, "participantSid": participant_sid}),
            ),
        };
        let mut users = Vec::new();
        for channel in &channels {
            match audience(&services.db, channel).await {
                Ok(u) => users.extend(u),
                Err(e) => tracing::warn!("voice state audience: {e}"),
            }
        }
        users.sort();
        users.dedup();
        services.hub.publish(
            Audience::Users(users),
            GatewayEvent::new(VOICE_STATE_UPDATE, data),
        );
    }
}

fn flags_from_tracks(s: &mut VoiceState, tracks: &[proto::TrackInfo]) {
    let has = |src: proto::TrackSource, unmuted: bool| {
        tracks
            .iter()
            .any(|t| t.source == src as i32 && (!unmuted || !t.muted))
    };
    s.camera = has(proto::TrackSource::Camera, true);
    s.screen_share = has(proto::TrackSource::ScreenShare, false);
    if has(proto::TrackSource::Microphone, false) {
        s.self_mute = !has(proto::TrackSource::Microphone, true);
    }
}

/// Applies one stored event at `now`; returns what changed. The event is claimed in the same
/// transaction (unprocessed → processed).
pub async fn process(db: &Db, event: &MediaEvent, now: i64) -> Result<Vec<Change>, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    if !inbox::claim(&mut tx, &event.id).await? {
        tx.rollback().await?;
        return Ok(Vec::new());
    }
    let room = event
        .room
        .as_ref()
        .map(|r| r.name.as_str())
        .unwrap_or_default();
    let Some(channel_id) = channel_of_room(room) else {
        tx.commit().await?;
        return Ok(Vec::new());
    };
    let mut changes = Vec::new();
    let participant = event.participant.as_ref();
    match event.event.as_str() {
        names::PARTICIPANT_JOINED => {
            if let Some(p) = participant
                && store::by_sid(&mut tx, &p.sid).await?.is_none()
            {
                // One voice state per user: an older one (another channel, or a replaced
                // connection) is superseded by this join — a move is one change.
                let mut previous = None;
                for old in store::of_user_tx(&mut tx, &p.identity).await? {
                    store::delete(&mut tx, &old.participant_sid).await?;
                    if old.channel_id != channel_id {
                        previous = Some(old.channel_id);
                    }
                }
                let mut s = VoiceState {
                    user_id: p.identity.clone(),
                    channel_id: channel_id.to_owned(),
                    participant_sid: p.sid.clone(),
                    self_mute: false,
                    self_deaf: false,
                    server_mute: false,
                    server_deaf: false,
                    camera: false,
                    screen_share: false,
                    joined_at: now,
                };
                flags_from_tracks(&mut s, &p.tracks);
                store::insert(&mut tx, &s, room, now).await?;
                changes.push(Change::Updated { state: s, previous });
            }
        }
        names::PARTICIPANT_LEFT | names::PARTICIPANT_CONNECTION_ABORTED => {
            if let Some(p) = participant
                && let Some(s) = store::by_sid(&mut tx, &p.sid).await?
            {
                store::delete(&mut tx, &p.sid).await?;
                changes.push(Change::Left {
                    user_id: s.user_id,
                    channel_id: s.channel_id,
                    participant_sid: s.participant_sid,
                });
            }
        }
        names::TRACK_PUBLISHED | names::TRACK_UNPUBLISHED => {
            if let Some(p) = participant
                && let Some(mut s) = store::by_sid(&mut tx, &p.sid).await?
            {
                let before = s.clone();
                flags_from_tracks(&mut s, &p.tracks);
                if s != before {
                    store::update_flags(&mut tx, &s, now).await?;
                    changes.push(Change::Updated {
                        state: s,
                        previous: None,
                    });
                }
            }
        }
        names::ROOM_FINISHED => {
            for s in store::in_room_tx(&mut tx, room).await? {
                store::delete(&mut tx, &s.participant_sid).await?;
                changes.push(Change::Left {
                    user_id: s.user_id,
                    channel_id: s.channel_id,
                    participant_sid: s.participant_sid,
                });
            }
        }
        _ => {}
    }
    tx.commit().await?;
    Ok(changes)
}

/// Voice's media-event listener: applies each stored event and announces the changes.
pub struct VoiceMediaListener;

#[async_trait]
impl MediaEventListener for VoiceMediaListener {
    async fn on_media_event(&self, services: &Services, event: &MediaEvent) {
        match process(&services.db, event, services.clock.now_ms()).await {
            Ok(changes) => announce(services, &changes).await,
            Err(e) => tracing::warn!(id = %event.id, "media event not applied: {e}"),
        }
    }
}
