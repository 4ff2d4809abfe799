//! The gateway WebSocket's HTTP edge: `GET /api/v1/gateway` upgrades, then `crate::gateway`
//! speaks the protocol. The protocol's description in the API document is here, with the
//! route.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::State;
use super::error::ErrorBody;
use crate::app::Services;
use crate::error::{Error, ErrorCode};

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default().routes(routes!(upgrade))
}

/// What OpenAPI cannot say about the gateway: its frames.
const PROTOCOL: &str = r#"**A WebSocket** (OpenAPI cannot describe its frames): connect with an HTTP/1.1 upgrade
(`GET /api/v1/gateway` with `Connection: Upgrade`, `Upgrade: websocket`,
`Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key`); the server answers
`101 Switching Protocols`. A plain GET is refused with a `400` plain-text body. The socket
carries JSON text frames (binary frames with JSON are read as well). No `Authorization` header:
the session token is sent in the first frame.

Every frame is `{"op": OP, "d": DATA}`; event frames also have `t` (type) and `s` (sequence).

**Server → client**

- `{"op":"hello","d":{"heartbeatInterval":15000}}` — at once on open; the interval is in
  milliseconds.
- `{"op":"ready","d":{"sessionId":…,"kind":…,"user":User,"communities":[CommunityView],"voiceStates":[VoiceState],"conversations":[Conversation],"voiceState":VoiceState|null}}`
  — the answer to `identify`: the snapshot replaces the client's state (its communities with
  their visible channels, roles and members; the voice states of those channels; its direct
  conversations; its own voice state).
- `{"op":"resumed","d":{"replayed":n}}` — the answer to a successful `resume`, followed by every
  event after the client's `seq`.
- `{"op":"invalid_session","d":{"reason":…}}` — the session cannot be resumed (unknown, expired,
  another user's, or too many events missed); the server closes the socket and the client
  connects again and identifies.
- `{"op":"event","t":TYPE,"s":seq,"d":{…}}` — an event, numbered per session from 1. The data is
  the object the REST API returns for the thing: `COMMUNITY_CREATE` (CommunityView, also on
  joining), `COMMUNITY_UPDATE` (Community), `COMMUNITY_DELETE` `{id}`, `MEMBER_ADD` /
  `MEMBER_UPDATE` (Member), `MEMBER_REMOVE` `{communityId, userId}` (also to the removed user),
  `ROLE_CREATE` / `ROLE_UPDATE` (Role), `ROLE_DELETE` `{id, communityId}`, `CHANNEL_CREATE` /
  `CHANNEL_UPDATE` (Channel), `CHANNEL_DELETE` `{id, communityId}`, `MESSAGE_CREATE` /
  `MESSAGE_UPDATE` (Message), `MESSAGE_DELETE` `{id, channelId}`, `CONVERSATION_CREATE`
  (Conversation), `DM_MESSAGE_CREATE` (DmMessage), `VOICE_STATE_UPDATE` (VoiceState with
  `previousChannelId`; a user who left has `channelId: null`, `previousChannelId` and
  `participantSid`), `VOICE_MOVE` (MediaTicket: the client was moved and connects to the new
  room with it), `VOICE_SPEAKING` `{channelId, userIds}` (who speaks in a voice or video
  channel, loudest first, to everyone who sees it; at most one per channel per 250 ms, the
  last change always sent).
- `{"op":"heartbeat_ack"}` — the answer to each `heartbeat`.
- `{"op":"error","d":{"code":…,"message":…}}` — then the server closes the socket. Codes:
  `timeout` (no `identify` or `resume` within 10 s of opening, whatever else was sent),
  `message_too_large` (a frame over 4 KiB before identifying; after it, messages over 16 KiB
  close the socket), `too_many_connections` (the account already has 16 gateway sessions),
  `unauthorized` (invalid or expired session token), `not_identified` (a `heartbeat` before identifying), `invalid_request` (a malformed
  frame, an unknown op, or `identify`/`resume` again on an identified socket — the last one does
  not close the socket), `heartbeat_timeout` (nothing received for 1.5 heartbeat intervals), or
  an API error code (`internal`) while building the snapshot.

**Client → server**

- `{"op":"identify","d":{"token":SESSION_TOKEN,"kind":"main"|"overlay"|"mobile"}}` — within 10 s
  of `hello`; `kind` is optional (`main`). Starts a new session: `ready`, then events.
- `{"op":"resume","d":{"token":SESSION_TOKEN,"sessionId":…,"seq":N}}` — instead of `identify`,
  after a dropped connection: `N` is the last `s` the client saw. A session stays resumable for
  120 s without a socket and keeps its last 1000 events.
- `{"op":"heartbeat"}` — every `heartbeatInterval`; any frame counts as a sign of life, and a
  client silent for 1.5 intervals is disconnected (its session stays resumable).

One client address may hold 16 sockets that have not identified (or resumed) yet and 256 in
all; beyond that the upgrade is refused with `429` (`rate_limited`, with `Retry-After`).

Unknown fields in client frames are refused (`invalid_request`). A user may have several
connections (each its own session); every one receives the user's events. Logging out (or the
session token expiring) ends every gateway session opened with that token: its socket closes."#;

/// The realtime gateway (WebSocket)
#[utoipa::path(
    get,
    path = "/api/v1/gateway",
    operation_id = "gateway",
    tag = "gateway",
    description = PROTOCOL,
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket is open; the server sends `hello`."),
        (status = 400, description = "Not a WebSocket upgrade request (missing or wrong `Connection`, `Upgrade`, `Sec-WebSocket-Key` or `Sec-WebSocket-Version` headers).", body = String, content_type = "text/plain"),
        (status = 429, description = "Too many gateway sockets from the client's address (`rate_limited`): at most 16 that have not identified yet, and 256 in all.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
    ),
    security(),
)]
async fn upgrade(
    state: State,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let services = state.0;
    let ticket = match services.gateway_admission.admit(peer.ip()) {
        Ok(ticket) => ticket,
        Err(refusal) => {
            return Error::busy(ErrorCode::RateLimited, refusal.to_string(), 10).into_response();
        }
    };
    ws.max_message_size(crate::gateway::MAX_MESSAGE_BYTES)
        .max_frame_size(crate::gateway::MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| crate::gateway::serve(services, socket, ticket))
}
