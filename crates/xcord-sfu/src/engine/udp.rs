//! A shard's UDP socket, all its media flows through. Bound to a single address it uses plain
//! `recv_from`; bound to the wildcard address it reads each datagram's destination with
//! `IP_PKTINFO` and sends from the address the peer used, so ICE sees consistent pairs.
//!
//! Sending is batched: the datagrams a batch of inputs produced (one per subscriber of each
//! forwarded packet) leave in `sendmmsg` calls of up to [`SEND_BATCH`] datagrams, one call per
//! run of datagrams with the same source address, through headers allocated once.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    self, ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, SockaddrStorage,
    sockopt,
};
use str0m::net::Transmit;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Kernel buffer asked for on the media socket (the kernel caps it at `net.core.rmem_max` /
/// `wmem_max`). The default (≈208 KiB) overflows when the media thread is descheduled for a
/// few tens of milliseconds under video load; LiveKit asks for 16 MiB.
const SOCKET_BUFFER: usize = 8 << 20;

/// Most datagrams handed to the kernel in one `sendmmsg` call.
pub const SEND_BATCH: usize = 64;

/// What a batch send did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: usize,
    pub bytes: usize,
    /// Datagrams dropped: the socket buffer was full, or the kernel refused them.
    pub dropped: usize,
}

/// A received datagram's addresses; the bytes are in the caller's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub len: usize,
    pub source: SocketAddr,
    pub destination: SocketAddr,
}

/// The media socket.
pub struct UdpIo {
    socket: UdpSocket,
    local: SocketAddr,
    wildcard: bool,
    cmsg: Vec<u8>,
    /// `sendmmsg` headers without control messages (a socket bound to one address).
    plain: MultiHeaders<SockaddrStorage>,
    /// `sendmmsg` headers with room for one `IP_PKTINFO` each (the wildcard socket).
    pktinfo: MultiHeaders<SockaddrStorage>,
}

impl UdpIo {
    /// Binds `addr`; with an unspecified IP, enables `IP_PKTINFO`.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let std_socket = std::net::UdpSocket::bind(addr)?;
        std_socket.set_nonblocking(true)?;
        let wildcard = addr.ip().is_unspecified();
        if wildcard {
            if !addr.is_ipv4() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the wildcard media address must be IPv4 (0.0.0.0)",
                ));
            }
            socket::setsockopt(&std_socket, sockopt::Ipv4PacketInfo, &true)
                .map_err(io::Error::from)?;
        }
        for result in [
            socket::setsockopt(&std_socket, sockopt::RcvBuf, &SOCKET_BUFFER),
            socket::setsockopt(&std_socket, sockopt::SndBuf, &SOCKET_BUFFER),
        ] {
            if let Err(e) = result {
                tracing::warn!("media socket buffer size: {e}");
            }
        }
        let local = std_socket.local_addr()?;
        let socket = UdpSocket::from_std(std_socket)?;
        Ok(Self {
            socket,
            local,
            wildcard,
            cmsg: nix::cmsg_space!(nix::libc::in_pktinfo),
            plain: MultiHeaders::preallocate(SEND_BATCH, None),
            pktinfo: MultiHeaders::preallocate(
                SEND_BATCH,
                Some(nix::cmsg_space!(nix::libc::in_pktinfo)),
            ),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits until a datagram can be read.
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Reads one datagram without blocking (`WouldBlock` when none is queued).
    pub fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        if !self.wildcard {
            let (len, source) = self.socket.try_recv_from(buf)?;
            return Ok(Received {
                len,
                source,
                destination: self.local,
            });
        }
        let fd = self.socket.as_raw_fd();
        let port = self.local.port();
        let cmsg = &mut self.cmsg;
        self.socket.try_io(Interest::READABLE, || {
            let mut iov = [io::IoSliceMut::new(buf)];
            let msg = socket::recvmsg::<SockaddrIn>(
                fd,
                &mut iov,
                Some(cmsg.as_mut_slice()),
                MsgFlags::empty(),
            )
            .map_err(io::Error::from)?;
            let source = msg
                .address
                .map(|a| SocketAddr::V4(SocketAddrV4::from(a)))
                .ok_or_else(|| io::Error::other("datagram without source address"))?;
            let mut dst = Ipv4Addr::UNSPECIFIED;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::Ipv4PacketInfo(info) = c {
                        dst = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                    }
                }
            }
            Ok(Received {
                len: msg.bytes,
                source,
                destination: SocketAddr::new(IpAddr::V4(dst), port),
            })
        })
    }

    /// Sends the UDP datagrams of `batch` (others are skipped), in order, in as few `sendmmsg`
    /// calls as their source addresses allow. A full socket buffer drops the rest of that call's
    /// datagrams, as a router would; a datagram the kernel refuses is dropped alone.
    pub fn send_batch(&mut self, batch: &[Transmit]) -> Sent {
        let mut sent = Sent::default();
        let mut rest = batch;
        while let Some(first) = rest.first() {
            let source = self.pktinfo_source(first);
            let run = rest
                .iter()
                .take(SEND_BATCH)
                .take_while(|t| self.pktinfo_source(t) == source)
                .count();
            let (now, later) = rest.split_at(run);
            self.send_run(now, source, &mut sent);
            rest = later;
        }
        sent
    }

    /// The address to send `t` from with `IP_PKTINFO`, when the socket is the wildcard one and
    /// `t` names one; `None` sends it plainly.
    fn pktinfo_source(&self, t: &Transmit) -> Option<Ipv4Addr> {
        match (self.wildcard, t.source.ip(), t.destination) {
            (true, IpAddr::V4(src), SocketAddr::V4(_)) if !src.is_unspecified() => Some(src),
            _ => None,
        }
    }

    /// Sends up to [`SEND_BATCH`] datagrams that share `source`; see [`send_each_once`].
    fn send_run(&mut self, run: &[Transmit], source: Option<Ipv4Addr>, sent: &mut Sent) {
        send_each_once(run, sent, |rest| self.sendmmsg(rest, source));
    }

    /// One `sendmmsg` call for the first [`SEND_BATCH`] datagrams of `run`; how many left.
    fn sendmmsg(&mut self, run: &[Transmit], source: Option<Ipv4Addr>) -> io::Result<usize> {
        let run = run.get(..SEND_BATCH.min(run.len())).unwrap_or_default();
        let slices: [[io::IoSlice<'_>; 1]; SEND_BATCH] = std::array::from_fn(|i| {
            [io::IoSlice::new(
                run.get(i).map_or(&[][..], |t| &t.contents[..]),
            )]
        });
        let addrs: [Option<SockaddrStorage>; SEND_BATCH] =
            std::array::from_fn(|i| run.get(i).map(|t| SockaddrStorage::from(t.destination)));
        let info = source.map(|src| nix::libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: nix::libc::in_addr {
                s_addr: u32::from(src).to_be(),
            },
            ipi_addr: nix::libc::in_addr { s_addr: 0 },
        });
        let fd = self.socket.as_raw_fd();
        let count = run.len();
        let (headers, cmsgs) = match &info {
            Some(info) => (
                &mut self.pktinfo,
                Some(ControlMessage::Ipv4PacketInfo(info)),
            ),
            None => (&mut self.plain, None),
        };
        let cmsgs = cmsgs.as_slice();
        let socket = &self.socket;
        socket.try_io(Interest::WRITABLE, || {
            let slices = slices.get(..count).unwrap_or_default();
            let addrs = addrs.get(..count).unwrap_or_default();
            socket::sendmmsg(fd, headers, slices, addrs, cmsgs, MsgFlags::empty())
                .map(|results| results.count())
                .map_err(io::Error::from)
        })
    }
}

/// Hands `run` to `sendmmsg` (`send`: how many of the datagrams given it the kernel took) until
/// every datagram has been offered to the kernel exactly once. The kernel stops a `sendmmsg`
/// call at the first datagram it refuses (an unroutable destination, a firewall drop, which
/// makes the call return `EPERM`) and reports only the datagrams before it; that datagram is
/// dropped, never offered again: a second offer would let a packet that a lossy link or a
/// firewall discarded through after all. A full socket buffer drops the rest, as a router would.
fn send_each_once(
    run: &[Transmit],
    sent: &mut Sent,
    mut send: impl FnMut(&[Transmit]) -> io::Result<usize>,
) {
    let mut rest = run;
    while !rest.is_empty() {
        let offered = rest.len().min(SEND_BATCH);
        let refusal = match send(rest) {
            Ok(n) => {
                let (done, later) = rest.split_at(n.min(offered));
                sent.datagrams += done.len();
                sent.bytes += done.iter().map(|t| t.contents.len()).sum::<usize>();
                rest = later;
                if done.len() == offered {
                    continue;
                }
                None
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                sent.dropped += rest.len();
                return;
            }
            Err(e) => Some(e),
        };
        // The first datagram of `rest` is the one the kernel refused.
        let Some((refused, later)) = rest.split_first() else {
            return;
        };
        match refusal {
            Some(e) => tracing::debug!(dest = ?refused.destination, "media send: {e}"),
            None => tracing::debug!(dest = ?refused.destination, "media send refused"),
        }
        sent.dropped += 1;
        rest = later;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transmit(source: SocketAddr, destination: SocketAddr, n: u32) -> Transmit {
        Transmit {
            proto: str0m::net::Protocol::Udp,
            source,
            destination,
            contents: n.to_be_bytes().to_vec().into(),
        }
    }

    /// Reads what arrived at `socket`, as (sender, number) pairs.
    fn drain(socket: &std::net::UdpSocket) -> Vec<(SocketAddr, u32)> {
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            assert_eq!(len, 4);
            got.push((from, u32::from_be_bytes(buf[..4].try_into().unwrap())));
        }
        got
    }

    fn receiver() -> std::net::UdpSocket {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        s
    }

    #[tokio::test]
    async fn a_batch_arrives_whole_and_in_order_at_every_destination() {
        for bind in ["127.0.0.1:0", "0.0.0.0:0"] {
            let mut udp = UdpIo::bind(bind.parse().unwrap()).unwrap();
            // Readiness as the run loop sees it once the reactor has polled the socket.
            udp.socket.writable().await.unwrap();
            let port = udp.local_addr().port();
            let (a, b) = (receiver(), receiver());
            let from = SocketAddr::from(([127, 0, 0, 1], port));
            // More than one sendmmsg call's worth, alternating destinations.
            let batch: Vec<Transmit> = (0..150u32)
                .map(|n| {
                    let to = if n % 2 == 0 { &a } else { &b };
                    transmit(from, to.local_addr().unwrap(), n)
                })
                .collect();
            let sent = udp.send_batch(&batch);
            assert_eq!(
                sent,
                Sent {
                    datagrams: 150,
                    bytes: 600,
                    dropped: 0
                },
                "{bind}"
            );
            let (got_a, got_b) = (drain(&a), drain(&b));
            let evens: Vec<u32> = (0..150).filter(|n| n % 2 == 0).collect();
            let odds: Vec<u32> = (0..150).filter(|n| n % 2 == 1).collect();
            assert_eq!(got_a.iter().map(|g| g.1).collect::<Vec<_>>(), evens);
            assert_eq!(got_b.iter().map(|g| g.1).collect::<Vec<_>>(), odds);
            // Sent from the address the transmit names (IP_PKTINFO on the wildcard socket).
            assert!(got_a.iter().chain(&got_b).all(|g| g.0 == from), "{bind}");
        }
    }

    #[tokio::test]
    async fn a_refused_datagram_is_dropped_alone() {
        let mut udp = UdpIo::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        udp.socket.writable().await.unwrap();
        let from = udp.local_addr();
        let a = receiver();
        let to = a.local_addr().unwrap();
        // An IPv6 destination cannot be reached from an IPv4 socket.
        let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 9));
        let batch = vec![
            transmit(from, to, 1),
            transmit(from, v6, 2),
            transmit(from, to, 3),
        ];
        let sent = udp.send_batch(&batch);
        assert_eq!((sent.datagrams, sent.dropped), (2, 1));
        assert_eq!(
            drain(&a).iter().map(|g| g.1).collect::<Vec<_>>(),
            vec![1, 3]
        );
    }

    /// A kernel that refuses datagram 2 the first time it is offered and takes it afterwards, as a
    /// random firewall drop would; records every offer.
    #[test]
    fn a_refused_datagram_is_never_offered_again() {
        let from = SocketAddr::from(([127, 0, 0, 1], 7882));
        let to = SocketAddr::from(([127, 0, 0, 1], 9));
        let run: Vec<Transmit> = (0..5u32).map(|n| transmit(from, to, n)).collect();
        let mut offers: Vec<u32> = Vec::new();
        let mut refused_once = false;
        let mut sent = Sent::default();
        send_each_once(&run, &mut sent, |rest| {
            let mut taken = 0;
            for t in rest {
                let n = u32::from_be_bytes(t.contents[..4].try_into().unwrap());
                offers.push(n);
                if n == 2 && !refused_once {
                    refused_once = true;
                    return if taken == 0 {
                        Err(io::Error::from_raw_os_error(nix::libc::EPERM))
                    } else {
                        Ok(taken)
                    };
                }
                taken += 1;
            }
            Ok(taken)
        });
        assert_eq!(offers, vec![0, 1, 2, 3, 4], "datagram 2 offered once");
        assert_eq!((sent.datagrams, sent.dropped, sent.bytes), (4, 1, 16));
    }

    /// The refused datagram first in a call: the call fails, that datagram alone is dropped.
    #[test]
    fn a_refusal_at_the_start_of_a_call_drops_only_that_datagram() {
        let from = SocketAddr::from(([127, 0, 0, 1], 7882));
        let to = SocketAddr::from(([127, 0, 0, 1], 9));
        let run: Vec<Transmit> = (0..3u32).map(|n| transmit(from, to, n)).collect();
        let mut calls = 0;
        let mut sent = Sent::default();
        send_each_once(&run, &mut sent, |rest| {
            calls += 1;
            if calls == 1 {
                Err(io::Error::from_raw_os_error(nix::libc::EPERM))
            } else {
                Ok(rest.len())
            }
        });
        assert_eq!((sent.datagrams, sent.dropped, calls), (2, 1, 2));
    }

    /// A full socket buffer drops everything not yet taken.
    #[test]
    fn a_full_buffer_drops_the_rest() {
        let from = SocketAddr::from(([127, 0, 0, 1], 7882));
        let to = SocketAddr::from(([127, 0, 0, 1], 9));
        let run: Vec<Transmit> = (0..4u32).map(|n| transmit(from, to, n)).collect();
        let mut sent = Sent::default();
        let mut calls = 0;
        send_each_once(&run, &mut sent, |_| {
            calls += 1;
            if calls == 1 {
                Ok(1)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        });
        assert_eq!((sent.datagrams, sent.dropped), (1, 3));
    }
}
