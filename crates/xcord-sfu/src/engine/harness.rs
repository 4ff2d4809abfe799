//! `TestSfu`: the engine driven in-process on virtual time, with str0m client peers standing in
//! for LiveKit SDKs (protocol v0: a publisher and a subscriber connection per client). The
//! harness owns the clock and the "network": it moves every datagram between the clients and
//! the engine itself, can drop any of them, and advances time only when asked — a test of
//! several seconds of media runs in milliseconds of wall time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::sync::mpsc;

use super::{Command, Engine, Outbound, ParticipantKey, ResumeError, ResumeRequest, SignalKey};
use crate::auth::KeyStore;
use crate::config::SfuConfig;
use crate::events::EventBus;

/// The engine's media address in the virtual network.
pub const SFU_IP: &str = "10.0.0.1";
const SFU_PORT: u16 = 7882;
/// How far time moves per step when nothing is due sooner.
const TICK: Duration = Duration::from_millis(1);

/// Index of a client in [`TestSfu::clients`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientId(pub usize);

/// One side of a client: a str0m peer connection at its own address.
pub struct ClientPeer {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pending: Option<SdpPendingOffer>,
    pub connected: bool,
}

impl ClientPeer {
    /// A peer with str0m's default codecs; with Opus RED (`audio/red`) too if `red`.
    fn new(addr: SocketAddr, now: Instant, red: bool) -> Self {
        let mut rtc = Rtc::builder()
            .enable_opus(true, red)
            .set_rtp_mode(true)
            .build(now);
        if let Ok(c) = Candidate::host(addr, Protocol::Udp) {
            rtc.add_local_candidate(c);
        }
        Self {
            rtc,
            addr,
            pending: None,
            connected: false,
        }
    }
}

/// A received RTP packet, as the subscriber saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub seq_no: SeqNo,
    pub pt: u8,
    pub rtp_time: u32,
    pub payload: Arc<[u8]>,
}

/// A simulated LiveKit client.
pub struct Client {
    pub participant: ParticipantKey,
    room: String,
    identity: String,
    /// The epoch of the client's current signal connection.
    epoch: u32,
    signal: mpsc::Receiver<Outbound>,
    pub publisher: ClientPeer,
    pub subscriber: ClientPeer,
    /// Every signal message the server sent, in order.
    pub signals: Vec<Resp>,
    /// RTP received on the subscriber connection.
    pub received: Vec<Received>,
    /// (SSRC, sequence number) of every RTP datagram the engine sent to the subscriber
    /// connection, read from the clear SRTP header, in sending order.
    pub wire: Vec<(u32, u16)>,
    /// Keyframe requests received on the publisher connection.
    pub keyframe_requests: Vec<(Mid, KeyframeRequestKind)>,
    /// The server closed the signal connection.
    pub closed: bool,
    /// Publisher m-line of each track cid.
    pub mids: HashMap<String, Mid>,
}

impl Client {
    /// The sid the server gave the track with client id `cid`.
    pub fn track_sid(&self, cid: &str) -> Option<String> {
        self.signals.iter().find_map(|m| match m {
            Resp::TrackPublished(t) if t.cid == cid => t.track.as_ref().map(|t| t.sid.clone()),
            _ => None,
        })
    }
}

/// Which datagrams the network loses: `(from, to, bytes)` → drop.
pub type LossFn = Box<dyn FnMut(SocketAddr, SocketAddr, &[u8]) -> bool>;

pub struct TestSfu {
    pub engine: Engine,
    pub now: Instant,
    pub sfu_addr: SocketAddr,
    pub clients: Vec<Client>,
    pub loss: Option<LossFn>,
    /// Poll a client peer after every datagram the engine sends it. str0m in RTP mode holds one
    /// received packet until polled, so without this a client that gets several packets in one
    /// step sees only the last (as before; `simulcast_switches_layers_only_at_a_keyframe` relies
    /// on it). Tests that count every packet (RED: a restored packet and the current one go out
    /// together) turn it on.
    pub deliver_every_packet: bool,
}

impl TestSfu {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(configure: impl FnOnce(&mut SfuConfig)) -> Self {
        let ip = SFU_IP
            .parse()
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
        let mut cfg = SfuConfig::new(KeyStore::default(), vec![ip]);
        configure(&mut cfg);
        let start = Instant::now();
        let engine = Engine::new(
            Arc::new(cfg),
            super::MediaPorts {
                udp: SFU_PORT,
                tcp: None,
            },
            EventBus::default(),
            start,
        );
        Self {
            engine,
            now: start,
            sfu_addr: SocketAddr::new(ip, SFU_PORT),
            clients: Vec::new(),
            loss: None,
            deliver_every_packet: false,
        }
    }

    pub fn client(&self, id: ClientId) -> &Client {
        &self.clients[id.0]
    }

    pub fn client_mut(&mut self, id: ClientId) -> &mut Client {
        &mut self.clients[id.0]
    }

    /// Joins `identity` to `room` with default grants (publish and subscribe).
    pub fn join(&mut self, room: &str, identity: &str) -> ClientId {
        self.join_with_codecs(room, identity, false)
    }

    /// Joins like [`Self::join`], a client whose peers offer and accept Opus RED if `red`.
    pub fn join_with_codecs(&mut self, room: &str, identity: &str, red: bool) -> ClientId {
        self.engine.advance(self.now);
        let (participant, signal) = super::testing::join(&mut self.engine, room, identity);
        let n = self.clients.len() as u8;
        let ip = std::net::Ipv4Addr::new(10, 0, 1, 10 + n);
        let client = Client {
            participant,
            room: room.to_owned(),
            identity: identity.to_owned(),
            epoch: 0,
            signal,
            publisher: ClientPeer::new(SocketAddr::new(ip.into(), 5000), self.now, red),
            subscriber: ClientPeer::new(SocketAddr::new(ip.into(), 5001), self.now, red),
            signals: Vec::new(),
            received: Vec::new(),
            wire: Vec::new(),
            keyframe_requests: Vec::new(),
            closed: false,
            mids: HashMap::new(),
        };
        self.clients.push(client);
        let id = ClientId(self.clients.len() - 1);
        self.step();
        id
    }

    /// The client's signal connection breaks without `leave`; the engine hears of it as the
    /// signal task would tell it.
    pub fn break_signal(&mut self, id: ClientId) {
        let client = &mut self.clients[id.0];
        let key = SignalKey {
            participant: client.participant,
            epoch: client.epoch,
        };
        client.signal = mpsc::channel(1).1;
        let reason = proto::DisconnectReason::SignalClose;
        self.engine
            .handle_command(self.now, Command::Disconnected(key, reason));
        self.step();
    }

    /// The client reconnects its signal connection with `reconnect=1` and its sid.
    pub fn resume(&mut self, id: ClientId) -> Result<(), ResumeError> {
        let client = &mut self.clients[id.0];
        let (out, rx) = mpsc::channel(64);
        let sid = self
            .engine
            .participants
            .get(client.participant)
            .map(|p| p.sid.clone());
        let request = ResumeRequest {
            grant: super::testing::grant(&client.room, &client.identity),
            sid,
            out,
        };
        self.engine.advance(self.now);
        let joined = self.engine.resume(request)?;
        let client = &mut self.clients[id.0];
        client.signal = rx;
        client.epoch = joined.epoch;
        client.participant = joined.participant;
        self.step();
        Ok(())
    }

    /// A room where "alice" publishes one track (`cid`, simulcast over `layers` if any) and
    /// "bob" subscribes to it, both connected: `(harness, alice, bob, alice's m-line)`.
    pub fn publisher_and_subscriber(
        cid: &str,
        kind: MediaKind,
        layers: &[&str],
    ) -> (Self, ClientId, ClientId, Mid) {
        Self::new().with_publisher_and_subscriber(cid, kind, layers)
    }

    /// [`TestSfu::publisher_and_subscriber`] on this harness.
    pub fn with_publisher_and_subscriber(
        self,
        cid: &str,
        kind: MediaKind,
        layers: &[&str],
    ) -> (Self, ClientId, ClientId, Mid) {
        let mut sfu = self;
        let alice = sfu.join("room", "alice");
        let mid = sfu.publish(alice, cid, kind, layers);
        let bob = sfu.join("room", "bob");
        let connected = sfu.run_until_or(Duration::from_secs(2), |s| {
            s.client(alice).publisher.connected && s.client(bob).subscriber.connected
        });
        assert!(connected, "publisher and subscriber connect");
        (sfu, alice, bob, mid)
    }

    /// Fixes the engine's downlink estimate for a client's subscriber connection (`None`: the
    /// network's own estimate again).
    pub fn pin_estimate(&mut self, id: ClientId, bps: Option<u64>) {
        let participant = self.clients[id.0].participant;
        let Some(peer) = self
            .engine
            .participants
            .get(participant)
            .and_then(|p| p.subscriber)
        else {
            panic!("client {id:?} has no subscriber connection");
        };
        self.engine.advance(self.now);
        self.engine.pin_estimate(peer, bps, self.now);
        self.step();
    }

    /// Sends a signal request from a client, as its signal connection would.
    pub fn signal(&mut self, id: ClientId, msg: Req) {
        let participant = self.clients[id.0].participant;
        self.engine
            .handle_command(self.now, Command::Signal(participant, Box::new(msg)));
    }

    /// Publishes a track: AddTrack, then an offer with a send-only m-line named `cid`, then the
    /// server's answer. `layers` are simulcast rids (video only; empty for none). Video is a
    /// camera, audio a microphone.
    pub fn publish(&mut self, id: ClientId, cid: &str, kind: MediaKind, layers: &[&str]) -> Mid {
        let source = match kind {
            MediaKind::Audio => proto::TrackSource::Microphone,
            MediaKind::Video => proto::TrackSource::Camera,
        };
        self.publish_source(id, cid, kind, source, layers)
    }

    /// [`publish`](Self::publish) with the track's declared source (a screen share...).
    pub fn publish_source(
        &mut self,
        id: ClientId,
        cid: &str,
        kind: MediaKind,
        source: proto::TrackSource,
        layers: &[&str],
    ) -> Mid {
        let r#type = match kind {
            MediaKind::Audio => proto::TrackType::Audio,
            MediaKind::Video => proto::TrackType::Video,
        };
        self.signal(
            id,
            Req::AddTrack(proto::AddTrackRequest {
                cid: cid.into(),
                name: cid.into(),
                r#type: r#type as i32,
                source: source as i32,
                width: 1280,
                height: 720,
                layers: layers
                    .iter()
                    .enumerate()
                    .map(|(i, _)| proto::VideoLayer {
                        quality: i as i32,
                        width: 320 << i,
                        height: 180 << i,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        );
        self.step();
        let client = &mut self.clients[id.0];
        let simulcast = (!layers.is_empty()).then(|| {
            let mut s = Simulcast::new();
            for rid in layers {
                s.add_send_layer(SimulcastLayer::new(rid));
            }
            s
        });
        let mut api = client.publisher.rtc.sdp_api();
        let mid = api.add_media(
            kind,
            Direction::SendOnly,
            Some("stream".into()),
            Some(cid.into()),
            simulcast,
        );
        client.mids.insert(cid.into(), mid);
        let Some((offer, pending)) = api.apply() else {
            panic!("no offer for a new m-line");
        };
        client.publisher.pending = Some(pending);
        let sdp = offer.to_sdp_string();
        self.signal(
            id,
            Req::Offer(proto::SessionDescription {
                r#type: "offer".into(),
                sdp,
                ..Default::default()
            }),
        );
        self.step();
        mid
    }

    /// Writes one RTP packet on a published m-line (rid for a simulcast layer).
    #[allow(clippy::too_many_arguments)]
    pub fn write_rtp(
        &mut self,
        id: ClientId,
        mid: Mid,
        rid: Option<&str>,
        seq: u64,
        rtp_time: u32,
        marker: bool,
        payload: &[u8],
    ) {
        let now = self.now;
        let peer = &mut self.clients[id.0].publisher;
        let Some(pt) = peer
            .rtc
            .media(mid)
            .and_then(|m| m.remote_pts().first().copied())
        else {
            panic!("m-line {mid} has no negotiated payload type");
        };
        let mut api = peer.rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, rid.map(Into::into)) else {
            panic!("no send stream for {mid} {rid:?}");
        };
        let write = RtpWrite::new(pt, seq.into(), rtp_time, now, payload.to_vec())
            .marker(marker)
            .nackable(true);
        stream.write_rtp(write);
    }

    /// Moves every datagram and signal message that is ready, without advancing time.
    pub fn step(&mut self) {
        for _ in 0..64 {
            let mut moved = self.pump_clients();
            self.engine.handle_timeout(self.now);
            self.engine.flush(self.now);
            moved |= self.pump_engine();
            moved |= self.pump_signals();
            if !moved {
                return;
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until, |_| false);
    }

    /// Runs until `done` holds or `limit` of virtual time has passed; whether it held.
    pub fn run_until_or(&mut self, limit: Duration, done: impl FnMut(&Self) -> bool) -> bool {
        let until = self.now + limit;
        self.run_until(until, done)
    }

    fn run_until(&mut self, until: Instant, mut done: impl FnMut(&Self) -> bool) -> bool {
        loop {
            self.step();
            if done(self) {
                return true;
            }
            if self.now >= until {
                return false;
            }
            let next = self.engine.next_deadline().min(self.now + TICK).min(until);
            self.now = next.max(self.now + Duration::from_micros(100)).min(until);
        }
    }

    fn lost(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) -> bool {
        self.loss.as_mut().is_some_and(|f| f(from, to, data))
    }

    /// Polls every client peer; sends their datagrams to the engine.
    fn pump_clients(&mut self) -> bool {
        let out = self.poll_clients();
        let moved = !out.is_empty();
        for (from, to, data) in out {
            if to == self.sfu_addr && !self.lost(from, to, &data) {
                self.engine.handle_datagram(self.now, from, to, &data);
            }
        }
        moved
    }

    /// Polls every client peer at the current instant and returns the datagrams they sent
    /// (`(from, to, bytes)`), handling their events.
    pub fn poll_clients(&mut self) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        let now = self.now;
        for client in &mut self.clients {
            let _ = client.publisher.rtc.handle_input(Input::Timeout(now));
            poll_peer(client, false, &mut out);
            let _ = client.subscriber.rtc.handle_input(Input::Timeout(now));
            poll_peer(client, true, &mut out);
        }
        out
    }

    /// Delivers the engine's datagrams to the client peers they are addressed to (polling each
    /// peer after each datagram if `deliver_every_packet`).
    fn pump_engine(&mut self) -> bool {
        let mut moved = false;
        let now = self.now;
        let mut replies = Vec::new();
        while let Some(t) = self.engine.poll_transmit() {
            moved = true;
            if self.lost(t.source, t.destination, &t.contents) {
                continue;
            }
            let Some((client, is_sub)) = self.clients.iter_mut().find_map(|c| {
                if c.publisher.addr == t.destination {
                    Some((c, false))
                } else if c.subscriber.addr == t.destination {
                    if let Some(header) = rtp_header(&t.contents) {
                        c.wire.push(header);
                    }
                    Some((c, true))
                } else {
                    None
                }
            }) else {
                continue;
            };
            let bytes: &[u8] = &t.contents;
            let Ok(contents) = bytes.try_into() else {
                continue;
            };
            let input = Input::Receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source: t.source,
                    destination: t.destination,
                    contents,
                },
            );
            let peer = if is_sub {
                &mut client.subscriber
            } else {
                &mut client.publisher
            };
            let _ = peer.rtc.handle_input(input);
            if self.deliver_every_packet {
                poll_peer(client, is_sub, &mut replies);
            }
        }
        for (from, to, data) in replies {
            if to == self.sfu_addr && !self.lost(from, to, &data) {
                self.engine.handle_datagram(self.now, from, to, &data);
            }
        }
        moved
    }

    /// Handles the signal messages the engine sent: answers subscriber offers, applies
    /// publisher answers, records everything.
    pub fn pump_signals(&mut self) -> bool {
        let mut requests = Vec::new();
        let mut moved = false;
        for (i, client) in self.clients.iter_mut().enumerate() {
            while let Ok(out) = client.signal.try_recv() {
                moved = true;
                let msg = match out {
                    Outbound::Signal(resp) => match resp.message {
                        Some(m) => m,
                        None => continue,
                    },
                    Outbound::Close => {
                        client.closed = true;
                        continue;
                    }
                    Outbound::Grants(_) => continue,
                };
                match &msg {
                    Resp::Offer(sd) => {
                        let offer = SdpOffer::from_sdp_string(&sd.sdp).expect("server offer");
                        let answer = client
                            .subscriber
                            .rtc
                            .sdp_api()
                            .accept_offer(offer)
                            .expect("accept server offer");
                        requests.push((
                            i,
                            Req::Answer(proto::SessionDescription {
                                r#type: "answer".into(),
                                sdp: answer.to_sdp_string(),
                                id: sd.id,
                                ..Default::default()
                            }),
                        ));
                    }
                    Resp::Answer(sd) => {
                        let answer = SdpAnswer::from_sdp_string(&sd.sdp).expect("server answer");
                        if let Some(pending) = client.publisher.pending.take() {
                            client
                                .publisher
                                .rtc
                                .sdp_api()
                                .accept_answer(pending, answer)
                                .expect("accept server answer");
                        }
                    }
                    _ => {}
                }
                client.signals.push(msg);
            }
        }
        for (i, msg) in requests {
            self.signal(ClientId(i), msg);
        }
        moved
    }
}

/// Polls one of a client's peers until it only has a timeout left: its datagrams go to `out`,
/// its events into the client's records.
fn poll_peer(client: &mut Client, is_sub: bool, out: &mut Vec<(SocketAddr, SocketAddr, Vec<u8>)>) {
    let peer = if is_sub {
        &mut client.subscriber
    } else {
        &mut client.publisher
    };
    loop {
        match peer.rtc.poll_output() {
            Ok(Output::Transmit(t)) => out.push((t.source, t.destination, t.contents.to_vec())),
            Ok(Output::Timeout(_)) => break,
            Ok(Output::Event(e)) => match e {
                Event::Connected => peer.connected = true,
                Event::RtpPacket(pkt) if is_sub => client.received.push(received(&pkt)),
                Event::KeyframeRequest(r) if !is_sub => {
                    client.keyframe_requests.push((r.mid, r.kind))
                }
                _ => {}
            },
            Err(e) => panic!("client peer failed: {e}"),
        }
    }
}

/// (SSRC, sequence number) of an (S)RTP datagram; `None` for RTCP, DTLS, STUN (RFC 7983).
fn rtp_header(d: &[u8]) -> Option<(u32, u16)> {
    let (first, second) = (*d.first()?, *d.get(1)?);
    if !(128..=191).contains(&first) || (192..=223).contains(&second) {
        return None;
    }
    let seq = u16::from_be_bytes([*d.get(2)?, *d.get(3)?]);
    let ssrc = u32::from_be_bytes([*d.get(8)?, *d.get(9)?, *d.get(10)?, *d.get(11)?]);
    Some((ssrc, seq))
}

fn received(pkt: &RtpPacket) -> Received {
    Received {
        seq_no: pkt.seq_no,
        pt: *pkt.header.payload_type,
        rtp_time: pkt.header.timestamp,
        payload: pkt.payload.clone(),
    }
}
