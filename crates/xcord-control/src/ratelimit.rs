//! Fixed-window counters for abuse limits, keyed by bounded strings (an address, a validated
//! handle, a user id), and the per-user limits on what signed-in users write ([`UserLimits`]:
//! channel messages, direct messages, invites). Memory is bounded: each limiter keeps at most
//! `capacity` keys and forgets the least recently used one when full. Time is an argument (the
//! caller reads the services' clock), so tests decide at exact instants. A leaf module: every
//! domain may use it.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

use crate::error::{Error, ErrorCode};

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

    /// Counts an event for `key`; when it is over the limit, `Err` with how long until the
    /// window ends (at least a millisecond).
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut hits) = self.hits.lock() else {
            return Ok(());
        };
        let entry = hits.get_or_insert_mut(key.to_owned(), || (now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 <= self.max {
            return Ok(());
        }
        let left = self.window.saturating_sub(now.duration_since(entry.0));
        Err(left.max(Duration::from_millis(1)))
    }

    /// Counts an event for `key`, or the `rate_limited` refusal naming `what` with a
    /// `Retry-After` in whole seconds (rounded up).
    pub fn check_or_refuse(&self, key: &str, now: Instant, what: &str) -> Result<(), Error> {
        self.check(key, now).map_err(|left| {
            let secs = left.as_millis().div_ceil(1000);
            let secs = u32::try_from(secs).unwrap_or(u32::MAX).max(1);
            Error::busy(
                ErrorCode::RateLimited,
                format!("too many {what}; try again in {secs} s"),
                secs,
            )
        })
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.hits.lock().map_or(0, |h| h.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Per-user limits on what signed-in users write (defaults in SECURITY.md), keyed by user id.
pub struct UserLimits {
    /// Messages sent in community channels.
    pub channel_messages: RateLimiter,
    /// Messages sent in direct conversations.
    pub dm_messages: RateLimiter,
    /// Invites created.
    pub invites: RateLimiter,
}

impl UserLimits {
    /// Keys each limiter remembers.
    pub const CAPACITY: usize = 65_536;

    pub fn standard() -> Self {
        let ten_seconds = Duration::from_secs(10);
        Self {
            channel_messages: RateLimiter::new(10, ten_seconds, Self::CAPACITY),
            dm_messages: RateLimiter::new(10, ten_seconds, Self::CAPACITY),
            invites: RateLimiter::new(10, Duration::from_secs(600), Self::CAPACITY),
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
    fn check_refuses_past_the_limit_until_the_window_ends() {
        let l = RateLimiter::new(3, Duration::from_secs(10), 100);
        let t = Instant::now();
        assert_eq!(l.check("u", t), Ok(()));
        assert_eq!(l.check("u", t + Duration::from_secs(4)), Ok(()));
        assert_eq!(l.check("u", t + Duration::from_secs(5)), Ok(()));
        assert_eq!(
            l.check("u", t + Duration::from_secs(6)),
            Err(Duration::from_secs(4))
        );
        assert_eq!(
            l.check("u", t + Duration::from_millis(9_999)),
            Err(Duration::from_millis(1))
        );
        assert_eq!(l.check("u", t + Duration::from_secs(10)), Ok(()));
        assert_eq!(l.check("v", t), Ok(()), "another key has its own count");
    }

    #[test]
    fn check_or_refuse_rounds_the_retry_hint_up() {
        let l = RateLimiter::new(1, Duration::from_secs(10), 100);
        let t = Instant::now();
        assert!(l.check_or_refuse("u", t, "messages").is_ok());
        let e = l
            .check_or_refuse("u", t + Duration::from_millis(1_500), "messages")
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::RateLimited);
        assert_eq!(e.retry_after_secs(), Some(9));
        assert_eq!(e.client_message(), "too many messages; try again in 9 s");
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
