//! ICE over TCP, passive side (RFC 6544): the listener for clients whose UDP is blocked, and one
//! task per accepted connection. Tasks only frame and unframe (RFC 4571, see [`super::framing`]);
//! the run loop hands each frame to the engine as a datagram tagged [`Protocol::Tcp`] and sends
//! the engine's TCP transmits back over the connection they are addressed to.
//!
//! Nothing here can stall the engine: frames reach it through a bounded queue (a client that
//! sends faster than the engine takes waits on its own socket), and each connection's outbound
//! queue is bounded too — a client that does not read loses frames, as it would on UDP. A bad or
//! oversized frame, or silence longer than [`IDLE_TIMEOUT`], closes that connection only.
//!
//! [`Protocol::Tcp`]: str0m::net::Protocol::Tcp

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};

use super::framing::{self, FrameDecoder};

/// Largest frame accepted from a client: the largest datagram the engine reads from UDP.
pub const MAX_FRAME: usize = 2048;
/// Frames queued towards one client; more are dropped (the client is not reading).
const OUTBOUND_QUEUE: usize = 512;
/// Frames and connection changes queued towards the run loop from all connections.
const EVENT_QUEUE: usize = 1024;
/// Connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 4096;
/// A connection that sends nothing for this long is closed. Connected ICE agents send consent
/// checks every few seconds; a connection that never starts ICE does not linger.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 8192;

/// What connection tasks tell the run loop.
#[derive(Debug)]
pub enum TcpEvent {
    Opened {
        id: u64,
        remote: SocketAddr,
        out: mpsc::Sender<Vec<u8>>,
    },
    Frame {
        remote: SocketAddr,
        local: SocketAddr,
        data: BytesMut,
    },
    Closed {
        id: u64,
        remote: SocketAddr,
    },
}

/// A frame from a client, for the engine.
pub struct TcpFrame {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub data: BytesMut,
}

struct Connection {
    id: u64,
    out: mpsc::Sender<Vec<u8>>,
}

/// The run loop's side of ICE-TCP: the events of every connection and the outbound queue of each.
pub struct TcpIo {
    events: mpsc::Receiver<TcpEvent>,
    connections: HashMap<SocketAddr, Connection>,
    local: SocketAddr,
}

impl TcpIo {
    /// Binds the listener and starts accepting (on the current tokio runtime).
    pub fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let local = listener.local_addr()?;
        let (tx, events) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(accept_loop(listener, tx));
        Ok(Self {
            events,
            connections: HashMap::new(),
            local,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits for the next frame, handling connection changes on the way. `None` when the
    /// listener has stopped.
    pub async fn recv(&mut self) -> Option<TcpFrame> {
        loop {
            let event = self.events.recv().await?;
            if let Some(frame) = self.on_event(event) {
                return Some(frame);
            }
        }
    }

    /// The next frame if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<TcpFrame> {
        loop {
            let event = self.events.try_recv().ok()?;
            if let Some(frame) = self.on_event(event) {
                return Some(frame);
            }
        }
    }

    fn on_event(&mut self, event: TcpEvent) -> Option<TcpFrame> {
        match event {
            TcpEvent::Opened { id, remote, out } => {
                self.connections.insert(remote, Connection { id, out });
                None
            }
            TcpEvent::Closed { id, remote } => {
                if self.connections.get(&remote).is_some_and(|c| c.id == id) {
                    self.connections.remove(&remote);
                }
                None
            }
            TcpEvent::Frame {
                remote,
                local,
                data,
            } => Some(TcpFrame {
                source: remote,
                destination: local,
                data,
            }),
        }
    }

    /// Queues one datagram as a frame on the connection from `destination`. Dropped when there
    /// is no such connection or its queue is full.
    pub fn send(&mut self, contents: &[u8], destination: SocketAddr) {
        let Some(conn) = self.connections.get(&destination) else {
            tracing::trace!(%destination, "no TCP connection for transmit");
            return;
        };
        let frame = match framing::encode(contents) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(%destination, "TCP transmit not framed: {e}");
                return;
            }
        };
        match conn.out.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("xcord_ice_tcp_dropped_frames_total").increment(1);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.connections.remove(&destination);
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, events: mpsc::Sender<TcpEvent>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut next_id = 0u64;
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!("ICE-TCP accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if events.is_closed() {
            return;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%remote, "ICE-TCP connection refused: too many connections");
            continue;
        };
        next_id += 1;
        let id = next_id;
        let events = events.clone();
        tokio::spawn(async move {
            serve(stream, id, remote, events).await;
            drop(slot);
        });
    }
}

/// One connection: frames in to the run loop, frames out from its queue, until either side ends.
async fn serve(stream: TcpStream, id: u64, remote: SocketAddr, events: mpsc::Sender<TcpEvent>) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (out, mut queue) = mpsc::channel::<Vec<u8>>(OUTBOUND_QUEUE);
    if events
        .send(TcpEvent::Opened { id, remote, out })
        .await
        .is_err()
    {
        return;
    }
    let write = async {
        while let Some(frame) = queue.recv().await {
            if let Err(e) = writer.write_all(&frame).await {
                tracing::debug!(%remote, "ICE-TCP write: {e}");
                return;
            }
        }
    };
    let read = async {
        let mut decoder = FrameDecoder::new(MAX_FRAME);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = match tokio::time::timeout(IDLE_TIMEOUT, reader.read(&mut buf)).await {
                Ok(Ok(0)) => return,
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, "ICE-TCP read: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "ICE-TCP connection idle; closing");
                    return;
                }
            };
            decoder.extend(buf.get(..n).unwrap_or_default());
            loop {
                match decoder.next_frame() {
                    Ok(Some(data)) => {
                        let frame = TcpEvent::Frame {
                            remote,
                            local,
                            data,
                        };
                        if events.send(frame).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%remote, "ICE-TCP connection closed: {e}");
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = write => {}
        _ = read => {}
    }
    let _ = events.send(TcpEvent::Closed { id, remote }).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    async fn next(tcp: &mut TcpIo) -> TcpFrame {
        tokio::time::timeout(Duration::from_secs(5), tcp.recv())
            .await
            .expect("a frame within 5 s")
            .expect("listener running")
    }

    async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.unwrap();
        body
    }

    #[tokio::test]
    async fn frames_go_both_ways_and_a_bad_frame_closes_only_its_connection() {
        let mut tcp = TcpIo::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let listen = tcp.local_addr();
        let mut a = TcpStream::connect(listen).await.unwrap();
        let mut b = TcpStream::connect(listen).await.unwrap();

        // A frame split over two writes arrives whole, addressed as the engine needs it.
        let wire = framing::encode(b"binding request").unwrap();
        a.write_all(&wire[..5]).await.unwrap();
        a.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        a.write_all(&wire[5..]).await.unwrap();
        let f = next(&mut tcp).await;
        assert_eq!(&f.data[..], b"binding request");
        assert_eq!((f.source, f.destination), (a.local_addr().unwrap(), listen));

        // B announces a frame longer than any datagram: B is closed.
        b.write_all(&u16::MAX.to_be_bytes()).await.unwrap();
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(5), b.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "B still open");

        // A is untouched: two merged frames in, one frame out.
        let mut two = framing::encode(b"one").unwrap();
        two.extend(framing::encode(b"two").unwrap());
        a.write_all(&two).await.unwrap();
        assert_eq!(&next(&mut tcp).await.data[..], b"one");
        assert_eq!(&next(&mut tcp).await.data[..], b"two");
        tcp.send(b"answer", a.local_addr().unwrap());
        assert_eq!(read_frame(&mut a).await, b"answer");
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_loses_frames_and_stalls_nobody() {
        let mut tcp = TcpIo::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let listen = tcp.local_addr();
        let mut slow = TcpStream::connect(listen).await.unwrap();
        let mut fast = TcpStream::connect(listen).await.unwrap();
        for s in [&mut slow, &mut fast] {
            s.write_all(&framing::encode(b"hello").unwrap())
                .await
                .unwrap();
            next(&mut tcp).await;
        }
        // Far more than the outbound queue and both sockets' buffers hold.
        let payload = vec![7u8; 1200];
        let started = std::time::Instant::now();
        for _ in 0..20_000 {
            tcp.send(&payload, slow.local_addr().unwrap());
            tokio::task::yield_now().await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sending to a stalled client took {:?}",
            started.elapsed()
        );
        tcp.send(b"still here", fast.local_addr().unwrap());
        assert_eq!(read_frame(&mut fast).await, b"still here");
        // The slow client gets what was queued, not everything.
        let mut got = 0usize;
        let mut buf = vec![0u8; 65536];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(300), slow.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            got += n;
        }
        assert!(
            got > 0 && got < 20_000 * 1202,
            "slow client read {got} bytes"
        );
    }
}
