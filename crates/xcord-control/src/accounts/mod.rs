//! Accounts: registration, log-in with argon2 password hashes, sessions (random bearer tokens
//! stored only as SHA-256 hashes), profiles, and a limiter on log-in attempts.

pub mod argon;
pub mod passwords;
pub mod ratelimit;
pub mod service;
pub mod store;
pub mod validate;

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::schema::{AvatarGradient, Id};

/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// A user as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[schema(value_type = Id)]
    pub id: String,
    /// The handle as registered (case kept).
    pub handle: String,
    pub display_name: String,
    /// Two CSS colours (`#rrggbb`): the avatar's gradient.
    #[schema(value_type = AvatarGradient)]
    pub avatar_gradient: [String; 2],
    pub is_creator: bool,
    /// What a 30-day subscription to this creator costs; `null`: none offered.
    pub subscription_price_coins: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A new random session token (what the client keeps) and its hash (what the server keeps).
pub fn new_session_token() -> (String, String) {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of a session token.
pub fn hash_token(token: &str) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A pleasant default gradient, picked from the user id.
pub fn default_gradient(seed: &str) -> [String; 2] {
    const PAIRS: [(&str, &str); 6] = [
        ("#6366f1", "#ec4899"),
        ("#0ea5e9", "#22c55e"),
        ("#f59e0b", "#ef4444"),
        ("#8b5cf6", "#06b6d4"),
        ("#14b8a6", "#a3e635"),
        ("#f43f5e", "#fb923c"),
    ];
    let i = seed.bytes().fold(0usize, |a, b| {
        a.wrapping_mul(31).wrapping_add(usize::from(b))
    }) % PAIRS.len();
    [PAIRS[i].0.to_owned(), PAIRS[i].1.to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_random_and_hashed() {
        let (t1, h1) = new_session_token();
        let (t2, _) = new_session_token();
        assert_ne!(t1, t2);
        assert_eq!(hash_token(&t1), h1);
        assert_ne!(t1, h1);
        assert!(t1.len() >= 43);
    }
}
