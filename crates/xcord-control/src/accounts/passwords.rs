//! Password hashing with a bound: argon2id costs about 19 MiB and tens of milliseconds per
//! hash, so at most `permits` hashes or verifications run at once (about the core count), on the
//! blocking pool, each on one of `permits` working buffers allocated once ([`super::argon`]). A request that cannot get a permit within `wait` is refused with
//! `unavailable` and a retry hint instead of queueing without limit. Unknown handles are
//! verified against a dummy hash, so a log-in takes as long whether or not the handle exists.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::argon::{self, Arena};
use crate::error::{Error, ErrorCode};

/// The bounded password hasher.
pub struct Passwords {
    permits: Semaphore,
    /// One working buffer per permit, taken while hashing and put back after.
    arenas: std::sync::Arc<Mutex<Vec<Arena>>>,
    wait: Duration,
    dummy: OnceLock<String>,
}

impl Passwords {
    /// `permits` hashes at once; callers wait at most `wait` for one.
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Semaphore::new(permits.max(1)),
            arenas: Default::default(),
            wait,
            dummy: OnceLock::new(),
        }
    }

    /// One permit per available core.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores, Duration::from_secs(5))
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Error::internal("password hasher closed")),
            Err(_) => Err(Error::busy(
                ErrorCode::Unavailable,
                "the server is busy checking passwords; try again shortly",
                1,
            )),
        }
    }

    /// Runs `work` on the blocking pool with a working buffer, under a permit.
    async fn with_arena<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Arena) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permit().await?;
        let arenas = self.arenas.clone();
        tokio::task::spawn_blocking(move || {
            let taken = arenas.lock().unwrap_or_else(PoisonError::into_inner).pop();
            // Holding a permit, at most `permits` buffers ever exist.
            let mut arena = taken.unwrap_or_default();
            let result = work(&mut arena);
            arenas
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(arena);
            result
        })
        .await
        .map_err(|_| Error::internal("password hashing stopped"))
    }

    /// Hashes a password with argon2id and a random salt.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        self.with_arena(move |arena| argon::hash(password.as_bytes(), arena))
            .await?
            .ok_or_else(|| Error::internal("password hashing failed"))
    }

    /// Whether `password` matches `stored`.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, Error> {
        self.with_arena(move |arena| argon::verify(password.as_bytes(), &stored, arena))
            .await
    }

    /// Spends the time of a verification on a handle that does not exist (always `false`).
    pub async fn verify_unknown(&self, password: String) -> Result<bool, Error> {
        let dummy = match self.dummy.get() {
            Some(d) => d.clone(),
            None => {
                let d = self.hash("not a password anyone has".into()).await?;
                self.dummy.get_or_init(|| d).clone()
            }
        };
        self.verify(password, dummy).await.map(|_| false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn verifies_and_never_accepts_an_unknown_handle() {
        let p = Passwords::new(2, Duration::from_secs(5));
        let hash = p.hash("correct horse".into()).await.unwrap();
        assert!(
            p.verify("correct horse".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!p.verify("wrong".into(), hash).await.unwrap());
        assert!(!p.verify_unknown("correct horse".into()).await.unwrap());
        assert!(
            !p.verify_unknown("not a password anyone has".into())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn beyond_the_permits_callers_wait_then_are_refused() {
        let p = Arc::new(Passwords::new(1, Duration::from_millis(50)));
        let held = p.permits.acquire().await.unwrap();
        let refused = p.hash("x".repeat(10)).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::Unavailable);
        assert_eq!(refused.retry_after_secs(), Some(1));
        drop(held);
        assert!(p.hash("x".repeat(10)).await.is_ok());
    }
}
