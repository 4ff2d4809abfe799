//! One client-side peer connection: a str0m `Rtc` (full ICE, RTP mode, Opus and VP8 only) with
//! its own UDP socket. The SFU tells peers apart by their source address once ICE has run, so
//! every peer connection needs its own port.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::error::LoadError;

/// Receive buffer of each peer socket.
const SOCKET_RCVBUF: usize = 1 << 20;

pub struct Peer {
    pub rtc: Rtc,
    pub socket: UdpSocket,
    local: SocketAddr,
    /// The Rtc's next timeout.
    pub deadline: Instant,
    /// Datagrams the kernel refused (socket buffer full).
    pub send_drops: u64,
}

impl Peer {
    pub fn new(local_ip: IpAddr, now: Instant) -> Result<Self, LoadError> {
        let std_socket = std::net::UdpSocket::bind(SocketAddr::new(local_ip, 0))?;
        std_socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(std_socket)?;
        set_rcvbuf(&socket);
        let local = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        let candidate = Candidate::host(local, Protocol::Udp)
            .map_err(|e| LoadError::Sdp(format!("local candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        Ok(Self {
            rtc,
            socket,
            local,
            deadline: now,
            send_drops: 0,
        })
    }

    /// Feeds a received datagram.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!("peer input: {e}");
        }
    }

    /// Advances the Rtc's clock.
    pub fn timeout(&mut self, now: Instant) -> Result<(), LoadError> {
        self.rtc.handle_input(Input::Timeout(now))?;
        Ok(())
    }

    /// Polls until only a timeout is left: datagrams go out on the socket, events to `on_event`.
    pub fn drain(&mut self, mut on_event: impl FnMut(Event)) -> Result<(), LoadError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Transmit(t) => match self.socket.try_send_to(&t.contents, t.destination) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.send_drops += 1,
                    Err(e) => tracing::debug!(dest = %t.destination, "send: {e}"),
                },
                Output::Timeout(at) => {
                    self.deadline = at;
                    return Ok(());
                }
                Output::Event(e) => on_event(e),
            }
        }
    }
}

/// A larger receive buffer so bursts (video frames, many tracks) are not dropped by the kernel.
fn set_rcvbuf(socket: &UdpSocket) {
    use std::os::fd::AsFd;
    let sock = socket.as_fd();
    if let Err(e) =
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::RcvBuf, &SOCKET_RCVBUF)
    {
        tracing::debug!("SO_RCVBUF: {e}");
    }
}

/// Receives on an optional socket; pends forever without one (for `select!`).
pub async fn recv_opt(
    socket: Option<&UdpSocket>,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}
