//! One participant's signal WebSocket: decodes requests for the engine, answers pings itself,
//! writes the engine's responses in order, refreshes the token, and drops the participant after
//! `ping_timeout` of silence.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use livekit_api::access_token::Claims;
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use tokio::sync::mpsc;

use crate::auth::grant_with_permission;
use crate::config::SfuConfig;
use crate::engine::{EngineHandle, Joined, LiveGrants, Outbound};
use crate::time::unix_ms;

/// Issued tokens are refreshed this often and live twice as long.
const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);

pub struct SessionContext {
    pub engine: EngineHandle,
    pub cfg: Arc<SfuConfig>,
    pub claims: Claims,
    pub joined: Joined,
}

fn encode(msg: Resp) -> Message {
    let resp = proto::SignalResponse { message: Some(msg) };
    Message::Binary(resp.encode_to_vec().into())
}

/// Answers a resume attempt with a LeaveRequest asking for a full reconnect.
pub async fn refuse_resume(mut socket: WebSocket) {
    let leave = proto::LeaveRequest {
        can_reconnect: true,
        reason: proto::DisconnectReason::StateMismatch as i32,
        action: proto::leave_request::Action::Reconnect as i32,
        ..Default::default()
    };
    let _ = socket.send(encode(Resp::Leave(leave))).await;
    let _ = socket.close().await;
}

/// Brings `claims` up to date with what the participant is now; returns whether its rights
/// changed (then the client gets a new token at once, so a reconnect cannot use stale rights).
fn claims_with(claims: &mut Claims, live: &LiveGrants) -> bool {
    let video = grant_with_permission(&claims.video, &live.permission);
    let changed = video != claims.video;
    claims.video = video;
    claims.name.clone_from(&live.name);
    claims.metadata.clone_from(&live.metadata);
    claims.attributes.clone_from(&live.attributes);
    changed
}

/// Puts the TURN server and fresh credentials for this participant into its JoinResponse and
/// ReconnectResponse. Done here rather than in the engine: credentials carry wall-clock time,
/// and the engine never reads the clock.
fn offer_turn(resp: &mut proto::SignalResponse, ctx: &SessionContext) {
    let Some(turn) = &ctx.cfg.turn else { return };
    let servers = || turn.ice_servers(&ctx.joined.sid, xcord_turn::credentials::unix_now());
    match &mut resp.message {
        Some(Resp::Join(join)) => join.ice_servers = servers(),
        Some(Resp::Reconnect(reconnect)) => reconnect.ice_servers = servers(),
        _ => {}
    }
}

pub async fn run(socket: WebSocket, ctx: SessionContext, out: mpsc::Receiver<Outbound>) {
    let (sink, stream) = socket.split();
    serve(sink, stream, ctx, out).await;
}

/// The session over any message sink and stream (a WebSocket's halves; channels in tests).
async fn serve<Si, St, E>(
    mut sink: Si,
    mut stream: St,
    ctx: SessionContext,
    mut out: mpsc::Receiver<Outbound>,
) where
    Si: futures_util::Sink<Message> + Unpin,
    St: futures_util::Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    let key = ctx.joined.participant;
    let ping_timeout = ctx.cfg.ping_timeout;
    // What refreshed tokens say: the join token's claims, kept current with the server's changes.
    let mut claims = ctx.claims.clone();
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    let mut deadline = tokio::time::Instant::now() + ping_timeout;
    // Why the loop ended, unless the client said goodbye (its `leave` reaches the engine first).
    let mut reason = proto::DisconnectReason::SignalClose;
    loop {
        tokio::select! {
            biased;
            outbound = out.recv() => match outbound {
                Some(Outbound::Signal(mut resp)) => {
                    offer_turn(&mut resp, &ctx);
                    if sink.send(Message::Binary(resp.encode_to_vec().into())).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    let _ = sink.close().await;
                    break;
                }
                Some(Outbound::Grants(live)) => {
                    let permission_changed = claims_with(&mut claims, &live);
                    if permission_changed
                        && let Some(token) = ctx.cfg.keys.reissue(&claims, REFRESH_EVERY * 2)
                        && sink.send(encode(Resp::RefreshToken(token))).await.is_err()
                    {
                        break;
                    }
                }
            },
            incoming = stream.next() => {
                let msg = match incoming {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        tracing::debug!(participant = %ctx.joined.sid, "signal read: {e}");
                        break;
                    }
                    None => break,
                };
                deadline = tokio::time::Instant::now() + ping_timeout;
                let request = match msg {
                    Message::Binary(b) => proto::SignalRequest::decode(b.as_ref()).ok(),
                    Message::Text(t) => serde_json::from_str::<proto::SignalRequest>(t.as_str()).ok(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                let Some(message) = request.and_then(|r| r.message) else {
                    tracing::debug!(participant = %ctx.joined.sid, "undecodable signal frame ignored");
                    continue;
                };
                let reply = match &message {
                    Req::Ping(_) => Some(Resp::Pong(unix_ms())),
                    Req::PingReq(p) => Some(Resp::PongResp(proto::Pong {
                        last_ping_timestamp: p.timestamp,
                        timestamp: unix_ms(),
                    })),
                    _ => None,
                };
                if let Some(reply) = reply {
                    if sink.send(encode(reply)).await.is_err() {
                        break;
                    }
                    continue;
                }
                let leaving = matches!(message, Req::Leave(_));
                if ctx.engine.signal(key, message).await.is_err() {
                    break;
                }
                if leaving {
                    reason = proto::DisconnectReason::ClientInitiated;
                    break;
                }
            }
            _ = refresh.tick() => {
                if let Some(token) = ctx.cfg.keys.reissue(&claims, REFRESH_EVERY * 2)
                    && sink.send(encode(Resp::RefreshToken(token))).await.is_err()
                {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                tracing::info!(participant = %ctx.joined.sid, "signal ping timeout");
                break;
            }
        }
    }
    // An engine that is gone has nobody left to tell.
    let _ = ctx
        .engine
        .disconnected(ctx.joined.signal_key(), reason)
        .await;
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::auth::KeyStore;
    use crate::engine::testing_handle::TestEngine;

    const PING_TIMEOUT: Duration = Duration::from_secs(15);

    /// A session over channels: returns what the client sends in, and the engine's side.
    fn session() -> (mpsc::Sender<Message>, TestEngine) {
        let (engine, test_engine) = TestEngine::new();
        let mut cfg = SfuConfig::new(KeyStore::default(), Vec::new());
        cfg.ping_timeout = PING_TIMEOUT;
        let ctx = SessionContext {
            engine,
            cfg: Arc::new(cfg),
            claims: Claims::default(),
            joined: Joined {
                participant: Default::default(),
                sid: "PA_test".into(),
                epoch: 0,
            },
        };
        let (client_tx, client_rx) = mpsc::channel::<Message>(16);
        let stream = Box::pin(futures_util::stream::unfold(
            client_rx,
            |mut rx| async move { rx.recv().await.map(|m| (Ok::<_, Infallible>(m), rx)) },
        ));
        let sink = Box::pin(futures_util::sink::unfold(
            (),
            |(), _m: Message| async move { Ok::<_, Infallible>(()) },
        ));
        let (_out_tx, out_rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let _keep_open = _out_tx;
            serve(sink, stream, ctx, out_rx).await;
        });
        (client_tx, test_engine)
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_dropped_at_the_ping_timeout_exactly() {
        let (_client, mut engine) = session();
        settle().await;
        tokio::time::advance(PING_TIMEOUT - Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(engine.departure(), None, "dropped before the timeout");
        tokio::time::advance(Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(
            engine.departure(),
            Some(proto::DisconnectReason::SignalClose)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn any_message_restarts_the_ping_timeout() {
        let (client, mut engine) = session();
        settle().await;
        let half = PING_TIMEOUT / 2;
        tokio::time::advance(half).await;
        let ping = proto::SignalRequest {
            message: Some(Req::Ping(1)),
        };
        client
            .send(Message::Binary(ping.encode_to_vec().into()))
            .await
            .unwrap();
        settle().await;
        tokio::time::advance(PING_TIMEOUT - Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(engine.departure(), None, "the ping at half time kept it");
        tokio::time::advance(Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(
            engine.departure(),
            Some(proto::DisconnectReason::SignalClose)
        );
    }
}
