//! Rendering errors: each [`ErrorCode`] has one HTTP status, every error body is
//! `{code, message}` ([`ErrorBody`], the `Error` schema of the API document), and a server error
//! is logged once — by [`log_server_errors`], with the request's method, path and id — never
//! where it is converted. The document's `ErrorCode` schema and its shared error responses
//! (`BadRequest`, `Unauthorized`, …) are defined here too, next to the statuses they state.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToResponse, ToSchema};

use crate::error::{Error, ErrorCode};

/// The header carrying each request's id (set when the client sent none, echoed back).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The status of each code.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden
        | ErrorCode::ChannelFull
        | ErrorCode::SubscriptionRequired
        | ErrorCode::SessionFull
        | ErrorCode::Banned => StatusCode::FORBIDDEN,
        ErrorCode::PaymentRequired | ErrorCode::InsufficientFunds => StatusCode::PAYMENT_REQUIRED,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict
        | ErrorCode::StaleEpoch
        | ErrorCode::NotLive
        | ErrorCode::AlreadyPurchased => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::InviteExpired => StatusCode::GONE,
        ErrorCode::MediaUnavailable | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The cause of a server error, carried on the response to the logging layer.
#[derive(Clone, Debug)]
struct ServerErrorCause(String);

/// Every error of the API, whatever its status.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A precise, human-readable message.
    pub message: String,
}

/// `{code, message}` with the code's status.
pub fn render(code: ErrorCode, message: &str) -> Response {
    let body = ErrorBody {
        code,
        message: message.to_owned(),
    };
    (status(code), Json(body)).into_response()
}

/// Every code, each with its status.
impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let statuses: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|&code| format!("`{code}` ({})", status(code).as_u16()))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.map(ErrorCode::as_str)))
            .description(Some(format!(
                "Stable and machine-readable; clients branch on it: {}.",
                statuses.join(", ")
            )))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// The API document's shared error responses: each a description and the `Error` schema.
macro_rules! error_responses {
    ($($name:ident: $description:literal,)*) => {
        $(
            #[doc = $description]
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                    let content = ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                        .build();
                    let response = ResponseBuilder::new()
                        .description($description)
                        .content("application/json", content)
                        .build();
                    (stringify!($name), response.into())
                }
            }
        )*
    };
}

error_responses! {
    BadRequest: "Invalid request (`invalid_request`): a malformed or unexpected JSON body (unknown fields are refused), a bad query string, or a value outside its rules; the message says which.",
    Unauthorized: "No valid session (`unauthorized`): the `Authorization: Bearer <session token>` header is missing, malformed, or names an invalid or expired session.",
    Forbidden: "Not allowed (`forbidden`): the message names the missing permission or the rule.",
    NotFound: "Not found (`not_found`), or not visible to the caller (what a user may not see does not exist for them).",
    Conflict: "Conflict (`conflict`).",
    Gone: "The invite can no longer be used (`invite_expired`): it has expired or reached its maximum uses.",
    MediaUnavailable: "No media plane is attached, or it could not be reached (`media_unavailable`).",
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = render(self.code(), self.client_message());
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if matches!(self, Error::Database(_) | Error::Internal(_)) {
            response
                .extensions_mut()
                .insert(ServerErrorCause(self.to_string()));
        }
        response
    }
}

/// Logs each 5xx once, with the request's method, path and id, and the cause when known.
pub async fn log_server_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    if response.status().is_server_error() {
        let cause = response
            .extensions()
            .get::<ServerErrorCause>()
            .map_or("", |c| c.0.as_str());
        tracing::error!(
            %method,
            path = %path.escape_debug(),
            request_id = %request_id.escape_debug(),
            status = response.status().as_u16(),
            cause,
            "request failed"
        );
    }
    response
}

/// Layers that give every request an id (`x-request-id`, a UUID unless the client sent one)
/// and echo it on the response.
pub fn request_id_layers()
-> tower::layer::util::Stack<PropagateRequestIdLayer, SetRequestIdLayer<MakeRequestUuid>> {
    tower::layer::util::Stack::new(
        PropagateRequestIdLayer::new(REQUEST_ID),
        SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_code_schema_lists_every_code_with_its_status() {
        let schema = serde_json::to_value(ErrorCode::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, ErrorCode::ALL.map(ErrorCode::as_str));
        let description = schema["description"].as_str().unwrap();
        assert!(
            description.contains("`invite_expired` (410)"),
            "{description}"
        );
        assert!(description.contains("`unavailable` (503)"), "{description}");
        let body = serde_json::to_value(ErrorBody {
            code: ErrorCode::ChannelFull,
            message: "full".into(),
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": "channel_full", "message": "full"})
        );
    }

    #[test]
    fn every_code_has_a_status_and_only_failures_are_5xx() {
        for code in ErrorCode::ALL {
            let s = status(code);
            let server_side = matches!(
                code,
                ErrorCode::Internal | ErrorCode::MediaUnavailable | ErrorCode::Unavailable
            );
            assert_eq!(s.is_server_error(), server_side, "{code}");
        }
    }
}
