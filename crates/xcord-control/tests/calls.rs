//! Calls over HTTP and the gateway, on a manual clock: ringing on every connection of the
//! callee, accept from a follower (the owner is told to connect), no_answer at the ring
//! timeout, busy, call waiting (accepting ends the current call, its participant is removed
//! from the old room and the other party told), declining one waiting call, cancel, hang-up,
//! the system message each call leaves, and who may read a call. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod media_support;

use media_support::{PlaneCall, RING, cid, event, event_where, events_until, serve};
use serde_json::{Value, json};

fn call_id(answer: &Value) -> String {
    answer["result"]["call"]["id"].as_str().unwrap().to_owned()
}

fn ringing_ids(snapshot: &Value) -> Vec<String> {
    snapshot["incomingCalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["callId"].as_str().unwrap().to_owned())
        .collect()
}

async fn dm_messages(
    h: &media_support::Harness,
    user: &media_support::User,
    conv: &str,
) -> Vec<Value> {
    let (s, v) = common::call(
        &h.app,
        "GET",
        &format!("/api/v1/conversations/{conv}/messages"),
        Some(&user.token),
        None,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_call_rings_everywhere_is_accepted_from_the_overlay_and_hung_up() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let a = h.user("alice").await;
        let b = h.user("bob").await;
        let conv = h.conversation(&a, &b).await;
        let mut a_main = h.connect(&a, "main").await;
        let mut b_main = h.connect(&b, "main").await;
        let mut b_overlay = h.connect(&b, "overlay").await;
        assert_eq!(b_overlay.ready["mediaSession"]["type"], "idle");
        assert_eq!(b_overlay.ready["mediaSession"]["owner"], Value::Null);

        let started = h
            .ok(
                &a,
                json!({"id": cid(), "type": "start_call", "conversationId": conv, "video": false}),
            )
            .await;
        let call = call_id(&started);
        assert_eq!(started["result"]["call"]["state"], "ringing");
        assert_eq!(started["session"]["type"], "dm-voice");
        assert_eq!(started["session"]["context"]["callId"], call.as_str());
        assert_eq!(
            started["session"]["owner"]["connectionId"],
            a_main.id.as_str()
        );
        // The caller's owner connection is told to connect to the call's room.
        let connect = event(&mut a_main, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["room"], format!("dm_{call}"));
        assert_eq!(connect["url"], "ws://media.test");
        assert!(connect["token"].as_str().unwrap().len() > 20);
        // Both of the callee's connections ring.
        for conn in [&mut b_main, &mut b_overlay] {
            let s = event_where(conn, "MEDIA_SESSION_UPDATE", |s| !ringing_ids(s).is_empty()).await;
            assert_eq!(ringing_ids(&s), vec![call.clone()]);
            assert_eq!(s["incomingCalls"][0]["from"]["id"], a.id.as_str());
            assert_eq!(s["incomingCalls"][0]["from"]["displayName"], "alice");
            assert_eq!(s["type"], "idle", "ringing leaves the session alone");
        }

        // The overlay accepts; the main window (the owner) is told to connect, not the overlay.
        let accepted = h
            .ok(
                &b,
                json!({"id": cid(), "type": "accept_call", "callId": call}),
            )
            .await;
        assert_eq!(accepted["result"]["call"]["state"], "accepted");
        assert_eq!(accepted["session"]["type"], "dm-voice");
        assert_eq!(accepted["session"]["incomingCalls"], json!([]));
        assert_eq!(accepted["session"]["owner"]["kind"], "main");
        let connect = event(&mut b_main, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["room"], format!("dm_{call}"));
        assert_eq!(connect["epoch"], accepted["session"]["epoch"]);
        let seen = events_until(&mut b_overlay, "CALL_UPDATE", |c| c["state"] == "accepted").await;
        assert!(
            !seen.contains(&"MEDIA_SESSION_CONNECT".to_owned()),
            "{seen:?}"
        );
        event_where(&mut a_main, "CALL_UPDATE", |c| c["state"] == "accepted").await;

        // A second accept (the other window, at the same time) gets the settled call.
        let again = h
            .ok(
                &b,
                json!({"id": cid(), "type": "accept_call", "callId": call}),
            )
            .await;
        assert_eq!(again["result"]["call"]["state"], "accepted");
        assert_eq!(again["session"]["epoch"], accepted["session"]["epoch"]);

        // The caller hangs up: the call ends for both and the callee's session is idle.
        h.advance(std::time::Duration::from_secs(5));
        h.ok(&a, json!({"id": cid(), "type": "leave"})).await;
        let ended = event_where(&mut b_main, "CALL_UPDATE", |c| c["state"] == "ended").await;
        assert_eq!(ended["endReason"], "hangup");
        event_where(&mut b_overlay, "MEDIA_SESSION_UPDATE", |s| {
            s["type"] == "idle"
        })
        .await;
        assert_eq!(h.session(&b).await["type"], "idle");
        let removed = h.plane.taken();
        assert!(
            removed.contains(&PlaneCall::Remove {
                room: format!("dm_{call}"),
                identity: a.id.clone()
            }),
            "{removed:?}"
        );
        assert!(
            removed.contains(&PlaneCall::Remove {
                room: format!("dm_{call}"),
                identity: b.id.clone()
            }),
            "{removed:?}"
        );

        // GET /calls/{id}: the parties only.
        let (s, got) = common::call(
            &h.app,
            "GET",
            &format!("/api/v1/calls/{call}"),
            Some(&b.token),
            None,
        )
        .await;
        assert_eq!(s.as_u16(), 200);
        assert_eq!(got["state"], "ended");
        assert_eq!(got["callerId"], a.id.as_str());
        assert_eq!(got["calleeId"], b.id.as_str());
        let stranger = h.user("eve").await;
        let (s, _) = common::call(
            &h.app,
            "GET",
            &format!("/api/v1/calls/{call}"),
            Some(&stranger.token),
            None,
        )
        .await;
        assert_eq!(s.as_u16(), 404);

        // The DM list shows the call's one system message next to text messages.
        let (s, _) = common::call(
            &h.app,
            "POST",
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(&a.token),
            Some(json!({"content": "hi"})),
        )
        .await;
        assert_eq!(s.as_u16(), 201);
        let messages = dm_messages(&h, &b, &conv).await;
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0]["kind"], "text");
        assert!(messages[0].get("call").is_none());
        assert_eq!(messages[1]["kind"], "call");
        assert_eq!(messages[1]["call"]["id"], call.as_str());
        assert_eq!(messages[1]["call"]["state"], "ended");
        assert_eq!(messages[1]["call"]["video"], false);
        assert_eq!(messages[1]["call"]["durationMs"], 5000);
    }
}

#[tokio::test]
async fn no_answer_at_the_ring_timeout_busy_and_decline() {
    for db in common::backends().await {
        let h = serve(db, 2).await;
        let b = h.user("bob").await;
        let d = h.user("dave").await;
        let c = h.user("carol").await;
        let e = h.user("erin").await;
        let mut b_main = h.connect(&b, "main").await;
        let mut d_main = h.connect(&d, "main").await;
        let dconv = h.conversation(&d, &b).await;
        let started = h
            .ok(
                &d,
                json!({"id": cid(), "type": "start_call", "conversationId": dconv}),
            )
            .await;
        let dcall = call_id(&started);
        event_where(&mut b_main, "MEDIA_SESSION_UPDATE", |s| {
            !ringing_ids(s).is_empty()
        })
        .await;

        // The same caller again while it rings: busy, at once.
        let again = h
            .ok(
                &d,
                json!({"id": cid(), "type": "start_call", "conversationId": dconv}),
            )
            .await;
        assert_eq!(again["result"]["call"]["state"], "busy");
        // A second caller rings too (max 2); a third is busy.
        let cconv = h.conversation(&c, &b).await;
        let ccall = call_id(
            &h.ok(
                &c,
                json!({"id": cid(), "type": "start_call", "conversationId": cconv}),
            )
            .await,
        );
        let econv = h.conversation(&e, &b).await;
        let busy = h
            .ok(
                &e,
                json!({"id": cid(), "type": "start_call", "conversationId": econv}),
            )
            .await;
        assert_eq!(busy["result"]["call"]["state"], "busy");
        assert_eq!(
            busy["session"]["type"], "idle",
            "a busy call starts no session"
        );
        assert_eq!(
            ringing_ids(&h.session(&b).await),
            vec![dcall.clone(), ccall.clone()]
        );

        // Declining one closes only that one; its caller learns it.
        h.ok(
            &b,
            json!({"id": cid(), "type": "decline_call", "callId": ccall}),
        )
        .await;
        assert_eq!(ringing_ids(&h.session(&b).await), vec![dcall.clone()]);
        assert_eq!(h.session(&c).await["type"], "idle");

        // Nobody answers D: no_answer exactly at the ring timeout.
        h.advance(RING - std::time::Duration::from_millis(1));
        let (s, still) = common::call(
            &h.app,
            "GET",
            &format!("/api/v1/calls/{dcall}"),
            Some(&d.token),
            None,
        )
        .await;
        assert_eq!(s.as_u16(), 200);
        assert_eq!(still["state"], "ringing");
        h.advance(std::time::Duration::from_millis(1));
        let over = event_where(&mut d_main, "CALL_UPDATE", |c| {
            c["id"] == dcall.as_str() && c["state"] != "ringing"
        })
        .await;
        assert_eq!(over["state"], "no_answer");
        event_where(&mut d_main, "MEDIA_SESSION_UPDATE", |s| s["type"] == "idle").await;
        event_where(&mut b_main, "MEDIA_SESSION_UPDATE", |s| {
            ringing_ids(s).is_empty()
        })
        .await;
        // A late answer is refused.
        let (s, late) = h
            .command(
                &b,
                json!({"id": cid(), "type": "accept_call", "callId": dcall}),
            )
            .await;
        assert_eq!(s, 409, "{late}");
        assert_eq!(late["code"], "conflict");

        // Every call left its one system message: D's conversation has no_answer and busy.
        let states: Vec<String> = dm_messages(&h, &d, &dconv)
            .await
            .iter()
            .map(|m| m["call"]["state"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(states, ["no_answer", "busy"]);
        let states: Vec<Value> = dm_messages(&h, &c, &cconv)
            .await
            .iter()
            .map(|m| m["call"]["state"].clone())
            .collect();
        assert_eq!(states, [json!("declined")]);
    }
}

#[tokio::test]
async fn call_waiting_accepting_the_second_call_ends_the_first() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let a = h.user("alice").await;
        let b = h.user("bob").await;
        let c = h.user("carol").await;
        let mut a_main = h.connect(&a, "main").await;
        let mut b_main = h.connect(&b, "main").await;
        let aconv = h.conversation(&a, &b).await;
        let first = call_id(
            &h.ok(
                &a,
                json!({"id": cid(), "type": "start_call", "conversationId": aconv}),
            )
            .await,
        );
        h.ok(
            &b,
            json!({"id": cid(), "type": "accept_call", "callId": first}),
        )
        .await;
        event(&mut b_main, "MEDIA_SESSION_CONNECT").await;

        // C calls: B is in a session, so it waits there.
        let cconv = h.conversation(&c, &b).await;
        let second = call_id(
            &h.ok(
                &c,
                json!({"id": cid(), "type": "start_call", "conversationId": cconv, "video": true}),
            )
            .await,
        );
        let waiting = event_where(&mut b_main, "MEDIA_SESSION_UPDATE", |s| {
            !ringing_ids(s).is_empty()
        })
        .await;
        assert_eq!(waiting["type"], "dm-voice");
        assert_eq!(waiting["incomingCalls"][0]["video"], true);
        h.plane.taken();

        let accepted = h
            .ok(
                &b,
                json!({"id": cid(), "type": "accept_call", "callId": second}),
            )
            .await;
        assert_eq!(accepted["session"]["type"], "dm-video");
        assert_eq!(accepted["session"]["context"]["callId"], second.as_str());
        assert_eq!(
            accepted["session"]["context"]["otherUser"]["id"],
            c.id.as_str()
        );
        // B left A's room, A's call ended and A was told; B's old owner learnt of the replacement.
        assert!(h.plane.taken().contains(&PlaneCall::Remove {
            room: format!("dm_{first}"),
            identity: b.id.clone()
        }));
        let replaced = event(&mut b_main, "MEDIA_SESSION_REPLACED").await;
        assert_eq!(replaced["previous"], "dm-voice");
        assert_eq!(replaced["reason"], "replaced");
        let connect = event(&mut b_main, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["room"], format!("dm_{second}"));
        let ended = event_where(&mut a_main, "CALL_UPDATE", |c| {
            c["id"] == first.as_str() && c["state"] == "ended"
        })
        .await;
        assert_eq!(ended["endReason"], "replaced");
        event_where(&mut a_main, "MEDIA_SESSION_UPDATE", |s| s["type"] == "idle").await;
    }
}

#[tokio::test]
async fn a_caller_that_leaves_while_ringing_cancels() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let a = h.user("alice").await;
        let b = h.user("bob").await;
        let mut b_main = h.connect(&b, "main").await;
        let conv = h.conversation(&a, &b).await;
        let call = call_id(
            &h.ok(
                &a,
                json!({"id": cid(), "type": "start_call", "conversationId": conv}),
            )
            .await,
        );
        h.ok(&a, json!({"id": cid(), "type": "leave"})).await;
        let c = event_where(&mut b_main, "CALL_UPDATE", |c| c["state"] != "ringing").await;
        assert_eq!(c["state"], "canceled");
        assert!(ringing_ids(&h.session(&b).await).is_empty());
        let (s, refused) = h
            .command(
                &b,
                json!({"id": cid(), "type": "accept_call", "callId": call}),
            )
            .await;
        assert_eq!(s, 409, "{refused}");
        // Nobody else can answer or read it.
        let eve = h.user("eve").await;
        let (s, _) = h
            .command(
                &eve,
                json!({"id": cid(), "type": "accept_call", "callId": call}),
            )
            .await;
        assert_eq!(s, 404);
        // Calling a conversation one is not in: 404.
        let (s, _) = h
            .command(
                &eve,
                json!({"id": cid(), "type": "start_call", "conversationId": conv}),
            )
            .await;
        assert_eq!(s, 404);
    }
}

#[tokio::test]
async fn two_connections_accepting_at_once_join_the_call_once() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let a = h.user("alice").await;
        let b = h.user("bob").await;
        let mut b_main = h.connect(&b, "main").await;
        let conv = h.conversation(&a, &b).await;
        let started = h
            .ok(
                &a,
                json!({"id": cid(), "type": "start_call", "conversationId": conv}),
            )
            .await;
        let call = call_id(&started);
        let accept = || json!({"id": cid(), "type": "accept_call", "callId": call});
        let (one, two) = tokio::join!(h.command(&b, accept()), h.command(&b, accept()));
        assert_eq!((one.0, two.0), (200, 200), "{one:?} {two:?}");
        assert_eq!(one.1["result"]["call"], two.1["result"]["call"]);
        assert_eq!(one.1["result"]["call"]["state"], "accepted");
        // One session start: the same epoch in both answers, one MEDIA_SESSION_CONNECT.
        assert_eq!(one.1["session"]["epoch"], two.1["session"]["epoch"]);
        event(&mut b_main, "MEDIA_SESSION_CONNECT").await;
        h.ok(&b, json!({"id": cid(), "type": "set_mute", "muted": true}))
            .await;
        let seen = events_until(&mut b_main, "MEDIA_SESSION_UPDATE", |s| {
            s["controls"]["muted"] == true
        })
        .await;
        assert!(
            !seen.contains(&"MEDIA_SESSION_CONNECT".to_owned()),
            "{seen:?}"
        );
    }
}
