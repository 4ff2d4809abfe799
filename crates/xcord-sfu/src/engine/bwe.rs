//! Bandwidth-driven layer choice: each subscriber connection runs str0m's send-side estimator
//! (TWCC feedback, GCC; REMB too when a client sends it), and the estimate is shared out over the
//! subscriber's video subscriptions. Audio is reserved first and never managed. Video gets its
//! lowest allowed layer whatever the budget (no pausing), then layers are filled bottom-up, one
//! level at a time across all tracks (screen shares first), while the budget lasts.
//!
//! The result caps each subscription's simulcast layer (on top of its `UpdateTrackSettings`
//! quality): a cap falls as soon as an allocation says so, and rises only after allocations
//! have said so for [`UPGRADE_HOLD`]. The forwarder still switches only at a keyframe of the
//! layer it moves to. While a subscriber is held below what it wants, str0m is told the rate of
//! the next step (`set_bitrate` minimum, filled with padding up to the estimate) and the rate of
//! everything it wants (desired, which it probes for), so the estimate can grow past the next
//! layer before the layer is sent.
//!
//! Layer rates are measured at ingress ([`RateMeter`]); a layer never seen yet costs what the
//! publisher advertised for it, or a default by quality.

use std::time::{Duration, Instant};

use livekit_protocol as proto;
use str0m::bwe::{Bitrate, BweKind};
use str0m::media::MediaKind;

use super::{DownKey, Engine, PeerKey};

/// The estimate each subscriber connection starts from, before any feedback: generous enough
/// for a 720p simulcast high layer, so an unconstrained subscriber starts on the best layer and
/// a constrained one steps down on the first congestion signal.
pub const INITIAL_ESTIMATE: Bitrate = Bitrate::kbps(2_000);
/// Share of the estimate that media may use.
pub const USABLE_SHARE: f64 = 0.95;
/// How long allocations must keep allowing a higher layer before the cap rises.
pub const UPGRADE_HOLD: Duration = Duration::from_secs(3);
/// Cost of an audio subscription whose rate has not been measured yet.
pub const AUDIO_DEFAULT_BPS: u64 = 48_000;
/// Costs of video layers neither measured nor advertised, by quality (low, medium, high).
pub const VIDEO_DEFAULT_BPS: [u64; 3] = [150_000, 500_000, 1_500_000];
/// Earliest retry of str0m's delay controller. Without fresh TWCC feedback it retries after one
/// round-trip time, which is microseconds on loopback and zero on the test harness's network:
/// the peer would never sleep.
pub const DELAY_CONTROL_FLOOR: Duration = Duration::from_millis(5);
/// The window over which a layer's rate is measured.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The bit rate of one incoming stream, measured over [`RATE_WINDOW`]s and smoothed over
/// consecutive windows. A gap of more than two windows (a layer the publisher paused) starts a
/// fresh window and keeps the last rate.
#[derive(Default, Debug)]
pub struct RateMeter {
    start: Option<Instant>,
    last: Option<Instant>,
    bytes: u64,
    bps: Option<u64>,
}

impl RateMeter {
    /// Counts `bytes` received at `now`.
    pub fn add(&mut self, bytes: usize, now: Instant) {
        let gap = self
            .last
            .is_some_and(|l| now.saturating_duration_since(l) > 2 * RATE_WINDOW);
        self.last = Some(now);
        if gap {
            self.start = Some(now);
            self.bytes = bytes as u64;
            return;
        }
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= RATE_WINDOW {
            let micros = (elapsed.as_micros() as u64).max(1);
            let rate = self.bytes.saturating_mul(8_000_000) / micros;
            self.bps = Some(self.bps.map_or(rate, |old| (old + rate) / 2));
            self.start = Some(now);
            self.bytes = 0;
        }
        self.bytes += bytes as u64;
    }

    /// The measured rate, once a whole window has passed.
    pub fn bps(&self) -> Option<u64> {
        self.bps
    }
}

/// The instant to wake a peer whose `Rtc` asked for `at` (for `reason`): no sooner than
/// [`DELAY_CONTROL_FLOOR`] from now for the delay controller, as asked otherwise.
pub fn floor_timeout(at: Instant, now: Instant, reason: str0m::Reason) -> Instant {
    if matches!(reason, str0m::Reason::BweDelayControl) {
        at.max(now + DELAY_CONTROL_FLOOR)
    } else {
        at
    }
}

/// A subscriber connection's view of its downlink.
#[derive(Default, Debug)]
pub struct PeerBwe {
    /// str0m's TWCC estimate (smoothed; sent on change).
    twcc: Option<u64>,
    /// str0m's latest raw TWCC estimate (from the peer statistics, every second).
    raw: Option<u64>,
    /// The client's own estimate, for clients that send REMB.
    remb: Option<u64>,
    /// The (minimum, desired) last given to str0m.
    told: Option<(u64, u64)>,
    /// A test's fixed estimate, in place of what the network says.
    #[cfg(test)]
    pub pinned: Option<u64>,
}

impl PeerBwe {
    /// The downlink estimate in bit/s: the lowest of what str0m and the client say.
    pub fn estimate(&self) -> Option<u64> {
        #[cfg(test)]
        let pinned = self.pinned;
        #[cfg(not(test))]
        let pinned: Option<u64> = None;
        pinned.or_else(|| [self.twcc, self.raw, self.remb].into_iter().flatten().min())
    }
}

/// The bandwidth cap of one subscription and its pending rise.
#[derive(Debug)]
pub struct DownBwe {
    /// Highest `VideoQuality` the subscriber's bandwidth allows (`High`: no limit).
    pub cap: i32,
    /// Since when allocations have allowed more than `cap`.
    up_since: Option<Instant>,
}

impl Default for DownBwe {
    fn default() -> Self {
        Self {
            cap: proto::VideoQuality::High as i32,
            up_since: None,
        }
    }
}

impl DownBwe {
    /// Takes one allocation's verdict (`fit`: the quality that fits): lower caps apply at once,
    /// higher ones once they have held for [`UPGRADE_HOLD`]. Whether the cap changed.
    pub fn apply(&mut self, fit: i32, now: Instant) -> bool {
        if fit < self.cap {
            self.cap = fit;
            self.up_since = None;
            return true;
        }
        if fit == self.cap {
            self.up_since = None;
            return false;
        }
        let since = *self.up_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= UPGRADE_HOLD {
            self.cap = fit;
            self.up_since = None;
            return true;
        }
        false
    }
}

/// One video subscription's candidate layers for the allocator.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// Screen shares are served first at every level.
    pub screen: bool,
    /// Cost in bit/s of each layer the subscriber allows, low → high (never empty).
    pub costs: Vec<u64>,
}

/// Shares `budget` bit/s out: every demand gets its first layer, then each level is offered to
/// every demand in turn (screen shares first) while the rest of the budget covers the step. The
/// chosen layer index per demand.
pub fn allocate(budget: u64, demands: &[Demand]) -> Vec<usize> {
    let mut chosen = vec![0usize; demands.len()];
    let mut used: u64 = demands
        .iter()
        .map(|d| d.costs.first().copied().unwrap_or(0))
        .sum();
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| !demands[i].screen);
    let mut stuck = vec![false; demands.len()];
    let levels = demands.iter().map(|d| d.costs.len()).max().unwrap_or(0);
    for level in 1..levels {
        for &i in &order {
            let costs = &demands[i].costs;
            if stuck[i] || chosen[i] + 1 != level || level >= costs.len() {
                continue;
            }
            let step = costs[level].saturating_sub(costs[level - 1]);
            if used.saturating_add(step) <= budget {
                chosen[i] = level;
                used += step;
            } else {
                stuck[i] = true;
            }
        }
    }
    chosen
}

/// What one allocation wants str0m to do: pad up to `minimum`, probe towards `desired` (bit/s).
fn probe_targets(audio: u64, demands: &[Demand], allowed: &[usize]) -> (u64, u64) {
    let desired = audio
        + demands
            .iter()
            .map(|d| d.costs.last().copied().unwrap_or(0))
            .sum::<u64>();
    let sending: u64 = audio
        + demands
            .iter()
            .zip(allowed)
            .map(|(d, &i)| d.costs.get(i).copied().unwrap_or(0))
            .sum::<u64>();
    let next_step = demands
        .iter()
        .zip(allowed)
        .filter_map(|(d, &i)| Some(d.costs.get(i + 1)?.saturating_sub(*d.costs.get(i)?)))
        .min();
    let minimum = next_step.map_or(0, |step| sending + step);
    (minimum, desired)
}

impl Engine {
    /// A new estimate for a peer's downlink (an event of its `Rtc`).
    pub(super) fn on_bandwidth_estimate(&mut self, peer_key: PeerKey, kind: BweKind, now: Instant) {
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        match kind {
            BweKind::Twcc { estimate, .. } => peer.bwe.twcc = Some(estimate.as_u64()),
            BweKind::Remb { estimate, .. } => peer.bwe.remb = Some(estimate.as_u64()),
            _ => return,
        }
        self.allocate_bandwidth(peer_key, now);
    }

    /// A peer's once-a-second statistics: its raw estimate, the allocation's hold timers, and
    /// the dynacast downgrades of the tracks it publishes.
    pub(super) fn on_bandwidth_tick(
        &mut self,
        peer_key: PeerKey,
        raw: Option<Bitrate>,
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        if let Some(raw) = raw {
            peer.bwe.raw = Some(raw.as_u64());
        }
        self.allocate_bandwidth(peer_key, now);
        self.dynacast_tick(peer_key, now);
    }

    /// Shares a subscriber connection's estimate out over its subscriptions (see the module
    /// docs) and updates their caps and str0m's probing targets.
    pub(super) fn allocate_bandwidth(&mut self, peer_key: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get(peer_key) else {
            return;
        };
        let Some(estimate) = peer.bwe.estimate() else {
            return;
        };
        let Some(p) = self.participants.get(peer.participant) else {
            return;
        };
        let mut audio = 0u64;
        // (subscription, qualities of its allowed layers, demand)
        let mut video: Vec<(DownKey, Vec<i32>)> = Vec::new();
        let mut demands: Vec<Demand> = Vec::new();
        for &dk in &p.downs {
            let Some(down) = self.downs.get(dk) else {
                continue;
            };
            if down.peer != peer_key || down.fwd.disabled {
                continue;
            }
            let Some(track) = self.tracks.get(down.track) else {
                continue;
            };
            if track.kind == MediaKind::Audio {
                audio += track
                    .layers
                    .first()
                    .and_then(|l| l.rate.bps())
                    .unwrap_or(AUDIO_DEFAULT_BPS);
                continue;
            }
            let mut qualities = Vec::new();
            let mut costs = Vec::new();
            for l in &track.layers {
                if !qualities.is_empty() && l.quality > down.fwd.max_quality {
                    break;
                }
                qualities.push(l.quality);
                costs.push(l.cost());
            }
            if costs.is_empty() {
                continue;
            }
            let screen = track.info.source == proto::TrackSource::ScreenShare as i32;
            video.push((dk, qualities));
            demands.push(Demand { screen, costs });
        }
        let usable = (estimate as f64 * USABLE_SHARE) as u64;
        let fits = allocate(usable.saturating_sub(audio), &demands);
        let mut allowed = Vec::with_capacity(video.len());
        let mut changed = Vec::new();
        for ((dk, qualities), fit) in video.iter().zip(&fits) {
            let Some(down) = self.downs.get_mut(*dk) else {
                allowed.push(0);
                continue;
            };
            // A subscription that gets everything it allows is not limited by bandwidth.
            let fit_quality = if *fit + 1 == qualities.len() {
                proto::VideoQuality::High as i32
            } else {
                qualities[*fit]
            };
            if down.fwd.bwe.apply(fit_quality, now) {
                changed.push(down.track);
            }
            let cap = down.fwd.bwe.cap;
            allowed.push(qualities.iter().rposition(|q| *q <= cap).unwrap_or(0));
        }
        let (minimum, desired) = probe_targets(audio, &demands, &allowed);
        if let Some(peer) = self.peers.get_mut(peer_key)
            && peer.bwe.told != Some((minimum, desired))
        {
            peer.bwe.told = Some((minimum, desired));
            peer.rtc
                .bwe()
                .set_bitrate(Bitrate::bps(minimum), Bitrate::bps(desired));
            self.mark_dirty(peer_key);
        }
        for tk in changed {
            if let Some(t) = self.tracks.get(tk) {
                tracing::debug!(track = %t.info.sid, estimate, "bandwidth cap changed");
            }
            self.update_dynacast(tk, now);
        }
    }

    /// Fixes a peer's estimate (tests), or lets the network decide again (`None`).
    #[cfg(test)]
    pub(super) fn pin_estimate(&mut self, peer_key: PeerKey, bps: Option<u64>, now: Instant) {
        if let Some(peer) = self.peers.get_mut(peer_key) {
            peer.bwe.pinned = bps;
        }
        self.allocate_bandwidth(peer_key, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(screen: bool, costs: &[u64]) -> Demand {
        Demand {
            screen,
            costs: costs.to_vec(),
        }
    }

    #[test]
    fn fills_layers_bottom_up_across_tracks() {
        let cams = [
            demand(false, &[100, 300, 900]),
            demand(false, &[100, 300, 900]),
        ];
        // Both lowest layers always; the budget then covers one step each to medium.
        assert_eq!(allocate(600, &cams), vec![1, 1]);
        // Not enough for both mediums: the first gets it, the second stays low.
        assert_eq!(allocate(450, &cams), vec![1, 0]);
        // Below the sum of the lowest layers: nobody is paused.
        assert_eq!(allocate(50, &cams), vec![0, 0]);
        assert_eq!(allocate(10_000, &cams), vec![2, 2]);
    }

    #[test]
    fn screen_shares_come_first_at_each_level() {
        let ds = [
            demand(false, &[100, 300, 900]),
            demand(true, &[100, 300, 900]),
        ];
        assert_eq!(allocate(450, &ds), vec![0, 1]);
        assert_eq!(allocate(1_100, &ds), vec![1, 1]);
        assert_eq!(allocate(1_300, &ds), vec![1, 2]);
    }

    #[test]
    fn caps_fall_at_once_and_rise_after_the_hold() {
        let t0 = Instant::now();
        let (low, high) = (
            proto::VideoQuality::Low as i32,
            proto::VideoQuality::High as i32,
        );
        let mut b = DownBwe::default();
        assert!(b.apply(low, t0));
        assert_eq!(b.cap, low);
        assert!(!b.apply(high, t0 + Duration::from_secs(1)));
        assert!(!b.apply(high, t0 + Duration::from_secs(3)));
        // A dip restarts the hold.
        assert!(!b.apply(low, t0 + Duration::from_secs(3)));
        assert!(!b.apply(high, t0 + Duration::from_secs(4)));
        assert!(!b.apply(high, t0 + Duration::from_secs(6)));
        assert!(b.apply(high, t0 + Duration::from_secs(7)));
        assert_eq!(b.cap, high);
    }

    #[test]
    fn pads_towards_the_next_step_only_while_held_back() {
        let ds = [demand(false, &[100, 300, 900])];
        assert_eq!(probe_targets(50, &ds, &[0]), (50 + 100 + 200, 950));
        assert_eq!(probe_targets(50, &ds, &[2]), (0, 950));
    }

    #[test]
    fn rate_meter_measures_windows_and_survives_pauses() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        // 1250 bytes every 10 ms = 1 Mbit/s.
        for i in 0..=200u64 {
            m.add(1250, t0 + Duration::from_millis(10 * i));
        }
        let bps = m.bps().unwrap();
        assert!((950_000..=1_050_000).contains(&bps), "{bps}");
        // A long pause does not read as a low rate.
        m.add(1250, t0 + Duration::from_secs(30));
        assert_eq!(m.bps(), Some(bps));
    }
}
