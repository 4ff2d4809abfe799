//! Rendering errors: each [`ErrorCode`] has one HTTP status, every error body is
//! `{code, message}`, and a server error is logged once — by [`log_server_errors`], with the
//! request's method, path and id — never where it is converted.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::error::{Error, ErrorCode};

/// The header carrying each request's id (set when the client sent none, echoed back).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The status of each code.
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::ChannelFull => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::InviteExpired => StatusCode::GONE,
        ErrorCode::MediaUnavailable | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The cause of a server error, carried on the response to the logging layer.
#[derive(Clone, Debug)]
struct ServerErrorCause(String);

/// `{code, message}` with the code's status.
pub fn render(code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message });
    (status(code), Json(body)).into_response()
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
