//! LiveKit signal protocol v1 over HTTP: `/rtc/v1` (WebSocket, one peer connection per
//! participant) and `/rtc/v1/validate`. Owns decoding the `join_request` query parameter
//! (base64 of a `WrappedJoinRequest`, its `JoinRequest` possibly gzipped) and turning it into an
//! engine join followed by the requests it carries (AddTrack requests, the publisher offer).
//! With v1 turned off both paths answer 404, which sends every SDK back to v0 (`/rtc`).
//!
//! Also records which protocol each join used ([`record_join`]): an info log with a `protocol`
//! field and the `xcord_sfu_joins_total{protocol}` counter.

use std::io::Read;

use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Req;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{SignalState, admit, authorize, not_found, plain, session};
use crate::engine::{JoinRequest, ResumeRequest, SIGNAL_QUEUE};

/// The largest join request accepted, decoded and (when gzipped) inflated, as the reference
/// server caps it.
pub const MAX_JOIN_REQUEST: usize = 1024 * 1024;

/// Which signal protocol a join used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalProtocol {
    /// `/rtc`: two peer connections.
    V0,
    /// `/rtc/v1`: one peer connection.
    V1,
}

impl SignalProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalProtocol::V0 => "v0",
            SignalProtocol::V1 => "v1",
        }
    }
}

/// Name of the counter of joins by protocol (label `protocol` = `v0` | `v1`).
pub const JOINS_TOTAL: &str = "xcord_sfu_joins_total";

/// Records an admitted join: the `participant joined over signal` log line (tests read its
/// `protocol` field) and the joins counter.
pub fn record_join(protocol: SignalProtocol, room: &str, sid: &str, identity: &str) {
    tracing::info!(
        protocol = protocol.as_str(),
        room = %room,
        participant = %sid,
        identity = %identity,
        "participant joined over signal"
    );
    metrics::counter!(JOINS_TOTAL, "protocol" => protocol.as_str()).increment(1);
}

/// Why a `join_request` parameter was refused (each is a 400 with this text).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoinRequestError {
    #[error("join_request is required")]
    Missing,
    #[error("join_request is not valid base64")]
    Base64,
    #[error("join_request is larger than {MAX_JOIN_REQUEST} bytes")]
    TooLarge,
    #[error("join_request is not a valid WrappedJoinRequest")]
    Wrapper,
    #[error("join_request has an unknown compression ({0})")]
    Compression(i32),
    #[error("join_request is not valid gzip")]
    Gzip,
    #[error("join_request does not hold a valid JoinRequest")]
    Request,
}

/// Base64 as the SDKs may send it: either alphabet (normalised to the standard one first),
/// with or without `=` padding.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a `join_request` query value: base64 (URL-safe or standard, padded or not; a `+`
/// turned into a space by form decoding is repaired) of a `WrappedJoinRequest` whose
/// `join_request` is a `JoinRequest`, plain or gzipped. At most [`MAX_JOIN_REQUEST`] bytes
/// decoded and inflated.
pub fn decode_join_request(value: &str) -> Result<proto::JoinRequest, JoinRequestError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(JoinRequestError::Missing);
    }
    // Four base64 characters carry three bytes; refuse before allocating for an oversized value.
    if value.len() / 4 * 3 > MAX_JOIN_REQUEST + 3 {
        return Err(JoinRequestError::TooLarge);
    }
    let normalised: String = value
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            ' ' => '+',
            c => c,
        })
        .collect();
    let wrapped_bytes = BASE64_ANY_PADDING
        .decode(normalised.as_bytes())
        .map_err(|_| JoinRequestError::Base64)?;
    if wrapped_bytes.len() > MAX_JOIN_REQUEST {
        return Err(JoinRequestError::TooLarge);
    }
    let wrapped = proto::WrappedJoinRequest::decode(wrapped_bytes.as_slice())
        .map_err(|_| JoinRequestError::Wrapper)?;
    use proto::wrapped_join_request::Compression;
    let request_bytes = match Compression::try_from(wrapped.compression) {
        Ok(Compression::None) => wrapped.join_request,
        Ok(Compression::Gzip) => gunzip_capped(&wrapped.join_request)?,
        Err(_) => return Err(JoinRequestError::Compression(wrapped.compression)),
    };
    proto::JoinRequest::decode(request_bytes.as_slice()).map_err(|_| JoinRequestError::Request)
}

/// Inflates gzip data, refusing output beyond [`MAX_JOIN_REQUEST`].
fn gunzip_capped(data: &[u8]) -> Result<Vec<u8>, JoinRequestError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(MAX_JOIN_REQUEST as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| JoinRequestError::Gzip)?;
    if out.len() > MAX_JOIN_REQUEST {
        return Err(JoinRequestError::TooLarge);
    }
    Ok(out)
}

/// Query parameters of `/rtc/v1` and `/rtc/v1/validate`.
#[derive(Debug, Default, Deserialize)]
pub struct V1Params {
    pub access_token: Option<String>,
    pub join_request: Option<String>,
}

impl V1Params {
    /// The v0 view of these parameters, for authorisation (the token is all it reads).
    fn connect_params(&self) -> super::ConnectParams {
        super::ConnectParams {
            access_token: self.access_token.clone(),
            ..Default::default()
        }
    }

    fn join_request(&self) -> Result<proto::JoinRequest, JoinRequestError> {
        decode_join_request(self.join_request.as_deref().unwrap_or_default())
    }
}

fn bad_request(e: JoinRequestError) -> Response {
    plain(400, e.to_string())
}

/// `GET /rtc/v1/validate`: the same checks as the upgrade, answered `success` or with the error.
pub(super) async fn validate(
    State(state): State<SignalState>,
    headers: HeaderMap,
    Query(params): Query<V1Params>,
) -> Response {
    if !state.cfg.signal_v1 {
        return not_found().await;
    }
    if let Err(e) = params.join_request() {
        return bad_request(e);
    }
    super::validate(State(state), headers, Query(params.connect_params())).await
}

/// `GET /rtc/v1`: admits the participant with one peer connection, queues the requests its
/// join request carries, then upgrades.
pub(super) async fn rtc(
    State(state): State<SignalState>,
    headers: HeaderMap,
    Query(params): Query<V1Params>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !state.cfg.signal_v1 {
        return not_found().await;
    }
    let Ok(ws) = ws else {
        return not_found().await;
    };
    let join = match params.join_request() {
        Ok(j) => j,
        Err(e) => return bad_request(e),
    };
    let grant = match authorize(&state, &headers, &params.connect_params()) {
        Ok(g) => g,
        Err(e) => return plain(e.status(), e.to_string()),
    };
    if let Err(e) = admit(&state, &grant).await {
        return plain(e.status(), e.to_string());
    }
    let (out_tx, out_rx) = mpsc::channel(SIGNAL_QUEUE);
    let engine = state.engine.for_room(&grant.room).clone();
    if join.reconnect {
        let request = ResumeRequest {
            grant: grant.clone(),
            sid: Some(join.participant_sid.clone()).filter(|s| !s.is_empty()),
            out: out_tx,
        };
        return match engine.resume(request).await {
            Ok(joined) => super::upgrade(ws, &state, engine, grant, joined, out_rx),
            Err(e) => {
                tracing::info!(identity = %grant.identity, "resume refused: {e}");
                ws.on_upgrade(session::refuse_resume)
            }
        };
    }
    let info = join.client_info.clone().unwrap_or_default();
    let request = JoinRequest {
        grant: grant.clone(),
        out: out_tx,
        // The reference server reads absent settings as "do not auto-subscribe".
        auto_subscribe: join.connection_settings.is_some_and(|s| s.auto_subscribe),
        protocol: info.protocol,
        client_protocol: info.client_protocol,
        single_pc: true,
        reuses_m_lines: super::params::reuses_m_lines(&info.browser),
    };
    let joined = match engine.join(request).await {
        Ok(j) => j,
        Err(e) => return plain(e.status(), e.to_string()),
    };
    record_join(
        SignalProtocol::V1,
        &grant.room,
        &joined.sid,
        &grant.identity,
    );
    let key = joined.participant;
    // Queued behind the JoinResponse, in the order the reference server handles them.
    let carried = join
        .add_track_requests
        .into_iter()
        .map(Req::AddTrack)
        .chain(join.publisher_offer.map(Req::Offer));
    for request in carried {
        if engine.signal(key, request).await.is_err() {
            return plain(503, crate::engine::JoinError::Unavailable.to_string());
        }
    }
    super::upgrade(ws, &state, engine, grant, joined, out_rx)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use super::*;

    fn join_request() -> proto::JoinRequest {
        proto::JoinRequest {
            client_info: Some(proto::ClientInfo {
                protocol: 17,
                client_protocol: 2,
                ..Default::default()
            }),
            connection_settings: Some(proto::ConnectionSettings {
                auto_subscribe: true,
                ..Default::default()
            }),
            publisher_offer: Some(proto::SessionDescription {
                r#type: "offer".into(),
                sdp: "v=0\r\n".repeat(200),
                id: 1,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn wrap(compression: i32, inner: Vec<u8>) -> Vec<u8> {
        proto::WrappedJoinRequest {
            compression,
            join_request: inner,
        }
        .encode_to_vec()
    }

    fn url_safe_padded(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE.encode(bytes)
    }

    #[test]
    fn decodes_plain_and_gzipped_in_every_base64_spelling() {
        let want = join_request();
        let plain = wrap(0, want.encode_to_vec());
        let gzipped = wrap(1, gzip(&want.encode_to_vec()));
        use base64::engine::general_purpose as b64;
        for wrapped in [&plain, &gzipped] {
            for text in [
                b64::URL_SAFE.encode(wrapped),
                b64::URL_SAFE_NO_PAD.encode(wrapped),
                b64::STANDARD.encode(wrapped),
                b64::STANDARD_NO_PAD.encode(wrapped),
                // A `+` that form decoding turned into a space.
                b64::STANDARD.encode(wrapped).replace('+', " "),
            ] {
                assert_eq!(decode_join_request(&text), Ok(want.clone()), "{text}");
            }
        }
    }

    #[test]
    fn the_padding_matters_only_when_it_is_wrong() {
        let text = url_safe_padded(&wrap(0, join_request().encode_to_vec()));
        let unpadded = text.trim_end_matches('=');
        assert!(decode_join_request(unpadded).is_ok());
        // Padding where none belongs, or a length no base64 text has, is refused.
        assert_eq!(
            decode_join_request(&format!("{unpadded}====")),
            Err(JoinRequestError::Base64)
        );
        assert_eq!(decode_join_request("AAAAA"), Err(JoinRequestError::Base64));
    }

    #[test]
    fn refuses_what_is_too_large_decoded_or_inflated() {
        // Inflates past the cap: a megabyte and a bit of zeros compresses to about a kilobyte.
        let bomb = wrap(1, gzip(&vec![0u8; MAX_JOIN_REQUEST + 10]));
        assert!(bomb.len() < 10_000);
        assert_eq!(
            decode_join_request(&url_safe_padded(&bomb)),
            Err(JoinRequestError::TooLarge)
        );
        // Over the cap before any decoding.
        let huge = "A".repeat(MAX_JOIN_REQUEST / 3 * 4 + 64);
        assert_eq!(decode_join_request(&huge), Err(JoinRequestError::TooLarge));
        // Just under the cap is fine: a 1 MiB offer does not trip it by itself.
        let mut big = join_request();
        big.metadata = "x".repeat(MAX_JOIN_REQUEST - 2_000);
        let text = url_safe_padded(&wrap(1, gzip(&big.encode_to_vec())));
        assert_eq!(decode_join_request(&text), Ok(big));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert_eq!(decode_join_request(""), Err(JoinRequestError::Missing));
        assert_eq!(decode_join_request("   "), Err(JoinRequestError::Missing));
        assert_eq!(decode_join_request("!!!!"), Err(JoinRequestError::Base64));
        assert_eq!(
            decode_join_request(&url_safe_padded(&[0xff, 0xff, 0xff])),
            Err(JoinRequestError::Wrapper)
        );
        assert_eq!(
            decode_join_request(&url_safe_padded(&wrap(7, vec![1, 2, 3]))),
            Err(JoinRequestError::Compression(7))
        );
        assert_eq!(
            decode_join_request(&url_safe_padded(&wrap(1, b"not gzip".to_vec()))),
            Err(JoinRequestError::Gzip)
        );
        assert_eq!(
            decode_join_request(&url_safe_padded(&wrap(0, vec![0xff; 8]))),
            Err(JoinRequestError::Request)
        );
        // Truncated gzip of a real request.
        let mut cut = gzip(&join_request().encode_to_vec());
        cut.truncate(cut.len() / 2);
        assert_eq!(
            decode_join_request(&url_safe_padded(&wrap(1, cut))),
            Err(JoinRequestError::Gzip)
        );
    }

    /// Counts increments per (counter name, labels), for [`record_join`].
    #[derive(Default)]
    struct CountingRecorder {
        counts: std::sync::Arc<std::sync::Mutex<HashMap<String, u64>>>,
    }

    struct CountingCounter {
        key: String,
        counts: std::sync::Arc<std::sync::Mutex<HashMap<String, u64>>>,
    }

    impl metrics::CounterFn for CountingCounter {
        fn increment(&self, value: u64) {
            *self
                .counts
                .lock()
                .unwrap()
                .entry(self.key.clone())
                .or_default() += value;
        }
        fn absolute(&self, value: u64) {
            self.counts.lock().unwrap().insert(self.key.clone(), value);
        }
    }

    impl metrics::Recorder for CountingRecorder {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            metrics::Counter::from_arc(std::sync::Arc::new(CountingCounter {
                key: format!("{}{{{}}}", key.name(), labels.join(",")),
                counts: self.counts.clone(),
            }))
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    #[test]
    fn joins_are_counted_by_protocol() {
        let recorder = CountingRecorder::default();
        metrics::with_local_recorder(&recorder, || {
            record_join(SignalProtocol::V1, "r", "PA_a", "a");
            record_join(SignalProtocol::V1, "r", "PA_b", "b");
            record_join(SignalProtocol::V0, "r", "PA_c", "c");
        });
        let counts = recorder.counts.lock().unwrap().clone();
        let want: HashMap<String, u64> = [
            ("xcord_sfu_joins_total{protocol=v1}".to_owned(), 2),
            ("xcord_sfu_joins_total{protocol=v0}".to_owned(), 1),
        ]
        .into();
        assert_eq!(counts, want);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_values_never_panic(s in "\\PC{0,400}") {
            let _ = decode_join_request(&s);
        }

        #[test]
        fn arbitrary_wrapped_bytes_never_panic(bytes in proptest::collection::vec(0u8.., 0..400)) {
            let _ = decode_join_request(&url_safe_padded(&bytes));
            let _ = decode_join_request(&url_safe_padded(&wrap(1, bytes.clone())));
            let _ = decode_join_request(&url_safe_padded(&wrap(0, bytes)));
        }
    }
}
