//! The control plane's domain error: a refusal with a stable [`ErrorCode`] and a precise
//! message, or an internal failure with its cause. Nothing here knows HTTP: `api::error` maps
//! codes to statuses and renders `{code, message}` (and logs internal failures once, with the
//! request they belong to).

use serde::Serialize;

/// Stable, machine-readable error codes (snake_case on the wire). Clients branch on these;
/// never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a field breaks its rule.
    InvalidRequest,
    /// No valid session (or webhook signature).
    Unauthorized,
    /// Signed in, but not allowed (the message names the missing permission).
    Forbidden,
    /// The thing does not exist, or the caller may not know it exists.
    NotFound,
    /// The request conflicts with the current state (a taken handle, the owner leaving).
    Conflict,
    /// Too many attempts; try again later.
    RateLimited,
    /// An invite that expired or was used up.
    InviteExpired,
    /// A voice or video channel at its user limit.
    ChannelFull,
    /// No media plane is attached, or it cannot be reached.
    MediaUnavailable,
    /// The server cannot take the request now (an event store that is down).
    Unavailable,
    /// A media-session command sent at an epoch the session has moved past (a handoff, a new
    /// session): read the session and send it again.
    StaleEpoch,
    /// A live session that is not live (not started yet, or over).
    NotLive,
    /// A pay-per-view session the caller has not bought.
    PaymentRequired,
    /// A live session for the host's subscribers only.
    SubscriptionRequired,
    /// A live session at its `maxViewers`.
    SessionFull,
    /// The wallet's balance does not cover the price.
    InsufficientFunds,
    /// The caller already bought this session (with another idempotency key).
    AlreadyPurchased,
    /// Banned from the host's live sessions.
    Banned,
    /// The server failed; the details are in its log, under the request's id.
    Internal,
}

impl ErrorCode {
    /// Every code, for the API document (`api::error` gives it its schema).
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::InviteExpired,
        ErrorCode::ChannelFull,
        ErrorCode::MediaUnavailable,
        ErrorCode::Unavailable,
        ErrorCode::StaleEpoch,
        ErrorCode::NotLive,
        ErrorCode::PaymentRequired,
        ErrorCode::SubscriptionRequired,
        ErrorCode::SessionFull,
        ErrorCode::InsufficientFunds,
        ErrorCode::AlreadyPurchased,
        ErrorCode::Banned,
        ErrorCode::Internal,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InviteExpired => "invite_expired",
            ErrorCode::ChannelFull => "channel_full",
            ErrorCode::MediaUnavailable => "media_unavailable",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::StaleEpoch => "stale_epoch",
            ErrorCode::NotLive => "not_live",
            ErrorCode::PaymentRequired => "payment_required",
            ErrorCode::SubscriptionRequired => "subscription_required",
            ErrorCode::SessionFull => "session_full",
            ErrorCode::InsufficientFunds => "insufficient_funds",
            ErrorCode::AlreadyPurchased => "already_purchased",
            ErrorCode::Banned => "banned",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a control-plane operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule refused the request; the message is for the client.
    #[error("{code}: {message}")]
    Refused { code: ErrorCode, message: String },
    /// A refusal the client may retry after `retry_after_secs` (a rate limit, a busy server).
    #[error("{code}: {message} (retry after {retry_after_secs} s)")]
    Busy {
        code: ErrorCode,
        message: String,
        retry_after_secs: u32,
    },
    /// The database failed (the client sees only `internal`).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Something else inside the server failed (the client sees only `internal`).
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RateLimited, message)
    }
    /// A refusal to retry after `retry_after_secs` (sent as `Retry-After`).
    pub fn busy(code: ErrorCode, message: impl Into<String>, retry_after_secs: u32) -> Self {
        Self::Busy {
            code,
            message: message.into(),
            retry_after_secs,
        }
    }
    /// An internal failure with what went wrong (logged, never shown to the client).
    pub fn internal(cause: impl Into<String>) -> Self {
        Self::Internal(cause.into())
    }

    /// The code the client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Refused { code, .. } | Error::Busy { code, .. } => *code,
            Error::Database(_) | Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message the client sees (internal causes are not shown).
    pub fn client_message(&self) -> &str {
        match self {
            Error::Refused { message, .. } | Error::Busy { message, .. } => message,
            Error::Database(_) | Error::Internal(_) => "internal error",
        }
    }

    /// When the client may try again, for refusals that say so.
    pub fn retry_after_secs(&self) -> Option<u32> {
        match self {
            Error::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_stable() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::json!(code.as_str()));
        }
        assert_eq!(ErrorCode::InviteExpired.as_str(), "invite_expired");
    }

    #[test]
    fn all_lists_every_code_once() {
        // Adding a variant breaks this match until ALL (and the API document) lists it.
        let position = |code: ErrorCode| match code {
            ErrorCode::InvalidRequest => 0,
            ErrorCode::Unauthorized => 1,
            ErrorCode::Forbidden => 2,
            ErrorCode::NotFound => 3,
            ErrorCode::Conflict => 4,
            ErrorCode::RateLimited => 5,
            ErrorCode::InviteExpired => 6,
            ErrorCode::ChannelFull => 7,
            ErrorCode::MediaUnavailable => 8,
            ErrorCode::Unavailable => 9,
            ErrorCode::StaleEpoch => 10,
            ErrorCode::NotLive => 11,
            ErrorCode::PaymentRequired => 12,
            ErrorCode::SubscriptionRequired => 13,
            ErrorCode::SessionFull => 14,
            ErrorCode::InsufficientFunds => 15,
            ErrorCode::AlreadyPurchased => 16,
            ErrorCode::Banned => 17,
            ErrorCode::Internal => 18,
        };
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(position(code), i, "{code}");
        }
    }

    #[test]
    fn internal_causes_stay_inside() {
        let e = Error::internal("disk on fire");
        assert_eq!(e.code(), ErrorCode::Internal);
        assert_eq!(e.client_message(), "internal error");
        assert!(e.to_string().contains("disk on fire"));
    }
}
