//! str0m peer connections: creating them (ICE-lite, RTP mode, our host candidates), routing
//! datagrams to them (by source address, or by STUN username for new addresses, read with str0m's
//! STUN parser), and draining their output into the socket and the engine's event handlers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use livekit_protocol as proto;
use str0m::ice::StunMessage;
use str0m::media::Mid;
use str0m::net::{Protocol, Receive};
use str0m::rtp::Ssrc;
use str0m::{Event, IceConnectionState, Input, Output, Rtc};

use super::{DownKey, Engine, ParticipantKey, PeerKey, TrackKey};

/// Which of a participant's two connections this is (protocol v0: dual peer connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Client offers, server answers; carries media and data from the client.
    Publisher,
    /// Server offers, client answers; carries media and data to the client.
    Subscriber,
}

pub struct Peer {
    pub rtc: Rtc,
    pub participant: ParticipantKey,
    pub role: Role,
    /// The Rtc's own next timeout.
    pub deadline: Instant,
    /// The deadline currently in the timer heap, if any.
    pub scheduled: Option<Instant>,
    /// Written to since the last drain.
    pub dirty: bool,
    pub ufrag: String,
    /// Local ufrags from ICE restarts (the newest last); all route to this peer until it goes.
    pub old_ufrags: Vec<String>,
    /// Remote (protocol, address) pairs routed to this peer.
    pub addrs: Vec<(Protocol, SocketAddr)>,
    /// Publisher: incoming SSRC → (track, layer index); `None` for SSRCs of no known track.
    pub ssrcs: HashMap<Ssrc, Option<(TrackKey, usize)>>,
    /// Subscriber: m-line → subscription.
    pub mids: HashMap<Mid, DownKey>,
    /// Publisher: m-lines whose track the server unpublished while the client still sends on
    /// them; ignored until the client stops sending there (then the m-line may be reused).
    pub retired_mids: Vec<Mid>,
    pub connected: bool,
    /// Bytes received from the client as of the last statistics (for connection quality).
    pub bytes_rx: u64,
    /// RTCP feedback counted so far (for the NACK/PLI/FIR metrics).
    pub rtcp: crate::metrics::RtcpTally,
    /// Its downlink estimate (connections that carry subscriptions).
    pub bwe: super::bwe::PeerBwe,
}

impl Engine {
    pub(super) fn new_peer(
        &mut self,
        participant: ParticipantKey,
        role: Role,
        now: Instant,
    ) -> PeerKey {
        // Connections that send media estimate their downlink (TWCC), when configured; see
        // `bwe`.
        let sends = role == Role::Subscriber
            || self
                .participants
                .get(participant)
                .is_some_and(|p| p.single_pc.is_some());
        let estimate = self.cfg.bandwidth_estimation && sends;
        // Opus with RED (RFC 2198): kept in answers and offered to subscribers; str0m keeps it
        // on a connection only if the client's side lists `audio/red` too.
        let mut rtc = Rtc::builder()
            .enable_opus(true, true)
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .set_stats_interval(Some(super::quality::STATS_INTERVAL))
            .enable_bwe(estimate.then_some(super::bwe::INITIAL_ESTIMATE))
            .build(now);
        for c in &self.candidates {
            rtc.add_local_candidate(c.clone());
        }
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        let peer_key = self.peers.insert(Peer {
            rtc,
            participant,
            role,
            deadline: now,
            scheduled: None,
            dirty: false,
            ufrag: ufrag.clone(),
            old_ufrags: Vec::new(),
            addrs: Vec::new(),
            ssrcs: HashMap::new(),
            mids: HashMap::new(),
            retired_mids: Vec::new(),
            connected: false,
            bytes_rx: 0,
            rtcp: Default::default(),
            bwe: Default::default(),
        });
        self.by_ufrag.insert(ufrag, peer_key);
        peer_key
    }

    /// Routes the peer's current local ufrag to it: after accepting an offer that restarted
    /// ICE, str0m answers with new credentials, and the client's checks use them at once.
    pub(super) fn learn_local_ufrag(&mut self, peer_key: PeerKey) {
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        let ufrag = peer.rtc.direct_api().local_ice_credentials().ufrag;
        if ufrag != peer.ufrag && !peer.old_ufrags.contains(&ufrag) {
            peer.old_ufrags.push(ufrag.clone());
            self.by_ufrag.insert(ufrag, peer_key);
        }
    }

    pub(super) fn remove_peer(&mut self, peer_key: PeerKey) {
        let Some(mut peer) = self.peers.remove(peer_key) else {
            return;
        };
        peer.rtc.disconnect();
        self.by_ufrag.remove(&peer.ufrag);
        for u in &peer.old_ufrags {
            self.by_ufrag.remove(u);
        }
        for a in &peer.addrs {
            if self.by_addr.get(a) == Some(&peer_key) {
                self.by_addr.remove(a);
            }
        }
    }

    /// Routes one datagram to its peer and drains that peer.
    pub(super) fn on_datagram(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        let stun = parse_stun(data);
        let peer_key = match stun.as_ref().and_then(|m| m.split_username()) {
            // USERNAME is `ours:theirs`; ours is the ufrag of the peer it is addressed to.
            Some((local_ufrag, _)) => {
                let Some(peer_key) = self.by_ufrag.get(local_ufrag).copied() else {
                    return;
                };
                if self.by_addr.insert((proto, source), peer_key) != Some(peer_key)
                    && let Some(peer) = self.peers.get_mut(peer_key)
                {
                    peer.addrs.push((proto, source));
                }
                peer_key
            }
            None => match self.by_addr.get(&(proto, source)) {
                Some(peer_key) => *peer_key,
                None => return,
            },
        };
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        if let Err(e) = peer.rtc.handle_input(input) {
            tracing::debug!("peer input: {e}");
        }
        self.drain(peer_key, now);
    }

    /// Polls a peer until it only has a timeout left, sending its datagrams and handling its
    /// events.
    pub(super) fn drain(&mut self, peer_key: PeerKey, now: Instant) {
        loop {
            let Some(peer) = self.peers.get_mut(peer_key) else {
                return;
            };
            match peer.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    self.outbox.push_back(t);
                }
                Ok(Output::Timeout(at)) => {
                    let at = super::bwe::floor_timeout(at, now, peer.rtc.last_timeout_reason());
                    peer.deadline = at;
                    if peer.scheduled.is_none_or(|s| at < s) {
                        peer.scheduled = Some(at);
                        self.timers.schedule(peer_key, at);
                    }
                    return;
                }
                Ok(Output::Event(e)) => self.on_peer_event(peer_key, e, now),
                Err(e) => {
                    let participant = peer.participant;
                    tracing::warn!("peer connection failed: {e}");
                    self.remove_participant(
                        participant,
                        proto::DisconnectReason::MediaFailure,
                        None,
                    );
                    return;
                }
            }
        }
    }

    fn on_peer_event(&mut self, peer_key: PeerKey, event: Event, now: Instant) {
        match event {
            Event::RtpPacket(pkt) => self.on_rtp(peer_key, pkt, now),
            Event::KeyframeRequest(req) => {
                self.on_keyframe_request(peer_key, req.mid, req.kind, now)
            }
            Event::ChannelOpen(id, label) => self.on_channel_open(peer_key, id, &label),
            Event::ChannelData(data) => self.on_channel_data(peer_key, data.id, &data.data),
            Event::ChannelClose(id) => self.on_channel_close(peer_key, id),
            Event::Connected => self.on_peer_connected(peer_key),
            Event::PeerStats(stats) => {
                self.on_peer_stats(peer_key, &stats);
                self.on_bandwidth_tick(peer_key, &stats, now);
            }
            Event::EgressBitrateEstimate(kind) => self.on_bandwidth_estimate(peer_key, kind, now),
            Event::MediaEgressStats(s) => {
                if let Some(peer) = self.peers.get_mut(peer_key) {
                    peer.rtcp.egress(&s);
                }
            }
            Event::MediaIngressStats(s) => {
                if let Some(peer) = self.peers.get_mut(peer_key) {
                    peer.rtcp.ingress(&s);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                tracing::debug!("peer ICE disconnected");
            }
            _ => {}
        }
    }

    /// Feeds a connected peer's statistics to its participant's connection quality.
    fn on_peer_stats(&mut self, peer_key: PeerKey, stats: &str0m::stats::PeerStats) {
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        if !peer.connected {
            return;
        }
        let receiving = stats.peer_bytes_rx > peer.bytes_rx;
        peer.bytes_rx = stats.peer_bytes_rx;
        let loss = stats
            .egress_loss_fraction
            .unwrap_or(0.0)
            .max(stats.ingress_loss_fraction.unwrap_or(0.0));
        if let Some(p) = self.participants.get_mut(peer.participant) {
            p.quality.observe(super::quality::Sample {
                loss,
                rtt: stats.rtt,
                receiving,
            });
        }
    }

    fn on_peer_connected(&mut self, peer_key: PeerKey) {
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        peer.connected = true;
        let (participant, role) = (peer.participant, peer.role);
        let Some(p) = self.participants.get_mut(participant) else {
            return;
        };
        let primary = if p.subscriber_primary() {
            Role::Subscriber
        } else {
            Role::Publisher
        };
        tracing::debug!(participant = %p.sid, ?role, "peer connected");
        if role == primary && p.state != proto::participant_info::State::Active {
            p.state = proto::participant_info::State::Active;
            let elapsed = self.now.saturating_duration_since(p.joined);
            crate::metrics::record_join_latency(elapsed);
            tracing::info!(room = %p.room, participant = %p.sid, identity = %p.identity, elapsed_ms = elapsed.as_millis() as u64, "participant active");
            let room = p.room.clone();
            self.broadcast_participant(participant);
            let info = self
                .participants
                .get(participant)
                .map(|p| p.info(&self.tracks));
            self.emit(crate::events::names::PARTICIPANT_JOINED, &room, info, None);
        }
        if role == Role::Subscriber {
            self.flush_pending_data(participant);
        }
    }
}

/// `data` as a STUN message, if it is one. Only datagrams whose first byte is 0..=3 are parsed:
/// RTP/RTCP (128..=191) and DTLS (20..=63) never are (RFC 7983 demultiplexing).
fn parse_stun(data: &[u8]) -> Option<StunMessage<'_>> {
    match data.first() {
        Some(0..=3) => StunMessage::parse(data).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_stun;
    use str0m::ice::{StunMessage, TransId};

    /// A binding request as a browser sends it (USERNAME, PRIORITY, ICE-CONTROLLING,
    /// USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT). The integrity value is not checked here.
    fn binding_request(username: &str) -> Vec<u8> {
        let msg = StunMessage::binding_request(username, TransId::new(), true, 7, 1234, true);
        let mut buf = vec![0; 512];
        let len = msg
            .to_bytes(Some(b"password"), &mut buf, |_, _| [0; 20])
            .unwrap();
        buf.truncate(len);
        buf
    }

    #[test]
    fn reads_both_halves_of_the_username() {
        let req = binding_request("local:remote");
        let msg = parse_stun(&req).unwrap();
        assert!(msg.is_binding_request());
        assert_eq!(msg.split_username(), Some(("local", "remote")));
    }

    #[test]
    fn anything_else_is_not_stun() {
        let req = binding_request("local:remote");
        for cut in 0..req.len() {
            assert!(
                parse_stun(&req[..cut]).is_none(),
                "truncated to {cut} bytes"
            );
        }
        let mut rtp = req.clone();
        rtp[0] = 0x80;
        assert!(parse_stun(&rtp).is_none());
        assert!(parse_stun(&[0x80, 0, 0, 0]).is_none());
        assert!(parse_stun(&[0; 20]).is_none());
        let mut bad_length = req.clone();
        bad_length[3] = bad_length[3].wrapping_add(4);
        assert!(parse_stun(&bad_length).is_none());
    }

    #[test]
    fn corrupted_requests_never_panic() {
        let req = binding_request("local:remote");
        for i in 0..req.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = req.clone();
                bad[i] ^= flip;
                let _ = parse_stun(&bad).map(|m| m.split_username().is_some());
            }
        }
    }
}
