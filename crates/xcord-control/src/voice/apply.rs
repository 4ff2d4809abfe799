//! Applying media events to voice states. Each event is applied once (the inbox's `processed`
//! flag turns in the same transaction); a participant is keyed by its sid, so events that arrive
//! out of order across rooms do the right thing: a join in a new channel replaces the user's old
//! state (one move, not a leave after a join), and a late `participant_left` for the old sid
//! finds nothing to remove.

use async_trait::async_trait;
use livekit_protocol as proto;
use xcord_sfu::events::names;

use sqlx::{Any, Transaction};

use super::decide::{Decision, MediaAction, Observed, Write, decide};
use super::{admission, channel_of_room, moderation, store, token};
use crate::app::Services;
use crate::communities;
use crate::db::Db;
use crate::media::{MediaError, MediaEvent, MediaEventListener, inbox};
use crate::realtime::hub::{Audience, GatewayEvent};

/// The gateway event of voice-state changes.
pub const VOICE_STATE_UPDATE: &str = "VOICE_STATE_UPDATE";

pub use super::decide::Change;

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

/// Reads, in the transaction, the voice states the event concerns; `verdict` is the server's
/// verdict on a joining participant, read before the transaction began.
async fn observe(
    tx: &mut Transaction<'_, Any>,
    event: &proto::WebhookEvent,
    room: &str,
    verdict: Option<admission::Verdict>,
) -> Result<Observed, sqlx::Error> {
    let mut observed = Observed::default();
    let Some(p) = event.participant.as_ref() else {
        if event.event == names::ROOM_FINISHED {
            observed.room_states = store::in_room_tx(tx, room).await?;
        }
        return Ok(observed);
    };
    observed.same_sid = store::by_sid(tx, &p.sid).await?;
    if event.event == names::PARTICIPANT_JOINED && observed.same_sid.is_none() {
        observed.user_states = store::of_user_tx(tx, &p.identity).await?;
        observed.verdict = verdict;
    }
    Ok(observed)
}

/// The server's verdict on `user_id` joining the channel's room now.
pub async fn verdict(
    db: &Db,
    channel_id: &str,
    user_id: &str,
) -> Result<admission::Verdict, sqlx::Error> {
    let access = communities::channel_access(db, channel_id, user_id).await?;
    let others = store::in_channel(db, channel_id)
        .await?
        .iter()
        .filter(|s| s.user_id != user_id)
        .count();
    let moderation = match &access {
        Some(a) => moderation::get(db, &a.community_id, user_id).await?,
        None => moderation::Moderation::default(),
    };
    Ok(admission::decide(access.as_ref(), Some(others), moderation))
}

/// Applies one stored event at `now`: claims it, decides, writes, all in one transaction.
/// Returns the decision (changes to announce, media actions to take).
pub async fn process(db: &Db, event: &MediaEvent, now: i64) -> Result<Decision, sqlx::Error> {
    let room = event
        .room
        .as_ref()
        .map(|r| r.name.as_str())
        .unwrap_or_default();
    let channel_id = channel_of_room(room);
    // Recorders, agents and other server-side participants come with the operator's own
    // tokens: they are not members, hold no voice state and are not judged.
    let verdict = match (channel_id, event.participant.as_ref()) {
        (Some(channel_id), Some(p))
            if event.event == names::PARTICIPANT_JOINED
                && p.kind == proto::participant_info::Kind::Standard as i32 =>
        {
            Some(verdict(db, channel_id, &p.identity).await?)
        }
        _ => None,
    };
    let mut tx = db.pool.begin().await?;
    if !inbox::claim(&mut tx, &event.id).await? {
        tx.rollback().await?;
        return Ok(Decision::default());
    }
    let Some(channel_id) = channel_id else {
        tx.commit().await?;
        return Ok(Decision::default());
    };
    let observed = observe(&mut tx, event, room, verdict).await?;
    let decision = decide(event, channel_id, &observed, now);
    for write in &decision.writes {
        match write {
            Write::Insert(s) => store::insert(&mut tx, s, room, now).await?,
            Write::UpdateFlags(s) => store::update_flags(&mut tx, s, now).await?,
            Write::Delete { participant_sid } => {
                store::delete(&mut tx, participant_sid).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(decision)
}

/// Asks the media plane for what a decision needs (after its transaction committed).
pub async fn act(services: &Services, room: &str, actions: &[MediaAction]) {
    let Some(media) = &services.media else {
        return;
    };
    for action in actions {
        let result = match action {
            MediaAction::Remove { identity } => {
                tracing::info!(room = ?room, identity = ?identity, "removing a participant who may not be in voice");
                media
                    .plane
                    .revoke_participant(room, identity, token::TOKEN_TTL)
                    .await
                    .map(|_| ())
            }
            MediaAction::SetPermission {
                identity,
                permission,
            } => media
                .plane
                .update_participant(proto::UpdateParticipantRequest {
                    room: room.to_owned(),
                    identity: identity.clone(),
                    permission: Some(permission.clone()),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        };
        match result {
            Ok(()) | Err(MediaError::NotFound(_)) => {}
            Err(e) => tracing::warn!(room = ?room, "media action {action:?} failed: {e}"),
        }
    }
}

/// Voice's media-event listener: applies each stored event and announces the changes.
pub struct VoiceMediaListener;

#[async_trait]
impl MediaEventListener for VoiceMediaListener {
    async fn on_media_event(&self, services: &Services, event: &MediaEvent) {
        match process(&services.db, event, services.clock.now_ms()).await {
            Ok(decision) => {
                announce(services, &decision.changes).await;
                let room = event
                    .room
                    .as_ref()
                    .map(|r| r.name.as_str())
                    .unwrap_or_default();
                act(services, room, &decision.media).await;
            }
            Err(e) => tracing::warn!(id = %event.id, "media event not applied: {e}"),
        }
    }
}
