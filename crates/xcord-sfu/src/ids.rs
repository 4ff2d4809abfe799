//! Identifiers in LiveKit's format: a type prefix (`RM_`, `PA_`, `TR_`, `EV_`) followed by
//! twelve base57 characters, as the SDKs expect (the Rust SDK refuses sids without the prefix).

use rand::Rng;

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const LEN: usize = 12;

fn with_prefix(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + LEN);
    id.push_str(prefix);
    for _ in 0..LEN {
        id.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    id
}

/// A new room sid (`RM_…`).
pub fn room_sid() -> String {
    with_prefix("RM_")
}

/// A new participant sid (`PA_…`).
pub fn participant_sid() -> String {
    with_prefix("PA_")
}

/// A new track sid: `TR_` + type letter (`A`udio/`V`ideo) + source letter
/// (`C`amera, `M`icrophone, `S`creen share, `s`creen-share audio, `U`nknown) + random.
pub fn track_sid(is_video: bool, source: livekit_protocol::TrackSource) -> String {
    use livekit_protocol::TrackSource;
    let kind = if is_video { 'V' } else { 'A' };
    let src = match source {
        TrackSource::Camera => 'C',
        TrackSource::Microphone => 'M',
        TrackSource::ScreenShare => 'S',
        TrackSource::ScreenShareAudio => 's',
        TrackSource::Unknown => 'U',
    };
    with_prefix(&format!("TR_{kind}{src}"))
}

/// A new webhook event id (`EV_…`).
pub fn event_id() -> String {
    with_prefix("EV_")
}

/// A random secret-grade string of `len` base57 characters.
pub fn random_token(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let p = participant_sid();
        assert!(p.starts_with("PA_"));
        assert_eq!(p.len(), 15);
        assert_ne!(p, participant_sid());
        let t = track_sid(true, livekit_protocol::TrackSource::Camera);
        assert!(t.starts_with("TR_VC"));
        assert!(room_sid().starts_with("RM_"));
    }
}
