//! The one UDP socket all media flows through. Bound to a single address it uses plain
//! `recv_from`/`send_to`; bound to the wildcard address it reads each datagram's destination
//! with `IP_PKTINFO` and sends from the address the peer used, so ICE sees consistent pairs.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, sockopt};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Kernel buffer asked for on the media socket (the kernel caps it at `net.core.rmem_max` /
/// `wmem_max`). The default (≈208 KiB) overflows when the media thread is descheduled for a
/// few tens of milliseconds under video load; LiveKit asks for 16 MiB.
const SOCKET_BUFFER: usize = 8 << 20;

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

    /// Sends one datagram from `source` (used only on a wildcard socket). Errors other than a
    /// full socket buffer are returned; a full buffer drops the datagram, as a router would.
    pub fn send(
        &self,
        contents: &[u8],
        source: SocketAddr,
        destination: SocketAddr,
    ) -> io::Result<()> {
        let result = match (self.wildcard, source.ip(), destination) {
            (true, IpAddr::V4(src), SocketAddr::V4(dst)) if !src.is_unspecified() => {
                let info = nix::libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: nix::libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: nix::libc::in_addr { s_addr: 0 },
                };
                let fd = self.socket.as_raw_fd();
                let addr = SockaddrIn::from(dst);
                self.socket.try_io(Interest::WRITABLE, || {
                    socket::sendmsg(
                        fd,
                        &[io::IoSlice::new(contents)],
                        &[ControlMessage::Ipv4PacketInfo(&info)],
                        MsgFlags::empty(),
                        Some(&addr),
                    )
                    .map_err(io::Error::from)
                })
            }
            _ => self.socket.try_send_to(contents, destination),
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}
