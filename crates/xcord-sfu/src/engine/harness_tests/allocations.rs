//! Benchmark (ignored; needs `--features alloc-count`): heap allocations on the per-packet path
//! in steady state — one audio publisher, [`SUBSCRIBERS`] subscribers, [`PACKETS`] packets —
//! counted with dhat's global allocator around the engine's inputs only (the client peers'
//! allocations are left out), and attributed to our code or to str0m by the innermost frame of
//! each allocation's backtrace. See BENCHMARKS.md for the command and the figures.

use std::collections::HashMap;
use std::time::Duration;

use str0m::media::MediaKind;
use str0m::net::{Protocol, Receive};

use crate::engine::harness::TestSfu;

const SUBSCRIBERS: usize = 10;
const PACKETS: u64 = 500;
const OPUS_FRAME: Duration = Duration::from_millis(20);

/// Engine inputs whose allocations are counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Phase {
    /// The publisher's RTP: decrypt and forward to every subscriber.
    PublisherDatagram,
    /// RTCP from the subscribers.
    SubscriberDatagram,
    /// Timers and periodic work.
    Timeout,
    /// Polling the peers written to (SRTP, the outgoing datagrams).
    Flush,
    PollTransmit,
}

/// Total blocks allocated so far (dhat counts every thread; the harness has one).
fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
}

#[test]
#[ignore = "benchmark: cargo test -p xcord-sfu --features alloc-count --lib allocations -- --ignored --nocapture"]
fn forward_path_allocations_per_packet() {
    let mut sfu = TestSfu::new();
    let alice = sfu.join("room", "alice");
    let mid = sfu.publish(alice, "mic", MediaKind::Audio, &[]);
    let subs: Vec<_> = (0..SUBSCRIBERS)
        .map(|i| sfu.join("room", &format!("sub{i}")))
        .collect();
    let connected = sfu.run_until_or(Duration::from_secs(5), |s| {
        s.client(alice).publisher.connected
            && subs.iter().all(|b| s.client(*b).subscriber.connected)
    });
    assert!(connected, "everyone connects");
    // Warm-up: subscriptions settle, buffers reach their steady size.
    let mut seq = 10_000u64;
    let payload = [0x5A; 80];
    for _ in 0..100 {
        seq += 1;
        sfu.write_rtp(alice, mid, None, seq, 960 * seq as u32, false, &payload);
        sfu.run_for(OPUS_FRAME);
    }
    let before: Vec<usize> = subs.iter().map(|b| sfu.client(*b).received.len()).collect();
    assert!(before.iter().all(|n| *n > 50), "warm-up reached everyone");

    let out = std::env::var("XCORD_DHAT_OUT").unwrap_or_else(|_| {
        let path = std::env::temp_dir().join("xcord-dhat-forward.json");
        path.to_string_lossy().into_owned()
    });
    let profiler = dhat::Profiler::builder()
        .file_name(&out)
        .trim_backtraces(None)
        .build();
    let publisher_addr = sfu.client(alice).publisher.addr;
    let mut counts: HashMap<Phase, u64> = HashMap::new();
    let mut count = |phase: Phase, from: u64| {
        *counts.entry(phase).or_default() += blocks() - from;
    };
    let mut forwarded = 0u64;
    let mut transmits = Vec::with_capacity(4 * SUBSCRIBERS);
    for _ in 0..PACKETS {
        seq += 1;
        sfu.write_rtp(alice, mid, None, seq, 960 * seq as u32, false, &payload);
        let now = sfu.now;
        for (from, to, data) in sfu.poll_clients() {
            let phase = if from == publisher_addr {
                Phase::PublisherDatagram
            } else {
                Phase::SubscriberDatagram
            };
            let start = blocks();
            sfu.engine.handle_datagram(now, from, to, &data);
            count(phase, start);
        }
        let start = blocks();
        sfu.engine.handle_timeout(now);
        count(Phase::Timeout, start);
        let start = blocks();
        sfu.engine.flush(now);
        count(Phase::Flush, start);
        let start = blocks();
        while let Some(t) = sfu.engine.poll_transmit() {
            transmits.push(t);
        }
        count(Phase::PollTransmit, start);
        for t in transmits.drain(..) {
            let Some(peer) = sfu.clients.iter_mut().find_map(|c| {
                if c.subscriber.addr == t.destination {
                    Some(&mut c.subscriber)
                } else if c.publisher.addr == t.destination {
                    Some(&mut c.publisher)
                } else {
                    None
                }
            }) else {
                continue;
            };
            if peer.addr != publisher_addr && t.contents.len() > 100 {
                forwarded += 1; // audio RTP (RTCP from the SFU is shorter)
            }
            let Ok(contents) = (&t.contents[..]).try_into() else {
                continue;
            };
            let receive = Receive {
                proto: Protocol::Udp,
                source: t.source,
                destination: t.destination,
                contents,
            };
            let _ = peer.rtc.handle_input(str0m::Input::Receive(now, receive));
        }
        sfu.pump_signals();
        sfu.now += OPUS_FRAME;
    }
    drop(profiler); // writes the backtraces to `out`

    let received: usize = subs
        .iter()
        .zip(&before)
        .map(|(b, n)| sfu.client(*b).received.len() - n)
        .sum();
    assert!(
        received as u64 >= PACKETS * SUBSCRIBERS as u64 * 9 / 10,
        "subscribers received {received} packets"
    );
    let engine_total: u64 = counts.values().sum();
    let mut phases: Vec<_> = counts.into_iter().collect();
    phases.sort();
    println!("forwarded datagrams: {forwarded} ({PACKETS} packets x {SUBSCRIBERS} subscribers)");
    for (phase, n) in &phases {
        println!(
            "  {phase:?}: {n} allocations, {:.2} per forwarded datagram",
            *n as f64 / forwarded as f64
        );
    }
    println!(
        "engine total: {engine_total} allocations, {:.2} per forwarded datagram",
        engine_total as f64 / forwarded as f64
    );
    let attribution = attribute(&out);
    println!("attribution of the engine's allocations (innermost non-std frame):");
    for (owner, n) in &attribution.owners {
        println!(
            "  {owner}: {n}, {:.3} per forwarded datagram",
            *n as f64 / forwarded as f64
        );
    }
    println!("our allocation sites:");
    for (site, n) in &attribution.ours {
        println!("  {n:>8}  {site}");
    }
    let attributed: u64 = attribution.owners.iter().map(|(_, n)| n).sum();
    assert!(
        attributed * 100 >= engine_total * 95,
        "backtraces explain only {attributed} of the engine's {engine_total} allocations"
    );
    // Our periodic work (active speakers, connection quality) may allocate on its timer; on the
    // packet path (datagrams in, peers polled, transmits out) only a buffer's amortized growth
    // may: fewer than one allocation per thousand forwarded datagrams.
    let on_packets = attribution.ours_on_packets;
    println!("ours outside timers: {on_packets}");
    assert!(
        on_packets * 1000 < forwarded,
        "our packet path allocated {on_packets} times for {forwarded} forwarded datagrams"
    );
}

struct Attribution {
    /// "xcord-sfu" / "str0m" / "other" → allocations inside engine inputs.
    owners: Vec<(String, u64)>,
    /// Our allocating functions (innermost frame of ours) → allocations.
    ours: Vec<(String, u64)>,
    /// Our allocations outside timers and periodic work (`handle_timeout`): the packet path.
    ours_on_packets: u64,
}

/// Reads dhat's output and attributes every allocation made inside an engine input.
fn attribute(path: &str) -> Attribution {
    let text = std::fs::read_to_string(path).expect("dhat output");
    let json: serde_json::Value = serde_json::from_str(&text).expect("dhat JSON");
    let frames: Vec<&str> = json["ftbl"]
        .as_array()
        .expect("frame table")
        .iter()
        .map(|f| f.as_str().unwrap_or(""))
        .collect();
    let entry_points = [
        "Engine::handle_receive",
        "Engine::handle_timeout",
        "Engine::flush",
        "Engine::poll_transmit",
    ];
    // Frames read `0xADDR: name (file:line:col)`; the file says whose code it is.
    let file = |f: &str| {
        f.rsplit_once(" (")
            .map_or("", |(_, rest)| rest.trim_end_matches(')'))
            .to_owned()
    };
    let is_ours = |f: &str| {
        let file = file(f);
        (file.starts_with("src/engine") || file.starts_with("engine/"))
            || (file.starts_with("xcord-sfu/src/") && !file.starts_with("xcord-sfu/src/lib.rs"))
    };
    let theirs = |f: &str| {
        let file = file(f);
        file.starts_with("str0m") || file.starts_with("rtp/")
    };
    let mut owners: HashMap<String, u64> = HashMap::new();
    let mut ours: HashMap<String, u64> = HashMap::new();
    let mut ours_on_packets = 0u64;
    for pp in json["pps"].as_array().expect("program points") {
        let blocks = pp["tbk"].as_u64().unwrap_or(0);
        let fs: Vec<&str> = pp["fs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.as_u64())
                    .filter_map(|i| frames.get(i as usize).copied())
                    .collect()
            })
            .unwrap_or_default();
        if !fs
            .iter()
            .any(|f| entry_points.iter().any(|e| f.contains(e)))
        {
            continue; // the client peers and the harness
        }
        // Below the allocator (dhat's frames), the first frame of ours or of str0m's made the
        // allocation (frames of the standard library and other crates are what it called).
        let below = fs
            .iter()
            .rposition(|f| f.contains("dhat"))
            .map_or(0, |i| i + 1);
        let innermost = fs
            .get(below..)
            .unwrap_or_default()
            .iter()
            .find(|f| is_ours(f) || theirs(f))
            .copied()
            .unwrap_or("?");
        let owner = if theirs(innermost) {
            "str0m"
        } else if is_ours(innermost) {
            "xcord-sfu"
        } else {
            "other"
        };
        *owners.entry(owner.to_owned()).or_default() += blocks;
        if owner == "xcord-sfu" && !fs.iter().any(|f| f.contains("Engine::handle_timeout")) {
            ours_on_packets += blocks;
        }
        if owner == "xcord-sfu" {
            let name = innermost.split_once(": ").map_or(innermost, |(_, n)| n);
            let name = name.get(..160).unwrap_or(name);
            *ours.entry(name.to_owned()).or_default() += blocks;
        }
    }
    let mut owners: Vec<_> = owners.into_iter().collect();
    owners.sort();
    let mut ours: Vec<_> = ours.into_iter().collect();
    ours.sort_by_key(|o| std::cmp::Reverse(o.1));
    Attribution {
        owners,
        ours,
        ours_on_packets,
    }
}
