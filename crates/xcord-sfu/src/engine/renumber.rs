//! Continuous numbering towards one subscriber: a source's sequence numbers (RTP) or picture
//! ids (VP8) are mapped onto one outgoing sequence that continues across source switches
//! (simulcast layers, pauses) and closes the gaps of what the forwarder leaves out (frames of a
//! temporal layer the subscriber does not get).
//!
//! Values are extended (64-bit, as str0m unwraps them) and compared with wrapping arithmetic,
//! so a source whose unwrapping started just below a wrap stays ordered. A value that arrives
//! late (reordered, or retransmitted by the publisher) gets the number it would have had in
//! order, as long as the skips since then are still remembered ([`SKIP_MEMORY`]); older ones are
//! refused. A late value that is itself skipped leaves a hole: the numbers after it are
//! already out.

use std::collections::VecDeque;
use std::time::Instant;

/// How many skipped values of the current source are remembered for placing late arrivals.
pub const SKIP_MEMORY: usize = 256;

/// Whether `a` comes after `b` in a wrapping 64-bit numbering.
fn after(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) > 0
}

/// One source's numbering mapped onto a continuous output.
#[derive(Debug, Default)]
pub struct Renumber {
    /// (first value of the current source, output minus input before any skip).
    base: Option<(u64, u64)>,
    /// The newest value of the current source seen (forwarded or skipped).
    newest: u64,
    /// Values of the current source left out, oldest first (at most [`SKIP_MEMORY`]; allocated
    /// at the first skip, as most subscriptions never skip anything).
    skipped: VecDeque<u64>,
    /// How many values of the current source were left out in all.
    skipped_total: u64,
    /// Whether `skipped` has forgotten some.
    forgot: bool,
    /// The newest output value.
    last_out: Option<u64>,
}

impl Renumber {
    /// Forgets the current source: the next value starts a new one, numbered right after the
    /// newest output.
    pub fn rebase(&mut self) {
        self.base = None;
        self.skipped.clear();
        self.skipped_total = 0;
        self.forgot = false;
    }

    /// The newest output value, if any.
    pub fn last_out(&self) -> Option<u64> {
        self.last_out
    }

    /// Whether `value` starts a new source (nothing of the current one has been mapped yet).
    pub fn starting(&self) -> bool {
        self.base.is_none()
    }

    /// The output number of `value`, or `None` for a value older than the current source's
    /// first or than the skips still remembered. `first_out` numbers the very first value
    /// ever (later sources continue after the newest output).
    pub fn map(&mut self, value: u64, first_out: u64) -> Option<u64> {
        let (first, delta) = match self.base {
            Some(b) => b,
            None => {
                let out = self.last_out.map_or(first_out, |l| l.wrapping_add(1));
                let b = (value, out.wrapping_sub(value));
                self.base = Some(b);
                self.newest = value;
                b
            }
        };
        if after(first, value) {
            return None;
        }
        let skipped_before = self.skipped_before(value)?;
        if after(value, self.newest) {
            self.newest = value;
        }
        let out = value.wrapping_add(delta).wrapping_sub(skipped_before);
        if self.last_out.is_none_or(|l| after(out, l)) {
            self.last_out = Some(out);
        }
        Some(out)
    }

    /// Leaves `value` out: later values close its gap. Only a value newer than every one seen
    /// so far can be closed over (the ones after an older one are already out); before the
    /// source's first mapped value there is nothing to close.
    pub fn skip(&mut self, value: u64) {
        if self.base.is_none() || !after(value, self.newest) {
            return;
        }
        self.newest = value;
        if self.skipped.capacity() == 0 {
            self.skipped.reserve_exact(SKIP_MEMORY);
        }
        if self.skipped.len() == SKIP_MEMORY {
            self.skipped.pop_front();
            self.forgot = true;
        }
        self.skipped.push_back(value);
        self.skipped_total += 1;
    }

    /// Whether `value` of the current source was left out (`None`: too old to know).
    pub fn was_skipped(&self, value: u64) -> Option<bool> {
        if self.skipped.contains(&value) {
            return Some(true);
        }
        let remembered = !self.forgot || self.skipped.front().is_some_and(|&f| after(value, f));
        remembered.then_some(false)
    }

    /// How many skipped values come before `value` (`None`: too old to know).
    fn skipped_before(&self, value: u64) -> Option<u64> {
        match self.skipped.back() {
            None => Some(self.skipped_total),
            Some(&newest) if after(value, newest) => Some(self.skipped_total),
            Some(_) => {
                if self.forgot && self.skipped.front().is_none_or(|&f| !after(value, f)) {
                    return None;
                }
                let later = self.skipped.iter().filter(|&&s| !after(value, s)).count() as u64;
                Some(self.skipped_total - later)
            }
        }
    }
}

/// Maps a source's RTP sequence numbers and timestamps onto one continuous outgoing stream,
/// across source switches (simulcast layers, pauses) and left-out packets.
#[derive(Default, Debug)]
pub struct Rewriter {
    seq: Renumber,
    /// Timestamp delta of the current source.
    dts: Option<u32>,
    last_ts: u32,
    last_at: Option<Instant>,
}

impl Rewriter {
    /// Forget the current source; the next packet starts a new one continuing the output.
    pub fn rebase(&mut self) {
        self.seq.rebase();
        self.dts = None;
    }

    /// A packet of the current source that is not forwarded: the next ones close its gap.
    pub fn skip(&mut self, seq: u64) {
        self.seq.skip(seq);
    }

    /// Outgoing (sequence number, timestamp) for an incoming packet, or `None` for a packet
    /// older than the current source's first (or than the skips still remembered).
    pub fn rewrite(
        &mut self,
        seq: u64,
        ts: u32,
        now: Instant,
        clock_rate: u32,
    ) -> Option<(u64, u32)> {
        let starting = self.seq.starting();
        let before = self.seq.last_out();
        // The very first sequence number stays below 2^14, so no rollover counter is needed.
        let out_seq = self.seq.map(seq, 1 + (seq & 0x3fff))?;
        let dts = match self.dts {
            Some(d) if !starting => d,
            _ => {
                let out_ts = match self.last_at {
                    None => ts,
                    Some(at) => {
                        let elapsed = now.saturating_duration_since(at);
                        let ticks =
                            (elapsed.as_micros() as u64 * u64::from(clock_rate) / 1_000_000).max(1);
                        self.last_ts.wrapping_add(ticks as u32)
                    }
                };
                let d = out_ts.wrapping_sub(ts);
                self.dts = Some(d);
                d
            }
        };
        let out_ts = ts.wrapping_add(dts);
        if before.is_none_or(|b| out_seq > b) {
            self.last_ts = out_ts;
            self.last_at = Some(now);
        }
        Some((out_seq, out_ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rewriter_is_continuous_across_sources() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        let (s1, t1) = r.rewrite(5000, 90_000, t0, 90_000).unwrap();
        let (s2, t2) = r.rewrite(5001, 93_000, t0, 90_000).unwrap();
        assert_eq!(s2, s1 + 1);
        assert_eq!(t2.wrapping_sub(t1), 3000);
        assert!(
            s1 < 65_536,
            "first sequence number must not need a rollover counter"
        );
        // Switch to another source with unrelated numbering 100 ms later.
        r.rebase();
        let later = t0 + Duration::from_millis(100);
        let (s3, t3) = r.rewrite(42, 7, later, 90_000).unwrap();
        assert_eq!(s3, s2 + 1);
        assert_eq!(t3.wrapping_sub(t2), 9000);
        // Packets from before the switch point of the new source are refused.
        assert_eq!(r.rewrite(41, 0, later, 90_000), None);
    }

    #[test]
    fn skipped_packets_leave_no_gap() {
        let t0 = Instant::now();
        let mut r = Rewriter::default();
        let (s1, _) = r.rewrite(100, 0, t0, 90_000).unwrap();
        r.skip(101);
        r.skip(102);
        let (s4, _) = r.rewrite(103, 3000, t0, 90_000).unwrap();
        assert_eq!(s4, s1 + 1);
        // A packet lost upstream keeps its place (it may still be retransmitted)...
        let (s6, _) = r.rewrite(105, 6000, t0, 90_000).unwrap();
        assert_eq!(s6, s1 + 3);
        // ...and gets it when it comes late.
        assert_eq!(r.rewrite(104, 6000, t0, 90_000).unwrap().0, s1 + 2);
        // A late retransmission of a forwarded packet gets its old number again.
        assert_eq!(r.rewrite(103, 3000, t0, 90_000).unwrap().0, s4);
        // Skipping something already passed changes nothing.
        r.skip(104);
        assert_eq!(r.rewrite(106, 9000, t0, 90_000).unwrap().0, s1 + 4);
    }

    #[test]
    fn late_values_beyond_the_memory_are_refused() {
        let mut n = Renumber::default();
        assert_eq!(n.map(0, 0), Some(0));
        for v in 1..=(SKIP_MEMORY as u64 + 10) {
            n.skip(v);
        }
        let next = SKIP_MEMORY as u64 + 11;
        assert_eq!(n.map(next, 0), Some(1));
        // Placed exactly while the skips before it are remembered.
        assert_eq!(n.was_skipped(next - 1), Some(true));
        assert_eq!(n.was_skipped(5), None, "forgotten");
        assert_eq!(n.map(5, 0), None);
    }

    #[test]
    fn numbering_survives_a_wrap_of_the_extended_value() {
        let mut n = Renumber::default();
        let start = u64::MAX - 1;
        assert_eq!(n.map(start, 7), Some(7));
        n.skip(u64::MAX);
        assert_eq!(n.map(0, 7), Some(8));
        assert_eq!(n.map(1, 7), Some(9));
        // Older than the source's first.
        assert_eq!(n.map(start - 1, 7), None);
        n.rebase();
        assert_eq!(n.map(500, 7), Some(10));
    }
}
