//! Peer deadlines: a min-heap keyed by each peer's own next timeout. Each peer has at most one
//! live entry per distinct earlier deadline; stale entries are skipped when they surface.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::PeerKey;

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, PeerKey)>>,
}

impl Timers {
    /// Earliest scheduled deadline.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    pub fn schedule(&mut self, peer_key: PeerKey, at: Instant) {
        self.heap.push(Reverse((at, peer_key)));
    }

    /// Removes and returns one entry due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, PeerKey)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let mut keys: SlotMap<PeerKey, ()> = SlotMap::with_key();
        let (a, b) = (keys.insert(()), keys.insert(()));
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.schedule(a, t0 + Duration::from_millis(20));
        t.schedule(b, t0 + Duration::from_millis(10));
        assert_eq!(t.next(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_millis(15)),
            Some((t0 + Duration::from_millis(10), b))
        );
        assert_eq!(t.pop_due(t0 + Duration::from_millis(15)), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_millis(25)).map(|e| e.1),
            Some(a)
        );
    }
}
