//! Voice states from media events: idempotent (inbox keyed by event id), keyed by participant
//! sid (a move between channels is one change, a late leave of the old connection is a no-op),
//! and the reconciler removing ghosts against a real (in-process) SFU. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use livekit_protocol as proto;
use serde_json::json;
use xcord_control::app::Services;
use xcord_control::media::MediaEvent;
use xcord_control::media::embedded::EmbeddedMediaPlane;
use xcord_control::media::events;
use xcord_control::media::{MediaAccess, MediaPlane};
use xcord_control::tasks::Tasks;
use xcord_control::voice::{reconcile, store};

fn event(id: &str, name: &str, channel: &str, user: &str, sid: &str) -> MediaEvent {
    Arc::new(proto::WebhookEvent {
        id: id.into(),
        event: name.into(),
        room: Some(proto::Room {
            name: format!("vc_{channel}"),
            ..Default::default()
        }),
        participant: Some(proto::ParticipantInfo {
            sid: sid.into(),
            identity: user.into(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A community with two voice channels; returns (state, user id, channel a, channel b, a member's
/// hub receiver).
async fn setup(
    db: xcord_control::db::Db,
) -> (
    Arc<Services>,
    String,
    String,
    String,
    tokio::sync::mpsc::Receiver<xcord_control::realtime::hub::GatewayEvent>,
) {
    let (app, state) = common::app_with_state(db);
    let (token, user) = common::register(&app, "voicer").await;
    let (s, c) = common::call(
        &app,
        "POST",
        "/api/v1/communities",
        Some(&token),
        Some(json!({"name": "V"})),
    )
    .await;
    assert_eq!(s.as_u16(), 201, "{c}");
    let mut channels = Vec::new();
    for name in ["one", "two"] {
        let (s, ch) = common::call(
            &app,
            "POST",
            &format!("/api/v1/communities/{}/channels", c["id"].as_str().unwrap()),
            Some(&token),
            Some(json!({"name": name, "kind": "voice"})),
        )
        .await;
        assert_eq!(s.as_u16(), 201, "{ch}");
        channels.push(ch["id"].as_str().unwrap().to_owned());
    }
    let (_, rx) = state.hub.connect(&user);
    (state, user, channels[0].clone(), channels[1].clone(), rx)
}

fn voice_updates(
    rx: &mut tokio::sync::mpsc::Receiver<xcord_control::realtime::hub::GatewayEvent>,
) -> Vec<serde_json::Value> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|e| e.kind == "VOICE_STATE_UPDATE")
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn duplicates_are_no_ops_and_moves_are_one_change() {
    for db in common::backends().await {
        let (state, user, a, b, mut rx) = setup(db).await;
        let joined = event("EV_1", "participant_joined", &a, &user, "PA_one");
        events::deliver(&state, &joined).await;
        events::deliver(&state, &joined).await; // redelivered webhook
        let updates = voice_updates(&mut rx);
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert_eq!(updates[0]["channelId"], a.as_str());

        // the user moves: the join in channel b arrives before the leave from channel a
        events::deliver(
            &state,
            &event("EV_2", "participant_joined", &b, &user, "PA_two"),
        )
        .await;
        events::deliver(
            &state,
            &event("EV_3", "participant_left", &a, &user, "PA_one"),
        )
        .await;
        let updates = voice_updates(&mut rx);
        assert_eq!(updates.len(), 1, "a move must be one change: {updates:?}");
        assert_eq!(updates[0]["channelId"], b.as_str());
        assert_eq!(updates[0]["previousChannelId"], a.as_str());
        assert_eq!(
            store::of_user(&state.db, &user)
                .await
                .unwrap()
                .map(|s| s.channel_id),
            Some(b.clone())
        );

        // leaving for real
        events::deliver(
            &state,
            &event("EV_4", "participant_left", &b, &user, "PA_two"),
        )
        .await;
        let updates = voice_updates(&mut rx);
        assert_eq!(updates.len(), 1);
        assert!(updates[0]["channelId"].is_null());
        assert!(store::of_user(&state.db, &user).await.unwrap().is_none());
        // an event for another room kind is ignored
        events::deliver(
            &state,
            &Arc::new(proto::WebhookEvent {
                id: "EV_5".into(),
                event: "room_started".into(),
                room: Some(proto::Room {
                    name: "live_x".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        )
        .await;
        assert!(voice_updates(&mut rx).is_empty());
    }
}

#[tokio::test]
async fn reconciler_removes_ghosts_against_the_sfu() {
    for db in common::backends().await {
        let (state, user, a, _, mut rx) = setup(db.clone()).await;
        // a voice state whose participant_left was lost: the SFU has no such participant
        events::deliver(
            &state,
            &event("EV_g", "participant_joined", &a, &user, "PA_ghost"),
        )
        .await;
        voice_updates(&mut rx);
        let keys = xcord_sfu::auth::KeyStore::new([("devkey".to_owned(), "secret".to_owned())]);
        let mut cfg = xcord_sfu::SfuConfig::new(keys, vec!["127.0.0.1".parse().unwrap()]);
        cfg.udp_port = 0;
        let sfu = xcord_sfu::Sfu::start(cfg).unwrap();
        let (tx, _events) = tokio::sync::mpsc::channel(16);
        let plane: Arc<dyn MediaPlane> = Arc::new(EmbeddedMediaPlane::new(&sfu, tx, &Tasks::new()));
        let access = MediaAccess {
            url: "ws://127.0.0.1:1".into(),
            api_key: "devkey".into(),
            api_secret: "secret".into(),
        };
        let with_media = xcord_control::services(state.db.clone())
            .media(plane, access)
            .build();
        let (_, mut rx2) = with_media.hub.connect(&user);
        let joined_at = store::of_user(&with_media.db, &user)
            .await
            .unwrap()
            .unwrap()
            .joined_at;

        // younger than one interval: too young to judge, untouched
        let interval = Duration::from_secs(10);
        let at = |ms: i64| joined_at + ms;
        let suspects = reconcile::pass(&with_media, &HashSet::new(), interval, at(9_999))
            .await
            .unwrap();
        assert!(suspects.is_empty());
        // exactly one interval old: a suspect, not yet removed
        let suspects = reconcile::pass(&with_media, &HashSet::new(), interval, at(10_000))
            .await
            .unwrap();
        assert_eq!(suspects, HashSet::from(["PA_ghost".to_owned()]));
        assert!(
            store::of_user(&with_media.db, &user)
                .await
                .unwrap()
                .is_some()
        );
        // second pass: removed and announced
        let next = reconcile::pass(&with_media, &suspects, interval, at(20_000))
            .await
            .unwrap();
        assert!(next.is_empty());
        assert!(
            store::of_user(&with_media.db, &user)
                .await
                .unwrap()
                .is_none()
        );
        let updates = voice_updates(&mut rx2);
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert!(updates[0]["channelId"].is_null());
    }
}

#[tokio::test]
async fn joins_the_server_refuses_store_nothing_and_are_undone() {
    use xcord_control::voice::apply::process;
    use xcord_control::voice::decide::MediaAction;
    for db in common::backends().await {
        let (state, owner, a, _, mut rx) = setup(db).await;
        let app = common::router(&state);
        let (_, stranger) = common::register(&app, "stranger").await;
        let remove = |identity: &str| {
            vec![MediaAction::Remove {
                identity: identity.to_owned(),
            }]
        };

        // someone who is not a member (a leaked or forged ticket): nothing stored, removed
        let stored = |e: MediaEvent| {
            let db = state.db.clone();
            async move {
                assert!(
                    xcord_control::media::inbox::store(&db, &e, 1)
                        .await
                        .unwrap()
                );
                e
            }
        };
        let e = stored(event("EV_s", "participant_joined", &a, &stranger, "PA_s")).await;
        let d = process(&state.db, &e, 1).await.unwrap();
        assert_eq!(d.media, remove(&stranger));
        assert!(d.changes.is_empty());
        assert!(
            store::of_user(&state.db, &stranger)
                .await
                .unwrap()
                .is_none()
        );

        // the owner is admitted; an event without the live permission gets it pushed
        let e = stored(event("EV_o", "participant_joined", &a, &owner, "PA_o")).await;
        let d = process(&state.db, &e, 2).await.unwrap();
        assert!(matches!(d.media[..], [MediaAction::SetPermission { .. }]));
        assert!(store::of_user(&state.db, &owner).await.unwrap().is_some());
        let _ = voice_updates(&mut rx);
    }
}
