//! Fixed-window counters for abuse limits (log-in attempts, registrations), keyed by bounded
//! strings (a validated handle, an address). Memory is bounded: each limiter keeps at most
//! `capacity` keys and forgets the least recently used one when full. Time is an argument (the
//! caller reads the services' clock).

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

/// Counts events per key in fixed windows.
pub struct RateLimiter {
    max: u32,
    window: Duration,
    hits: Mutex<LruCache<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `max` events per key in each `window`, remembering up to `capacity` keys.
    pub fn new(max: u32, window: Duration, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            max,
            window,
            hits: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Events counted for `key` in the current window.
    pub fn count(&self, key: &str, now: Instant) -> u32 {
        let Ok(mut hits) = self.hits.lock() else {
            return 0;
        };
        match hits.get(key) {
            Some((start, n)) if now.duration_since(*start) < self.window => *n,
            _ => 0,
        }
    }

    /// Whether `key` is at or over its limit in the current window (without counting).
    pub fn exhausted(&self, key: &str, now: Instant) -> bool {
        self.count(key, now) >= self.max
    }

    /// Counts an event for `key`; `false` when this event is over the limit.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        self.hit(key, now) <= self.max
    }

    /// Counts an event for `key` and returns the count in this window.
    pub fn hit(&self, key: &str, now: Instant) -> u32 {
        let Ok(mut hits) = self.hits.lock() else {
            return 0;
        };
        let entry = hits.get_or_insert_mut(key.to_owned(), || (now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.hits.lock().map_or(0, |h| h.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The account limits (defaults in SECURITY.md).
pub struct AccountLimits {
    /// Log-in attempts per client address.
    pub login_by_address: RateLimiter,
    /// Failed log-ins per (handle, address): the hard limit.
    pub failures_by_handle_and_address: RateLimiter,
    /// Failed log-ins per handle from anywhere: beyond it, attempts on the handle are slowed
    /// by [`AccountLimits::HANDLE_BACKOFF`], never refused.
    pub failures_by_handle: RateLimiter,
    /// Registrations per client address.
    pub registrations_by_address: RateLimiter,
}

impl AccountLimits {
    /// The delay of each attempt on a handle under attack.
    pub const HANDLE_BACKOFF: Duration = Duration::from_secs(1);
    /// Keys each limiter remembers.
    pub const CAPACITY: usize = 65_536;

    pub fn standard() -> Self {
        let five_minutes = Duration::from_secs(300);
        Self {
            login_by_address: RateLimiter::new(30, five_minutes, Self::CAPACITY),
            failures_by_handle_and_address: RateLimiter::new(10, five_minutes, Self::CAPACITY),
            failures_by_handle: RateLimiter::new(20, five_minutes, Self::CAPACITY),
            registrations_by_address: RateLimiter::new(
                10,
                Duration::from_secs(3600),
                Self::CAPACITY,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_window() {
        let l = RateLimiter::new(2, Duration::from_secs(60), 100);
        let t = Instant::now();
        assert!(l.allow("a", t));
        assert!(l.allow("a", t));
        assert!(l.exhausted("a", t));
        assert!(!l.allow("a", t));
        assert!(l.allow("b", t));
        assert!(!l.exhausted("a", t + Duration::from_secs(60)));
        assert!(l.allow("a", t + Duration::from_secs(60)));
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_least_recent_key() {
        let l = RateLimiter::new(1, Duration::from_secs(60), 3);
        let t = Instant::now();
        for key in ["a", "b", "c", "d"] {
            l.hit(key, t);
        }
        assert_eq!(l.len(), 3);
        assert_eq!(l.count("a", t), 0, "the oldest key was forgotten");
        assert_eq!(l.count("d", t), 1);
    }
}
