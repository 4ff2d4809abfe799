//! Connection quality: how well each participant's media gets through, from the loss and
//! round-trip time str0m measures on its peer connections (`PeerStats`: loss from the receiver
//! reports either side sends, RTT from RTCP), scored like a call-quality estimate and reported in
//! LiveKit's bands.
//!
//! The score is a mean opinion score (1..=5) from the simplified ITU-T G.107 E-model: an
//! effective latency (half the RTT, plus a fixed 10 ms of processing) costs delay impairment,
//! loss costs 2.5 R points per percent; the R factor maps to a MOS. Each participant keeps the
//! worst of its peers' latest samples, smoothed across evaluations ([`SMOOTHING`]), and the room
//! is told when a participant's band changes ([`band`]): EXCELLENT at 4.1 and above, GOOD at 3.6,
//! POOR below, LOST when nothing at all (not even RTCP or ICE consent checks) arrived from any of
//! the participant's connections for [`LOST_AFTER`] evaluations in a row.
//! Pure: the engine feeds samples and evaluates every [`QUALITY_INTERVAL`].

use std::time::Duration;

use livekit_protocol::ConnectionQuality;

/// How often each participant's quality is evaluated (and announced when its band changed).
pub const QUALITY_INTERVAL: Duration = Duration::from_secs(2);
/// How often str0m reports peer statistics.
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// How far the smoothed score moves towards each evaluation's score.
pub const SMOOTHING: f32 = 0.5;
/// Silent evaluations in a row that make a participant LOST (6 s: longer than the 5 s between
/// ICE consent checks, which even an idle connection sends).
pub const LOST_AFTER: u32 = 3;

/// What one peer connection's statistics say.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// Fraction of packets lost (0..=1), the worse direction.
    pub loss: f32,
    pub rtt: Option<Duration>,
    /// Whether anything arrived from the client on this connection since its previous sample.
    pub receiving: bool,
}

/// The E-model's mean opinion score (1..=5) for `loss` (0..=1) at `rtt`.
pub fn mos(loss: f32, rtt: Option<Duration>) -> f32 {
    let latency_ms = rtt.map_or(0.0, |r| r.as_secs_f32() * 1000.0 / 2.0) + 10.0;
    let delay = if latency_ms < 160.0 {
        latency_ms / 40.0
    } else {
        (latency_ms - 120.0) / 10.0
    };
    let r = (93.2 - delay - loss.clamp(0.0, 1.0) * 100.0 * 2.5).clamp(0.0, 100.0);
    (1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)).clamp(1.0, 5.0)
}

/// The band of a score.
pub fn band(score: f32) -> ConnectionQuality {
    if score >= 4.1 {
        ConnectionQuality::Excellent
    } else if score >= 3.6 {
        ConnectionQuality::Good
    } else {
        ConnectionQuality::Poor
    }
}

/// One participant's quality over time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QualityState {
    /// The worst sample of each peer since the last evaluation.
    worst: Option<Sample>,
    smoothed: Option<f32>,
    /// Evaluations in a row in which nothing arrived from the participant.
    silent: u32,
    /// The band last announced, if any.
    pub announced: Option<ConnectionQuality>,
}

impl QualityState {
    /// Records a peer's statistics: the worse loss and RTT of several (publisher and
    /// subscriber) count; the participant is heard from if any connection received something.
    pub fn observe(&mut self, s: Sample) {
        self.worst = Some(match self.worst {
            None => s,
            Some(w) => Sample {
                loss: w.loss.max(s.loss),
                rtt: w.rtt.max(s.rtt),
                receiving: w.receiving || s.receiving,
            },
        });
    }

    /// Evaluates the interval: returns the band and score when the band changed since the last
    /// announcement (the caller announces it), else None. Without any sample yet there is
    /// nothing to say.
    pub fn evaluate(&mut self) -> Option<(ConnectionQuality, f32)> {
        let sample = self.worst.take()?;
        self.silent = if sample.receiving {
            0
        } else {
            self.silent.saturating_add(1)
        };
        let (quality, score) = if self.silent >= LOST_AFTER {
            self.smoothed = None;
            (ConnectionQuality::Lost, 0.0)
        } else {
            let now = mos(sample.loss, sample.rtt);
            let score = match self.smoothed {
                Some(s) => s + (now - s) * SMOOTHING,
                None => now,
            };
            self.smoothed = Some(score);
            (band(score), score)
        };
        if self.announced == Some(quality) {
            return None;
        }
        self.announced = Some(quality);
        Some((quality, score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn clean_links_are_excellent_and_loss_or_delay_lowers_the_band() {
        assert_eq!(band(mos(0.0, ms(20))), ConnectionQuality::Excellent);
        assert_eq!(band(mos(0.0, None)), ConnectionQuality::Excellent);
        assert_eq!(band(mos(0.02, ms(50))), ConnectionQuality::Excellent);
        assert_eq!(band(mos(0.05, ms(50))), ConnectionQuality::Good);
        assert_eq!(band(mos(0.15, ms(20))), ConnectionQuality::Poor);
        assert_eq!(band(mos(0.0, ms(900))), ConnectionQuality::Poor);
        assert!(mos(1.0, ms(5000)) >= 1.0 && mos(0.0, ms(0)) <= 5.0);
        assert!(mos(0.01, ms(20)) > mos(0.03, ms(20)));
    }

    fn sample(loss: f32) -> Sample {
        Sample {
            loss,
            rtt: ms(20),
            receiving: true,
        }
    }

    #[test]
    fn the_band_is_announced_once_per_change_and_recovers() {
        let mut q = QualityState::default();
        assert_eq!(q.evaluate(), None, "no sample yet");
        q.observe(sample(0.0));
        assert!(matches!(
            q.evaluate(),
            Some((ConnectionQuality::Excellent, _))
        ));
        q.observe(sample(0.0));
        assert_eq!(q.evaluate(), None, "same band: nothing to say");
        // 15 % loss on one of two peers: the worse one counts
        let mut bands = Vec::new();
        for _ in 0..3 {
            q.observe(sample(0.0));
            q.observe(sample(0.15));
            bands.extend(q.evaluate().map(|(b, _)| b));
        }
        assert_eq!(bands.last(), Some(&ConnectionQuality::Poor), "{bands:?}");
        let mut bands = Vec::new();
        for _ in 0..4 {
            q.observe(sample(0.0));
            bands.extend(q.evaluate().map(|(b, _)| b));
        }
        assert_eq!(
            bands.last(),
            Some(&ConnectionQuality::Excellent),
            "{bands:?}"
        );
    }

    #[test]
    fn silence_from_the_client_is_lost_after_a_while() {
        let mut q = QualityState::default();
        q.observe(sample(0.0));
        q.evaluate();
        let silent = Sample {
            receiving: false,
            ..sample(0.0)
        };
        for _ in 1..LOST_AFTER {
            q.observe(silent);
            assert_eq!(q.evaluate(), None, "a quiet spell is not a lost connection");
        }
        // one connection idle, another receiving: not lost
        q.observe(silent);
        q.observe(sample(0.0));
        assert_eq!(q.evaluate(), None);
        for _ in 0..LOST_AFTER {
            q.observe(silent);
            q.observe(silent);
            q.evaluate();
        }
        assert_eq!(q.announced, Some(ConnectionQuality::Lost));
        q.observe(sample(0.0));
        assert!(matches!(
            q.evaluate(),
            Some((ConnectionQuality::Excellent, _))
        ));
    }
}
