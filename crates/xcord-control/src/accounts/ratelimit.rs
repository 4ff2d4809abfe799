//! The account limits: log-in attempts and registrations, keyed by bounded strings (a validated
//! handle, an address), each a [`RateLimiter`] (`crate::ratelimit`).

use std::time::Duration;

pub use crate::ratelimit::RateLimiter;

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
