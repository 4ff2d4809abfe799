//! Values that must never reach logs or `Debug` output: API secrets (`Secret`) and database URLs
//! that may carry a password (`DatabaseUrl`). Both hand out the real text only through an
//! explicit `expose()`.
//!
//! Both also implement `Serialize` with the real text: that is how the command-line layer hands
//! its values to the settings merge. Nothing else serializes settings.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Text shown instead of a hidden value.
const REDACTED: &str = "[redacted]";

/// A secret string; its `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the code that signs or verifies with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor).map(Self)
    }
}

/// Accepts text, and integers as their decimal text (a TOML `secret = 1234` is meant as text).
/// Anything else is refused without echoing the value, which may be the secret.
struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
        Err(E::invalid_type(Unexpected::Other("a boolean"), &self))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        Err(E::invalid_type(Unexpected::Other("a number"), &self))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<String, E> {
        Err(E::invalid_type(Unexpected::Other("bytes"), &self))
    }
}

/// A database URL (`sqlite://…`, `postgres://user:password@host/db`); its `Debug` shows the URL
/// with any password replaced by `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password hidden, safe to log.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

impl From<String> for DatabaseUrl {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor).map(Self)
    }
}

/// Hides the password of a URL: the part of the user information after its `:` and any query
/// parameter whose name contains `password`. Errs on the side of hiding too much: the user
/// information ends at the last `@` (a password may hold an unescaped `/`, `?` or `@`). Text that
/// is not `scheme://…` but mentions a password is hidden whole.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.to_ascii_lowercase().contains("password") {
            REDACTED.to_owned()
        } else {
            url.to_owned()
        };
    };
    let (userinfo, host_and_rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let mut out = format!("{scheme}://");
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, _password)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(REDACTED);
            }
            None => out.push_str(userinfo),
        }
        out.push('@');
    }
    match host_and_rest.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                        format!("{name}={REDACTED}")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(host_and_rest),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(
            format!("{:?}", Some(("key", s.clone()))),
            "Some((\"key\", [redacted]))"
        );
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn database_url_passwords_are_redacted() {
        let cases = [
            (
                "postgres://xcord:s3cret@db.example:5432/xcord",
                "postgres://xcord:[redacted]@db.example:5432/xcord",
            ),
            (
                "postgresql://u:pa/ss@word@h/db?sslmode=require",
                "postgresql://u:[redacted]@h/db?sslmode=require",
            ),
            (
                "postgres://h/db?user=u&password=s3cret&sslpassword=k3y",
                "postgres://h/db?user=u&password=[redacted]&sslpassword=[redacted]",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "sqlite://xcord-data/xcord.db?mode=rwc",
                "sqlite://xcord-data/xcord.db?mode=rwc",
            ),
            ("sqlite:x.db", "sqlite:x.db"),
            ("host=h password=s3cret", "[redacted]"),
        ];
        for (url, shown) in cases {
            let db = DatabaseUrl::from(url.to_owned());
            assert_eq!(db.redacted(), shown, "{url}");
            assert_eq!(format!("{db:?}"), format!("{shown:?}"));
            assert_eq!(db.expose(), url);
        }
    }
}
