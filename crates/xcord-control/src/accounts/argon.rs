//! Argon2id (the crate's default cost: 19 MiB, two passes) on working memory the caller owns.
//! Hashing a password needs a 19 MiB buffer; allocated per hash, the allocator keeps freed
//! buffers in its arenas and the process settles hundreds of MiB higher after a burst of
//! log-ins. With one [`Arena`] per hashing permit, hashing costs exactly permits × 19 MiB,
//! allocated once. Hashes are standard PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`), and
//! stored hashes with other parameters still verify (on memory allocated for that check).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};

/// Working memory for one hash at the default parameters.
pub struct Arena(Vec<Block>);

impl Arena {
    pub fn new() -> Self {
        Self(vec![Block::new(); Params::DEFAULT.block_count()])
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

/// Hashes `password` with a random salt; None only if the library refuses its inputs.
pub fn hash(password: &[u8], arena: &mut Arena) -> Option<String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).ok()?;
    let params = Params::DEFAULT;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, salt_bytes, &mut out, &mut arena.0)
        .ok()?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().ok()?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).ok()?),
    };
    Some(phc.to_string())
}

/// Whether `password` matches the PHC string `stored` (false for anything unreadable).
pub fn verify(password: &[u8], stored: &str, arena: &mut Arena) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (phc.hash, phc.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else {
        return false;
    };
    let Ok(version) = Version::try_from(phc.version.unwrap_or(Version::V0x13.into())) else {
        return false;
    };
    let Ok(params) = Params::try_from(&phc) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let done = if params.block_count() == arena.0.len() {
        argon.hash_password_into_with_memory(password, salt_bytes, &mut out, &mut arena.0)
    } else {
        // A hash made with other costs: memory for this check only.
        let mut memory = vec![Block::new(); params.block_count()];
        argon.hash_password_into_with_memory(password, salt_bytes, &mut out, &mut memory)
    };
    // `Output` compares in constant time.
    done.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_are_standard_and_interoperate_with_the_library() {
        let mut arena = Arena::new();
        let ours = hash(b"correct horse", &mut arena).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        assert!(verify(b"correct horse", &ours, &mut arena));
        assert!(!verify(b"correct horsf", &ours, &mut arena));
        // the library verifies ours, and we verify the library's, with other costs too
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = cheap.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify(b"pw", &theirs, &mut arena));
        assert!(!verify(b"px", &theirs, &mut arena));
        for junk in [
            "",
            "$argon2id$",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
        ] {
            assert!(!verify(b"pw", junk, &mut arena), "{junk}");
        }
    }
}
