//! Shutdown: participants are sent away with SERVER_SHUTDOWN, and the webhooks their departures
//! cause reach a slow receiver before `Sfu::shutdown` returns, unless its deadline passes first.

mod common;

use std::time::{Duration, Instant};

use common::{Client, WAIT, slow_webhook_receiver, start_with_webhooks, token};
use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use xcord_sfu::ShutdownError;
use xcord_sfu::events::names;

#[tokio::test]
async fn shutdown_sends_participants_away_and_delivers_the_last_webhooks() {
    let (url, received) = slow_webhook_receiver(Duration::from_millis(50)).await;
    let s = start_with_webhooks(url).await;
    let (mut alice, _) = Client::join(s.addr, &token("alice", "r-bye"), "alice").await;

    s.sfu.shutdown(WAIT).await.unwrap();

    // Everything the shutdown caused was delivered before it returned, in order.
    let events: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, room)| room == "r-bye")
        .map(|(event, _)| event.clone())
        .collect();
    assert_eq!(
        events,
        [
            names::ROOM_STARTED,
            names::PARTICIPANT_CONNECTION_ABORTED,
            names::ROOM_FINISHED
        ]
    );

    let leave = alice
        .expect("leave", |m| match m {
            Resp::Leave(l) => Some(l.clone()),
            _ => None,
        })
        .await;
    assert_eq!(leave.reason, proto::DisconnectReason::ServerShutdown as i32);
    assert_eq!(leave.action, proto::leave_request::Action::Reconnect as i32);
    assert!(leave.can_reconnect);
    alice.expect_closed(WAIT).await;
}

#[tokio::test]
async fn shutdown_abandons_undelivered_webhooks_at_its_deadline() {
    let (url, received) = slow_webhook_receiver(WAIT).await;
    let s = start_with_webhooks(url).await;
    s.sfu
        .rooms()
        .create_room(proto::CreateRoomRequest {
            name: "r-stuck".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let deadline = Duration::from_millis(50);
    let started = Instant::now();
    let result = s.sfu.shutdown(deadline).await;
    let took = started.elapsed();
    assert_eq!(result, Err(ShutdownError::WebhooksPending));
    assert!(
        took >= deadline,
        "returned after {took:?}, before the deadline"
    );
    assert!(
        took < WAIT,
        "waited {took:?} for a receiver that never answers"
    );
    assert!(received.lock().unwrap().is_empty());
}
