//! Bandwidth-driven layer choice: each subscriber connection runs str0m's send-side estimator
//! (TWCC feedback, GCC; REMB too when a client sends it), and the estimate is shared out over the
//! subscriber's video subscriptions. Audio is reserved first and never managed. Video gets its
//! lowest allowed rung whatever the budget (no pausing), then rungs are filled bottom-up, one
//! level at a time across all tracks (screen shares first), while the budget lasts. A camera's
//! rungs are its simulcast layers; a screen share with VP8 temporal layers has a rung per
//! temporal layer of each simulcast layer ([`Rung`]), so it loses frame rate (T2 → T1 → T0)
//! before it loses resolution, and its only layer keeps its resolution whatever the budget.
//!
//! The result caps each subscription's rung (on top of its `UpdateTrackSettings` quality): a
//! cap falls at once to what fits the budget stretched by [`DOWNGRADE_TOLERANCE`],
//! to what fits the budget itself once that has lasted [`DOWNGRADE_HOLD`], and rises only after
//! allocations have allowed more for [`UPGRADE_HOLD`]. The forwarder still switches only at a
//! keyframe of the layer it moves to. str0m is told the rate of everything the subscriber wants
//! (desired, which its probe controller probes for); while the subscriber is held below it, the
//! engine makes str0m probe with a back-off ([`PROBE_INTERVAL_MIN`] to [`PROBE_INTERVAL_MAX`]),
//! and while a higher layer waits out its hold, str0m pads up to what that layer will need
//! (`set_bitrate` minimum), so the raised estimate is tried under load before the layer is sent.
//!
//! Layer rates are measured at ingress ([`RateMeter`]); a layer never seen yet costs what the
//! publisher advertised for it, or a default by quality.

use std::time::{Duration, Instant};

use livekit_protocol as proto;
use str0m::bwe::{Bitrate, BweKind};
use str0m::media::MediaKind;

use super::temporal::ALL_TEMPORAL;
use super::{DownKey, Engine, PeerKey};

/// The estimate each subscriber connection starts from, before any feedback: generous enough
/// for a 720p simulcast high layer, so an unconstrained subscriber starts on the best layer and
/// a constrained one steps down on the first congestion signal.
pub const INITIAL_ESTIMATE: Bitrate = Bitrate::kbps(2_000);
/// Share of the estimate that media may use.
pub const USABLE_SHARE: f64 = 0.95;
/// How long allocations must keep allowing a higher layer before the cap rises.
pub const UPGRADE_HOLD: Duration = Duration::from_secs(3);
/// A layer already allowed stays allowed while the estimate covers this share of what it
/// needs (for up to [`DOWNGRADE_HOLD`]): the delay-based estimate dips to 85 % of the
/// acknowledged rate on every overuse signal, including the jitter of a busy receiver, and a
/// subscriber on its best layer has little padding headroom to absorb that.
pub const DOWNGRADE_TOLERANCE: f64 = 0.75;
/// How long an estimate between the tolerance and the full need may last before the cap falls.
pub const DOWNGRADE_HOLD: Duration = Duration::from_secs(2);
/// Cost of an audio subscription whose rate has not been measured yet.
pub const AUDIO_DEFAULT_BPS: u64 = 48_000;
/// Costs of video layers neither measured nor advertised, by quality (low, medium, high).
pub const VIDEO_DEFAULT_BPS: [u64; 3] = [150_000, 500_000, 1_500_000];
/// Earliest retry of str0m's delay controller. Without fresh TWCC feedback it retries after one
/// round-trip time, which is microseconds on loopback and zero on the test harness's network:
/// the peer would never sleep.
pub const DELAY_CONTROL_FLOOR: Duration = Duration::from_millis(5);
/// First wait before probing for a subscriber held below what it wants, and the wait after a
/// probe that lifted a cap.
pub const PROBE_INTERVAL_MIN: Duration = Duration::from_secs(2);
/// Longest wait between probes that lift no cap (each such probe doubles the wait).
pub const PROBE_INTERVAL_MAX: Duration = Duration::from_secs(16);
/// Relative change of the desired rate that is passed on to str0m.
pub const DESIRED_CHANGE: f64 = 0.2;
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
    /// The (minimum, desired) rates last given to str0m.
    told: Option<(u64, u64)>,
    /// Bytes sent in all and as media payload, as of the last statistics (for the debug log).
    sent: Option<(u64, u64, Instant)>,
    /// When to probe next while held below what the subscriptions want.
    next_probe: Option<Instant>,
    /// The wait before the probe after that ([`PROBE_INTERVAL_MIN`] doubling to
    /// [`PROBE_INTERVAL_MAX`] while probes lift no cap).
    probe_interval: Duration,
    /// A test's fixed estimate, in place of what the network says.
    #[cfg(test)]
    pub pinned: Option<u64>,
}

impl PeerBwe {
    /// Whether to probe now: only while some subscription is `held` below what it wants, once
    /// the current wait has passed since it was held; the wait doubles with every probe and
    /// goes back to [`PROBE_INTERVAL_MIN`] when a cap rises (`raised`).
    fn probe_due(&mut self, held: bool, raised: bool, now: Instant) -> bool {
        if !held {
            // The back-off stays: an estimate that covers everything for a moment (a probe's
            // overshoot) is no reason to probe a capped link more often.
            self.next_probe = None;
            return false;
        }
        if raised {
            self.probe_interval = PROBE_INTERVAL_MIN;
            self.next_probe = Some(now + PROBE_INTERVAL_MIN);
            return false;
        }
        let interval = self.probe_interval.max(PROBE_INTERVAL_MIN);
        let next = *self.next_probe.get_or_insert(now + interval);
        if now < next {
            return false;
        }
        self.next_probe = Some(now + interval);
        self.probe_interval = (interval * 2).min(PROBE_INTERVAL_MAX);
        true
    }

    /// The downlink estimate in bit/s: the lowest of what str0m and the client say.
    pub fn estimate(&self) -> Option<u64> {
        #[cfg(test)]
        let pinned = self.pinned;
        #[cfg(not(test))]
        let pinned: Option<u64> = None;
        pinned.or_else(|| [self.twcc, self.raw, self.remb].into_iter().flatten().min())
    }
}

/// One step of a subscription's ladder: a simulcast layer (by `VideoQuality`) and the highest
/// of its temporal layers forwarded. Ordered by quality, then temporal layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rung {
    pub quality: i32,
    /// Temporal layer id, or [`ALL_TEMPORAL`].
    pub temporal: u8,
}

impl Rung {
    /// No limit.
    pub const TOP: Rung = Rung::full(proto::VideoQuality::High as i32);

    /// Every temporal layer of the layer of `quality`.
    pub const fn full(quality: i32) -> Self {
        Self {
            quality,
            temporal: ALL_TEMPORAL,
        }
    }

    /// The highest temporal layer to forward of a layer of `quality` under this cap: every one
    /// below the cap's quality, the cap's own at it (and above, where only such a layer flows).
    pub fn temporal_for(&self, quality: i32) -> u8 {
        if quality < self.quality {
            ALL_TEMPORAL
        } else {
            self.temporal
        }
    }
}

/// The bandwidth cap of one subscription and its pending change.
#[derive(Debug)]
pub struct DownBwe {
    /// The highest rung the subscriber's bandwidth allows ([`Rung::TOP`]: no limit).
    pub cap: Rung,
    /// Since when allocations have allowed more than `cap`.
    up_since: Option<Instant>,
    /// Since when allocations have allowed less than `cap` (within the tolerance).
    down_since: Option<Instant>,
}

impl Default for DownBwe {
    fn default() -> Self {
        Self {
            cap: Rung::TOP,
            up_since: None,
            down_since: None,
        }
    }
}

/// One allocation's verdict on a subscription: the rung that fits the budget, and the one that
/// fits the budget stretched by [`DOWNGRADE_TOLERANCE`] (never below `fit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub fit: Rung,
    pub tolerated: Rung,
}

impl DownBwe {
    /// Whether a higher rung fits and waits out [`UPGRADE_HOLD`].
    pub fn rising(&self) -> bool {
        self.up_since.is_some()
    }

    /// Takes one allocation's verdict. The cap falls at once to what the tolerance allows, to
    /// what fits once that has lasted [`DOWNGRADE_HOLD`], and rises once a higher rung has
    /// fitted for [`UPGRADE_HOLD`]. Whether the cap changed.
    pub fn apply(&mut self, verdict: Verdict, now: Instant) -> bool {
        let Verdict { fit, tolerated } = verdict;
        if tolerated < self.cap {
            self.cap = tolerated;
            self.up_since = None;
            self.down_since = None;
            return true;
        }
        if fit < self.cap {
            self.up_since = None;
            let since = *self.down_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= DOWNGRADE_HOLD {
                self.cap = fit;
                self.down_since = None;
                return true;
            }
            return false;
        }
        self.down_since = None;
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

/// One video subscription's candidate rungs for the allocator.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// Screen shares are served first at every level.
    pub screen: bool,
    /// Cost in bit/s of each rung the subscriber allows, low → high (never empty).
    pub costs: Vec<u64>,
    /// The simulcast level (0: its lowest layer) of each rung, non-decreasing.
    pub levels: Vec<usize>,
}

/// Shares `budget` bit/s out: every demand gets its first rung, then each simulcast level is
/// offered to every demand in turn (screen shares first, each taking every rung of the level,
/// lowest temporal layer first) while the rest of the budget covers the step. The chosen rung
/// index per demand.
pub fn allocate(budget: u64, demands: &[Demand]) -> Vec<usize> {
    let mut chosen = vec![0usize; demands.len()];
    let mut used: u64 = demands
        .iter()
        .map(|d| d.costs.first().copied().unwrap_or(0))
        .sum();
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| !demands[i].screen);
    let mut stuck = vec![false; demands.len()];
    let levels = demands
        .iter()
        .filter_map(|d| d.levels.last())
        .max()
        .map_or(0, |l| l + 1);
    for level in 0..levels {
        for &i in &order {
            let Demand { costs, levels, .. } = &demands[i];
            while !stuck[i] {
                let next = chosen[i] + 1;
                if next >= costs.len() || levels.get(next) != Some(&level) {
                    break;
                }
                let step = costs[next].saturating_sub(costs[next - 1]);
                if used.saturating_add(step) <= budget {
                    chosen[i] = next;
                    used += step;
                } else {
                    stuck[i] = true;
                }
            }
        }
    }
    chosen
}

/// Makes str0m probe towards `desired` now. Its probe controller sends an allocation probe
/// (clusters at once and twice `desired`, at most twice its estimate) when the desired rate
/// rises past the estimate, so the desired rate dips to half for one timeout and rises back.
/// Without this a subscriber held on a low layer probes only in str0m's application-limited
/// region (media below 65 % of the estimate), which a low layer on a link just above it never
/// reaches; padding up to the estimate instead fills such a link and loses media.
fn probe_towards(rtc: &mut str0m::Rtc, minimum: u64, desired: u64, now: Instant) {
    rtc.bwe()
        .set_bitrate(Bitrate::bps(minimum), Bitrate::bps(desired / 2));
    if let Err(e) = rtc.handle_input(str0m::Input::Timeout(now)) {
        tracing::debug!("probe timeout input: {e}");
    }
    rtc.bwe()
        .set_bitrate(Bitrate::bps(minimum), Bitrate::bps(desired));
}

/// The rate worth probing for: audio plus the best rung of every video subscription (bit/s).
fn desired_rate(audio: u64, demands: &[Demand]) -> u64 {
    audio
        + demands
            .iter()
            .map(|d| d.costs.last().copied().unwrap_or(0))
            .sum::<u64>()
}

/// Whether str0m should hear of a new desired rate: a rise or fall of more than
/// [`DESIRED_CHANGE`] (layer rates measured at ingress wobble, and every rise past the
/// estimate starts a probe), or the first one.
fn desired_changed(told: Option<u64>, desired: u64) -> bool {
    told.is_none_or(|old| {
        let margin = (old as f64 * DESIRED_CHANGE) as u64;
        desired > old.saturating_add(margin) || desired < old.saturating_sub(margin)
    })
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
        stats: &str0m::stats::PeerStats,
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        if let Some(raw) = stats.bwe_tx {
            peer.bwe.raw = Some(raw.as_u64());
        }
        let sent = (stats.peer_bytes_tx, stats.bytes_tx, stats.timestamp);
        if let Some((all, media, at)) = peer.bwe.sent.replace(sent) {
            let micros = stats
                .timestamp
                .saturating_duration_since(at)
                .as_micros()
                .max(1) as u64;
            let rate =
                |now: u64, then: u64| now.saturating_sub(then).saturating_mul(8_000) / micros;
            if peer.bwe.told.is_some() {
                tracing::debug!(
                    peer = ?peer_key,
                    twcc = ?peer.bwe.twcc,
                    raw = ?peer.bwe.raw,
                    remb = ?peer.bwe.remb,
                    told = ?peer.bwe.told,
                    sent_kbps = rate(stats.peer_bytes_tx, all),
                    media_kbps = rate(stats.bytes_tx, media),
                    loss = ?stats.egress_loss_fraction,
                    rtt = ?stats.rtt,
                    "downlink estimate"
                );
            }
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
        // (subscription, its allowed rungs), beside its demand
        let mut video: Vec<(DownKey, Vec<Rung>)> = Vec::new();
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
            let screen = track.info.source == proto::TrackSource::ScreenShare as i32;
            let mut rungs = Vec::new();
            let mut costs = Vec::new();
            let mut levels = Vec::new();
            for (level, l) in track.layers.iter().enumerate() {
                if !rungs.is_empty() && l.quality > down.fwd.max_quality {
                    break;
                }
                // A screen share's temporal layers are rungs of their own.
                let top = l.temporal.top().filter(|_| screen).unwrap_or(0);
                for t in 0..top {
                    rungs.push(Rung {
                        quality: l.quality,
                        temporal: t,
                    });
                    costs.push(l.temporal_cost(t));
                    levels.push(level);
                }
                rungs.push(Rung::full(l.quality));
                costs.push(l.cost());
                levels.push(level);
            }
            if costs.is_empty() {
                continue;
            }
            video.push((dk, rungs));
            demands.push(Demand {
                screen,
                costs,
                levels,
            });
        }
        let usable = (estimate as f64 * USABLE_SHARE) as u64;
        let fits = allocate(usable.saturating_sub(audio), &demands);
        let stretched = (usable as f64 / DOWNGRADE_TOLERANCE) as u64;
        let tolerated = allocate(stretched.saturating_sub(audio), &demands);
        let mut changed = Vec::new();
        let mut rising = false;
        for (((dk, rungs), fit), tolerated) in video.iter().zip(&fits).zip(&tolerated) {
            let Some(down) = self.downs.get_mut(*dk) else {
                continue;
            };
            // A subscription that gets everything it allows is not limited by bandwidth.
            let rung = |i: usize| {
                if i + 1 >= rungs.len() {
                    Rung::TOP
                } else {
                    rungs[i]
                }
            };
            let verdict = Verdict {
                fit: rung(*fit),
                tolerated: rung((*tolerated).max(*fit)),
            };
            let before = down.fwd.bwe.cap;
            if down.fwd.bwe.apply(verdict, now) {
                changed.push((down.track, down.fwd.bwe.cap > before));
            }
            rising |= down.fwd.bwe.rising();
        }
        let desired = desired_rate(audio, &demands);
        // While a higher layer waits out its hold, padding makes up the rate it will need, so
        // the estimate a probe raised is tried under load before the layer is sent.
        let minimum = if rising {
            audio
                + fits
                    .iter()
                    .zip(&demands)
                    .map(|(&fit, d)| d.costs.get(fit).copied().unwrap_or(0))
                    .sum::<u64>()
        } else {
            0
        };
        let held = fits
            .iter()
            .zip(&demands)
            .any(|(fit, d)| fit + 1 < d.costs.len());
        let raised = changed.iter().any(|(_, rose)| *rose);
        let mut told = false;
        if let Some(peer) = self.peers.get_mut(peer_key) {
            let (told_minimum, told_desired) = match peer.bwe.told {
                Some((m, d)) => (Some(m), Some(d)),
                None => (None, None),
            };
            if told_minimum != Some(minimum) || desired_changed(told_desired, desired) {
                let desired = if desired_changed(told_desired, desired) {
                    desired
                } else {
                    told_desired.unwrap_or(desired)
                };
                peer.bwe.told = Some((minimum, desired));
                peer.rtc
                    .bwe()
                    .set_bitrate(Bitrate::bps(minimum), Bitrate::bps(desired));
                told = true;
            }
            if peer.bwe.probe_due(held, raised, now) {
                tracing::debug!(peer = ?peer_key, estimate, desired, "probing for a higher layer");
                let (minimum, desired) = peer.bwe.told.unwrap_or((minimum, desired));
                probe_towards(&mut peer.rtc, minimum, desired, now);
                told = true;
            }
        }
        if told {
            self.mark_dirty(peer_key);
        }
        for (tk, rose) in changed {
            if let Some(t) = self.tracks.get(tk) {
                tracing::debug!(peer = ?peer_key, track = %t.info.sid, estimate, rose, "bandwidth cap changed");
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
            levels: (0..costs.len()).collect(),
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
    fn a_screen_share_climbs_its_temporal_layers_before_a_camera_takes_the_same_level() {
        // Screen share: low layer T0/T1/all (100/150/250), high layer T0/T1/all (400/600/1000).
        let screen = Demand {
            screen: true,
            costs: vec![100, 150, 250, 400, 600, 1_000],
            levels: vec![0, 0, 0, 1, 1, 1],
        };
        let ds = [demand(false, &[100, 300]), screen];
        // Both lowest rungs (200), then the screen's low layer fills (+150) before anything
        // else: nothing left for either high layer.
        assert_eq!(allocate(400, &ds), vec![0, 2]);
        // The screen's high layer at its base frame rate (+150) fits, the camera's high
        // layer (+200) no longer does.
        assert_eq!(allocate(550, &ds), vec![0, 3]);
        // High layer at every frame rate for the screen, then the camera's.
        assert_eq!(allocate(1_100, &ds), vec![0, 5]);
        assert_eq!(allocate(1_300, &ds), vec![1, 5]);
    }

    #[test]
    fn rungs_order_by_layer_then_frame_rate() {
        let (low, high) = (
            proto::VideoQuality::Low as i32,
            proto::VideoQuality::High as i32,
        );
        let base_high = Rung {
            quality: high,
            temporal: 0,
        };
        assert!(Rung::full(low) < base_high);
        assert!(base_high < Rung::TOP);
        // Under a cap at the high layer's base, lower layers go whole.
        assert_eq!(base_high.temporal_for(low), ALL_TEMPORAL);
        assert_eq!(base_high.temporal_for(high), 0);
        assert_eq!(Rung::TOP.temporal_for(high), ALL_TEMPORAL);
    }

    #[test]
    fn caps_fall_at_once_and_rise_after_the_hold() {
        let t0 = Instant::now();
        let (low, high) = (Rung::full(proto::VideoQuality::Low as i32), Rung::TOP);
        let v = |fit, tolerated| Verdict { fit, tolerated };
        let mut b = DownBwe::default();
        assert!(b.apply(v(low, low), t0));
        assert_eq!(b.cap, low);
        assert!(!b.apply(v(high, high), t0 + Duration::from_secs(1)));
        assert!(!b.apply(v(high, high), t0 + Duration::from_secs(3)));
        // A dip restarts the hold.
        assert!(!b.apply(v(low, low), t0 + Duration::from_secs(3)));
        assert!(!b.apply(v(high, high), t0 + Duration::from_secs(4)));
        assert!(!b.apply(v(high, high), t0 + Duration::from_secs(6)));
        assert!(b.apply(v(high, high), t0 + Duration::from_secs(7)));
        assert_eq!(b.cap, high);
    }

    #[test]
    fn a_dip_within_the_tolerance_lowers_the_cap_only_once_it_lasts() {
        let t0 = Instant::now();
        let (low, medium, high) = (
            Rung::full(proto::VideoQuality::Low as i32),
            Rung::full(proto::VideoQuality::Medium as i32),
            Rung::TOP,
        );
        let v = |fit, tolerated| Verdict { fit, tolerated };
        let mut b = DownBwe::default();
        // A short dip is ridden out.
        assert!(!b.apply(v(medium, high), t0));
        assert!(!b.apply(v(medium, high), t0 + Duration::from_secs(1)));
        assert!(!b.apply(v(high, high), t0 + Duration::from_millis(1500)));
        assert_eq!(b.cap, high);
        // One that lasts is not.
        assert!(!b.apply(v(medium, high), t0 + Duration::from_secs(3)));
        assert!(!b.apply(v(medium, high), t0 + Duration::from_secs(4)));
        assert!(b.apply(v(medium, high), t0 + Duration::from_secs(5)));
        assert_eq!(b.cap, medium);
        // Beyond the tolerance the cap falls at once.
        assert!(b.apply(v(low, low), t0 + Duration::from_secs(5)));
        assert_eq!(b.cap, low);
    }

    #[test]
    fn desires_the_best_layers_and_ignores_small_wobbles() {
        let ds = [demand(false, &[100, 300, 900]), demand(true, &[200, 1_000])];
        assert_eq!(desired_rate(50, &ds), 50 + 900 + 1_000);
        assert!(desired_changed(None, 1_950));
        assert!(!desired_changed(Some(1_950), 2_100));
        assert!(!desired_changed(Some(1_950), 1_800));
        assert!(desired_changed(Some(1_950), 2_500));
        assert!(desired_changed(Some(1_950), 1_400));
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
