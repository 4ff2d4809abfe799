//! The reconciler: compares stored voice states with the media plane's participant lists and
//! removes ghosts (states whose participant the media plane no longer has — a crash, a lost
//! event). A state must be missing in two consecutive checks, and older than one interval, before
//! it is removed, so a join whose event is still in flight is never touched. Ghosts are therefore
//! gone within about three intervals. When the media node is lost, every state goes at once
//! ([`media_node_lost`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::apply::{Change, announce};
use super::store;
use crate::app::Services;
use crate::media::MediaError;

/// Runs until shutdown: one pass every `interval`.
pub fn spawn(state: Arc<Services>, interval: Duration) {
    let tasks = state.tasks.clone();
    tasks.spawn_until_shutdown(async move {
        let mut suspects: HashSet<String> = HashSet::new();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match pass(&state, &suspects, interval, state.clock.now_ms()).await {
                Ok(next) => suspects = next,
                Err(e) => tracing::warn!("voice reconciler: {e}"),
            }
        }
    });
}

/// One comparison at `now` (unix ms). Returns the sids missing this time (suspects for the
/// next pass).
pub async fn pass(
    state: &Services,
    suspects: &HashSet<String>,
    interval: Duration,
    now: i64,
) -> Result<HashSet<String>, sqlx::Error> {
    let Some(media) = state.media.as_ref().map(|m| m.plane.clone()) else {
        return Ok(HashSet::new());
    };
    let mut missing = HashSet::new();
    let mut removed = Vec::new();
    let min_age = now - interval.as_millis() as i64;
    for room in store::rooms(&state.db).await? {
        let present: HashSet<String> = match media.list_participants(&room).await {
            Ok(list) => list.into_iter().map(|p| p.sid).collect(),
            Err(MediaError::NotFound(_)) => HashSet::new(),
            Err(e) => {
                tracing::debug!(%room, "reconciler skips room: {e}");
                continue;
            }
        };
        let mut tx = state.db.pool.begin().await?;
        for s in store::in_room_tx(&mut tx, &room).await? {
            if present.contains(&s.participant_sid) || s.joined_at > min_age {
                continue;
            }
            if suspects.contains(&s.participant_sid) {
                store::delete(&mut tx, &s.participant_sid).await?;
                tracing::info!(user = %s.user_id, channel = %s.channel_id, sid = %s.participant_sid, "reconciler removed a ghost voice state");
                removed.push(Change::Left {
                    user_id: s.user_id,
                    channel_id: s.channel_id,
                    participant_sid: s.participant_sid,
                });
            } else {
                missing.insert(s.participant_sid);
            }
        }
        tx.commit().await?;
    }
    if !removed.is_empty() {
        metrics::counter!(crate::metrics::RECONCILER_REPAIRS).increment(removed.len() as u64);
    }
    announce(state, &removed).await;
    Ok(missing)
}

/// The media node stopped answering: every voice state is gone with it (their rooms are), each
/// removal announced. Returns how many were removed.
pub async fn media_node_lost(state: &Services) -> Result<usize, sqlx::Error> {
    let mut removed = Vec::new();
    for room in store::rooms(&state.db).await? {
        let mut tx = state.db.pool.begin().await?;
        for s in store::in_room_tx(&mut tx, &room).await? {
            if store::delete(&mut tx, &s.participant_sid).await? {
                removed.push(Change::Left {
                    user_id: s.user_id,
                    channel_id: s.channel_id,
                    participant_sid: s.participant_sid,
                });
            }
        }
        tx.commit().await?;
    }
    announce(state, &removed).await;
    Ok(removed.len())
}
