//! Short-lived TURN credentials in the "TURN REST API" style that browsers and TURN servers
//! share: the username is `EXPIRY:NAME` (EXPIRY in Unix seconds), the password is
//! `base64(HMAC-SHA1(secret, username))`. The SFU issues them with every join; the TURN server
//! recomputes the password from the username, so it keeps no list of users, and refuses a
//! username whose expiry has passed.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// A username and password for one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Why a username is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("username is not EXPIRY:NAME")]
    Malformed,
    #[error("credentials expired")]
    Expired,
}

/// The secret credentials are derived from. `Debug` does not show it.
#[derive(Clone)]
pub struct CredentialSecret(Vec<u8>);

impl std::fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialSecret(..)")
    }
}

impl CredentialSecret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A random 32-byte secret: enough when the TURN server and the SFU issuing its
    /// credentials are one process.
    pub fn random() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        Self(bytes)
    }

    /// Credentials for `name` valid until `expires_unix` (seconds since the Unix epoch).
    pub fn issue(&self, name: &str, expires_unix: u64) -> Credentials {
        let username = format!("{expires_unix}:{name}");
        let password = self.password_for(&username);
        Credentials { username, password }
    }

    /// The password of `username` if it is well formed and not expired at `now_unix`.
    pub fn verify(&self, username: &str, now_unix: u64) -> Result<String, CredentialError> {
        let (expiry, name) = username.split_once(':').ok_or(CredentialError::Malformed)?;
        let expiry: u64 = expiry.parse().map_err(|_| CredentialError::Malformed)?;
        if name.is_empty() {
            return Err(CredentialError::Malformed);
        }
        if expiry <= now_unix {
            return Err(CredentialError::Expired);
        }
        Ok(self.password_for(username))
    }

    fn password_for(&self, username: &str) -> String {
        // HMAC accepts keys of any length; the error case cannot happen.
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(username.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// Seconds since the Unix epoch now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_base64_hmac_sha1_of_the_username() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        let secret = CredentialSecret::new("Jefe");
        assert_eq!(
            secret.password_for("what do ya want for nothing?"),
            base64::engine::general_purpose::STANDARD.encode([
                0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
                0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
            ])
        );
    }

    #[test]
    fn issued_credentials_verify_until_they_expire() {
        let secret = CredentialSecret::new("s3cret");
        let c = secret.issue("PA_abc", 1_000);
        assert_eq!(c.username, "1000:PA_abc");
        assert_eq!(secret.verify(&c.username, 999), Ok(c.password.clone()));
        assert_eq!(
            secret.verify(&c.username, 1_000),
            Err(CredentialError::Expired)
        );
        // Another secret derives another password: a forged username gets nowhere.
        let other = CredentialSecret::new("other");
        assert_ne!(other.verify(&c.username, 999), Ok(c.password));
    }

    #[test]
    fn malformed_usernames_are_refused() {
        let secret = CredentialSecret::random();
        for u in ["", "PA_abc", "x:PA_abc", "1000:", ":PA", "-5:PA"] {
            assert_eq!(secret.verify(u, 0), Err(CredentialError::Malformed), "{u}");
        }
        // Names may contain ':'; the expiry is what precedes the first one.
        assert!(secret.verify("2000:a:b", 1_000).is_ok());
    }

    #[test]
    fn the_secret_is_not_printed() {
        assert_eq!(
            format!("{:?}", CredentialSecret::new("hidden")),
            "CredentialSecret(..)"
        );
    }
}
