//! `OptionalJson<T>`: a request body that may be absent (empty, or only whitespace) or a JSON
//! `T`. A malformed body is a 400 `invalid` naming serde's complaint, as with `ApiJson`.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// `None` for an absent body, else the parsed `T`.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| Error::invalid(rejection.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        serde_json::from_slice(&bytes)
            .map(|body| Self(Some(body)))
            .map_err(|e| Error::invalid(format!("invalid JSON body: {e}")))
    }
}
