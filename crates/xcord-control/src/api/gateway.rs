//! The realtime gateway WebSocket at `/api/v1/gateway`.

use std::sync::Arc;

use axum::Router;

use super::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
