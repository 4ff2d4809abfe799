//! Entry points for cargo-fuzz (the `fuzz/` crate, feature `fuzzing`). Each takes arbitrary bytes
//! the way a client's reach the engine and drives the engine's handlers directly (not under
//! `isolated`, so a panic surfaces as a crash). None may ever panic.

use std::net::SocketAddr;
use std::time::Duration;

use livekit_protocol as proto;
use prost::Message as _;

use super::testing::{engine, join};
use super::{Engine, ParticipantKey};
#[cfg(feature = "fuzzing")]
pub use crate::twirp_fuzzing::twirp_request;

/// Splits `data` into frames, each prefixed by its length (one byte).
fn frames(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (&len, rest) = data.split_first()?;
        let n = usize::from(len).min(rest.len());
        let (frame, rest) = rest.split_at(n);
        data = rest;
        Some(frame)
    })
}

/// Two participants in a room; the fuzzed one first.
fn room() -> (Engine, ParticipantKey, ParticipantKey) {
    let mut e = engine();
    let (a, _) = join(&mut e, "room", "fuzzed");
    let (b, _) = join(&mut e, "room", "other");
    (e, a, b)
}

/// Signal requests: length-prefixed `SignalRequest` protobufs from one participant, in order.
pub fn signal_requests(data: &[u8]) {
    let (mut e, a, b) = room();
    for frame in frames(data) {
        if let Ok(proto::SignalRequest { message: Some(msg) }) = proto::SignalRequest::decode(frame)
        {
            e.on_signal(a, msg);
            let now = e.now + Duration::from_millis(5);
            e.flush(now);
            while e.poll_transmit().is_some() {}
        }
    }
    assert!(
        e.participants.contains_key(b),
        "the other participant survives"
    );
}

/// Datagrams from an address already routed to the fuzzed participant's publisher connection
/// (length-prefixed), reaching str0m's ICE, DTLS, RTP and RTCP parsing through the engine.
pub fn datagrams(data: &[u8]) {
    let (mut e, a, b) = room();
    e.on_signal(
        a,
        proto::signal_request::Message::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp: super::sample_offer::OFFER.into(),
            id: 1,
            ..Default::default()
        }),
    );
    let Some(peer) = e.participants.get(a).and_then(|p| p.publisher) else {
        return;
    };
    let source = SocketAddr::from(([10, 0, 0, 9], 5000));
    let destination = SocketAddr::from(([127, 0, 0, 1], 7882));
    e.by_addr.insert((str0m::net::Protocol::Udp, source), peer);
    for frame in frames(data) {
        let now = e.now + Duration::from_millis(1);
        e.handle_datagram(now, source, destination, frame);
        e.flush(now);
        while e.poll_transmit().is_some() {}
    }
    assert!(
        e.participants.contains_key(b),
        "the other participant survives"
    );
}

/// SDP text as a publisher offer's sections are read.
pub fn sdp(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = super::sdp::media_sections(text);
    }
}

/// A RED (RFC 2198) payload: the first 16 bytes pick the sequence number, timestamp and how
/// many packets went missing before it; the rest is parsed and reduced to plain packets.
pub fn red(data: &[u8]) {
    use super::red;
    let word = |i: usize| {
        let mut b = [0u8; 8];
        if let Some(s) = data.get(i..i + 8) {
            b.copy_from_slice(s);
        }
        u64::from_le_bytes(b)
    };
    let (seq, ts, missing) = (word(0), word(8) as u32, word(8) >> 32);
    let payload = data.get(16..).unwrap_or_default();
    if let Ok(r) = red::parse(payload) {
        let _ = r.primary();
        let _ = r.redundant().count();
        for d in 0..=red::MAX_REDUNDANT_BLOCKS + 1 {
            let _ = r.earlier(d);
        }
        red::reduce(&r, seq, ts, missing, |_| {});
    }
    let _ = red::with_block_pt(payload, 111);
}

#[cfg(test)]
mod tests {
    /// The entry points run on plain inputs (the fuzzer explores from here).
    #[test]
    fn entry_points_take_ordinary_input() {
        let ping = livekit_protocol::SignalRequest {
            message: Some(livekit_protocol::signal_request::Message::Ping(1)),
        };
        let bytes = prost::Message::encode_to_vec(&ping);
        let mut framed = vec![bytes.len() as u8];
        framed.extend_from_slice(&bytes);
        super::signal_requests(&framed);
        super::datagrams(&[4, 0, 1, 0, 0, 3, 0x80, 0, 1]);
        super::sdp(super::super::sample_offer::OFFER.as_bytes());
        super::red(&[0; 24]);
    }
}
