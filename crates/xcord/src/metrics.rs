//! Prometheus metrics of the process: installs the exporter (the `metrics` facade's recorder),
//! keeps its histograms drained, and serves `/metrics` in the text exposition format.
//!
//! Who may read them: on the main HTTP port `/metrics` needs `Authorization: Bearer
//! <--metrics-token>`; without a token configured it is open only with `--dev` and answers 403
//! otherwise. `--metrics-bind ADDR` serves `/metrics` on a separate listener without
//! authentication, meant for a private address a Prometheus server scrapes.
//!
//! Gauges that describe state (rooms, participants, tracks; the process's CPU time and resident
//! memory) are read when scraped; everything else is counted where it happens.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use xcord_sfu::rooms::RoomService;

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// Longest a scrape waits for the media engine's census.
const CENSUS_TIMEOUT: Duration = Duration::from_secs(2);

pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
pub const PROCESS_RSS: &str = "process_resident_memory_bytes";

/// The installed exporter and what a scrape reads on demand.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    rooms: Option<RoomService>,
}

/// Installs the process-wide recorder. Must run once, before anything records.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    use xcord_sfu::metrics as sfu;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(sfu::FORWARD_LATENCY.into()),
            sfu::FORWARD_BUCKETS,
        )?
        .set_buckets_for_metric(Matcher::Full(sfu::JOIN_LATENCY.into()), sfu::SLOW_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(sfu::WEBHOOK_LAG.into()), sfu::SLOW_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(xcord_control::metrics::MEDIA_EVENT_LAG.into()),
            sfu::SLOW_BUCKETS,
        )?
        .install_recorder()?;
    sfu::describe();
    xcord_control::metrics::describe();
    // A gauge (f64) rather than a counter (u64): the kernel counts in 10 ms ticks.
    metrics::describe_gauge!(
        PROCESS_CPU,
        metrics::Unit::Seconds,
        "User and system CPU time of this process"
    );
    metrics::describe_gauge!(
        PROCESS_RSS,
        metrics::Unit::Bytes,
        "Resident memory of this process"
    );
    Ok(handle)
}

impl Metrics {
    /// Starts the upkeep task; `rooms` is the embedded SFU's room service, if any.
    pub fn new(handle: PrometheusHandle, rooms: Option<RoomService>) -> Self {
        let upkeep = handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_EVERY);
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        Self { handle, rooms }
    }

    /// The exposition text, after refreshing the on-demand gauges.
    pub async fn render(&self) -> String {
        if let Some(rooms) = &self.rooms {
            match tokio::time::timeout(CENSUS_TIMEOUT, rooms.census()).await {
                Ok(Ok(census)) => census.record(),
                Ok(Err(e)) => tracing::debug!("metrics: no census from the media engine: {e}"),
                Err(_) => tracing::debug!("metrics: media engine census timed out"),
            }
        }
        if let Ok(s) = xcord_loadtest::procstat::sample(None) {
            metrics::gauge!(PROCESS_CPU).set(s.cpu_s);
            metrics::gauge!(PROCESS_RSS).set(s.rss_bytes as f64);
        }
        self.handle.render()
    }
}

/// Who may read `/metrics` on the main port.
#[derive(Clone)]
pub enum Access {
    Open,
    Token(Arc<str>),
    Closed,
}

impl Access {
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        match self {
            Access::Open => true,
            Access::Closed => false,
            Access::Token(token) => headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes())),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `/metrics` guarded by `access`.
pub fn router(metrics: Metrics, access: Access) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state((metrics, access))
}

async fn scrape(
    State((metrics, access)): State<(Metrics, Access)>,
    headers: HeaderMap,
) -> Response {
    if !access.allows(&headers) {
        let (status, code, message) = match access {
            Access::Closed => (
                StatusCode::FORBIDDEN,
                "metrics_disabled",
                "/metrics on this port needs --metrics-token (or use --metrics-bind)",
            ),
            _ => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "/metrics needs Authorization: Bearer <metrics token>",
            ),
        };
        let body = serde_json::json!({ "code": code, "message": message }).to_string();
        return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let text = metrics.render().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_access_needs_the_exact_bearer_token() {
        let access = Access::Token("s3cret".into());
        let mut h = HeaderMap::new();
        assert!(!access.allows(&h));
        h.insert(header::AUTHORIZATION, "Bearer s3cre".parse().unwrap());
        assert!(!access.allows(&h));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(access.allows(&h));
        h.insert(header::AUTHORIZATION, "s3cret".parse().unwrap());
        assert!(!access.allows(&h));
        assert!(!Access::Closed.allows(&h));
        assert!(Access::Open.allows(&HeaderMap::new()));
    }
}
