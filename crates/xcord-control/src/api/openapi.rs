//! The API's OpenAPI 3.1 document (`openapi.json`, next to this file), served as it is at
//! `GET /api/v1/openapi.json`. `tests/openapi.rs` checks it against the route table both ways.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::Services;

/// The document, as written.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn routes() -> Router<Arc<Services>> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
