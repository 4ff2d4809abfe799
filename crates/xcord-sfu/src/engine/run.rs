//! The engine's run loop: the only place that owns the media sockets and reads the clock. It
//! waits on the UDP socket, the ICE-TCP connections (see [`super::tcp`]), the command queue and
//! the engine's next deadline, feeds what arrives to the engine with the current instant, and
//! sends the datagrams the engine queued, each by the protocol its transmit names (UDP ones in
//! `sendmmsg` batches, see [`super::udp`]). Each shard (see [`crate::shards`]) runs one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use str0m::net::Protocol;

use super::tcp::TcpIo;
use super::udp::{SEND_BATCH, UdpIo};
use super::{COMMAND_QUEUE, Command, Engine, EngineHandle, MediaPorts};
use crate::config::SfuConfig;
use crate::events::EventBus;

/// Largest datagram read from the socket.
const MAX_DATAGRAM: usize = 2048;
/// Datagrams read per wake-up before commands and timers get a turn.
const RECV_BATCH: usize = 64;
/// Commands handled per wake-up before the socket and timers get a turn.
const COMMAND_BATCH: usize = 256;

/// Binds one shard's media socket (and ICE-TCP listener) on `bind`'s ports and starts its engine
/// thread (see [`crate::shards`]).
pub(crate) fn spawn(
    cfg: Arc<SfuConfig>,
    events: EventBus,
    index: usize,
    bind: MediaPorts,
) -> std::io::Result<EngineHandle> {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let name = match index {
        0 => "xcord-media".to_owned(),
        i => format!("xcord-media-{i}"),
    };
    std::thread::Builder::new().name(name).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        rt.block_on(async move {
            let bind_ip = match cfg.node_ips.as_slice() {
                [only] if cfg.udp_bind.is_unspecified() => *only,
                _ => cfg.udp_bind,
            };
            let udp = match UdpIo::bind(SocketAddr::new(bind_ip, bind.udp)) {
                Ok(u) => u,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let tcp = match bind.tcp.map(|p| TcpIo::bind(SocketAddr::new(bind_ip, p))) {
                Some(Err(e)) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                Some(Ok(t)) => Some(t),
                None => None,
            };
            let ports = MediaPorts {
                udp: udp.local_addr().port(),
                tcp: tcp.as_ref().map(|t| t.local_addr().port()),
            };
            let _ = ready_tx.send(Ok(udp.local_addr()));
            let engine = Engine::new(cfg, ports, events, Instant::now());
            // A panic here is a bug (str0m fails fast on broken invariants). Media without its
            // engine would leave every room silently dead, so the process exits and its
            // supervisor restarts it; clients reconnect.
            let running = std::panic::AssertUnwindSafe(run(engine, udp, tcp, rx));
            if futures_util::FutureExt::catch_unwind(running)
                .await
                .is_err()
            {
                tracing::error!(
                    "the media engine panicked; exiting so the server can be restarted"
                );
                std::process::exit(70);
            }
        });
    })?;
    let media_addr = ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("media thread ended during start-up"))??;
    Ok(EngineHandle { tx, media_addr })
}

async fn run(
    mut engine: Engine,
    mut udp: UdpIo,
    mut tcp: Option<TcpIo>,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut tally = crate::metrics::SocketTally::new();
    // UDP datagrams waiting for the next `sendmmsg`; allocated once.
    let mut outgoing: Vec<str0m::net::Transmit> = Vec::with_capacity(SEND_BATCH);
    loop {
        let mut first_read = None;
        let deadline = engine.next_deadline();
        tokio::select! {
            frame = next_tcp_frame(&mut tcp) => {
                let Some(frame) = frame else {
                    tracing::error!("ICE-TCP listener stopped");
                    tcp = None;
                    continue;
                };
                tally.received(frame.data.len());
                engine.handle_receive(Instant::now(), Protocol::Tcp, frame.source, frame.destination, &frame.data);
                for _ in 1..RECV_BATCH {
                    let Some(f) = tcp.as_mut().and_then(TcpIo::try_recv) else { break };
                    tally.received(f.data.len());
                    engine.handle_receive(Instant::now(), Protocol::Tcp, f.source, f.destination, &f.data);
                }
            }
            readable = udp.readable() => {
                if let Err(e) = readable {
                    tracing::error!("media socket failed: {e}");
                    return;
                }
                first_read = read_datagrams(&mut engine, &mut udp, &mut buf, &mut tally);
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                engine.handle_command(Instant::now(), cmd);
                for _ in 1..COMMAND_BATCH {
                    let Ok(cmd) = commands.try_recv() else { break };
                    engine.handle_command(Instant::now(), cmd);
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                engine.handle_timeout(Instant::now());
            }
        }
        engine.flush(Instant::now());
        while let Some(t) = engine.poll_transmit() {
            match (t.proto, tcp.as_mut()) {
                (Protocol::Udp, _) => {
                    outgoing.push(t);
                    if outgoing.len() == SEND_BATCH {
                        send_udp(&mut udp, &mut outgoing, &mut tally);
                    }
                }
                (Protocol::Tcp, Some(tcp)) => {
                    tcp.send(&t.contents, t.destination);
                    tally.sent(t.contents.len());
                }
                (proto, _) => tracing::debug!(?proto, "transmit over a protocol we do not serve"),
            }
        }
        send_udp(&mut udp, &mut outgoing, &mut tally);
        tally.flush(first_read.map(|t: Instant| t.elapsed()));
    }
}

/// Sends the queued UDP datagrams and empties the queue.
fn send_udp(
    udp: &mut UdpIo,
    outgoing: &mut Vec<str0m::net::Transmit>,
    tally: &mut crate::metrics::SocketTally,
) {
    if outgoing.is_empty() {
        return;
    }
    let sent = udp.send_batch(outgoing);
    tally.sent_many(sent.datagrams, sent.bytes);
    outgoing.clear();
}

/// The next ICE-TCP frame; pending forever when ICE-TCP is off.
async fn next_tcp_frame(tcp: &mut Option<TcpIo>) -> Option<super::tcp::TcpFrame> {
    match tcp {
        Some(t) => t.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads up to a batch of datagrams into the engine; returns when the first was read.
fn read_datagrams(
    engine: &mut Engine,
    udp: &mut UdpIo,
    buf: &mut [u8],
    tally: &mut crate::metrics::SocketTally,
) -> Option<Instant> {
    let mut first = None;
    for _ in 0..RECV_BATCH {
        match udp.try_recv(buf) {
            Ok(r) => {
                let now = Instant::now();
                first.get_or_insert(now);
                tally.received(r.len);
                if let Some(data) = buf.get(..r.len) {
                    engine.handle_datagram(now, r.source, r.destination, data);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return first,
            Err(e) => {
                // ICMP errors surface here on Linux; they concern one peer, not the socket.
                tracing::debug!("media recv: {e}");
            }
        }
    }
    first
}
