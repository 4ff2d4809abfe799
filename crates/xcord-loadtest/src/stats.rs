//! Receive-side statistics: loss, duplicates and reordering from the trailer's sequence numbers
//! (never from RTP sequence numbers, which the SFU rewrites), and latency histograms.
//!
//! A [`SeqTracker`] follows one (track, layer) at one subscriber. It counts from the first
//! packet received (a subscriber joins mid-stream); a simulcast layer switch away and back
//! starts a new segment, so packets the SFU rightly did not forward are not called lost.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Sequence numbers remembered for duplicate detection, behind the highest one.
const WINDOW: u32 = 4096;
const WORDS: usize = (WINDOW / 64) as usize;

#[derive(Debug, Clone)]
pub struct SeqTracker {
    /// First sequence number of the current segment; `None` before any packet.
    first: Option<u32>,
    highest: u32,
    /// Unique packets in the current segment.
    seg_unique: u64,
    /// Loss of closed segments.
    lost_closed: u64,
    /// Received bits, indexed by `seq % WINDOW`, valid for `highest - WINDOW < seq <= highest`.
    seen: [u64; WORDS],
    pub unique: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Packets older than the window (cannot be checked for duplicates; counted as unique).
    pub too_old: u64,
}

impl Default for SeqTracker {
    fn default() -> Self {
        Self {
            first: None,
            highest: 0,
            seg_unique: 0,
            lost_closed: 0,
            seen: [0; WORDS],
            unique: 0,
            duplicates: 0,
            reordered: 0,
            too_old: 0,
        }
    }
}

impl SeqTracker {
    fn bit(seq: u32) -> (usize, u64) {
        let i = seq % WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    fn test_and_set(&mut self, seq: u32) -> bool {
        let (w, b) = Self::bit(seq);
        let was = self.seen[w] & b != 0;
        self.seen[w] |= b;
        was
    }

    fn clear(&mut self, seq: u32) {
        let (w, b) = Self::bit(seq);
        self.seen[w] &= !b;
    }

    /// Records one received packet.
    pub fn record(&mut self, seq: u32) {
        let Some(first) = self.first else {
            self.start_segment(seq);
            return;
        };
        if seq > self.highest {
            let gap = seq - self.highest;
            if gap >= WINDOW {
                self.seen = [0; WORDS];
            } else {
                for s in self.highest + 1..seq {
                    self.clear(s);
                }
            }
            self.clear(seq);
            self.highest = seq;
            self.test_and_set(seq);
            self.count_unique();
            return;
        }
        if self.highest - seq >= WINDOW {
            self.too_old += 1;
            self.reordered += 1;
            self.count_unique();
            if seq < first {
                self.first = Some(seq);
            }
            return;
        }
        if self.test_and_set(seq) {
            self.duplicates += 1;
            return;
        }
        self.reordered += 1;
        self.count_unique();
        if seq < first {
            // arrived before the segment's first packet: the segment starts earlier
            self.first = Some(seq);
        }
    }

    fn count_unique(&mut self) {
        self.unique += 1;
        self.seg_unique += 1;
    }

    fn start_segment(&mut self, seq: u32) {
        self.seen = [0; WORDS];
        self.first = Some(seq);
        self.highest = seq;
        self.seg_unique = 0;
        self.test_and_set(seq);
        self.count_unique();
    }

    /// The layer became current again after another layer was forwarded: what was missed in
    /// between is not loss. Closes the current segment and starts a new one at `seq`.
    pub fn restart(&mut self, seq: u32) {
        self.lost_closed += self.segment_lost();
        self.start_segment(seq);
    }

    fn segment_lost(&self) -> u64 {
        match self.first {
            Some(first) => (u64::from(self.highest - first) + 1).saturating_sub(self.seg_unique),
            None => 0,
        }
    }

    /// Packets missing between the first and the highest received (all segments).
    pub fn lost(&self) -> u64 {
        self.lost_closed + self.segment_lost()
    }

    /// Packets sent after the highest received, given the sender's last sequence number.
    pub fn tail_missing(&self, last_sent: u32) -> u64 {
        match self.first {
            Some(_) => u64::from(last_sent.saturating_sub(self.highest)),
            None => 0,
        }
    }

    pub fn highest(&self) -> Option<u32> {
        self.first.map(|_| self.highest)
    }
}

/// A latency histogram in nanoseconds (1 ns .. 60 s, 3 significant digits).
pub fn latency_histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)] // constant, valid bounds
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// Percentiles of a nanosecond histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u32]) -> SeqTracker {
        let mut t = SeqTracker::default();
        for &s in seqs {
            t.record(s);
        }
        t
    }

    #[test]
    fn in_order_stream_has_no_loss() {
        let t = feed(&(10..110).collect::<Vec<_>>());
        assert_eq!(
            (t.unique, t.lost(), t.duplicates, t.reordered),
            (100, 0, 0, 0)
        );
        assert_eq!(t.highest(), Some(109));
    }

    #[test]
    fn gaps_are_loss() {
        let t = feed(&[0, 1, 2, 5, 6, 9]);
        assert_eq!(t.unique, 6);
        assert_eq!(t.lost(), 4); // 3, 4, 7, 8
    }

    #[test]
    fn reordering_is_not_loss() {
        let t = feed(&[0, 2, 1, 3, 5, 4]);
        assert_eq!(
            (t.unique, t.lost(), t.reordered, t.duplicates),
            (6, 0, 2, 0)
        );
    }

    #[test]
    fn duplicates_count_once() {
        let t = feed(&[0, 1, 1, 2, 0, 2, 3]);
        assert_eq!((t.unique, t.lost(), t.duplicates), (4, 0, 3));
    }

    #[test]
    fn late_packet_fills_its_gap_and_an_early_one_extends_the_start() {
        let t = feed(&[5, 6, 8, 7, 4]);
        assert_eq!((t.unique, t.lost(), t.reordered), (5, 0, 2));
        let t = feed(&[5, 6, 8, 4]);
        assert_eq!(t.lost(), 1); // 7
    }

    #[test]
    fn duplicates_are_found_across_a_large_jump_only_inside_the_window() {
        let mut t = feed(&[0, 1, 2]);
        t.record(2 + WINDOW + 10); // jump: the window is reset
        assert_eq!(t.lost(), u64::from(WINDOW) + 10 - 1);
        t.record(1); // far behind: cannot be checked, counted as too old
        assert_eq!(t.too_old, 1);
        t.record(2 + WINDOW + 10);
        assert_eq!(t.duplicates, 1);
    }

    #[test]
    fn a_layer_restart_does_not_count_the_time_away() {
        let mut t = feed(&[0, 1, 2, 3]);
        t.restart(50);
        t.record(51);
        t.record(53);
        assert_eq!(t.unique, 7);
        assert_eq!(t.lost(), 1); // 52 only
    }

    #[test]
    fn tail_missing_against_the_senders_last() {
        let t = feed(&[0, 1, 2]);
        assert_eq!(t.tail_missing(2), 0);
        assert_eq!(t.tail_missing(5), 3);
        assert_eq!(SeqTracker::default().tail_missing(5), 0);
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = latency_histogram();
        for ms in 1..=100u64 {
            h.record(ms * 1_000_000).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 100);
        assert!((p.p50_ms - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99_ms - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max_ms - 100.0).abs() < 0.1, "{p:?}");
        assert_eq!(
            Percentiles::of(&latency_histogram()),
            Percentiles::default()
        );
    }
}
