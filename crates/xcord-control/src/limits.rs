//! Field limits: the numbers the validators check (`accounts::validate`,
//! `communities::validate`) and the API document states (`schema`), kept in one leaf module so
//! both read the same constants without depending on each other.

use std::ops::RangeInclusive;

/// A handle's length, in characters.
pub const HANDLE_CHARS: RangeInclusive<usize> = 3..=32;
/// A display name's length after trimming, in characters.
pub const DISPLAY_NAME_CHARS: RangeInclusive<usize> = 1..=64;
/// A password's length, in characters.
pub const PASSWORD_CHARS: RangeInclusive<usize> = 8..=128;
/// A community, role or channel name's length after trimming, in characters.
pub const NAME_CHARS: RangeInclusive<usize> = 1..=100;
/// Largest channel position.
pub const MAX_POSITION: i64 = 1_000_000;
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Largest channel user limit (0 is unlimited).
pub const MAX_USER_LIMIT: i64 = 99;
/// Longest invite lifetime: 30 days.
pub const MAX_INVITE_AGE_SECONDS: i64 = 30 * 24 * 3600;
/// Most uses an invite may allow.
pub const MAX_INVITE_USES: i64 = 1000;
