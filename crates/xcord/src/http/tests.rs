//! The listener's limits over real loopback sockets, in tokio's paused time: each timeout is
//! seen at its exact instant, without waiting for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: JoinHandle<()>,
}

async fn start(limits: HttpLimits) -> Server {
    let app = Router::new()
        .route("/", get(|| async { "OK" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route("/echo", post(|body: String| async move { body }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        done,
    }
}

/// A connection from `from` (another loopback address stands for another client).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads one response: its head and as many body bytes as `Content-Length` says. `None`: the
/// server closed the connection first.
async fn response(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(text);
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads until the server closes the connection; what it sent meanwhile.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn limits() -> HttpLimits {
    HttpLimits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 100,
        max_connections_per_address: 100,
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    let server = start(limits()).await;
    let t0 = Instant::now();
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let sent = until_closed(&mut s).await;
    assert!(!sent.contains("200"), "{sent}");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_millis(10_010),
        "closed after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dripping_headers_does_not_extend_the_header_timeout() {
    let server = start(limits()).await;
    let t0 = Instant::now();
    let s = TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = s.into_split();
    tokio::spawn(async move {
        let _ = write.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if write.write_all(b"X-Drip: 1\r\n").await.is_err() {
                return;
            }
        }
    });
    let mut buf = Vec::new();
    let _ = read.read_to_end(&mut buf).await;
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_millis(10_010),
        "closed after {waited:?}, though headers kept coming one a second"
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout() {
    let server = start(limits()).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(GET).await.unwrap();
    let first = response(&mut s).await.unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let t0 = Instant::now();
    // the same connection serves a second request before the timeout...
    tokio::time::sleep(Duration::from_secs(9)).await;
    s.write_all(GET).await.unwrap();
    assert!(response(&mut s).await.unwrap().starts_with("HTTP/1.1 200"));
    // ...and is closed when the next one does not come within it
    until_closed(&mut s).await;
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(19) && waited < Duration::from_millis(19_010),
        "closed after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_request_body_is_closed_at_the_idle_timeout() {
    let server = start(HttpLimits {
        idle_timeout: Duration::from_secs(3),
        ..limits()
    })
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let t0 = Instant::now();
    let sent = until_closed(&mut s).await;
    assert!(!sent.contains("200"), "{sent}");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_millis(3_010),
        "closed after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_request_carries_the_client_address() {
    let server = start(limits()).await;
    let mut s = connect_from([127, 0, 0, 3], server.addr).await;
    let local = s.local_addr().unwrap();
    s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = response(&mut s).await.unwrap();
    assert!(r.ends_with(&local.to_string()), "{r}");
}

#[tokio::test(start_paused = true)]
async fn one_address_holds_at_most_its_share_of_connections() {
    let server = start(HttpLimits {
        max_connections_per_address: 2,
        idle_timeout: Duration::from_secs(300),
        header_timeout: Duration::from_secs(300),
        ..limits()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect_from([127, 0, 0, 1], server.addr).await;
        s.write_all(GET).await.unwrap();
        assert!(response(&mut s).await.is_some());
        held.push(s);
    }
    let t0 = Instant::now();
    let mut third = connect_from([127, 0, 0, 1], server.addr).await;
    third.write_all(GET).await.unwrap();
    assert_eq!(response(&mut third).await, None, "closed unanswered");
    assert_eq!(t0.elapsed(), Duration::ZERO, "at once");
    let mut elsewhere = connect_from([127, 0, 0, 2], server.addr).await;
    elsewhere.write_all(GET).await.unwrap();
    assert!(
        response(&mut elsewhere).await.is_some(),
        "another address is served"
    );
    // a held connection closes: the address may open another
    drop(held.pop());
    let mut served = false;
    for _ in 0..1000 {
        let mut again = connect_from([127, 0, 0, 1], server.addr).await;
        again.write_all(GET).await.unwrap();
        if response(&mut again).await.is_some() {
            served = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(served, "the freed place was not given back");
}

#[tokio::test(start_paused = true)]
async fn beyond_the_connection_cap_the_listener_waits_for_a_place() {
    let server = start(HttpLimits {
        max_connections: 2,
        idle_timeout: Duration::from_secs(300),
        header_timeout: Duration::from_secs(300),
        ..limits()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(GET).await.unwrap();
        assert!(response(&mut s).await.is_some());
        held.push(s);
    }
    let mut waiting = TcpStream::connect(server.addr).await.unwrap();
    waiting.write_all(GET).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(60), response(&mut waiting))
            .await
            .is_err(),
        "not accepted while two are open"
    );
    drop(held.pop());
    let answer = tokio::time::timeout(Duration::from_secs(1), response(&mut waiting))
        .await
        .expect("accepted once a place is free");
    assert!(answer.unwrap().starts_with("HTTP/1.1 200"));
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_idle_connections_and_returns() {
    let mut server = start(HttpLimits {
        idle_timeout: Duration::from_secs(300),
        header_timeout: Duration::from_secs(300),
        ..limits()
    })
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(GET).await.unwrap();
    assert!(response(&mut s).await.is_some());
    let t0 = Instant::now();
    let _ = server.stop.take().unwrap().send(());
    until_closed(&mut s).await;
    server.done.await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer listening"
    );
}
