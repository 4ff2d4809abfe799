//! Field rules for communities, roles, channels, invites and messages, each failure a precise
//! message. Names are trimmed before they are checked and stored. The limits live in
//! `crate::limits`, so that the API document (`crate::schema` and the HTTP layer's request
//! bodies) states the same ones.

use super::ChannelKind;
use crate::error::Error;
pub use crate::limits::{
    MAX_INVITE_AGE_SECONDS, MAX_INVITE_USES, MAX_MESSAGE_CHARS, MAX_POSITION, MAX_USER_LIMIT,
    NAME_CHARS,
};

/// A 1–100 character name without control characters, bidirectional controls or invisible
/// characters (`crate::unicode::name_problem`); `field` names it in the message.
pub fn name<'a>(field: &str, value: &'a str) -> Result<&'a str, Error> {
    let trimmed = value.trim();
    if !NAME_CHARS.contains(&trimmed.chars().count()) {
        return Err(Error::invalid(format!(
            "{field} must be {} to {} characters",
            NAME_CHARS.start(),
            NAME_CHARS.end()
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    if let Some(problem) = crate::unicode::name_problem(trimmed) {
        return Err(Error::invalid(format!("{field} {problem}")));
    }
    Ok(trimmed)
}

pub fn channel_kind(kind: &str) -> Result<ChannelKind, Error> {
    ChannelKind::parse(kind).ok_or_else(|| {
        Error::invalid(format!(
            "kind must be \"text\", \"voice\" or \"video\", got {kind:?}"
        ))
    })
}

/// A user limit for a channel of `kind`.
pub fn user_limit(kind: ChannelKind, limit: i64) -> Result<u32, Error> {
    if !(0..=MAX_USER_LIMIT).contains(&limit) {
        return Err(Error::invalid("userLimit must be 0 (unlimited) to 99"));
    }
    if limit != 0 && !kind.is_media() {
        return Err(Error::invalid(
            "userLimit applies only to voice and video channels",
        ));
    }
    u32::try_from(limit).map_err(|_| Error::invalid("userLimit must be 0 (unlimited) to 99"))
}

pub fn position(position: i64) -> Result<i64, Error> {
    if !(0..=MAX_POSITION).contains(&position) {
        return Err(Error::invalid(format!(
            "position must be 0 to {MAX_POSITION}"
        )));
    }
    Ok(position)
}

/// Message content: 1–4000 characters, not only white space and invisible characters (kept as
/// written).
pub fn content(content: &str) -> Result<(), Error> {
    if crate::unicode::is_blank(content) || content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::invalid("content must be 1 to 4000 characters"));
    }
    Ok(())
}

pub fn invite_max_uses(uses: Option<i64>) -> Result<Option<i64>, Error> {
    match uses {
        Some(u) if !(1..=MAX_INVITE_USES).contains(&u) => {
            Err(Error::invalid("maxUses must be 1 to 1000"))
        }
        other => Ok(other),
    }
}

pub fn invite_max_age(seconds: Option<i64>) -> Result<Option<i64>, Error> {
    match seconds {
        Some(s) if !(1..=MAX_INVITE_AGE_SECONDS).contains(&s) => Err(Error::invalid(
            "maxAgeSeconds must be 1 to 2592000 (30 days)",
        )),
        other => Ok(other),
    }
}

/// A page size: 1–100, 50 when absent.
pub fn page_limit(limit: Option<&str>) -> Result<i64, Error> {
    let Some(limit) = limit else {
        return Ok(50);
    };
    match limit.parse::<i64>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(Error::invalid(format!(
            "limit must be 1 to 100, got {limit:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(name("name", "  General  ").ok(), Some("General"));
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(101)).is_err());
        assert!(name("name", &"é".repeat(100)).is_ok());
        assert!(name("name", "a\nb").is_err());
        assert!(channel_kind("stage").is_err());
        assert_eq!(user_limit(ChannelKind::Voice, 99).ok(), Some(99));
        assert!(user_limit(ChannelKind::Voice, 100).is_err());
        assert!(user_limit(ChannelKind::Text, 5).is_err());
        assert_eq!(user_limit(ChannelKind::Text, 0).ok(), Some(0));
        assert!(content(" \n ").is_err());
        assert!(content("\u{200B}\u{200B} \u{FEFF}").is_err());
        assert!(content("hi\u{200B}").is_ok());
        assert!(name("name", "\u{3164}\u{3164}").is_err());
        assert!(name("name", "mod\u{2067}s").is_err());
        assert!(content(&"x".repeat(4000)).is_ok());
        assert!(content(&"x".repeat(4001)).is_err());
        assert!(invite_max_uses(Some(0)).is_err());
        assert!(invite_max_age(Some(2_592_001)).is_err());
        assert_eq!(page_limit(None).ok(), Some(50));
        assert!(page_limit(Some("0")).is_err());
        assert!(page_limit(Some("abc")).is_err());
        assert_eq!(page_limit(Some("100")).ok(), Some(100));
    }
}
