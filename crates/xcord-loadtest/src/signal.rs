//! The LiveKit signal WebSocket as a client: binary protobuf `SignalRequest`s out,
//! `SignalResponse`s in, the access token in an `Authorization: Bearer` header as the native SDKs
//! send it. Protocol v0 is `/rtc` with two peer connections (this client offers the publisher
//! connection and answers the server's subscriber offers). Protocol v1 is `/rtc/v1` with one peer
//! connection that this client always offers: the join request (with the first offer and the
//! AddTrack requests) travels in the URL as `join_request=<base64url(WrappedJoinRequest)>`.

use futures_util::{SinkExt, StreamExt};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::LoadError;

/// Signal protocol version the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Protocol {
    /// `/rtc`, a publisher and a subscriber peer connection.
    V0,
    /// `/rtc/v1`, one peer connection; the join request (with the first offer) in the URL.
    V1,
}

/// Client protocol number sent as `protocol=` (what current SDKs send on v0).
const CLIENT_PROTOCOL: u32 = 16;

/// An access token for one simulated participant.
pub fn token(
    api_key: &str,
    api_secret: &str,
    room: &str,
    identity: &str,
    publish: bool,
    subscribe: bool,
) -> Result<String, LoadError> {
    AccessToken::with_api_key(api_key, api_secret)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(VideoGrants {
            room_join: true,
            room: room.to_string(),
            can_publish: Some(publish),
            can_subscribe: Some(subscribe),
            can_publish_data: Some(publish),
            ..Default::default()
        })
        .to_jwt()
        .map_err(|e| LoadError::Token(e.to_string()))
}

/// `ws(s)://host[:port][/prefix]` from a ws, wss, http or https URL.
pub fn ws_base(url: &str) -> Result<String, LoadError> {
    let url = url.trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| LoadError::Url(url.to_string()))?;
    let scheme = match scheme {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return Err(LoadError::Url(url.to_string())),
    };
    if rest.is_empty() {
        return Err(LoadError::Url(url.to_string()));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// The `join_request` query value: URL-safe base64 (padded) of an uncompressed
/// `WrappedJoinRequest`.
pub fn join_request_param(join: &proto::JoinRequest) -> String {
    use base64::Engine as _;
    let wrapped = proto::WrappedJoinRequest {
        compression: proto::wrapped_join_request::Compression::None as i32,
        join_request: join.encode_to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(wrapped.encode_to_vec())
}

/// A v1 join request: client info, auto-subscribe, the AddTrack requests and the first offer.
pub fn join_request(
    auto_subscribe: bool,
    add_tracks: Vec<proto::AddTrackRequest>,
    offer: proto::SessionDescription,
) -> proto::JoinRequest {
    proto::JoinRequest {
        client_info: Some(proto::ClientInfo {
            sdk: proto::client_info::Sdk::Rust as i32,
            version: "0.0.0".into(),
            protocol: CLIENT_PROTOCOL as i32,
            ..Default::default()
        }),
        connection_settings: Some(proto::ConnectionSettings {
            auto_subscribe,
            ..Default::default()
        }),
        add_track_requests: add_tracks,
        publisher_offer: Some(offer),
        ..Default::default()
    }
}

pub struct SignalClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl SignalClient {
    pub async fn connect(
        base: &str,
        token: &str,
        auto_subscribe: bool,
        protocol: Protocol,
        join: Option<proto::JoinRequest>,
    ) -> Result<Self, LoadError> {
        let url = match protocol {
            Protocol::V0 => format!(
                "{base}/rtc?auto_subscribe={}&sdk=rust&version=0.0.0&protocol={CLIENT_PROTOCOL}",
                u8::from(auto_subscribe)
            ),
            Protocol::V1 => {
                let join = join.ok_or(LoadError::Sdp("v1 needs a join request".into()))?;
                format!("{base}/rtc/v1?join_request={}", join_request_param(&join))
            }
        };
        let mut request = url.into_client_request()?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| LoadError::Token(e.to_string()))?;
        request.headers_mut().insert("Authorization", bearer);
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self { ws })
    }

    pub async fn send(&mut self, message: Req) -> Result<(), LoadError> {
        let bytes = proto::SignalRequest {
            message: Some(message),
        }
        .encode_to_vec();
        self.ws.send(Message::Binary(bytes.into())).await?;
        Ok(())
    }

    /// The next signal message; `Err(Closed)` when the server closes the connection.
    /// Cancel-safe (usable in `select!`).
    pub async fn recv(&mut self) -> Result<Resp, LoadError> {
        loop {
            let Some(msg) = self.ws.next().await else {
                return Err(LoadError::Closed("end of stream".into()));
            };
            match msg? {
                Message::Binary(b) => {
                    if let Some(m) = proto::SignalResponse::decode(b.as_ref())?.message {
                        return Ok(m);
                    }
                }
                Message::Close(frame) => {
                    return Err(LoadError::Closed(
                        frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    ));
                }
                _ => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            ws_base("http://10.0.0.1:7880/").unwrap(),
            "ws://10.0.0.1:7880"
        );
        assert_eq!(ws_base("wss://x.example").unwrap(), "wss://x.example");
        assert!(ws_base("ftp://x").is_err());
        assert!(ws_base("nothing").is_err());
    }

    #[test]
    fn join_requests_round_trip_through_the_url_value() {
        use base64::Engine as _;
        let offer = proto::SessionDescription {
            r#type: "offer".into(),
            sdp: "v=0".into(),
            id: 1,
            ..Default::default()
        };
        let join = join_request(true, Vec::new(), offer);
        let value = join_request_param(&join);
        assert!(!value.contains('+') && !value.contains('/'));
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(value)
            .unwrap();
        let wrapped = proto::WrappedJoinRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(wrapped.compression, 0);
        let back = proto::JoinRequest::decode(wrapped.join_request.as_slice()).unwrap();
        assert_eq!(back, join);
        assert!(back.connection_settings.unwrap().auto_subscribe);
    }

    #[test]
    fn tokens_verify_with_the_secret() {
        let jwt = token("k", "s", "r", "id", true, false).unwrap();
        let claims = livekit_api::access_token::TokenVerifier::with_api_key("k", "s")
            .verify(&jwt)
            .unwrap();
        assert_eq!(claims.sub, "id");
        assert!(claims.video.room_join);
        assert_eq!(claims.video.can_publish, Some(true));
        assert_eq!(claims.video.can_subscribe, Some(false));
        assert_eq!(claims.video.room, "r");
    }
}
