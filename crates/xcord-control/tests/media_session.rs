//! The global media session over HTTP and the gateway, on a manual clock: idempotent commands,
//! epoch fencing, the owner's handoff when its connection closes or its lease lapses,
//! claim_owner, server-enforced mute and deafen at the media plane, the session ending after
//! its last connection is gone (the other party told), joining a channel through voice's
//! checks, and precise 4xx for bad commands. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod media_support;

use std::time::Duration;

use media_support::{Harness, PlaneCall, User, cid, event, event_where, heartbeat, serve};
use serde_json::{Value, json};

/// A and B in an accepted call; B has a main window and an overlay. Returns the call id.
async fn in_a_call(h: &Harness) -> (User, User, media_support::Conn, media_support::Conn, String) {
    let a = h.user("alice").await;
    let b = h.user("bob").await;
    let conv = h.conversation(&a, &b).await;
    let mut b_main = h.connect(&b, "main").await;
    let b_overlay = h.connect(&b, "overlay").await;
    let started = h
        .ok(
            &a,
            json!({"id": cid(), "type": "start_call", "conversationId": conv}),
        )
        .await;
    let call = started["result"]["call"]["id"].as_str().unwrap().to_owned();
    h.ok(
        &b,
        json!({"id": cid(), "type": "accept_call", "callId": call}),
    )
    .await;
    event(&mut b_main, "MEDIA_SESSION_CONNECT").await;
    // Both connect to the call's room (so its disconnect grace does not end it).
    h.joined(&format!("dm_{call}"), &a.id).await;
    h.joined(&format!("dm_{call}"), &b.id).await;
    (a, b, b_main, b_overlay, call)
}

#[tokio::test]
async fn a_repeated_command_id_has_no_second_effect_and_a_stale_epoch_is_refused() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let (_a, b, _b_main, _b_overlay, _call) = in_a_call(&h).await;
        let before = h.session(&b).await;
        let id = cid();
        let first = h
            .ok(&b, json!({"id": id, "type": "set_mute", "muted": true}))
            .await;
        assert_eq!(first["session"]["controls"]["muted"], true);
        assert_eq!(
            h.plane
                .taken()
                .iter()
                .filter(|c| matches!(c, PlaneCall::Mute { .. }))
                .count(),
            1
        );
        // Unmuted since, by another command; the repeated id answers as the first time and
        // changes nothing (no second SFU mute, the session stays unmuted).
        h.ok(&b, json!({"id": cid(), "type": "set_mute", "muted": false}))
            .await;
        let version = h.session(&b).await["version"].clone();
        let again = h
            .ok(&b, json!({"id": id, "type": "set_mute", "muted": true}))
            .await;
        assert_eq!(again, first);
        assert!(
            h.plane
                .taken()
                .iter()
                .all(|c| !matches!(c, PlaneCall::Mute { .. }))
        );
        let now = h.session(&b).await;
        assert_eq!(now["controls"]["muted"], false);
        assert_eq!(now["version"], version);

        // An epoch older than the session's is refused; the current one is accepted.
        let epoch = before["epoch"].as_i64().unwrap();
        let (s, refused) = h
            .command(
                &b,
                json!({"id": cid(), "epoch": epoch - 1, "type": "set_camera", "enabled": true}),
            )
            .await;
        assert_eq!(s, 409, "{refused}");
        assert_eq!(refused["code"], "stale_epoch");
        assert_eq!(h.session(&b).await["controls"]["camera"], false);
        h.ok(
            &b,
            json!({"id": cid(), "epoch": epoch, "type": "set_camera", "enabled": true}),
        )
        .await;
        assert_eq!(h.session(&b).await["controls"]["camera"], true);
    }
}

#[tokio::test]
async fn mute_and_deafen_are_enforced_at_the_media_plane() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let (a, b, mut b_main, _b_overlay, call) = in_a_call(&h).await;
        let mut a_main = h.connect(&a, "main").await;
        h.plane.taken();
        let room = format!("dm_{call}");
        // Participants come from the media plane's events.
        let s = h.session(&b).await;
        assert_eq!(s["connection"], "connected");
        let people: Vec<(String, bool)> = s["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["displayName"].as_str().unwrap().to_owned(),
                    p["local"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            people,
            [("alice".to_owned(), false), ("bob".to_owned(), true)]
        );
        // From the overlay (any connection): the microphone track is muted at the SFU.
        h.ok(&b, json!({"id": cid(), "type": "set_mute", "muted": true}))
            .await;
        assert_eq!(
            h.plane.taken(),
            vec![PlaneCall::Mute {
                room: room.clone(),
                identity: b.id.clone(),
                track: format!("TR_mic_{}", b.id)
            }]
        );
        // The owner learns it through the snapshot.
        event_where(&mut b_main, "MEDIA_SESSION_UPDATE", |s| {
            s["controls"]["muted"] == true
        })
        .await;
        // Unmuting is relayed, not forced.
        h.ok(&b, json!({"id": cid(), "type": "set_mute", "muted": false}))
            .await;
        assert_eq!(h.plane.taken(), vec![]);
        // Deafen: B is muted too, and the SFU stops forwarding the others' audio to B;
        // undeafen restarts it.
        let deafened = h
            .ok(
                &b,
                json!({"id": cid(), "type": "set_deafen", "deafened": true}),
            )
            .await;
        assert_eq!(deafened["session"]["controls"]["muted"], true);
        assert_eq!(
            h.plane.taken(),
            vec![
                PlaneCall::Mute {
                    room: room.clone(),
                    identity: b.id.clone(),
                    track: format!("TR_mic_{}", b.id)
                },
                PlaneCall::Subscriptions {
                    room: room.clone(),
                    identity: b.id.clone(),
                    tracks: vec!["TR_mic_peer".into()],
                    subscribe: false
                }
            ]
        );
        // Both see B deafened among the session's participants.
        let deaf_of = |s: &Value| -> Vec<(String, bool)> {
            s["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["displayName"].as_str().unwrap().to_owned(),
                        p["deafened"].as_bool().unwrap(),
                    )
                })
                .collect()
        };
        let expected = vec![("alice".to_owned(), false), ("bob".to_owned(), true)];
        assert_eq!(deaf_of(&deafened["session"]), expected);
        assert_eq!(deaf_of(&h.session(&b).await), expected);
        assert_eq!(deaf_of(&h.session(&a).await), expected);
        // A is told at once (a new snapshot, though nothing of A's session changed)
        event_where(&mut a_main, "MEDIA_SESSION_UPDATE", |s| {
            deaf_of(s) == expected
        })
        .await;
        h.ok(
            &b,
            json!({"id": cid(), "type": "set_deafen", "deafened": false}),
        )
        .await;
        assert!(matches!(
            h.plane.taken().as_slice(),
            [PlaneCall::Subscriptions {
                subscribe: true,
                ..
            }]
        ));
        // Relayed controls land in the snapshot.
        let pip = json!({"enabled": true, "x": 10, "y": 20, "width": 320, "height": 180, "minimized": false});
        let mut body = pip.clone();
        body["id"] = json!(cid());
        body["type"] = json!("set_pip");
        let answer = h.ok(&b, body).await;
        assert_eq!(answer["session"]["pip"], pip);
        h.ok(
            &b,
            json!({"id": cid(), "type": "set_screen_share", "enabled": true}),
        )
        .await;
        assert_eq!(h.session(&b).await["controls"]["screenShare"], true);
    }
}

#[tokio::test]
async fn closing_the_owner_hands_off_to_the_overlay_and_claim_owner_takes_it_back() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let (_a, b, b_main, mut b_overlay, call) = in_a_call(&h).await;
        let before = h.session(&b).await;
        assert_eq!(before["owner"]["connectionId"], b_main.id.as_str());
        // A follower's report is refused; the owner's is taken.
        let (s, _) = h
            .command(&b, json!({"id": cid(), "type": "report_connection", "connectionId": b_overlay.id, "state": "connected"}))
            .await;
        assert_eq!(s, 409);
        let reported = h
            .ok(&b, json!({"id": cid(), "type": "report_connection", "connectionId": b_main.id, "state": "connected"}))
            .await;
        assert_eq!(reported["session"]["connection"], "connected");

        drop(b_main);
        let connect = event(&mut b_overlay, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["room"], format!("dm_{call}"));
        let after = h.session(&b).await;
        assert_eq!(after["owner"]["connectionId"], b_overlay.id.as_str());
        assert_eq!(after["owner"]["kind"], "overlay");
        assert!(after["epoch"].as_i64() > before["epoch"].as_i64());
        assert_eq!(connect["epoch"], after["epoch"]);
        assert_eq!(after["type"], "dm-voice", "the call goes on");

        // A main window comes back: it does not take over by itself; claim_owner does.
        let mut b_main2 = h.connect(&b, "main").await;
        assert_eq!(
            b_main2.ready["mediaSession"]["owner"]["connectionId"],
            b_overlay.id.as_str()
        );
        let claimed = h
            .ok(&b, json!({"id": cid(), "epoch": after["epoch"], "type": "claim_owner", "connectionId": b_main2.id}))
            .await;
        assert_eq!(
            claimed["session"]["owner"]["connectionId"],
            b_main2.id.as_str()
        );
        let connect = event(&mut b_main2, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["epoch"], claimed["session"]["epoch"]);
        // A command sent before the claim, at the old epoch, is fenced.
        let (s, stale) = h
            .command(
                &b,
                json!({"id": cid(), "epoch": after["epoch"], "type": "set_mute", "muted": true}),
            )
            .await;
        assert_eq!((s, stale["code"].clone()), (409, json!("stale_epoch")));
        let (s, _) = h
            .command(
                &b,
                json!({"id": cid(), "type": "claim_owner", "connectionId": "not-a-connection"}),
            )
            .await;
        assert_eq!(s, 404);
    }
}

#[tokio::test]
async fn a_hung_owner_loses_ownership_when_its_lease_lapses() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let (a, b, _b_main_hung, mut b_overlay, _call) = in_a_call(&h).await;
        let mut a_main = h.connect(&a, "main").await;
        h.advance(Duration::from_secs(19));
        heartbeat(&mut a_main).await;
        heartbeat(&mut b_overlay).await;
        assert_eq!(h.session(&b).await["owner"]["kind"], "main");
        h.advance(Duration::from_millis(3_499));
        assert_eq!(
            h.session(&b).await["owner"]["kind"],
            "main",
            "not before the lease lapses"
        );
        h.advance(Duration::from_millis(1));
        let connect = event(&mut b_overlay, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(
            h.session(&b).await["owner"]["connectionId"],
            b_overlay.id.as_str()
        );
        assert_eq!(connect["epoch"], h.session(&b).await["epoch"]);
    }
}

#[tokio::test]
async fn with_no_connection_left_the_call_ends_after_the_grace_and_the_other_party_is_told() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let (a, b, b_main, b_overlay, call) = in_a_call(&h).await;
        let mut a_main = h.connect(&a, "main").await;
        drop(b_main);
        drop(b_overlay);
        // Wait until the server has seen both closes.
        for _ in 0..200 {
            if h.session(&b).await["owner"].is_null() {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(h.session(&b).await["owner"].is_null());
        // Keep A's lease alive across the grace.
        h.advance(Duration::from_secs(10));
        heartbeat(&mut a_main).await;
        h.advance(Duration::from_secs(10));
        let ended = event_where(&mut a_main, "CALL_UPDATE", |c| {
            c["id"] == call.as_str() && c["state"] == "ended"
        })
        .await;
        assert_eq!(ended["endReason"], "no_connection");
        assert_eq!(h.session(&b).await["type"], "idle");
        assert_eq!(h.session(&a).await["type"], "idle");
    }
}

#[tokio::test]
async fn joining_a_channel_goes_through_voice_and_replaces_a_call() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let (a, b, mut b_main, _b_overlay, call) = in_a_call(&h).await;
        let (s, community) = common::call(
            &h.app,
            "POST",
            "/api/v1/communities",
            Some(&b.token),
            Some(json!({"name": "C"})),
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{community}");
        let (s, channel) = common::call(
            &h.app,
            "POST",
            &format!(
                "/api/v1/communities/{}/channels",
                community["id"].as_str().unwrap()
            ),
            Some(&b.token),
            Some(json!({"name": "lounge", "kind": "voice"})),
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{channel}");
        let channel_id = channel["id"].as_str().unwrap();
        let joined = h
            .ok(
                &b,
                json!({"id": cid(), "type": "join_channel", "channelId": channel_id}),
            )
            .await;
        assert_eq!(joined["session"]["type"], "server-voice");
        assert_eq!(joined["session"]["context"]["channelId"], channel_id);
        assert_eq!(joined["session"]["context"]["communityId"], community["id"]);
        assert_eq!(joined["session"]["context"]["communityName"], "C");
        assert_eq!(joined["session"]["context"]["channelName"], "lounge");
        let replaced = event(&mut b_main, "MEDIA_SESSION_REPLACED").await;
        assert_eq!(replaced["previous"], "dm-voice");
        let connect = event(&mut b_main, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["room"], format!("vc_{channel_id}"));
        assert!(h.plane.taken().contains(&PlaneCall::Remove {
            room: format!("dm_{call}"),
            identity: b.id.clone()
        }));
        let (_, got) = common::call(
            &h.app,
            "GET",
            &format!("/api/v1/calls/{call}"),
            Some(&a.token),
            None,
        )
        .await;
        assert_eq!(got["state"], "ended");
        // Voice's checks decide: a stranger may not join.
        let (s, _) = h
            .command(
                &a,
                json!({"id": cid(), "type": "join_channel", "channelId": channel_id}),
            )
            .await;
        assert_eq!(s, 404);
    }
}

#[tokio::test]
async fn bad_commands_get_precise_errors() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let u = h.user("ulla").await;
        let cases: Vec<(Value, u16, &str)> = vec![
            (json!({"id": cid(), "type": "fly"}), 400, "unknown variant"),
            (json!({"type": "leave"}), 400, "missing field `id`"),
            (json!({"id": "", "type": "leave"}), 400, "id must be"),
            (
                json!({"id": "x".repeat(101), "type": "leave"}),
                400,
                "id must be",
            ),
            (
                json!({"id": cid(), "type": "set_mute"}),
                400,
                "missing field `muted`",
            ),
            (
                json!({"id": cid(), "type": "set_mute", "muted": true, "extra": 1}),
                400,
                "unknown field",
            ),
            (
                json!({"id": cid(), "type": "set_mute", "muted": "yes"}),
                400,
                "invalid type",
            ),
            (
                json!({"id": cid(), "type": "accept_call", "callId": "nope"}),
                404,
                "call not found",
            ),
            (
                json!({"id": cid(), "type": "set_pip", "enabled": true, "x": 0, "y": 0, "width": -1, "height": 5, "minimized": false}),
                400,
                "negative",
            ),
        ];
        for (body, status, says) in cases {
            let (s, v) = h.command(&u, body.clone()).await;
            assert_eq!(s, status, "{body} → {v}");
            assert!(
                v["message"].as_str().unwrap().contains(says),
                "{body} → {v}"
            );
        }
        // Leaving when idle is fine and changes nothing.
        let left = h.ok(&u, json!({"id": cid(), "type": "leave"})).await;
        assert_eq!(left["session"]["type"], "idle");
        let (s, _) =
            common::call(&h.app, "GET", "/api/v1/users/@me/media-session", None, None).await;
        assert_eq!(s.as_u16(), 401);
    }
}

#[tokio::test]
async fn the_connection_that_acted_owns_the_new_session() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let a = h.user("alice").await;
        let b = h.user("bob").await;
        let conv = h.conversation(&a, &b).await;
        // two main windows each: the newer would win the election, the older one clicks
        let mut a_older = h.connect(&a, "main").await;
        let _a_newer = h.connect(&a, "main").await;
        let mut b_older = h.connect(&b, "main").await;
        let b_newer = h.connect(&b, "main").await;
        let started = h
            .ok(
                &a,
                json!({"id": cid(), "type": "start_call", "conversationId": conv, "connectionId": a_older.id}),
            )
            .await;
        assert_eq!(
            started["session"]["owner"]["connectionId"],
            a_older.id.as_str()
        );
        let connect = event(&mut a_older, "MEDIA_SESSION_CONNECT").await;
        assert_eq!(connect["epoch"], started["session"]["epoch"]);
        let call = started["result"]["call"]["id"].as_str().unwrap().to_owned();
        let accepted = h
            .ok(
                &b,
                json!({"id": cid(), "type": "accept_call", "callId": call, "connectionId": b_older.id}),
            )
            .await;
        assert_eq!(
            accepted["session"]["owner"]["connectionId"],
            b_older.id.as_str()
        );
        event(&mut b_older, "MEDIA_SESSION_CONNECT").await;

        // joining a channel names its connection too; one that is not live falls back to
        // the usual election (the newest main window)
        let (s, community) = common::call(
            &h.app,
            "POST",
            "/api/v1/communities",
            Some(&b.token),
            Some(json!({"name": "C"})),
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{community}");
        let (s, channel) = common::call(
            &h.app,
            "POST",
            &format!(
                "/api/v1/communities/{}/channels",
                community["id"].as_str().unwrap()
            ),
            Some(&b.token),
            Some(json!({"name": "lounge", "kind": "voice"})),
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{channel}");
        let channel_id = channel["id"].as_str().unwrap().to_owned();
        let joined = h
            .ok(
                &b,
                json!({"id": cid(), "type": "join_channel", "channelId": channel_id, "connectionId": b_older.id}),
            )
            .await;
        assert_eq!(
            joined["session"]["owner"]["connectionId"],
            b_older.id.as_str()
        );
        let joined = h
            .ok(
                &b,
                json!({"id": cid(), "type": "join_channel", "channelId": channel_id, "connectionId": "not-a-connection"}),
            )
            .await;
        assert_eq!(
            joined["session"]["owner"]["connectionId"],
            b_newer.id.as_str()
        );
    }
}

#[tokio::test]
async fn in_a_channel_session_mute_and_deafen_update_the_voice_state() {
    for db in common::backends().await {
        let h = serve(db, 3).await;
        let b = h.user("bob").await;
        let _b_main = h.connect(&b, "main").await;
        let (_, community) = common::call(
            &h.app,
            "POST",
            "/api/v1/communities",
            Some(&b.token),
            Some(json!({"name": "C"})),
        )
        .await;
        let (_, channel) = common::call(
            &h.app,
            "POST",
            &format!(
                "/api/v1/communities/{}/channels",
                community["id"].as_str().unwrap()
            ),
            Some(&b.token),
            Some(json!({"name": "lounge", "kind": "voice"})),
        )
        .await;
        let channel_id = channel["id"].as_str().unwrap().to_owned();
        h.ok(
            &b,
            json!({"id": cid(), "type": "join_channel", "channelId": channel_id}),
        )
        .await;
        h.joined(&format!("vc_{channel_id}"), &b.id).await;
        let flags = || self_flags(&h, &b, &channel_id);
        assert_eq!(flags().await, (false, false));
        h.ok(&b, json!({"id": cid(), "type": "set_mute", "muted": true}))
            .await;
        assert_eq!(flags().await, (true, false));
        h.ok(&b, json!({"id": cid(), "type": "set_mute", "muted": false}))
            .await;
        assert_eq!(flags().await, (false, false));
        // deafening mutes too; undeafening leaves the mute until it is lifted
        h.ok(
            &b,
            json!({"id": cid(), "type": "set_deafen", "deafened": true}),
        )
        .await;
        assert_eq!(flags().await, (true, true));
        h.ok(
            &b,
            json!({"id": cid(), "type": "set_deafen", "deafened": false}),
        )
        .await;
        assert_eq!(flags().await, (true, false));
    }
}

/// The user's (selfMute, selfDeaf) in the channel's voice states.
async fn self_flags(h: &Harness, user: &User, channel_id: &str) -> (bool, bool) {
    let (s, states) = common::call(
        &h.app,
        "GET",
        &format!("/api/v1/channels/{channel_id}/voice"),
        Some(&user.token),
        None,
    )
    .await;
    assert_eq!(s.as_u16(), 200, "{states}");
    let me = states
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["userId"] == user.id.as_str())
        .expect("in the channel");
    (
        me["selfMute"].as_bool().unwrap(),
        me["selfDeaf"].as_bool().unwrap(),
    )
}
