//! Denied identities. When the server removes someone from a room for cause (a ban, a kick,
//! lost permission), the tokens issued before — valid for minutes still — must not bring that
//! identity back: joins with a token whose `nbf` is at or before the denial are refused until
//! every such token has expired. A token issued after the denial (the server readmitted them)
//! joins normally. Pure: the time is passed in.

use std::collections::HashMap;
use std::time::Duration;

/// Tokens of `identity` for `room` issued no later than `issued_until_s` are refused until
/// `expires_at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Denial {
    issued_until_s: u64,
    expires_at_ms: i64,
}

/// Leeway the verifier allows on `exp`: a token is accepted this long after it expired.
const EXPIRY_LEEWAY: Duration = Duration::from_secs(60);

/// The denied (room, identity) pairs.
#[derive(Debug, Default)]
pub struct Revocations {
    denied: HashMap<(String, String), Denial>,
}

impl Revocations {
    /// Denies `identity` in `room` every token issued up to `now_ms`, for as long as such a
    /// token can live (`token_lifetime`, plus the verifier's leeway).
    pub fn deny(&mut self, room: &str, identity: &str, now_ms: i64, token_lifetime: Duration) {
        self.denied.retain(|_, d| d.expires_at_ms > now_ms);
        let span = (token_lifetime + EXPIRY_LEEWAY).as_millis();
        let denial = Denial {
            issued_until_s: u64::try_from(now_ms.max(0) / 1000).unwrap_or(0),
            expires_at_ms: now_ms.saturating_add(i64::try_from(span).unwrap_or(i64::MAX)),
        };
        let entry = self
            .denied
            .entry((room.to_owned(), identity.to_owned()))
            .or_insert(denial);
        entry.issued_until_s = entry.issued_until_s.max(denial.issued_until_s);
        entry.expires_at_ms = entry.expires_at_ms.max(denial.expires_at_ms);
    }

    /// Whether a token for `identity` in `room` that became valid at `nbf_s` may join at `now_ms`.
    pub fn admits(&mut self, room: &str, identity: &str, nbf_s: u64, now_ms: i64) -> bool {
        let key = (room.to_owned(), identity.to_owned());
        match self.denied.get(&key) {
            None => true,
            Some(d) if d.expires_at_ms <= now_ms => {
                self.denied.remove(&key);
                true
            }
            Some(d) => nbf_s > d.issued_until_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIME: Duration = Duration::from_secs(600);
    const T: i64 = 1_800_000_000_500; // 0.5 s into a second

    #[test]
    fn old_tokens_are_refused_until_they_cannot_be_valid_any_more() {
        let mut r = Revocations::default();
        r.deny("vc_1", "u1", T, LIFETIME);
        let issued_before = (T / 1000 - 30) as u64;
        assert!(!r.admits("vc_1", "u1", issued_before, T + 1));
        // Same second as the denial: refused (a token signed just before it looks the same).
        assert!(!r.admits("vc_1", "u1", (T / 1000) as u64, T + 1));
        // Issued after the denial: the server readmitted them.
        assert!(r.admits("vc_1", "u1", (T / 1000 + 1) as u64, T + 1500));
        // Other rooms and identities are untouched.
        assert!(r.admits("vc_2", "u1", issued_before, T + 1));
        assert!(r.admits("vc_1", "u2", issued_before, T + 1));
        let end = T + 660_000;
        assert!(!r.admits("vc_1", "u1", issued_before, end - 1));
        assert!(r.admits("vc_1", "u1", issued_before, end));
        assert!(r.denied.is_empty(), "an expired denial is forgotten");
    }

    #[test]
    fn a_second_denial_extends_the_first_and_expired_ones_are_pruned() {
        let mut r = Revocations::default();
        r.deny("vc_1", "u1", T, LIFETIME);
        r.deny("vc_1", "u1", T + 5_000, LIFETIME);
        assert!(!r.admits("vc_1", "u1", (T / 1000 + 3) as u64, T + 6_000));
        assert!(!r.admits("vc_1", "u1", 0, T + 664_999));
        r.deny("vc_9", "u9", T + 700_000, LIFETIME);
        assert_eq!(r.denied.len(), 1, "the first denial expired and was pruned");
    }
}
