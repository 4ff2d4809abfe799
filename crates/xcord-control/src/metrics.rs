//! The control plane's Prometheus metrics: names, descriptions and a gauge guard. Values go
//! through the `metrics` facade; the binary installs the exporter.

/// Gateway WebSockets open now (identified or not).
pub const GATEWAY_CONNECTIONS: &str = "xcord_gateway_connections";
/// Media-plane events (webhooks or the embedded SFU's bus) waiting for the event handler.
pub const MEDIA_EVENTS_QUEUED: &str = "xcord_media_events_queued";
/// Time from a media event's creation (whole seconds, as LiveKit stamps it) to its handling.
pub const MEDIA_EVENT_LAG: &str = "xcord_media_event_lag_seconds";
/// Ghost voice states the reconciler removed.
pub const RECONCILER_REPAIRS: &str = "xcord_voice_reconciler_repairs_total";

/// Describes every control-plane metric to the installed recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(GATEWAY_CONNECTIONS, "Gateway WebSockets open now");
    describe_gauge!(
        MEDIA_EVENTS_QUEUED,
        "Media-plane events waiting for the control plane's handler"
    );
    describe_histogram!(
        MEDIA_EVENT_LAG,
        Unit::Seconds,
        "Media event creation to handling by the control plane (1 s resolution)"
    );
    describe_counter!(
        RECONCILER_REPAIRS,
        "Ghost voice states removed by the reconciler"
    );
}

/// Adds one to a gauge for as long as it lives.
pub struct GaugeGuard(metrics::Gauge);

impl GaugeGuard {
    pub fn new(name: &'static str) -> Self {
        let gauge = metrics::gauge!(name);
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
