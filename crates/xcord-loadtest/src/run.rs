//! A load run: spawns the participants at the join rate (publishers first), waits until every
//! one has joined and every subscriber receives every track, measures a window of `--duration`
//! (server and own CPU and memory, packets forwarded), then stops the media, lets the last
//! packets arrive, makes everyone leave and folds the outcomes into a [`Report`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::RunArgs;
use crate::error::LoadError;
use crate::participant::{self, Live, Outcome, Phase, Publish, Spec};
use crate::procstat::{self, ProcSample};
use crate::report::{Cost, Report, RunConfig, Window, summarize};
use crate::signal::{self, ws_base};

/// Longest wait, after the last participant was started, for everyone to be connected.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// After the media stops, the last packets still in flight (queued in a busy server) arrive:
/// the run waits until none has arrived for `DRAIN_QUIET`, at most `DRAIN_MAX`, before leaving.
const DRAIN_QUIET: Duration = Duration::from_millis(500);
const DRAIN_MAX: Duration = Duration::from_secs(15);

/// Waits for the packets in flight when the media stopped: until `DRAIN_QUIET` passes without
/// one arriving, or `DRAIN_MAX`.
async fn drain(live: &Live) {
    let deadline = Instant::now() + DRAIN_MAX;
    let mut seen = live.rx_packets.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline && quiet_since.elapsed() < DRAIN_QUIET {
        tokio::time::sleep(DRAIN_QUIET / 5).await;
        let now_seen = live.rx_packets.load(Ordering::Relaxed);
        if now_seen != seen {
            seen = now_seen;
            quiet_since = Instant::now();
        }
    }
}

pub async fn run(args: &RunArgs) -> Result<Report, LoadError> {
    let base = ws_base(&args.url)?;
    let local_ip = match args.local_ip {
        Some(ip) => ip,
        None => route_ip(&base).await?,
    };
    let rooms = args.rooms.max(1);
    let video_layers = args.video.unwrap_or(0).min(3);
    let tracks_per_publisher = if video_layers > 0 { 2 } else { 1 };
    let mut specs = Vec::new();
    let mut subscriber_specs = Vec::new();
    let mut publisher_index: u16 = 0;
    for r in 0..rooms {
        let room = if rooms == 1 {
            args.room.clone()
        } else {
            format!("{}-{r}", args.room)
        };
        for i in 0..args.publishers {
            let identity = format!("{room}-pub-{i}");
            let audio_track = publisher_index * 2;
            publisher_index += 1;
            specs.push(Spec {
                token: signal::token(
                    &args.api_key,
                    &args.api_secret,
                    &room,
                    &identity,
                    true,
                    false,
                )?,
                identity,
                base_url: base.clone(),
                protocol: args.protocol,
                local_ip,
                publish: Some(Publish {
                    audio_track,
                    video: (video_layers > 0).then_some((audio_track + 1, video_layers)),
                }),
                subscribe: false,
                expected_tracks: 0,
            });
        }
        for i in 0..args.subscribers {
            let identity = format!("{room}-sub-{i}");
            subscriber_specs.push(Spec {
                token: signal::token(
                    &args.api_key,
                    &args.api_secret,
                    &room,
                    &identity,
                    false,
                    true,
                )?,
                identity,
                base_url: base.clone(),
                protocol: args.protocol,
                local_ip,
                publish: None,
                subscribe: true,
                expected_tracks: args.publishers * tracks_per_publisher,
            });
        }
    }
    specs.extend(subscriber_specs);
    let total = specs.len();
    let publishers = args.publishers * rooms;
    let subscribers = args.subscribers * rooms;

    let server_before = server_sample(args).await?;
    let rcvbuf_before = procstat::udp_rcvbuf_errors().ok();
    let server_drops_before = args
        .server_pid
        .and_then(|p| procstat::udp_socket_drops(p).ok());
    let live = Arc::new(Live::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Run);
    let progress = tokio::spawn(progress(
        live.clone(),
        total,
        publishers,
        subscribers,
        args.quiet,
    ));

    let spacing = Duration::from_secs_f64(1.0 / args.join_rate.max(0.01));
    let mut handles = Vec::with_capacity(total);
    let mut next = Instant::now();
    for spec in specs {
        tokio::time::sleep_until(next.into()).await;
        next += spacing;
        handles.push(tokio::spawn(participant::run(
            spec,
            live.clone(),
            phase_rx.clone(),
        )));
    }
    let settle_deadline = Instant::now() + SETTLE_TIMEOUT;
    while Instant::now() < settle_deadline {
        let joined = live.joined.load(Ordering::Relaxed) as usize;
        let failed = live.failed.load(Ordering::Relaxed) as usize;
        let publishing = live.publishing.load(Ordering::Relaxed) as usize;
        let complete = live.complete.load(Ordering::Relaxed) as usize;
        if joined + failed >= total && publishing >= publishers && complete >= subscribers {
            break;
        }
        if failed > 0 && joined + failed >= total && failed + publishing + complete >= total {
            break;
        }
        // Woken by every join, failure, first publish and completed subscriber (a permit
        // stored while this loop was checking is not lost).
        if tokio::time::timeout_at(settle_deadline.into(), live.settled.notified())
            .await
            .is_err()
        {
            break;
        }
    }

    // the measurement window
    let server_start = server_sample(args).await?;
    let self_start = procstat::sample(None)?;
    let rx_start = live.rx_packets.load(Ordering::Relaxed);
    let bytes_start = live.rx_bytes.load(Ordering::Relaxed);
    let t_start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration.max(0.1))).await;
    let seconds = t_start.elapsed().as_secs_f64();
    let rx = live.rx_packets.load(Ordering::Relaxed) - rx_start;
    let rx_bytes = live.rx_bytes.load(Ordering::Relaxed) - bytes_start;
    let server_end = server_sample(args).await?;
    let self_end = procstat::sample(None)?;

    let _ = phase_tx.send(Phase::StopMedia);
    drain(&live).await;
    let _ = phase_tx.send(Phase::Leave);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total);
    for h in handles {
        match tokio::time::timeout(Duration::from_secs(10), h).await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => tracing::warn!("participant task: {e}"),
            Err(_) => tracing::warn!("participant did not leave in time"),
        }
    }
    progress.abort();
    let udp_rcvbuf_errors = match (rcvbuf_before, procstat::udp_rcvbuf_errors().ok()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let server_udp_drops = match (
        server_drops_before,
        args.server_pid
            .and_then(|p| procstat::udp_socket_drops(p).ok()),
    ) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };

    let summary = summarize(&outcomes);
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count() + (total - outcomes.len());
    let mut errors: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.error.as_ref().map(|e| format!("{}: {e}", o.identity)))
        .collect();
    errors.truncate(10);
    let cost = |before: Option<ProcSample>, start: ProcSample, end: ProcSample| {
        let cpu = end.cpu_s - start.cpu_s;
        let rss_before = before.unwrap_or(start).rss_bytes as f64;
        Cost {
            cpu_s: cpu,
            cpu_cores: cpu / seconds,
            us_per_packet: (rx > 0).then(|| cpu * 1e6 / rx as f64),
            rss_before_mb: rss_before / 1e6,
            rss_after_mb: end.rss_bytes as f64 / 1e6,
            rss_per_participant_kb: before
                .map(|_| (end.rss_bytes as f64 - rss_before) / 1e3 / total.max(1) as f64),
        }
    };
    let server = match (server_start, server_end) {
        (Some(s), Some(e)) => Some(cost(server_before, s, e)),
        _ => None,
    };
    let mut client = cost(None, self_start, self_end);
    client.rss_per_participant_kb = None;
    Ok(Report {
        date: utc_now(),
        config: RunConfig {
            url: args.url.clone(),
            protocol: format!("{:?}", args.protocol).to_lowercase(),
            rooms,
            publishers_per_room: args.publishers,
            subscribers_per_room: args.subscribers,
            video_layers,
            duration_s: args.duration,
            join_rate: args.join_rate,
            server_pid: args.server_pid,
        },
        participants: total,
        failed,
        errors,
        join_ms: summary.join,
        audio_latency_ms: summary.audio,
        video_latency_ms: summary.video,
        window: Window {
            seconds,
            forwarded_packets: rx,
            forwarded_pps: rx as f64 / seconds,
            forwarded_mbps: rx_bytes as f64 * 8.0 / seconds / 1e6,
        },
        loss: summary.loss,
        sent: summary.sent,
        server,
        client,
        client_wake_late_ms: summary.wake_late,
        udp_rcvbuf_errors,
        server_udp_drops,
        subscribers: summary.subscribers,
    })
}

/// The server's CPU and memory now: from `/proc` with `--server-pid`, else from its
/// `/metrics` with `--server-metrics`, else nothing.
async fn server_sample(args: &RunArgs) -> Result<Option<ProcSample>, LoadError> {
    if let Some(pid) = args.server_pid {
        return Ok(Some(procstat::sample(Some(pid))?));
    }
    match &args.server_metrics {
        Some(url) => {
            let source = crate::server_metrics::MetricsSource {
                url: url.clone(),
                token: args.server_metrics_token.clone(),
            };
            Ok(Some(source.sample().await?))
        }
        None => Ok(None),
    }
}

/// One line a second on stderr while the run goes.
async fn progress(
    live: Arc<Live>,
    total: usize,
    publishers: usize,
    subscribers: usize,
    quiet: bool,
) {
    let start = Instant::now();
    let mut last_rx = 0;
    let mut last_bytes = 0;
    let mut last_tx = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let rx = live.rx_packets.load(Ordering::Relaxed);
        let bytes = live.rx_bytes.load(Ordering::Relaxed);
        let tx = live.tx_packets.load(Ordering::Relaxed);
        if !quiet {
            eprintln!(
                "[{:>4.0}s] joined {}/{total}  publishing {}/{publishers}  receiving all {}/{subscribers}  rx {} pkt/s {:.0} kbit/s  tx {} pkt/s  failed {}",
                start.elapsed().as_secs_f64(),
                live.joined.load(Ordering::Relaxed),
                live.publishing.load(Ordering::Relaxed),
                live.complete.load(Ordering::Relaxed),
                rx - last_rx,
                (bytes - last_bytes) as f64 * 8.0 / 1000.0,
                tx - last_tx,
                live.failed.load(Ordering::Relaxed),
            );
        }
        last_rx = rx;
        last_bytes = bytes;
        last_tx = tx;
    }
}

/// The local address that routes to the server (our ICE host candidate).
async fn route_ip(base: &str) -> Result<IpAddr, LoadError> {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let server: SocketAddr = tokio::net::lookup_host(host_port)
        .await?
        .next()
        .ok_or_else(|| LoadError::Url(base.to_string()))?;
    let probe = std::net::UdpSocket::bind(SocketAddr::new(
        if server.is_ipv4() {
            IpAddr::from([0, 0, 0, 0])
        } else {
            IpAddr::from([0u16; 8])
        },
        0,
    ))?;
    probe.connect(server)?;
    Ok(probe.local_addr()?.ip())
}

/// `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // civil-from-days (proleptic Gregorian)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}
