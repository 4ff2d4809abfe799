//! The control plane's one clock. Every decision that depends on time reads it here (or takes
//! `now` as an argument from a caller that did), so tests can put the control plane at an
//! exact instant instead of sleeping.
//!
//! - [`Clock::system`]: the wall clock for timestamps, tokio's clock for deadlines.
//! - [`Clock::manual`]: a test clock that stands still at a chosen wall time until a test moves
//!   it with [`Clock::advance`], so a decision can be checked at an exact instant.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Wall time in unix milliseconds and a monotonic instant, from one source.
#[derive(Clone, Debug)]
pub struct Clock {
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    System,
    Manual(Arc<Manual>),
}

#[derive(Debug)]
struct Manual {
    /// The wall time at `origin`.
    start_ms: i64,
    origin: Instant,
    /// Moved on by hand, in milliseconds.
    offset_ms: AtomicI64,
    /// Wakes [`Clock::sleep_until_ms`] waiters when the clock is moved.
    moved: tokio::sync::Notify,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self {
            source: Source::System,
        }
    }

    /// A test clock reading `start_ms` until [`Clock::advance`] moves it.
    pub fn manual(start_ms: i64) -> Self {
        Self {
            source: Source::Manual(Arc::new(Manual {
                start_ms,
                origin: Instant::now(),
                offset_ms: AtomicI64::new(0),
                moved: tokio::sync::Notify::new(),
            })),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.source {
            Source::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or_default(),
            Source::Manual(m) => m
                .start_ms
                .saturating_add(m.offset_ms.load(Ordering::Relaxed)),
        }
    }

    /// A monotonic instant for deadlines (tokio's clock, which paused test time moves; a
    /// manual clock's stands at its origin plus what it was moved).
    pub fn instant(&self) -> Instant {
        match &self.source {
            Source::System => Instant::now(),
            Source::Manual(m) => {
                let offset = m.offset_ms.load(Ordering::Relaxed).max(0);
                m.origin + Duration::from_millis(offset.unsigned_abs())
            }
        }
    }

    /// Waits `d`: a real timer on the system clock; on a manual clock the clock is moved on by
    /// `d` at once, so a test sees the wait without spending it.
    pub async fn sleep(&self, d: Duration) {
        match &self.source {
            Source::System => tokio::time::sleep(d).await,
            Source::Manual(_) => self.advance(d),
        }
    }

    /// Waits until the clock reads `deadline_ms` (Unix milliseconds): a real timer on the
    /// system clock; on a manual clock, until a test has moved it that far (it never moves by
    /// itself), so a background task's deadlines come exactly when the test says.
    pub async fn sleep_until_ms(&self, deadline_ms: i64) {
        match &self.source {
            Source::System => {
                let left = deadline_ms.saturating_sub(self.now_ms()).max(0);
                tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
            }
            Source::Manual(m) => loop {
                let moved = m.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                if self.now_ms() >= deadline_ms {
                    return;
                }
                moved.await;
            },
        }
    }

    /// Moves a manual clock on by `by` (wall time and instants). No effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(m) = &self.source {
            let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            m.offset_ms.fetch_add(ms, Ordering::Relaxed);
            m.moved.notify_waiters();
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_manual_clock_moves_only_by_hand() {
        let clock = Clock::manual(1_000);
        let t0 = clock.instant();
        assert_eq!(clock.now_ms(), 1_000);
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_000);
        assert_eq!(clock.instant() - t0, Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_manual_clock_sleeps_by_moving_on() {
        let clock = Clock::manual(0);
        clock.sleep(Duration::from_secs(3)).await;
        assert_eq!(clock.now_ms(), 3_000);
    }

    #[tokio::test]
    async fn a_manual_deadline_comes_only_when_the_clock_is_moved_there() {
        let clock = Clock::manual(0);
        let waiter = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until_ms(1_000).await }
        });
        clock.advance(Duration::from_millis(999));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        clock.advance(Duration::from_millis(1));
        assert!(waiter.await.is_ok());
    }

    #[test]
    fn the_system_clock_reads_the_wall() {
        let now = Clock::system().now_ms();
        // 2020-01-01 .. 2100-01-01
        assert!((1_577_836_800_000..4_102_444_800_000).contains(&now));
    }
}
