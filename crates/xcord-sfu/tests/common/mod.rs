//! Shared harness for the SFU's socket-level tests: an in-process SFU served on an ephemeral
//! port, LiveKit access tokens, plain HTTP requests (reqwest), a webhook receiver, and a signal
//! WebSocket client that speaks binary protobuf like the Rust SDK.
#![allow(dead_code)]
// Each test binary uses a different subset.
// `allow-unwrap-in-tests` covers `#[test]` functions only, not these shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use futures_util::{SinkExt, StreamExt};
use livekit_api::access_token::{AccessToken, Claims, VideoGrants};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use xcord_sfu::auth::KeyStore;
use xcord_sfu::webhook::WebhookConfig;
use xcord_sfu::{Sfu, SfuConfig};

pub const API_KEY: &str = "devkey";
pub const API_SECRET: &str = "secret";

/// How long a test waits for a message it expects.
pub const WAIT: Duration = Duration::from_secs(5);

pub fn keys() -> KeyStore {
    KeyStore::new([(API_KEY.into(), API_SECRET.into())])
}

/// A running SFU with its signalling routes served on 127.0.0.1.
pub struct TestSfu {
    pub addr: SocketAddr,
    pub sfu: Sfu,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestSfu {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts an SFU (ephemeral media port, loopback candidate) after `tweak` adjusts its config.
pub async fn start_with(tweak: impl FnOnce(&mut SfuConfig)) -> TestSfu {
    let mut cfg = SfuConfig::new(keys(), vec!["127.0.0.1".parse().unwrap()]);
    cfg.udp_port = 0;
    tweak(&mut cfg);
    let sfu = Sfu::start(cfg).expect("SFU starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = sfu.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    TestSfu { addr, sfu, server }
}

pub async fn start() -> TestSfu {
    start_with(|_| {}).await
}

/// Grants to join `room`.
pub fn join_grants(room: &str) -> VideoGrants {
    VideoGrants {
        room_join: true,
        room: room.into(),
        ..Default::default()
    }
}

/// A token for `identity` in `room` with the grants adjusted by `tweak`.
pub fn token_with(
    identity: &str,
    room: &str,
    tweak: impl FnOnce(AccessToken, VideoGrants) -> (AccessToken, VideoGrants),
) -> String {
    let (t, grants) = tweak(
        AccessToken::with_api_key(API_KEY, API_SECRET)
            .with_identity(identity)
            .with_ttl(Duration::from_secs(600)),
        join_grants(room),
    );
    t.with_grants(grants).to_jwt().unwrap()
}

/// A plain join token for `identity` in `room`.
pub fn token(identity: &str, room: &str) -> String {
    token_with(identity, room, |t, g| (t, g))
}

pub fn unix_secs() -> usize {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as usize
}

pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Signs arbitrary claims with HS256 and `secret`, bypassing AccessToken's checks.
pub fn sign_claims(claims: &Claims, secret: &str) -> String {
    // livekit-api installs jsonwebtoken's crypto provider on its first use.
    let _ = AccessToken::with_api_key("k", "s").to_jwt();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// An HTTP response, its body read as text.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One client for every test of a binary: building one sets up TLS, which is not cheap. It keeps
/// no idle connections, because each test runs on its own runtime, which a pooled connection
/// would outlive.
fn http_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        xcord_sfu::webhook::ensure_tls_provider();
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    })
}

/// Sends one HTTP request to the test server and reads the whole response.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http_client()
        .request(method, format!("http://{addr}{path}"))
        .timeout(WAIT);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("HTTP response in time");
    HttpResponse {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

/// (event, room) pairs in the order a receiver finished taking them.
pub type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver that takes `delay` over each request and records its event as it answers.
pub async fn slow_webhook_receiver(delay: Duration) -> (String, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                move |State(received): State<Received>, body: axum::body::Bytes| async move {
                    tokio::time::sleep(delay).await;
                    let event: proto::WebhookEvent = serde_json::from_slice(&body).unwrap();
                    let room = event.room.map(|r| r.name).unwrap_or_default();
                    received.lock().unwrap().push((event.event, room));
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// Starts an SFU that delivers its webhooks to `url`.
pub async fn start_with_webhooks(url: String) -> TestSfu {
    start_with(|c| {
        c.webhooks = Some(WebhookConfig {
            urls: vec![url],
            api_key: API_KEY.into(),
            api_secret: API_SECRET.into(),
        });
    })
    .await
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket to `path_and_query`, with `Authorization: Bearer <token>` when given.
pub async fn ws_connect(
    addr: SocketAddr,
    path_and_query: &str,
    bearer: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://{addr}{path_and_query}")
        .into_client_request()
        .unwrap();
    if let Some(t) = bearer {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("WebSocket handshake in time")
        .map(|(ws, _)| ws)
}

/// The query string the Rust SDK sends (token goes in the header).
pub const RUST_QUERY: &str =
    "auto_subscribe=1&sdk=rust&version=0.7.0&protocol=17&client_protocol=2";

/// What reading the signal socket produced.
#[derive(Debug)]
pub enum Event {
    Msg(Box<Resp>),
    Closed,
    Timeout,
}

/// A signal connection speaking binary protobuf.
pub struct Client {
    pub ws: Ws,
    pub name: String,
}

impl Client {
    /// Connects to `/rtc` like the Rust SDK (bearer header); panics if the handshake fails.
    pub async fn connect(addr: SocketAddr, token: &str, name: &str) -> Client {
        let ws = ws_connect(addr, &format!("/rtc?{RUST_QUERY}"), Some(token))
            .await
            .unwrap_or_else(|e| panic!("{name}: signal connection refused: {e:?}"));
        Client {
            ws,
            name: name.into(),
        }
    }

    /// Connects and reads the JoinResponse, which must be the first frame.
    pub async fn join(addr: SocketAddr, token: &str, name: &str) -> (Client, proto::JoinResponse) {
        let mut c = Client::connect(addr, token, name).await;
        let join = match c.next(WAIT).await {
            Event::Msg(m) => match *m {
                Resp::Join(j) => j,
                other => panic!("{name}: first frame is not join: {other:?}"),
            },
            other => panic!("{name}: no join frame: {other:?}"),
        };
        (c, join)
    }

    pub async fn send(&mut self, msg: Req) {
        let req = proto::SignalRequest { message: Some(msg) };
        self.ws
            .send(Message::Binary(req.encode_to_vec().into()))
            .await
            .unwrap_or_else(|e| panic!("{}: send failed: {e}", self.name));
    }

    /// The next signal message, or why there is none within `within`.
    pub async fn next(&mut self, within: Duration) -> Event {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Event::Timeout,
                Ok(None) | Ok(Some(Err(_))) => return Event::Closed,
                Ok(Some(Ok(f))) => f,
            };
            match frame {
                Message::Binary(b) => {
                    let resp = proto::SignalResponse::decode(b.as_ref()).unwrap_or_else(|e| {
                        panic!("{}: undecodable SignalResponse: {e}", self.name)
                    });
                    let msg = resp
                        .message
                        .unwrap_or_else(|| panic!("{}: empty SignalResponse", self.name));
                    return Event::Msg(Box::new(msg));
                }
                Message::Text(t) => panic!("{}: unexpected text frame {t}", self.name),
                Message::Close(_) => return Event::Closed,
                _ => continue,
            }
        }
    }

    /// Reads until a message `pick` accepts, skipping the others; panics on close or timeout.
    pub async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Resp) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Event::Msg(m) => {
                    if let Some(t) = pick(&m) {
                        return t;
                    }
                    skipped.push(kind(&m));
                }
                other => panic!(
                    "{}: waiting for {what}: {other:?} (skipped {skipped:?})",
                    self.name
                ),
            }
        }
    }

    /// Reads until the connection closes within `within`; returns what arrived before.
    pub async fn expect_closed(&mut self, within: Duration) -> Vec<Resp> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Event::Msg(m) => got.push(*m),
                Event::Closed => return got,
                Event::Timeout => panic!(
                    "{}: socket still open after {within:?}; received {:?}",
                    self.name,
                    got.iter().map(kind).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Everything that arrives within `within`; panics if the socket closes.
    pub async fn drain(&mut self, within: Duration) -> Vec<Resp> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Event::Msg(m) => got.push(*m),
                Event::Timeout => return got,
                Event::Closed => panic!(
                    "{}: socket closed; received {:?}",
                    self.name,
                    got.iter().map(kind).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Sends a client `leave` as the JS SDK does.
    pub async fn leave(&mut self) {
        self.send(Req::Leave(proto::LeaveRequest {
            reason: proto::DisconnectReason::ClientInitiated as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            ..Default::default()
        }))
        .await;
    }
}

/// The next event called `name` about `room`, skipping others; panics if none comes within
/// [`WAIT`].
pub async fn next_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<xcord_sfu::events::Event>,
    name: &str,
    room: &str,
) -> xcord_sfu::events::Event {
    let wanted = async {
        loop {
            let event = events.recv().await.expect("event bus open");
            if event.event == name && event.room.as_ref().is_some_and(|r| r.name == room) {
                return event;
            }
        }
    };
    tokio::time::timeout(WAIT, wanted)
        .await
        .unwrap_or_else(|_| panic!("no {name} event for {room} within {WAIT:?}"))
}

/// A short name for a response, for failure messages.
pub fn kind(m: &Resp) -> String {
    let s = format!("{m:?}");
    s.split(['(', ' ']).next().unwrap_or_default().to_owned()
}

/// The participant infos of an `update` about `sid`.
pub fn update_about(m: &Resp, sid: &str) -> Option<proto::ParticipantInfo> {
    match m {
        Resp::Update(u) => u.participants.iter().find(|p| p.sid == sid).cloned(),
        _ => None,
    }
}
