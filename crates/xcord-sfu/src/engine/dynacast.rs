//! Dynacast: publishers are told which simulcast layers anyone currently receives, so their
//! encoders stop producing the others (`SubscribedQualityUpdate`; livekit-client acts on it
//! when the room has `dynacast` on).
//!
//! Per published video track, the wanted quality is the best layer any subscriber asks for: its
//! `UpdateTrackSettings` quality mapped onto the track's layers; paused and absent subscribers
//! want nothing. Bandwidth caps do not count (as in LiveKit): a subscriber's estimate only grows
//! past a layer it is not sent while that layer keeps flowing to climb back to, and turning the
//! layer off made capped subscribers stay down for good (seen with Chromium). Layers up to that quality are enabled,
//! the rest disabled; nothing at all when nobody watches. A rise is sent at once; a fall only
//! once it has lasted [`DOWNGRADE_DELAY`] (a subscriber whose estimate dips, or who scrolls a
//! tile away and back, does not make the publisher restart an encoder). Until the first update
//! the publisher sends every layer.

use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use str0m::media::MediaKind;

use super::publish::Track;
use super::{Engine, PeerKey, TrackKey};

/// How long a lower wanted quality must last before the publisher is told.
pub const DOWNGRADE_DELAY: Duration = Duration::from_secs(5);

/// A published video track's dynacast state.
#[derive(Debug, Default)]
pub struct Dynacast {
    /// What the publisher was last told (`Some(None)`: nothing wanted); `None`: nothing yet.
    told: Option<Option<i32>>,
    /// Since when the wanted quality has been below what the publisher was told.
    lower_since: Option<Instant>,
}

impl Dynacast {
    /// Given what is wanted now, what to tell the publisher now, if anything.
    pub fn decide(&mut self, wanted: Option<i32>, now: Instant) -> Option<Option<i32>> {
        let current = self.told.unwrap_or(Some(proto::VideoQuality::High as i32));
        if wanted == current {
            self.lower_since = None;
            return None;
        }
        if wanted < current {
            let since = *self.lower_since.get_or_insert(now);
            if now.saturating_duration_since(since) < DOWNGRADE_DELAY {
                return None;
            }
        }
        self.lower_since = None;
        self.told = Some(wanted);
        Some(wanted)
    }
}

/// The quality of the layer the forwarder would aim at under `limit`: the best layer at or
/// below it, else the lowest.
fn layer_for(track: &Track, limit: i32) -> Option<i32> {
    let lowest = track.layers.first().map(|l| l.quality);
    track
        .layers
        .iter()
        .rev()
        .map(|l| l.quality)
        .find(|q| *q <= limit)
        .or(lowest)
}

/// The message enabling every quality up to `max` (none for `None`).
#[allow(deprecated)] // clients still read the first codec's list in `subscribed_qualities`
fn quality_update(track: &Track, max: Option<i32>) -> proto::SubscribedQualityUpdate {
    let qualities: Vec<proto::SubscribedQuality> = [
        proto::VideoQuality::Low,
        proto::VideoQuality::Medium,
        proto::VideoQuality::High,
    ]
    .into_iter()
    .map(|q| proto::SubscribedQuality {
        quality: q as i32,
        enabled: max.is_some_and(|m| q as i32 <= m),
    })
    .collect();
    let mime = &track.info.mime_type;
    let codec = mime
        .split_once('/')
        .map_or(mime.as_str(), |(_, c)| c)
        .to_ascii_lowercase();
    proto::SubscribedQualityUpdate {
        track_sid: track.info.sid.clone(),
        subscribed_qualities: qualities.clone(),
        subscribed_codecs: vec![proto::SubscribedCodec { codec, qualities }],
    }
}

impl Engine {
    /// The best quality any subscriber of a video track currently gets (`None`: nobody).
    fn wanted_quality(&self, track: &Track) -> Option<i32> {
        track
            .downs
            .iter()
            .filter_map(|dk| self.downs.get(*dk))
            .filter(|d| !d.fwd.disabled)
            .filter_map(|d| layer_for(track, d.fwd.max_quality))
            .max()
    }

    /// Re-evaluates a track's dynacast state and tells its publisher what changed.
    pub(super) fn update_dynacast(&mut self, tk: TrackKey, now: Instant) {
        let Some(track) = self.tracks.get(tk) else {
            return;
        };
        if track.kind != MediaKind::Video {
            return;
        }
        let wanted = self.wanted_quality(track);
        let Some(track) = self.tracks.get_mut(tk) else {
            return;
        };
        let Some(tell) = track.dynacast.decide(wanted, now) else {
            return;
        };
        let update = quality_update(track, tell);
        let publisher = track.publisher;
        tracing::debug!(track = %track.info.sid, quality = ?tell, "dynacast update");
        if let Some(p) = self.participants.get_mut(publisher) {
            p.send(Resp::SubscribedQualityUpdate(update));
        }
    }

    /// Re-evaluates every track a peer publishes (its delayed downgrades fall due here).
    pub(super) fn dynacast_tick(&mut self, peer_key: PeerKey, now: Instant) {
        let Some(participant) = self.peers.get(peer_key).map(|p| p.participant) else {
            return;
        };
        let Some(p) = self.participants.get(participant) else {
            return;
        };
        let tracks: Vec<TrackKey> = p
            .tracks
            .iter()
            .copied()
            .filter(|tk| self.tracks.get(*tk).is_some_and(|t| t.peer == peer_key))
            .collect();
        for tk in tracks {
            self.update_dynacast(tk, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rises_at_once_and_falls_after_the_delay() {
        let t0 = Instant::now();
        let (low, high) = (
            Some(proto::VideoQuality::Low as i32),
            Some(proto::VideoQuality::High as i32),
        );
        let mut d = Dynacast::default();
        // The publisher starts with everything on: wanting all of it says nothing.
        assert_eq!(d.decide(high, t0), None);
        assert_eq!(d.decide(low, t0), None);
        assert_eq!(d.decide(low, t0 + Duration::from_secs(4)), None);
        assert_eq!(d.decide(low, t0 + DOWNGRADE_DELAY), Some(low));
        assert_eq!(d.decide(high, t0 + DOWNGRADE_DELAY), Some(high));
        // A dip shorter than the delay is never sent.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(d.decide(None, t1), None);
        assert_eq!(d.decide(high, t1 + Duration::from_secs(2)), None);
        assert_eq!(d.decide(None, t1 + Duration::from_secs(3)), None);
        assert_eq!(d.decide(None, t1 + Duration::from_secs(8)), Some(None));
        // Someone subscribes again: the lowest layer comes back at once.
        assert_eq!(d.decide(low, t1 + Duration::from_secs(8)), Some(low));
    }
}
