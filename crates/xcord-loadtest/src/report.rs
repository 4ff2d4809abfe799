//! The result of a run: participants' outcomes folded into join latency, forwarding latency,
//! loss, bitrate and layers, plus the server's and this process's CPU and memory over the
//! measurement window; printed as a table or as JSON.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::participant::Outcome;
use crate::stats::{Percentiles, latency_histogram};

#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    pub url: String,
    pub protocol: String,
    pub rooms: usize,
    pub publishers_per_room: usize,
    pub subscribers_per_room: usize,
    pub video_layers: u8,
    pub duration_s: f64,
    pub join_rate: f64,
    pub server_pid: Option<u32>,
}

/// Server or client cost over the measurement window.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub cpu_s: f64,
    /// CPU as a share of one core over the window.
    pub cpu_cores: f64,
    pub us_per_packet: Option<f64>,
    pub rss_before_mb: f64,
    pub rss_after_mb: f64,
    pub rss_per_participant_kb: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub seconds: f64,
    /// Media packets received by all subscribers in the window (= packets the SFU forwarded).
    pub forwarded_packets: u64,
    pub forwarded_pps: f64,
    pub forwarded_mbps: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Join {
    /// Signal connect → JoinResponse.
    pub join_response: Percentiles,
    /// Signal connect → first peer connection connected (ICE + DTLS).
    pub connected: Percentiles,
    /// Subscribers: signal connect → first media packet.
    pub first_media: Percentiles,
    /// Subscribers: signal connect → media from every expected track.
    pub all_tracks: Percentiles,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Loss {
    /// (subscriber, track) pairs expected and seen.
    pub tracks_expected: u64,
    pub tracks_received: u64,
    pub received: u64,
    /// Missing between the first and last packet received (by trailer sequence).
    pub lost: u64,
    /// Sent after the last packet received (on the layer received last).
    pub tail_missing: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub loss_percent: f64,
    pub layer_switches: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriberSummary {
    pub identity: String,
    pub tracks: usize,
    pub packets: u64,
    pub kbps: f64,
    pub lost: u64,
    pub tail_missing: u64,
    pub duplicates: u64,
    /// Simulcast layer received last, per video track (0 = q, 1 = h, 2 = f).
    pub video_layers: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SentTotals {
    pub packets: u64,
    pub bytes: u64,
    pub keyframes: u64,
    pub keyframes_requested: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub config: RunConfig,
    pub participants: usize,
    pub failed: usize,
    pub errors: Vec<String>,
    pub join_ms: Join,
    pub audio_latency_ms: Percentiles,
    pub video_latency_ms: Percentiles,
    pub window: Window,
    pub loss: Loss,
    pub sent: SentTotals,
    pub server: Option<Cost>,
    pub client: Cost,
    /// Self-check: how late participant tasks woke for their timers. High values mean this
    /// process (not the server) delayed packets.
    pub client_wake_late_ms: Percentiles,
    /// Datagrams the kernel dropped for full receive buffers during the run (the whole
    /// network namespace: the server's socket and this process's).
    pub udp_rcvbuf_errors: Option<u64>,
    /// Of those, the ones on the server's own sockets (with `--server-pid`).
    pub server_udp_drops: Option<u64>,
    pub subscribers: Vec<SubscriberSummary>,
}

/// The participants' outcomes, folded.
pub struct Summary {
    pub join: Join,
    pub audio: Percentiles,
    pub video: Percentiles,
    pub loss: Loss,
    pub sent: SentTotals,
    pub subscribers: Vec<SubscriberSummary>,
    pub wake_late: Percentiles,
}

/// Folds the outcomes; tail loss is judged against each source's last sequence number.
pub fn summarize(outcomes: &[Outcome]) -> Summary {
    let mut last_sent: HashMap<(u16, u8), u32> = HashMap::new();
    let mut sent = SentTotals::default();
    for o in outcomes {
        for s in &o.sent {
            if let Some(l) = s.last_seq {
                last_sent.insert((s.track, s.layer), l);
            }
            sent.packets += s.packets;
            sent.bytes += s.bytes;
            sent.keyframes += s.keyframes;
            sent.keyframes_requested += s.keyframes_requested;
            sent.skipped += s.skipped;
        }
    }
    let ms_hist = |f: &dyn Fn(&Outcome) -> Option<Duration>, only_subs: bool| {
        let mut h = latency_histogram();
        for o in outcomes.iter().filter(|o| !only_subs || o.subscriber) {
            if let Some(d) = f(o) {
                let _ = h.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1));
            }
        }
        Percentiles::of(&h)
    };
    let join = Join {
        join_response: ms_hist(&|o| o.join_response, false),
        connected: ms_hist(&|o| o.connected, false),
        first_media: ms_hist(&|o| o.first_media, true),
        all_tracks: ms_hist(&|o| o.all_media, true),
    };
    let mut audio = latency_histogram();
    let mut video = latency_histogram();
    let mut wake_late = latency_histogram();
    for o in outcomes {
        let _ = wake_late.add(&o.wake_late);
    }
    let mut loss = Loss::default();
    let mut subs = Vec::new();
    for o in outcomes.iter().filter(|o| o.subscriber) {
        let _ = audio.add(&o.audio_latency);
        let _ = video.add(&o.video_latency);
        loss.tracks_expected += o.expected_tracks as u64;
        loss.tracks_received += o.tracks.len() as u64;
        let mut s = SubscriberSummary {
            identity: o.identity.clone(),
            tracks: o.tracks.len(),
            packets: 0,
            kbps: 0.0,
            lost: 0,
            tail_missing: 0,
            duplicates: 0,
            video_layers: Vec::new(),
        };
        let mut ids: Vec<&u16> = o.tracks.keys().collect();
        ids.sort();
        for id in ids {
            let t = &o.tracks[id];
            s.packets += t.packets;
            if let (Some(a), Some(b)) = (t.first_at, t.last_at) {
                let secs = b.saturating_duration_since(a).as_secs_f64();
                if secs > 0.0 {
                    s.kbps += t.bytes as f64 * 8.0 / secs / 1000.0;
                }
            }
            for (layer, tracker) in &t.layers {
                s.lost += tracker.lost();
                s.duplicates += tracker.duplicates;
                loss.reordered += tracker.reordered;
                loss.received += tracker.unique;
                if *layer == t.current_layer
                    && let Some(&last) = last_sent.get(&(*id, *layer))
                {
                    s.tail_missing += tracker.tail_missing(last);
                }
            }
            loss.layer_switches += t.layer_switches;
            if t.video {
                s.video_layers.push(t.current_layer);
            }
        }
        loss.lost += s.lost;
        loss.tail_missing += s.tail_missing;
        loss.duplicates += s.duplicates;
        subs.push(s);
    }
    let missing = loss.lost + loss.tail_missing;
    let total = loss.received + missing;
    if total > 0 {
        loss.loss_percent = missing as f64 * 100.0 / total as f64;
    }
    Summary {
        join,
        audio: Percentiles::of(&audio),
        video: Percentiles::of(&video),
        loss,
        sent,
        subscribers: subs,
        wake_late: Percentiles::of(&wake_late),
    }
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let c = &self.config;
        let _ = writeln!(
            s,
            "xcord loadtest {} — {} room(s) × {} publishers × {} subscribers{}, {:.0} s window, protocol {}",
            self.date,
            c.rooms,
            c.publishers_per_room,
            c.subscribers_per_room,
            if c.video_layers > 0 {
                format!(", audio + video ({} layer(s))", c.video_layers)
            } else {
                ", audio".into()
            },
            self.window.seconds,
            c.protocol,
        );
        let _ = writeln!(
            s,
            "participants        {} ({} failed)",
            self.participants, self.failed
        );
        for e in &self.errors {
            let _ = writeln!(s, "  error: {e}");
        }
        let row = |s: &mut String, name: &str, p: &Percentiles| {
            let _ = writeln!(
                s,
                "{name:<20}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>8}",
                p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms, p.count
            );
        };
        let _ = writeln!(
            s,
            "{:<20}{:>10}{:>10}{:>10}{:>10}{:>8}",
            "(ms)", "p50", "p95", "p99", "max", "n"
        );
        row(&mut s, "join response", &self.join_ms.join_response);
        row(&mut s, "pc connected", &self.join_ms.connected);
        row(&mut s, "first media", &self.join_ms.first_media);
        row(&mut s, "all tracks", &self.join_ms.all_tracks);
        row(&mut s, "forwarding audio", &self.audio_latency_ms);
        if self.video_latency_ms.count > 0 {
            row(&mut s, "forwarding video", &self.video_latency_ms);
        }
        let w = &self.window;
        let _ = writeln!(
            s,
            "forwarded           {} packets, {:.0} packets/s, {:.2} Mbit/s",
            w.forwarded_packets, w.forwarded_pps, w.forwarded_mbps
        );
        let l = &self.loss;
        let _ = writeln!(
            s,
            "tracks received     {}/{}; lost {} + tail {} of {} ({:.3} %), duplicates {}, reordered {}, layer switches {}",
            l.tracks_received,
            l.tracks_expected,
            l.lost,
            l.tail_missing,
            l.received + l.lost + l.tail_missing,
            l.loss_percent,
            l.duplicates,
            l.reordered,
            l.layer_switches
        );
        let _ = writeln!(
            s,
            "sent                {} packets, {} keyframes ({} requested), {} slots skipped",
            self.sent.packets,
            self.sent.keyframes,
            self.sent.keyframes_requested,
            self.sent.skipped
        );
        let cost = |s: &mut String, name: &str, c: &Cost| {
            let _ = writeln!(
                s,
                "{name:<20}{:.2} CPU-s ({:.2} cores), {} µs/packet, RSS {:.1} → {:.1} MB{}",
                c.cpu_s,
                c.cpu_cores,
                c.us_per_packet.map_or("-".into(), |u| format!("{u:.2}")),
                c.rss_before_mb,
                c.rss_after_mb,
                c.rss_per_participant_kb
                    .map_or(String::new(), |k| format!(" ({k:.0} kB per participant)")),
            );
        };
        if let Some(server) = &self.server {
            cost(&mut s, "server", server);
        }
        cost(&mut s, "loadtest (self)", &self.client);
        let w = &self.client_wake_late_ms;
        let _ = writeln!(
            s,
            "self-check          timer wake-ups late by p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; UDP receive-buffer drops {} (server sockets: {})",
            w.p50_ms,
            w.p99_ms,
            w.max_ms,
            self.udp_rcvbuf_errors.map_or("-".into(), |n| n.to_string()),
            self.server_udp_drops.map_or("-".into(), |n| n.to_string())
        );
        if !self.subscribers.is_empty() {
            let kbps: Vec<f64> = self.subscribers.iter().map(|x| x.kbps).collect();
            let avg = kbps.iter().sum::<f64>() / kbps.len() as f64;
            let mut layers: HashMap<u8, usize> = HashMap::new();
            for l in self.subscribers.iter().flat_map(|x| x.video_layers.iter()) {
                *layers.entry(*l).or_default() += 1;
            }
            let mut layers: Vec<_> = layers.into_iter().collect();
            layers.sort();
            let _ = writeln!(
                s,
                "per subscriber      {avg:.0} kbit/s average{}",
                if layers.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; video layers received: {}",
                        layers
                            .iter()
                            .map(|(l, n)| format!(
                                "{}×{n}",
                                ["q", "h", "f"].get(usize::from(*l)).unwrap_or(&"?")
                            ))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
            );
        }
        s
    }
}
