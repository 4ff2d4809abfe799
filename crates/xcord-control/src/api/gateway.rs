//! The gateway WebSocket's HTTP edge: `GET /api/v1/gateway` upgrades, then `crate::gateway`
//! speaks the protocol.

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;

use super::State;
use crate::app::Services;

pub fn routes() -> Router<Arc<Services>> {
    Router::new().route("/api/v1/gateway", get(upgrade))
}

async fn upgrade(state: State, ws: WebSocketUpgrade) -> Response {
    let services = state.0;
    ws.on_upgrade(move |socket| crate::gateway::serve(services, socket))
}
