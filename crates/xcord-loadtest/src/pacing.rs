//! The packet clock: when each packet of a fixed-rate stream is due. A stream started at `start`
//! with interval `i` owes packet `n` at `start + n·i`; after a stall it catches up a bounded
//! number of packets and skips the rest (skipped packets get no sequence number, so they are
//! never counted as loss downstream).

use std::time::{Duration, Instant};

/// Most packets sent at once after a stall; older ones are skipped.
pub const MAX_CATCH_UP: u64 = 5;

#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    interval: Duration,
    /// Slots consumed so far (sent or skipped).
    next_slot: u64,
    skipped: u64,
}

impl Pacer {
    pub fn new(start: Instant, interval: Duration) -> Self {
        Self {
            start,
            interval: interval.max(Duration::from_micros(100)),
            next_slot: 0,
            skipped: 0,
        }
    }

    /// A pacer of `per_second` packets a second.
    pub fn per_second(start: Instant, per_second: u32) -> Self {
        Self::new(start, Duration::from_secs(1) / per_second.max(1))
    }

    /// When the next packet is due.
    pub fn next_due(&self) -> Instant {
        self.start + self.slot_offset(self.next_slot)
    }

    fn slot_offset(&self, slot: u64) -> Duration {
        let nanos = self.interval.as_nanos().saturating_mul(u128::from(slot));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How many packets to send now; consumes their slots.
    pub fn take_due(&mut self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        let due_slots = u64::try_from(elapsed / self.interval.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let owed = due_slots.saturating_sub(self.next_slot);
        self.next_slot = self.next_slot.max(due_slots);
        let send = owed.min(MAX_CATCH_UP);
        self.skipped += owed - send;
        send
    }

    /// Slots skipped after stalls.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_fifty_packets_a_second() {
        let t0 = Instant::now();
        let mut p = Pacer::per_second(t0, 50);
        assert_eq!(p.next_due(), t0);
        let mut sent = 0;
        // wake exactly when told to, for one second
        let mut now = t0;
        while now < t0 + Duration::from_secs(1) {
            sent += p.take_due(now);
            now = p.next_due();
        }
        assert_eq!(sent, 50);
        assert_eq!(p.next_due(), t0 + Duration::from_secs(1));
        assert_eq!(p.skipped(), 0);
    }

    #[test]
    fn late_wakeups_still_keep_the_rate() {
        let t0 = Instant::now();
        let mut p = Pacer::per_second(t0, 50);
        let mut sent = 0;
        // waking every 50 ms (2.5 slots) still sends every slot
        for i in 0..=20 {
            sent += p.take_due(t0 + Duration::from_millis(50 * i));
        }
        // slots 0..=50 are due at t = 1000 ms
        assert_eq!(sent, 51);
        assert_eq!(p.skipped(), 0);
    }

    #[test]
    fn nothing_is_due_twice_or_early() {
        let t0 = Instant::now();
        let mut p = Pacer::per_second(t0, 50);
        assert_eq!(p.take_due(t0), 1);
        assert_eq!(p.take_due(t0), 0);
        assert_eq!(p.take_due(t0 + Duration::from_millis(19)), 0);
        assert_eq!(p.take_due(t0 + Duration::from_millis(20)), 1);
    }

    #[test]
    fn a_long_stall_skips_beyond_the_catch_up() {
        let t0 = Instant::now();
        let mut p = Pacer::per_second(t0, 50);
        assert_eq!(p.take_due(t0), 1);
        // 200 ms stall: slots 1..=10 are owed
        assert_eq!(p.take_due(t0 + Duration::from_millis(200)), MAX_CATCH_UP);
        assert_eq!(p.skipped(), 10 - MAX_CATCH_UP);
        assert_eq!(p.next_due(), t0 + Duration::from_millis(220));
    }
}
