//! Field rules for account data, each failure a precise message. The limits live in
//! `crate::limits`, so that the API document (`crate::schema`) states the same ones.

use crate::error::Error;
pub use crate::limits::{DISPLAY_NAME_CHARS, HANDLE_CHARS, PASSWORD_CHARS};

pub fn handle(h: &str) -> Result<(), Error> {
    let len = h.chars().count();
    if !HANDLE_CHARS.contains(&len) {
        return Err(Error::invalid(format!(
            "handle must be {} to {} characters",
            HANDLE_CHARS.start(),
            HANDLE_CHARS.end()
        )));
    }
    if !h
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(Error::invalid(
            "handle may contain only letters, digits, '_' and '.'",
        ));
    }
    Ok(())
}

pub fn display_name(n: &str) -> Result<(), Error> {
    let trimmed = n.trim();
    let len = trimmed.chars().count();
    if !DISPLAY_NAME_CHARS.contains(&len) {
        return Err(Error::invalid(format!(
            "displayName must be {} to {} characters",
            DISPLAY_NAME_CHARS.start(),
            DISPLAY_NAME_CHARS.end()
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(
            "displayName must not contain control characters",
        ));
    }
    if let Some(problem) = crate::unicode::name_problem(trimmed) {
        return Err(Error::invalid(format!("displayName {problem}")));
    }
    Ok(())
}

pub fn password(p: &str) -> Result<(), Error> {
    let len = p.chars().count();
    if !PASSWORD_CHARS.contains(&len) {
        return Err(Error::invalid(format!(
            "password must be {} to {} characters",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        )));
    }
    Ok(())
}

pub fn colour(c: &str) -> Result<(), Error> {
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|d| d.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "avatarGradient colours must be #rrggbb, got {c:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(handle("ab").is_err());
        assert!(handle("alice_01.x").is_ok());
        assert!(handle("al ice").is_err());
        assert!(handle(&"a".repeat(33)).is_err());
        assert!(display_name("  ").is_err());
        assert!(display_name("Alice").is_ok());
        assert!(display_name("a\u{7}b").is_err());
        assert!(display_name("\u{200B}\u{200B}").is_err());
        assert!(display_name("\u{3164}").is_err());
        assert!(display_name("Bob\u{202E}").is_err());
        assert!(display_name("👩‍💻 Alice").is_ok());
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert!(colour("#A0b1c2").is_ok());
        assert!(colour("red").is_err());
        assert!(colour("#12345g").is_err());
    }
}
