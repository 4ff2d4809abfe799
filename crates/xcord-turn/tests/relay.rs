//! The TURN server over real UDP sockets on loopback, driven by an independent TURN client
//! implementation (`turn-client-proto`): allocation with the SFU-style credentials, permission,
//! data both ways through the relay, the no-open-relay rule, expired and forged credentials,
//! and the per-IP allocation quota.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use turn_client_proto::api::{TurnConfig as ClientConfig, TurnEvent, TurnPollRet, TurnRecvRet};
use turn_client_proto::prelude::*;
use turn_client_proto::stun::agent::Transmit;
use turn_client_proto::stun::auth::Feature;
use turn_client_proto::types::{Instant, TransportType, TurnCredentials};
use turn_client_proto::udp::TurnClientUdp;
use xcord_turn::credentials::unix_now;
use xcord_turn::{CredentialSecret, TurnConfig};

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

struct Client {
    turn: TurnClientUdp,
    socket: UdpSocket,
    base: std::time::Instant,
    events: Vec<TurnEvent>,
    received: Vec<(SocketAddr, Vec<u8>)>,
}

impl Client {
    async fn allocate(server: SocketAddr, username: &str, password: &str) -> Self {
        let socket = UdpSocket::bind(SocketAddr::from((LOOPBACK, 0)))
            .await
            .unwrap();
        let local = socket.local_addr().unwrap();
        let mut config = ClientConfig::new(TurnCredentials::new(username, password));
        // Browsers send USERNAME; the server needs it to derive the password (a USERHASH
        // cannot be mapped back to an expiry and name).
        config.set_anonymous_username(Feature::Disabled);
        Self {
            turn: TurnClientUdp::allocate(local, server, config),
            socket,
            base: std::time::Instant::now(),
            events: Vec::new(),
            received: Vec::new(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_std(self.base)
    }

    /// Runs the client for `within`, or until `done` holds for an event it produced.
    async fn run_until(&mut self, within: Duration, done: impl Fn(&TurnEvent) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = vec![0u8; 2048];
        loop {
            let now = self.now();
            while let Some(t) = self.turn.poll_transmit(now) {
                self.socket.send_to(t.data.as_ref(), t.to).await.unwrap();
            }
            let wake = match self.turn.poll(now) {
                TurnPollRet::WaitUntil(at) => at,
                _ => now + Duration::from_millis(50),
            };
            while let Some(e) = self.turn.poll_event() {
                let hit = done(&e);
                self.events.push(e);
                if hit {
                    return true;
                }
            }
            let wait = tokio::time::Instant::from_std(wake.to_std(self.base))
                .min(deadline)
                .max(tokio::time::Instant::now() + Duration::from_millis(1));
            match tokio::time::timeout_at(wait, self.socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) => {
                    let local = self.socket.local_addr().unwrap();
                    let data = buf[..n].to_vec();
                    let t = Transmit::new(data, TransportType::Udp, from, local);
                    if let TurnRecvRet::PeerData(p) = self.turn.recv(t, self.now()) {
                        self.received.push((p.peer, p.data().to_vec()));
                    }
                }
                Ok(Err(e)) => panic!("client socket: {e}"),
                Err(_) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
        }
    }

    fn relayed(&self) -> Option<SocketAddr> {
        self.events.iter().find_map(|e| match e {
            TurnEvent::AllocationCreated(TransportType::Udp, addr) => Some(*addr),
            _ => None,
        })
    }

    async fn send(&mut self, to: SocketAddr, data: &[u8]) {
        let now = self.now();
        let t = self
            .turn
            .send_to(TransportType::Udp, to, data.to_vec(), now)
            .unwrap()
            .unwrap()
            .build();
        self.socket.send_to(&t.data, t.to).await.unwrap();
    }
}

struct Setup {
    server: SocketAddr,
    secret: CredentialSecret,
    /// Stands in for the SFU's media socket: the only allowed peer.
    sfu: UdpSocket,
}

async fn setup(per_ip: usize) -> Setup {
    let sfu = UdpSocket::bind(SocketAddr::from((LOOPBACK, 0)))
        .await
        .unwrap();
    let secret = CredentialSecret::random();
    let addrs = xcord_turn::start(TurnConfig {
        secret: secret.clone(),
        realm: "xcord.test".into(),
        udp_bind: Some(SocketAddr::from((LOOPBACK, 0))),
        tls: None,
        public_ip: LOOPBACK.into(),
        relay_bind_ip: LOOPBACK.into(),
        allowed_peers: vec![sfu.local_addr().unwrap()],
        max_allocations: 100,
        max_allocations_per_ip: per_ip,
    })
    .unwrap();
    Setup {
        server: addrs.udp.unwrap(),
        secret,
        sfu,
    }
}

async fn recv_within(socket: &UdpSocket, ms: u64) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 2048];
    let r = tokio::time::timeout(Duration::from_millis(ms), socket.recv_from(&mut buf)).await;
    r.ok().map(|r| {
        let (n, from) = r.unwrap();
        (buf[..n].to_vec(), from)
    })
}

const SETUP: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_client_with_issued_credentials_relays_to_the_sfu_and_back() {
    let s = setup(10).await;
    let creds = s.secret.issue("PA_one", unix_now() + 600);
    let mut c = Client::allocate(s.server, &creds.username, &creds.password).await;
    assert!(
        c.run_until(SETUP, |e| matches!(e, TurnEvent::AllocationCreated(..)))
            .await,
        "no allocation: {:?}",
        c.events
    );
    let relayed = c.relayed().unwrap();
    assert_eq!(relayed.ip(), std::net::IpAddr::from(LOOPBACK));

    let sfu_addr = s.sfu.local_addr().unwrap();
    let now = c.now();
    c.turn
        .create_permission(TransportType::Udp, sfu_addr.ip(), now)
        .unwrap();
    assert!(
        c.run_until(SETUP, |e| matches!(e, TurnEvent::PermissionCreated(..)))
            .await
    );

    c.send(sfu_addr, b"to the sfu").await;
    let (got, from) = recv_within(&s.sfu, 2000).await.expect("relayed datagram");
    assert_eq!((got.as_slice(), from), (&b"to the sfu"[..], relayed));

    s.sfu.send_to(b"to the client", relayed).await.unwrap();
    c.run_until(Duration::from_millis(500), |_| false).await;
    assert_eq!(c.received, vec![(sfu_addr, b"to the client".to_vec())]);
}

#[tokio::test]
async fn the_relay_talks_to_nobody_but_the_sfu() {
    let s = setup(10).await;
    // On the SFU's IP, so the client's permission covers it: only the address list stops it.
    let stranger = UdpSocket::bind(SocketAddr::from((LOOPBACK, 0)))
        .await
        .unwrap();
    let stranger_addr = stranger.local_addr().unwrap();
    let creds = s.secret.issue("PA_two", unix_now() + 600);
    let mut c = Client::allocate(s.server, &creds.username, &creds.password).await;
    assert!(
        c.run_until(SETUP, |e| matches!(e, TurnEvent::AllocationCreated(..)))
            .await
    );
    let relayed = c.relayed().unwrap();
    let now = c.now();
    c.turn
        .create_permission(TransportType::Udp, stranger_addr.ip(), now)
        .unwrap();
    assert!(
        c.run_until(SETUP, |e| matches!(e, TurnEvent::PermissionCreated(..)))
            .await
    );
    c.send(stranger_addr, b"out").await;
    assert!(
        recv_within(&stranger, 500).await.is_none(),
        "relayed to a stranger"
    );
    stranger.send_to(b"in", relayed).await.unwrap();
    c.run_until(Duration::from_millis(500), |_| false).await;
    assert!(c.received.is_empty(), "a stranger reached the client");

    // Positive control on the same allocation: the SFU's address still works.
    let sfu_addr = s.sfu.local_addr().unwrap();
    c.send(sfu_addr, b"ok").await;
    assert!(recv_within(&s.sfu, 2000).await.is_some());
}

#[tokio::test]
async fn expired_or_forged_credentials_get_no_allocation() {
    let s = setup(10).await;
    let expired = s.secret.issue("PA_old", unix_now() - 1);
    let forged = CredentialSecret::random().issue("PA_forged", unix_now() + 600);
    let current = s.secret.issue("PA_guess", unix_now() + 600);
    for (what, user, pass) in [
        (
            "expired",
            expired.username.as_str(),
            expired.password.as_str(),
        ),
        ("forged", forged.username.as_str(), forged.password.as_str()),
        ("wrong password", current.username.as_str(), "nope"),
    ] {
        let mut c = Client::allocate(s.server, user, pass).await;
        let created = c
            .run_until(Duration::from_millis(1500), |e| {
                matches!(e, TurnEvent::AllocationCreated(..))
            })
            .await;
        assert!(!created, "{what} credentials got an allocation");
    }
    // Positive control.
    let good = s.secret.issue("PA_new", unix_now() + 600);
    let mut c = Client::allocate(s.server, &good.username, &good.password).await;
    assert!(
        c.run_until(SETUP, |e| matches!(e, TurnEvent::AllocationCreated(..)))
            .await
    );
}

#[tokio::test]
async fn allocations_per_client_ip_are_capped() {
    let s = setup(2).await;
    let mut outcomes = Vec::new();
    let mut clients = Vec::new();
    for i in 0..3 {
        let creds = s.secret.issue(&format!("PA_{i}"), unix_now() + 600);
        let mut c = Client::allocate(s.server, &creds.username, &creds.password).await;
        c.run_until(SETUP, |e| {
            matches!(
                e,
                TurnEvent::AllocationCreated(..) | TurnEvent::AllocationCreateFailed(..)
            )
        })
        .await;
        outcomes.push(c.relayed().is_some());
        clients.push(c);
    }
    assert_eq!(outcomes, [true, true, false]);
}
