//! The TURN server's I/O: the UDP listener, the TLS listener and its connections, and one UDP
//! relay socket per allocation, around `turn-server-proto`'s sans-IO TURN state machine (one
//! per listening transport). One task owns the state machines, the relays and the clock;
//! sockets are read by small tasks that send what they read to it over bounded queues.
//!
//! Policy on top of the protocol:
//! - **Credentials** ([`crate::credentials`]): a request's USERNAME is checked against the
//!   shared secret and its expiry, and its MESSAGE-INTEGRITY verified, before the user is made
//!   known to the state machine; a new allocation needs unexpired credentials, an existing one
//!   may be refreshed until its lifetime (at most an hour per refresh) runs out.
//! - **No open relay**: relays send only to, and accept only from, the addresses in
//!   [`TurnConfig::allowed_peers`] (the SFU's own media addresses).
//! - **Bounded**: at most [`TurnConfig::max_allocations`] relays in all and
//!   [`TurnConfig::max_allocations_per_ip`] per client IP; TLS connections are capped, must
//!   finish the handshake quickly and are closed when idle; every queue is bounded and drops
//!   when full.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use turn_server_proto::api::{
    SocketAllocateError, TcpConnectError, TurnServerApi, TurnServerPollRet,
};
use turn_server_proto::server::TurnServer;
use turn_server_proto::stun::agent::Transmit;
use turn_server_proto::types::stun::attribute::Username;
use turn_server_proto::types::stun::message::{
    LongTermCredentials, Message, MessageIntegrityCredentials,
};
use turn_server_proto::types::{AddressFamily, Instant as TurnInstant, TransportType};

use crate::credentials::{CredentialSecret, unix_now};
use crate::stream::StreamDecoder;

/// Largest datagram or stream message handled.
const MAX_MESSAGE: usize = 4096;
/// Messages queued from all sockets towards the server task.
const EVENT_QUEUE: usize = 4096;
/// Messages queued towards one TLS client; more are dropped.
const TLS_OUT_QUEUE: usize = 512;
/// TLS connections served at once.
const MAX_TLS_CONNECTIONS: usize = 1024;
/// Time a TLS client has to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS connection with nothing received for this long is closed (a client with an
/// allocation sends ICE consent checks through it every few seconds).
const TLS_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the TURN server runs.
#[derive(Clone, Debug)]
pub struct TurnConfig {
    /// The secret the SFU's credentials are derived from.
    pub secret: CredentialSecret,
    /// The REALM of long-term credentials.
    pub realm: String,
    /// Where TURN over UDP listens, if at all.
    pub udp_bind: Option<SocketAddr>,
    /// Where TURN over TLS listens and its certificate, if at all.
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// The address clients know this server by: the listeners' identity in the protocol and
    /// the IP of every relayed address.
    pub public_ip: IpAddr,
    /// The IP relay sockets bind to (the wildcard address by default).
    pub relay_bind_ip: IpAddr,
    /// The only peers relays exchange datagrams with.
    pub allowed_peers: Vec<SocketAddr>,
    pub max_allocations: usize,
    pub max_allocations_per_ip: usize,
}

/// Where a started TURN server listens.
#[derive(Clone, Copy, Debug)]
pub struct TurnAddrs {
    pub udp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

/// Binds the listeners and starts the server; must be called within a tokio runtime.
pub fn start(cfg: TurnConfig) -> io::Result<TurnAddrs> {
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let mut addrs = TurnAddrs {
        udp: None,
        tls: None,
    };
    let mut udp_server = None;
    if let Some(bind) = cfg.udp_bind {
        let std_socket = std::net::UdpSocket::bind(bind)?;
        std_socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(std_socket)?);
        let local = socket.local_addr()?;
        addrs.udp = Some(local);
        let listen = SocketAddr::new(cfg.public_ip, local.port());
        tokio::spawn(read_udp(socket.clone(), events_tx.clone()));
        udp_server = Some(Listener {
            proto: TurnServer::new(TransportType::Udp, listen, cfg.realm.clone()),
            socket,
        });
    }
    let mut tls_server = None;
    if let Some((bind, tls)) = cfg.tls.clone() {
        let std_listener = std::net::TcpListener::bind(bind)?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let local = listener.local_addr()?;
        addrs.tls = Some(local);
        let listen = SocketAddr::new(cfg.public_ip, local.port());
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        tokio::spawn(accept_tls(listener, acceptor, events_tx.clone()));
        tls_server = Some(TurnServer::new(
            TransportType::Tcp,
            listen,
            cfg.realm.clone(),
        ));
    }
    let core = Core {
        base: std::time::Instant::now(),
        udp: udp_server,
        tls: tls_server,
        tls_clients: HashMap::new(),
        relays: HashMap::new(),
        users: HashSet::new(),
        events_tx,
        cfg,
    };
    tokio::spawn(core.run(events));
    Ok(addrs)
}

/// What socket tasks send the server task.
#[derive(Debug)]
enum Event {
    Udp {
        from: SocketAddr,
        data: Vec<u8>,
    },
    TlsOpened {
        client: SocketAddr,
        out: mpsc::Sender<Vec<u8>>,
    },
    Tls {
        client: SocketAddr,
        data: Vec<u8>,
    },
    TlsClosed {
        client: SocketAddr,
    },
    Relay {
        relayed: SocketAddr,
        peer: SocketAddr,
        data: Vec<u8>,
    },
}

struct Listener {
    proto: TurnServer,
    socket: Arc<UdpSocket>,
}

struct Relay {
    socket: Arc<UdpSocket>,
    /// The state machine (by its listening transport) the allocation belongs to.
    owner: TransportType,
    reader: JoinHandle<()>,
    client_ip: IpAddr,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct Core {
    cfg: TurnConfig,
    /// The zero of the state machines' clock.
    base: std::time::Instant,
    udp: Option<Listener>,
    tls: Option<TurnServer>,
    tls_clients: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    /// Relay sockets by relayed (public) address.
    relays: HashMap<SocketAddr, Relay>,
    /// Usernames made known to the state machines.
    users: HashSet<String>,
    events_tx: mpsc::Sender<Event>,
}

impl Core {
    fn now(&self) -> TurnInstant {
        TurnInstant::from_std(self.base)
    }

    async fn run(mut self, mut events: mpsc::Receiver<Event>) {
        let mut wake = self.drive();
        loop {
            let deadline = tokio::time::Instant::from_std(wake.to_std(self.base));
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { return };
                    self.on_event(event);
                    for _ in 0..64 {
                        let Ok(event) = events.try_recv() else { break };
                        self.on_event(event);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {}
            }
            wake = self.drive();
        }
    }

    fn on_event(&mut self, event: Event) {
        let now = self.now();
        match event {
            Event::Udp { from, data } => {
                let Some(listen) = self.udp.as_ref().map(|l| l.proto.listen_address()) else {
                    return;
                };
                if !self.admit(&data) {
                    return;
                }
                let transmit = Transmit::new(data, TransportType::Udp, from, listen);
                let out = self
                    .udp
                    .as_mut()
                    .and_then(|l| l.proto.recv(transmit, now))
                    .map(|t| t.build());
                if let Some(t) = out {
                    self.send(t);
                }
            }
            Event::TlsOpened { client, out } => {
                self.tls_clients.insert(client, out);
            }
            Event::Tls { client, data } => {
                let Some(listen) = self.tls.as_ref().map(|s| s.listen_address()) else {
                    return;
                };
                if !self.admit(&data) {
                    return;
                }
                let transmit = Transmit::new(data, TransportType::Tcp, client, listen);
                let out = self
                    .tls
                    .as_mut()
                    .and_then(|s| s.recv(transmit, now))
                    .map(|t| t.build());
                if let Some(t) = out {
                    self.send(t);
                }
            }
            Event::TlsClosed { client } => {
                // Its allocations expire with their lifetime (the state machine has no notion
                // of a closed stream); the quotas bound what they hold until then.
                self.tls_clients.remove(&client);
            }
            Event::Relay {
                relayed,
                peer,
                data,
            } => {
                let Some(owner) = self.relays.get(&relayed).map(|r| r.owner) else {
                    return;
                };
                let transmit = Transmit::new(data, TransportType::Udp, peer, relayed);
                let out = self
                    .server(owner)
                    .and_then(|s| s.recv(transmit, now))
                    .map(|t| t.build());
                if let Some(t) = out {
                    self.send(t);
                }
            }
        }
    }

    /// Makes the sender of `data` known to the state machines if it carries valid, unexpired
    /// credentials. False for a new allocation with expired credentials (dropped).
    fn admit(&mut self, data: &[u8]) -> bool {
        if data.first().is_none_or(|b| b >> 6 != 0) {
            return true; // ChannelData
        }
        let Ok(msg) = Message::from_bytes(data) else {
            return true; // the state machine answers malformed requests
        };
        let Ok(username) = msg.attribute::<Username>() else {
            return true; // no credentials: answered with 401 and a nonce
        };
        let username = username.username().to_owned();
        let now_unix = unix_now();
        let password = match self.cfg.secret.verify(&username, now_unix) {
            Ok(p) => p,
            Err(crate::credentials::CredentialError::Expired) if self.users.contains(&username) => {
                // Known: refreshes, permissions and channels go on; a new allocation needs
                // fresh credentials.
                return msg.method() != turn_server_proto::types::message::ALLOCATE;
            }
            Err(e) => {
                tracing::debug!("TURN request refused: {e}");
                return false;
            }
        };
        if self.users.contains(&username) {
            return true;
        }
        let key = LongTermCredentials::new(username.clone(), password.clone())
            .to_key(self.cfg.realm.clone());
        if msg
            .validate_integrity(&MessageIntegrityCredentials::from(key))
            .is_err()
        {
            return true; // the state machine answers with the right error
        }
        if let Some(l) = self.udp.as_mut() {
            l.proto.add_user(username.clone(), password.clone());
        }
        if let Some(s) = self.tls.as_mut() {
            s.add_user(username.clone(), password);
        }
        self.users.insert(username);
        true
    }

    /// Runs both state machines until they only wait; returns when to call again.
    fn drive(&mut self) -> TurnInstant {
        let now = self.now();
        let mut wake = now + Duration::from_secs(1);
        for which in [TransportType::Udp, TransportType::Tcp] {
            while let Some(server) = self.server(which) {
                match server.poll(now) {
                    TurnServerPollRet::WaitUntil(at) => {
                        wake = wake.min(at.max(now));
                        break;
                    }
                    TurnServerPollRet::AllocateSocket {
                        transport,
                        listen_addr,
                        client_addr,
                        allocation_transport,
                        family,
                    } => {
                        let result = if allocation_transport == TransportType::Udp
                            && family == AddressFamily::IPV4
                            && self.cfg.public_ip.is_ipv4()
                        {
                            self.open_relay(which, client_addr.ip())
                        } else {
                            Err(SocketAllocateError::AddressFamilyNotSupported)
                        };
                        if let Some(server) = self.server(which) {
                            server.allocated_socket(
                                transport,
                                listen_addr,
                                client_addr,
                                allocation_transport,
                                family,
                                result,
                                now,
                            );
                        }
                    }
                    TurnServerPollRet::TcpConnect {
                        relayed_addr,
                        peer_addr,
                        listen_addr,
                        client_addr,
                    } => {
                        // RFC 6062 TCP relays are not offered.
                        server.tcp_connected(
                            relayed_addr,
                            peer_addr,
                            listen_addr,
                            client_addr,
                            Err(TcpConnectError::Forbidden),
                            now,
                        );
                    }
                    TurnServerPollRet::TcpClose { remote_addr, .. } => {
                        self.tls_clients.remove(&remote_addr);
                    }
                    TurnServerPollRet::SocketClose { listen_addr, .. } => {
                        if self.relays.remove(&listen_addr).is_some() {
                            tracing::debug!(relayed = %listen_addr, "TURN allocation closed");
                        }
                    }
                }
            }
            while let Some(t) = self.server(which).and_then(|s| s.poll_transmit(now)) {
                self.send(t);
            }
        }
        wake
    }

    fn server(&mut self, which: TransportType) -> Option<&mut TurnServer> {
        match which {
            TransportType::Udp => self.udp.as_mut().map(|l| &mut l.proto),
            TransportType::Tcp => self.tls.as_mut(),
        }
    }

    fn open_relay(
        &mut self,
        owner: TransportType,
        client_ip: IpAddr,
    ) -> Result<SocketAddr, SocketAllocateError> {
        let per_ip = self
            .relays
            .values()
            .filter(|r| r.client_ip == client_ip)
            .count();
        if self.relays.len() >= self.cfg.max_allocations
            || per_ip >= self.cfg.max_allocations_per_ip
        {
            tracing::info!(%client_ip, "TURN allocation refused: quota reached");
            return Err(SocketAllocateError::InsufficientCapacity);
        }
        let bound =
            std::net::UdpSocket::bind(SocketAddr::new(self.cfg.relay_bind_ip, 0)).and_then(|s| {
                s.set_nonblocking(true)?;
                UdpSocket::from_std(s)
            });
        let socket = match bound {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::warn!("TURN relay socket: {e}");
                return Err(SocketAllocateError::InsufficientCapacity);
            }
        };
        let port = socket
            .local_addr()
            .map_err(|_| SocketAllocateError::InsufficientCapacity)?
            .port();
        let relayed = SocketAddr::new(self.cfg.public_ip, port);
        let reader = tokio::spawn(read_relay(
            socket.clone(),
            relayed,
            self.cfg.allowed_peers.clone(),
            self.events_tx.clone(),
        ));
        self.relays.insert(
            relayed,
            Relay {
                socket,
                owner,
                reader,
                client_ip,
            },
        );
        tracing::debug!(%relayed, %client_ip, "TURN allocation");
        Ok(relayed)
    }

    /// Sends what a state machine produced: to a peer from a relay, or to a client.
    fn send(&mut self, t: Transmit<Vec<u8>>) {
        if let Some(relay) = self.relays.get(&t.from) {
            if !self.cfg.allowed_peers.contains(&t.to) {
                tracing::debug!(peer = %t.to, "TURN relay to a foreign address dropped");
                return;
            }
            let _ = relay.socket.try_send_to(&t.data, t.to);
            return;
        }
        match t.transport {
            TransportType::Udp => {
                if let Some(l) = &self.udp {
                    let _ = l.socket.try_send_to(&t.data, t.to);
                }
            }
            TransportType::Tcp => {
                if let Some(out) = self.tls_clients.get(&t.to)
                    && out.try_send(t.data).is_err()
                {
                    tracing::trace!(client = %t.to, "TURN TLS queue full; dropped");
                }
            }
        }
    }
}

async fn read_udp(socket: Arc<UdpSocket>, events: mpsc::Sender<Event>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from one peer surface here; they do not end the socket.
                tracing::trace!("TURN UDP recv: {e}");
                continue;
            }
        };
        let data = buf.get(..n).unwrap_or_default().to_vec();
        if events.send(Event::Udp { from, data }).await.is_err() {
            return;
        }
    }
}

async fn read_relay(
    socket: Arc<UdpSocket>,
    relayed: SocketAddr,
    allowed: Vec<SocketAddr>,
    events: mpsc::Sender<Event>,
) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if !allowed.contains(&peer) {
            continue;
        }
        let data = buf.get(..n).unwrap_or_default().to_vec();
        if events
            .send(Event::Relay {
                relayed,
                peer,
                data,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn accept_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    events: mpsc::Sender<Event>,
) {
    let slots = Arc::new(Semaphore::new(MAX_TLS_CONNECTIONS));
    loop {
        let (stream, client) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("TURN TLS accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if events.is_closed() {
            return;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let acceptor = acceptor.clone();
        let events = events.clone();
        tokio::spawn(async move {
            serve_tls(stream, client, acceptor, events).await;
            drop(slot);
        });
    }
}

async fn serve_tls(
    stream: TcpStream,
    client: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    events: mpsc::Sender<Event>,
) {
    let _ = stream.set_nodelay(true);
    let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%client, "TURN TLS handshake: {e}");
            return;
        }
        Err(_) => return,
    };
    let (mut reader, mut writer) = tokio::io::split(tls);
    let (out, mut queue) = mpsc::channel::<Vec<u8>>(TLS_OUT_QUEUE);
    if events.send(Event::TlsOpened { client, out }).await.is_err() {
        return;
    }
    let write = async {
        while let Some(mut msg) = queue.recv().await {
            // ChannelData over a stream is padded to four bytes (one write: one TLS record).
            if msg.first().is_some_and(|b| b >> 6 == 1) {
                msg.resize(msg.len().div_ceil(4) * 4, 0);
            }
            if writer.write_all(&msg).await.is_err() {
                return;
            }
        }
    };
    let read = async {
        let mut decoder = StreamDecoder::new(MAX_MESSAGE);
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            let n = match tokio::time::timeout(TLS_IDLE_TIMEOUT, reader.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                Ok(Ok(n)) => n,
            };
            decoder.extend(buf.get(..n).unwrap_or_default());
            loop {
                match decoder.next_message() {
                    Ok(Some(data)) => {
                        if events.send(Event::Tls { client, data }).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%client, "TURN TLS connection closed: {e}");
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
    let _ = events.send(Event::TlsClosed { client }).await;
}
