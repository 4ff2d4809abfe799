//! The SFU's Prometheus metrics: their names, descriptions and the few helpers the engine, the
//! signal layer and webhook delivery call. Values go through the `metrics` facade; the binary
//! installs the exporter and serves `/metrics`. Nothing here allocates per packet: the run loop
//! adds to cached [`metrics::Counter`] handles once per wake-up.

use std::time::Duration;

/// Rooms open now (gauge, set when scraped).
pub const ROOMS: &str = "xcord_sfu_rooms";
/// Participants in rooms now, connected or still connecting (gauge, set when scraped).
pub const PARTICIPANTS: &str = "xcord_sfu_participants";
/// Published tracks now (gauge, set when scraped).
pub const TRACKS: &str = "xcord_sfu_tracks";
/// UDP datagrams through the media socket (`direction` = `in` | `out`).
pub const PACKETS: &str = "xcord_sfu_packets_total";
/// Bytes of those datagrams (`direction` = `in` | `out`).
pub const BYTES: &str = "xcord_sfu_bytes_total";
/// NACKs: `direction` = `from_subscribers` (received) | `to_publishers` (sent).
pub const NACKS: &str = "xcord_sfu_nacks_total";
/// PLIs, same directions as [`NACKS`].
pub const PLIS: &str = "xcord_sfu_plis_total";
/// FIRs, same directions as [`NACKS`].
pub const FIRS: &str = "xcord_sfu_firs_total";
/// Time from reading a batch of datagrams off the socket to having sent everything that batch
/// produced (the oldest datagram of each batch: an upper bound for its packets).
pub const FORWARD_LATENCY: &str = "xcord_sfu_forward_latency_seconds";
/// Time from an admitted join to its primary peer connection being connected.
pub const JOIN_LATENCY: &str = "xcord_sfu_join_latency_seconds";
/// Webhook deliveries queued or in flight (one per event and URL).
pub const WEBHOOK_QUEUE: &str = "xcord_sfu_webhook_queue_depth";
/// Time from an event's publication to its successful delivery to one URL.
pub const WEBHOOK_LAG: &str = "xcord_sfu_webhook_delivery_lag_seconds";
/// Webhook deliveries given up after every retry.
pub const WEBHOOKS_DROPPED: &str = "xcord_sfu_webhooks_dropped_total";
pub use crate::signal::JOINS_TOTAL;

/// Histogram buckets (seconds) for forwarding latency: 10 µs to 50 ms.
pub const FORWARD_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05,
];
/// Histogram buckets (seconds) for join latency and webhook lag: 10 ms to 30 s.
pub const SLOW_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Rooms, participants and tracks of the engine at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    pub rooms: usize,
    pub participants: usize,
    pub tracks: usize,
}

impl Census {
    /// Sets the gauges to this census.
    pub fn record(self) {
        metrics::gauge!(ROOMS).set(self.rooms as f64);
        metrics::gauge!(PARTICIPANTS).set(self.participants as f64);
        metrics::gauge!(TRACKS).set(self.tracks as f64);
    }
}

/// Describes every SFU metric to the installed recorder (help text and units).
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(ROOMS, "Rooms open now");
    describe_gauge!(
        PARTICIPANTS,
        "Participants in rooms now (connecting or connected)"
    );
    describe_gauge!(TRACKS, "Published tracks now");
    describe_counter!(PACKETS, "UDP datagrams through the media socket");
    describe_counter!(BYTES, Unit::Bytes, "Bytes through the media socket");
    describe_counter!(
        NACKS,
        "RTCP NACKs received from subscribers / sent to publishers"
    );
    describe_counter!(
        PLIS,
        "RTCP PLIs received from subscribers / sent to publishers"
    );
    describe_counter!(
        FIRS,
        "RTCP FIRs received from subscribers / sent to publishers"
    );
    describe_histogram!(
        FORWARD_LATENCY,
        Unit::Seconds,
        "Socket read to last send of the same engine wake-up (oldest datagram of each batch)"
    );
    describe_histogram!(
        JOIN_LATENCY,
        Unit::Seconds,
        "Admitted join to connected primary peer connection"
    );
    describe_counter!(JOINS_TOTAL, "Admitted joins by signal protocol");
    describe_gauge!(WEBHOOK_QUEUE, "Webhook deliveries queued or in flight");
    describe_histogram!(
        WEBHOOK_LAG,
        Unit::Seconds,
        "Event publication to successful webhook delivery"
    );
    describe_counter!(
        WEBHOOKS_DROPPED,
        "Webhook deliveries abandoned after every retry"
    );
}

/// Records one participant's join latency.
pub(crate) fn record_join_latency(elapsed: Duration) {
    metrics::histogram!(JOIN_LATENCY).record(elapsed.as_secs_f64());
}

/// Socket traffic of the run loop, added to the counters once per wake-up.
pub(crate) struct SocketTally {
    packets_in: metrics::Counter,
    packets_out: metrics::Counter,
    bytes_in: metrics::Counter,
    bytes_out: metrics::Counter,
    forward_latency: metrics::Histogram,
    pending: [u64; 4],
}

impl SocketTally {
    pub(crate) fn new() -> Self {
        Self {
            packets_in: metrics::counter!(PACKETS, "direction" => "in"),
            packets_out: metrics::counter!(PACKETS, "direction" => "out"),
            bytes_in: metrics::counter!(BYTES, "direction" => "in"),
            bytes_out: metrics::counter!(BYTES, "direction" => "out"),
            forward_latency: metrics::histogram!(FORWARD_LATENCY),
            pending: [0; 4],
        }
    }

    pub(crate) fn received(&mut self, len: usize) {
        self.pending[0] += 1;
        self.pending[1] += len as u64;
    }

    pub(crate) fn sent(&mut self, len: usize) {
        self.sent_many(1, len);
    }

    /// `datagrams` datagrams of `bytes` bytes in all were sent.
    pub(crate) fn sent_many(&mut self, datagrams: usize, bytes: usize) {
        self.pending[2] += datagrams as u64;
        self.pending[3] += bytes as u64;
    }

    /// Adds what was counted since the last call; `batch_age`, the time since the first datagram
    /// of this wake-up was read, is a forwarding-latency sample when datagrams were both read
    /// and sent.
    pub(crate) fn flush(&mut self, batch_age: Option<Duration>) {
        let [pin, bin, pout, bout] = std::mem::take(&mut self.pending);
        if let Some(age) = batch_age
            && pin > 0
            && pout > 0
        {
            self.forward_latency.record(age.as_secs_f64());
        }
        if pin > 0 {
            self.packets_in.increment(pin);
            self.bytes_in.increment(bin);
        }
        if pout > 0 {
            self.packets_out.increment(pout);
            self.bytes_out.increment(bout);
        }
    }
}

/// Whose feedback (sent by us: true), on which m-line and simulcast layer.
type FeedbackKey = (bool, str0m::media::Mid, Option<str0m::media::Rid>);

/// One peer connection's RTCP feedback counts as str0m last reported them (cumulative per
/// m-line and simulcast layer), so each statistics event adds only what is new.
#[derive(Default)]
pub(crate) struct RtcpTally {
    /// (sent by us, m-line, layer) → [nacks, plis, firs] reported so far.
    seen: Vec<(FeedbackKey, [u64; 3])>,
}

impl RtcpTally {
    /// Feedback the subscriber sent us about what we send it (str0m egress statistics).
    pub(crate) fn egress(&mut self, s: &str0m::stats::MediaEgressStats) {
        self.observe((false, s.mid, s.rid), [s.nacks, s.plis, s.firs]);
    }

    /// Feedback we sent the publisher about what it sends us (str0m ingress statistics).
    pub(crate) fn ingress(&mut self, s: &str0m::stats::MediaIngressStats) {
        self.observe((true, s.mid, s.rid), [s.nacks, s.plis, s.firs]);
    }

    fn observe(&mut self, key: FeedbackKey, now: [u64; 3]) {
        let before = match self.seen.iter_mut().find(|(k, _)| *k == key) {
            Some((_, counts)) => std::mem::replace(counts, now),
            None => {
                self.seen.push((key, now));
                [0; 3]
            }
        };
        let direction = if key.0 {
            "to_publishers"
        } else {
            "from_subscribers"
        };
        for (name, (n, b)) in [NACKS, PLIS, FIRS]
            .into_iter()
            .zip(now.into_iter().zip(before))
        {
            if n > b {
                metrics::counter!(name, "direction" => direction).increment(n - b);
            }
        }
    }
}
