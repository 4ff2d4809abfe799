//! Communities over the HTTP API, on SQLite and PostgreSQL: lifecycle, invites, roles and
//! permissions, kicks and bans, channels, messages with pagination, and realtime delivery.
//! Each test checks one rule on a fresh community (`guild`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use common::{app, app_with_state, backends, call, register};
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use xcord_control::app::Services;
use xcord_control::communities::{self, ChannelKind, Permissions};
use xcord_control::db::Db;
use xcord_control::realtime::hub::GatewayEvent;

/// Creates a community; returns its view.
async fn create(app: &Router, token: &str, name: &str) -> Value {
    let (s, body) = call(
        app,
        "POST",
        "/api/v1/communities",
        Some(token),
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body
}

/// Creates an invite with the given limits; returns its view.
async fn invite_with(app: &Router, token: &str, community: &str, limits: Value) -> Value {
    let (s, body) = call(
        app,
        "POST",
        &format!("/api/v1/communities/{community}/invites"),
        Some(token),
        Some(limits),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body
}

/// Creates an unlimited invite; returns its code.
async fn invite(app: &Router, token: &str, community: &str) -> String {
    invite_with(app, token, community, json!({})).await["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn join(app: &Router, token: &str, code: &str) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        &format!("/api/v1/invites/{code}"),
        Some(token),
        None,
    )
    .await
}

/// A fresh community "Guild" owned by `alice`, which the `members` joined.
struct Guild<const N: usize> {
    app: Router,
    state: Arc<Services>,
    /// The community as its creation returned it (before anyone joined).
    view: Value,
    id: String,
    /// The unlimited invite the members joined by (one use each).
    code: String,
    /// alice: (token, user id).
    owner: (String, String),
    /// (token, user id) of each member, in the order given.
    members: [(String, String); N],
}

/// Registers `alice` and the `members` on `db`; alice creates "Guild" and an unlimited invite,
/// and the members join by it.
async fn guild<const N: usize>(db: Db, members: [&str; N]) -> Guild<N> {
    let (app, state) = app_with_state(db);
    let owner = register(&app, "alice").await;
    let view = create(&app, &owner.0, "Guild").await;
    let id = view["id"].as_str().unwrap().to_owned();
    let code = invite(&app, &owner.0, &id).await;
    let mut joined = Vec::with_capacity(N);
    for handle in members {
        let member = register(&app, handle).await;
        let (s, body) = join(&app, &member.0, &code).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        joined.push(member);
    }
    Guild {
        app,
        state,
        view,
        id,
        code,
        owner,
        members: joined.try_into().unwrap(),
    }
}

/// Creates a role with `permissions` and gives it to `user`; returns the role id.
async fn grant(
    app: &Router,
    owner: &str,
    community: &str,
    user: &str,
    name: &str,
    permissions: &[&str],
) -> String {
    let (s, role) = call(
        app,
        "POST",
        &format!("/api/v1/communities/{community}/roles"),
        Some(owner),
        Some(json!({ "name": name, "permissions": permissions })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{role}");
    let role_id = role["id"].as_str().unwrap().to_owned();
    let (s, member) = call(
        app,
        "PUT",
        &format!("/api/v1/communities/{community}/members/{user}/roles/{role_id}"),
        Some(owner),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{member}");
    role_id
}

/// Gives `user` the roles "Mods" (MANAGE_CHANNELS) and then "Role managers" (MANAGE_ROLES);
/// returns their ids.
async fn role_manager(app: &Router, owner: &str, community: &str, user: &str) -> (String, String) {
    let mods = grant(app, owner, community, user, "Mods", &["MANAGE_CHANNELS"]).await;
    let managers = grant(
        app,
        owner,
        community,
        user,
        "Role managers",
        &["MANAGE_ROLES"],
    )
    .await;
    (mods, managers)
}

/// Creates a channel; returns its view.
async fn create_channel(app: &Router, token: &str, community: &str, channel: Value) -> Value {
    let (s, body) = call(
        app,
        "POST",
        &format!("/api/v1/communities/{community}/channels"),
        Some(token),
        Some(channel),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body
}

/// The voice channel "Lounge" for up to 99, as the first channel after the defaults.
async fn lounge(app: &Router, token: &str, community: &str) -> Value {
    create_channel(
        app,
        token,
        community,
        json!({"name": "Lounge", "kind": "voice", "userLimit": 99}),
    )
    .await
}

/// Posts a message to a channel; returns it.
async fn post(app: &Router, token: &str, channel: &str, content: &str) -> Value {
    let (s, m) = call(
        app,
        "POST",
        &format!("/api/v1/channels/{channel}/messages"),
        Some(token),
        Some(json!({ "content": content })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    m
}

/// The id of `view`'s channel at `index` (0: the default text channel, 1: the default voice).
fn channel_id(view: &Value, index: usize) -> String {
    view["channels"][index]["id"].as_str().unwrap().to_owned()
}

fn assert_error(got: (StatusCode, Value), status: StatusCode, message: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["message"], message, "{}", got.1);
}

fn drain(rx: &mut Receiver<GatewayEvent>) -> Vec<GatewayEvent> {
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    events
}

fn kinds(events: &[GatewayEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

// --- the community itself ---

#[tokio::test]
async fn a_new_community_has_its_owner_the_everyone_role_and_default_channels() {
    for db in backends().await {
        let app = app(db);
        let (alice, alice_id) = register(&app, "alice").await;

        let view = create(&app, &alice, "  Rust Fans  ").await;
        let id = view["id"].as_str().unwrap().to_owned();
        assert_eq!(view["name"], "Rust Fans");
        assert_eq!(view["ownerId"], alice_id.as_str());
        assert_eq!(view["members"].as_array().unwrap().len(), 1);
        assert_eq!(view["members"][0]["user"]["id"], alice_id.as_str());
        assert_eq!(view["roles"][0]["name"], "@everyone");
        assert_eq!(view["roles"][0]["id"], id.as_str());
        assert_eq!(view["roles"][0]["isEveryone"], true);
        assert_eq!(
            view["roles"][0]["permissions"],
            json!([
                "VIEW_CHANNEL",
                "SEND_MESSAGES",
                "CONNECT",
                "SPEAK",
                "VIDEO",
                "SCREEN_SHARE"
            ])
        );
        let kinds: Vec<&str> = view["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["text", "voice"]);
    }
}

#[tokio::test]
async fn my_communities_lists_only_those_i_belong_to() {
    for db in backends().await {
        let app = app(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, _) = register(&app, "bob").await;
        let view = create(&app, &alice, "Guild").await;

        let (s, mine) = call(
            &app,
            "GET",
            "/api/v1/users/@me/communities",
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(mine.as_array().unwrap().len(), 1);
        assert_eq!(mine[0], view);
        let (s, bobs) = call(
            &app,
            "GET",
            "/api/v1/users/@me/communities",
            Some(&bob),
            None,
        )
        .await;
        assert_eq!((s, bobs), (StatusCode::OK, json!([])));
    }
}

#[tokio::test]
async fn a_community_name_must_be_1_to_100_characters() {
    for db in backends().await {
        let app = app(db);
        let (alice, _) = register(&app, "alice").await;
        for name in ["", "   ", &"x".repeat(101)] {
            assert_error(
                call(
                    &app,
                    "POST",
                    "/api/v1/communities",
                    Some(&alice),
                    Some(json!({ "name": name })),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "name must be 1 to 100 characters",
            );
        }
    }
}

#[tokio::test]
async fn a_non_member_cannot_see_a_community() {
    for db in backends().await {
        let Guild { app, id, .. } = guild(db, []).await;
        let (bob, _) = register(&app, "bob").await;
        assert_error(
            call(
                &app,
                "GET",
                &format!("/api/v1/communities/{id}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "community not found",
        );
    }
}

#[tokio::test]
async fn renaming_a_community_takes_administrator() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let path = format!("/api/v1/communities/{id}");
        assert_error(
            call(
                &app,
                "PATCH",
                &path,
                Some(&bob),
                Some(json!({"name": "Mine"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission ADMINISTRATOR",
        );
        let (s, renamed) = call(
            &app,
            "PATCH",
            &path,
            Some(&alice),
            Some(json!({"name": "Crabs"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{renamed}");
        assert_eq!(renamed["name"], "Crabs");
        let (_, seen) = call(&app, "GET", &path, Some(&bob), None).await;
        assert_eq!(seen["name"], "Crabs");
        assert_eq!(seen["members"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn only_the_owner_can_delete_a_community() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let path = format!("/api/v1/communities/{id}");
        assert_error(
            call(&app, "DELETE", &path, Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "only the owner can delete the community",
        );
        let (s, _) = call(&app, "DELETE", &path, Some(&alice), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn a_deleted_community_is_gone_for_its_members_and_its_invites() {
    for db in backends().await {
        let Guild {
            app,
            id,
            code,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let path = format!("/api/v1/communities/{id}");
        let (s, _) = call(&app, "DELETE", &path, Some(&alice), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            call(&app, "GET", &path, Some(&alice), None).await.0,
            StatusCode::NOT_FOUND
        );
        let (_, mine) = call(
            &app,
            "GET",
            "/api/v1/users/@me/communities",
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(mine, json!([]));
        assert_eq!(join(&app, &bob, &code).await.0, StatusCode::NOT_FOUND);
    }
}

// --- invites ---

#[tokio::test]
async fn invite_limits_are_validated() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let invites = format!("/api/v1/communities/{id}/invites");
        for (body, message) in [
            (json!({"maxUses": 0}), "maxUses must be 1 to 1000"),
            (
                json!({"maxAgeSeconds": 2_592_001}),
                "maxAgeSeconds must be 1 to 2592000 (30 days)",
            ),
        ] {
            assert_error(
                call(&app, "POST", &invites, Some(&alice), Some(body)).await,
                StatusCode::BAD_REQUEST,
                message,
            );
        }
    }
}

#[tokio::test]
async fn a_non_member_cannot_create_an_invite() {
    for db in backends().await {
        let Guild { app, id, .. } = guild(db, []).await;
        let (bob, _) = register(&app, "bob").await;
        assert_error(
            call(
                &app,
                "POST",
                &format!("/api/v1/communities/{id}/invites"),
                Some(&bob),
                Some(json!({})),
            )
            .await,
            StatusCode::NOT_FOUND,
            "community not found",
        );
    }
}

#[tokio::test]
async fn a_new_invite_has_a_ten_character_code_and_no_uses() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let once = invite_with(&app, &alice, &id, json!({"maxUses": 1})).await;
        assert_eq!(
            (once["maxUses"].as_i64(), once["uses"].as_i64()),
            (Some(1), Some(0))
        );
        assert_eq!(once["code"].as_str().unwrap().len(), 10);
    }
}

#[tokio::test]
async fn a_non_member_can_preview_an_invite() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (bob, _) = register(&app, "bob").await;
        let once = invite_with(&app, &alice, &id, json!({"maxUses": 1})).await;
        let (s, preview) = call(
            &app,
            "GET",
            &format!("/api/v1/invites/{}", once["code"].as_str().unwrap()),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (
                preview["communityName"].as_str(),
                preview["memberCount"].as_i64()
            ),
            (Some("Guild"), Some(1))
        );
    }
}

#[tokio::test]
async fn joining_by_invite_returns_the_community() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (bob, _) = register(&app, "bob").await;
        let once = invite_with(&app, &alice, &id, json!({"maxUses": 1})).await;
        let (s, view) = join(&app, &bob, once["code"].as_str().unwrap()).await;
        assert_eq!(s, StatusCode::CREATED, "{view}");
        assert_eq!(view["id"], id.as_str());
        assert_eq!(view["members"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn joining_again_is_ok_and_uses_nothing() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (bob, _) = register(&app, "bob").await;
        let once = invite_with(&app, &alice, &id, json!({"maxUses": 1})).await;
        let code = once["code"].as_str().unwrap();
        assert_eq!(join(&app, &bob, code).await.0, StatusCode::CREATED);
        // already a member: 200, and no use is counted
        let (s, _) = join(&app, &bob, code).await;
        assert_eq!(s, StatusCode::OK);
        let (_, list) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}/invites"),
            Some(&alice),
            None,
        )
        .await;
        let used = list
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code)
            .unwrap();
        assert_eq!(used["uses"], 1);
    }
}

#[tokio::test]
async fn an_invite_is_used_up_at_its_maximum_uses() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (bob, _) = register(&app, "bob").await;
        let (carol, _) = register(&app, "carol").await;
        let once = invite_with(&app, &alice, &id, json!({"maxUses": 1})).await;
        let code = once["code"].as_str().unwrap();
        assert_eq!(join(&app, &bob, code).await.0, StatusCode::CREATED);
        assert_error(
            join(&app, &carol, code).await,
            StatusCode::GONE,
            "invite has reached its maximum uses",
        );
    }
}

#[tokio::test]
async fn an_unknown_invite_is_not_found() {
    for db in backends().await {
        let app = app(db);
        let (carol, _) = register(&app, "carol").await;
        assert_error(
            join(&app, &carol, "nosuchcode").await,
            StatusCode::NOT_FOUND,
            "invite not found",
        );
    }
}

#[tokio::test]
async fn an_invite_expires_exactly_at_its_max_age() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (carol, _) = register(&app, "carol").await;
        let short = invite_with(&app, &alice, &id, json!({"maxAgeSeconds": 1})).await;
        assert_eq!(
            short["expiresAt"].as_i64().unwrap() - short["createdAt"].as_i64().unwrap(),
            1000
        );
        // expiry at an exact instant: usable 1 ms before its age, gone at it
        let preview_path = format!("/api/v1/invites/{}", short["code"].as_str().unwrap());
        let now = state.clock.now_ms();
        let created = short["createdAt"].as_i64().unwrap();
        state.clock.advance(std::time::Duration::from_millis(
            (created + 999 - now) as u64,
        ));
        let (s, _) = call(&app, "GET", &preview_path, Some(&carol), None).await;
        assert_eq!(s, StatusCode::OK);
        state.clock.advance(std::time::Duration::from_millis(1));
        assert_error(
            call(&app, "GET", &preview_path, Some(&carol), None).await,
            StatusCode::GONE,
            "invite has expired",
        );
        assert_error(
            join(&app, &carol, short["code"].as_str().unwrap()).await,
            StatusCode::GONE,
            "invite has expired",
        );
    }
}

#[tokio::test]
async fn listing_invites_takes_manage_channels() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        invite(&app, &alice, &id).await;
        let invites = format!("/api/v1/communities/{id}/invites");
        assert_error(
            call(&app, "GET", &invites, Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
        let (s, list) = call(&app, "GET", &invites, Some(&alice), None).await;
        assert_eq!(s, StatusCode::OK);
        // the one the members joined by and the one above
        assert_eq!(list.as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn revoking_someone_elses_invite_takes_manage_channels() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let alices = invite(&app, &alice, &id).await;
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("/api/v1/invites/{alices}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
    }
}

#[tokio::test]
async fn a_member_can_revoke_their_own_invite() {
    for db in backends().await {
        let Guild {
            app,
            id,
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let (carol, _) = register(&app, "carol").await;
        let bobs = invite(&app, &bob, &id).await;
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("/api/v1/invites/{bobs}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(join(&app, &carol, &bobs).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_non_member_cannot_revoke_an_invite() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (carol, _) = register(&app, "carol").await;
        let alices = invite(&app, &alice, &id).await;
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("/api/v1/invites/{alices}"),
                Some(&carol),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "invite not found",
        );
    }
}

// --- leaving ---

#[tokio::test]
async fn the_owner_cannot_leave_their_community() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("/api/v1/users/@me/communities/{id}"),
                Some(&alice),
                None,
            )
            .await,
            StatusCode::CONFLICT,
            "the owner cannot leave the community; delete it instead",
        );
    }
}

#[tokio::test]
async fn a_member_who_left_can_rejoin_by_invite() {
    for db in backends().await {
        let Guild {
            app,
            id,
            code,
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("/api/v1/users/@me/communities/{id}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            call(
                &app,
                "GET",
                &format!("/api/v1/communities/{id}"),
                Some(&bob),
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(join(&app, &bob, &code).await.0, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_member_can_also_leave_by_the_members_me_path() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("/api/v1/communities/{id}/members/@me"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, members) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}/members"),
            Some(&alice),
            None,
        )
        .await;
        assert!(
            members
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["user"]["id"] != bob_id.as_str())
        );
    }
}

// --- roles and permissions ---

#[tokio::test]
async fn a_role_granting_manage_channels_lets_a_member_create_channels() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let channels = format!("/api/v1/communities/{id}/channels");
        // no MANAGE_CHANNELS: refused, naming it; a role that grants it fixes that
        let new_channel = json!({"name": "plans", "kind": "text"});
        assert_error(
            call(
                &app,
                "POST",
                &channels,
                Some(&bob),
                Some(new_channel.clone()),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
        grant(&app, &alice, &id, &bob_id, "Mods", &["MANAGE_CHANNELS"]).await;
        let (s, channel) = call(&app, "POST", &channels, Some(&bob), Some(new_channel)).await;
        assert_eq!(s, StatusCode::CREATED, "{channel}");
    }
}

#[tokio::test]
async fn members_see_each_others_roles() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(_, bob_id), (carol, _)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        let mods = grant(&app, &alice, &id, &bob_id, "Mods", &["MANAGE_CHANNELS"]).await;
        let (_, member) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}/members/{bob_id}"),
            Some(&carol),
            None,
        )
        .await;
        assert_eq!(member["roleIds"], json!([mods]));
    }
}

#[tokio::test]
async fn creating_a_role_takes_manage_roles() {
    for db in backends().await {
        let Guild {
            app,
            id,
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        assert_error(
            call(
                &app,
                "POST",
                &format!("/api/v1/communities/{id}/roles"),
                Some(&bob),
                Some(json!({"name": "x"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_ROLES",
        );
    }
}

#[tokio::test]
async fn a_role_takes_known_permissions_and_not_the_name_everyone() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let roles = format!("/api/v1/communities/{id}/roles");
        assert_error(
            call(
                &app,
                "POST",
                &roles,
                Some(&alice),
                Some(json!({"name": "Mods", "permissions": ["MANAGE_CHANNELS", "FLY"]})),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "unknown permission \"FLY\"",
        );
        assert_error(
            call(
                &app,
                "POST",
                &roles,
                Some(&alice),
                Some(json!({"name": "@everyone"})),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "the role name @everyone is reserved",
        );
    }
}

/// The same from Rust: what voice join and the gateway see.
#[tokio::test]
async fn channel_access_gives_a_members_permissions_in_a_channel() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (_, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        grant(&app, &alice, &id, &bob_id, "Mods", &["MANAGE_CHANNELS"]).await;
        let channel =
            create_channel(&app, &bob, &id, json!({"name": "plans", "kind": "text"})).await;
        let channel_id = channel["id"].as_str().unwrap();
        let access = communities::channel_access(&state.db, channel_id, &bob_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (access.kind, access.is_member, access.banned),
            (ChannelKind::Text, true, false)
        );
        assert!(
            access
                .permissions
                .grants(Permissions::MANAGE_CHANNELS | Permissions::CONNECT)
        );
        assert!(!access.permissions.grants(Permissions::MANAGE_ROLES));
        let carols = communities::channel_access(&state.db, channel_id, &carol_id)
            .await
            .unwrap()
            .unwrap();
        assert!(!carols.permissions.grants(Permissions::MANAGE_CHANNELS));
        assert!(
            communities::channel_access(&state.db, "nope", &bob_id)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_role_manager_can_create_a_role_with_permissions_they_have() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        role_manager(&app, &alice, &id, &bob_id).await;
        let (s, helper) = call(
            &app,
            "POST",
            &format!("/api/v1/communities/{id}/roles"),
            Some(&bob),
            Some(json!({"name": "Helpers", "permissions": ["MANAGE_CHANNELS"]})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{helper}");
        assert_eq!(helper["permissions"], json!(["MANAGE_CHANNELS"]));
    }
}

#[tokio::test]
async fn a_role_manager_cannot_create_a_role_with_permissions_they_lack() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        role_manager(&app, &alice, &id, &bob_id).await;
        assert_error(
            call(
                &app,
                "POST",
                &format!("/api/v1/communities/{id}/roles"),
                Some(&bob),
                Some(json!({"name": "Bans", "permissions": ["BAN_MEMBERS", "MANAGE_CHANNELS"]})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "the new role has permissions you do not have: BAN_MEMBERS",
        );
    }
}

#[tokio::test]
async fn a_role_manager_cannot_take_a_role_with_permissions_they_lack() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        role_manager(&app, &alice, &id, &bob_id).await;
        let (s, admins) = call(
            &app,
            "POST",
            &format!("/api/v1/communities/{id}/roles"),
            Some(&alice),
            Some(json!({"name": "Admins", "permissions": ["ADMINISTRATOR"]})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let admins = admins["id"].as_str().unwrap();
        assert_error(
            call(
                &app,
                "PUT",
                &format!("/api/v1/communities/{id}/members/@me/roles/{admins}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "role \"Admins\" has permissions you do not have: ADMINISTRATOR",
        );
    }
}

#[tokio::test]
async fn a_role_manager_cannot_add_permissions_they_lack_to_a_role() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let (_, managers) = role_manager(&app, &alice, &id, &bob_id).await;
        assert_error(
            call(
                &app,
                "PATCH",
                &format!("/api/v1/communities/{id}/roles/{managers}"),
                Some(&bob),
                Some(json!({"permissions": ["MANAGE_ROLES", "KICK_MEMBERS"]})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "the edited role has permissions you do not have: KICK_MEMBERS",
        );
    }
}

/// "Helpers" (MANAGE_CHANNELS), made by the role manager `bob` and given by him to `carol`;
/// returns the role id and carol's member view.
async fn helper_from_role_manager(
    app: &Router,
    id: &str,
    bob: &str,
    carol_id: &str,
) -> (String, Value) {
    let (s, helper) = call(
        app,
        "POST",
        &format!("/api/v1/communities/{id}/roles"),
        Some(bob),
        Some(json!({"name": "Helpers", "permissions": ["MANAGE_CHANNELS"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{helper}");
    let helper_id = helper["id"].as_str().unwrap().to_owned();
    let (s, carol_member) = call(
        app,
        "PUT",
        &format!("/api/v1/communities/{id}/members/{carol_id}/roles/{helper_id}"),
        Some(bob),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    (helper_id, carol_member)
}

#[tokio::test]
async fn a_role_manager_can_give_a_role_with_permissions_they_have() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (_, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        role_manager(&app, &alice, &id, &bob_id).await;
        let (helper_id, carol_member) = helper_from_role_manager(&app, &id, &bob, &carol_id).await;
        assert_eq!(carol_member["roleIds"], json!([helper_id]));
    }
}

#[tokio::test]
async fn the_everyone_role_cannot_be_deleted_renamed_or_given() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(_, carol_id)],
            ..
        } = guild(db, ["carol"]).await;
        let everyone = format!("/api/v1/communities/{id}/roles/{id}");
        assert_error(
            call(&app, "DELETE", &everyone, Some(&alice), None).await,
            StatusCode::BAD_REQUEST,
            "the @everyone role cannot be deleted",
        );
        assert_error(
            call(
                &app,
                "PATCH",
                &everyone,
                Some(&alice),
                Some(json!({"name": "all"})),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "the @everyone role cannot be renamed",
        );
        assert_error(
            call(
                &app,
                "PUT",
                &format!("/api/v1/communities/{id}/members/{carol_id}/roles/{id}"),
                Some(&alice),
                None,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "every member has the @everyone role implicitly",
        );
    }
}

/// A guild where `carol` holds "Helpers" (MANAGE_CHANNELS: no help with viewing or sending),
/// with a text channel "plans"; returns the guild and that channel's id.
async fn carol_with_helpers(db: Db) -> (Guild<1>, String) {
    let g = guild(db, ["carol"]).await;
    let (alice, carol_id) = (&g.owner.0, &g.members[0].1);
    grant(
        &g.app,
        alice,
        &g.id,
        carol_id,
        "Helpers",
        &["MANAGE_CHANNELS"],
    )
    .await;
    let plans = create_channel(
        &g.app,
        alice,
        &g.id,
        json!({"name": "plans", "kind": "text"}),
    )
    .await;
    let plans = plans["id"].as_str().unwrap().to_owned();
    (g, plans)
}

#[tokio::test]
async fn the_everyone_roles_permissions_bind_every_member() {
    for db in backends().await {
        let (g, plans) = carol_with_helpers(db).await;
        let (app, id, alice, carol) = (&g.app, &g.id, &g.owner.0, &g.members[0].0);
        let (s, e) = call(
            app,
            "PATCH",
            &format!("/api/v1/communities/{id}/roles/{id}"),
            Some(alice),
            Some(json!({"permissions": ["VIEW_CHANNEL"]})),
        )
        .await;
        assert_eq!(
            (s, &e["permissions"]),
            (StatusCode::OK, &json!(["VIEW_CHANNEL"]))
        );
        assert_error(
            call(
                app,
                "POST",
                &format!("/api/v1/channels/{plans}/messages"),
                Some(carol),
                Some(json!({"content": "hi"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission SEND_MESSAGES",
        );
    }
}

#[tokio::test]
async fn without_view_channel_a_member_sees_no_channels() {
    for db in backends().await {
        let (g, plans) = carol_with_helpers(db).await;
        let (app, id, alice, carol) = (&g.app, &g.id, &g.owner.0, &g.members[0].0);
        let (s, _) = call(
            app,
            "PATCH",
            &format!("/api/v1/communities/{id}/roles/{id}"),
            Some(alice),
            Some(json!({"permissions": []})),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_error(
            call(
                app,
                "GET",
                &format!("/api/v1/communities/{id}/channels"),
                Some(carol),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission VIEW_CHANNEL",
        );
        assert_error(
            call(
                app,
                "POST",
                &format!("/api/v1/channels/{plans}/messages"),
                Some(carol),
                Some(json!({"content": "hi"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permissions VIEW_CHANNEL, SEND_MESSAGES",
        );
        let (_, carols_view) = call(
            app,
            "GET",
            &format!("/api/v1/communities/{id}"),
            Some(carol),
            None,
        )
        .await;
        assert_eq!(carols_view["channels"], json!([]));
    }
}

#[tokio::test]
async fn a_role_is_taken_away_once() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (_, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        role_manager(&app, &alice, &id, &bob_id).await;
        let (helper_id, _) = helper_from_role_manager(&app, &id, &bob, &carol_id).await;
        let path = format!("/api/v1/communities/{id}/members/{carol_id}/roles/{helper_id}");
        let (s, _) = call(&app, "DELETE", &path, Some(&bob), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_error(
            call(&app, "DELETE", &path, Some(&bob), None).await,
            StatusCode::NOT_FOUND,
            "the member does not have that role",
        );
    }
}

#[tokio::test]
async fn a_deleted_role_is_gone_from_its_members() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(_, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let (mods, managers) = role_manager(&app, &alice, &id, &bob_id).await;
        let roles = format!("/api/v1/communities/{id}/roles");
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("{roles}/{mods}"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, member) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}/members/{bob_id}"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(member["roleIds"], json!([managers]));
        assert_error(
            call(
                &app,
                "PATCH",
                &format!("{roles}/{mods}"),
                Some(&alice),
                Some(json!({"name": "x"})),
            )
            .await,
            StatusCode::NOT_FOUND,
            "role not found",
        );
    }
}

#[tokio::test]
async fn members_see_the_roles_in_creation_order() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (carol, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        let (mods, _) = role_manager(&app, &alice, &id, &bob_id).await;
        helper_from_role_manager(&app, &id, &bob, &carol_id).await;
        let roles = format!("/api/v1/communities/{id}/roles");
        let (s, _) = call(
            &app,
            "POST",
            &roles,
            Some(&alice),
            Some(json!({"name": "Admins", "permissions": ["ADMINISTRATOR"]})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("{roles}/{mods}"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, list) = call(&app, "GET", &roles, Some(&carol), None).await;
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["@everyone", "Role managers", "Helpers", "Admins"]);
    }
}

// --- kicks ---

#[tokio::test]
async fn kicking_takes_kick_members() {
    for db in backends().await {
        let Guild {
            app,
            id,
            members: [(bob, _), (_, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("/api/v1/communities/{id}/members/{carol_id}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission KICK_MEMBERS",
        );
    }
}

#[tokio::test]
async fn kicking_the_owner_is_forbidden() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, alice_id),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        grant(&app, &alice, &id, &bob_id, "Mods", &["KICK_MEMBERS"]).await;
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("/api/v1/communities/{id}/members/{alice_id}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "the owner cannot be kicked",
        );
    }
}

#[tokio::test]
async fn a_member_with_more_permissions_cannot_be_kicked() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (_, dave_id)],
            ..
        } = guild(db, ["bob", "dave"]).await;
        grant(&app, &alice, &id, &bob_id, "Mods", &["KICK_MEMBERS"]).await;
        grant(&app, &alice, &id, &dave_id, "Admins", &["ADMINISTRATOR"]).await;
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("/api/v1/communities/{id}/members/{dave_id}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "a member whose permissions exceed yours cannot be kicked by you",
        );
    }
}

#[tokio::test]
async fn a_kicked_member_is_no_longer_a_member() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (carol, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        grant(&app, &alice, &id, &bob_id, "Mods", &["KICK_MEMBERS"]).await;
        let member = format!("/api/v1/communities/{id}/members/{carol_id}");
        let (s, _) = call(&app, "DELETE", &member, Some(&bob), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert!(
            !communities::is_member(&state.db, &id, &carol_id)
                .await
                .unwrap()
        );
        assert_eq!(
            call(&app, "GET", &member, Some(&bob), None).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(
                &app,
                "GET",
                &format!("/api/v1/communities/{id}"),
                Some(&carol),
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_error(
            call(&app, "DELETE", &member, Some(&bob), None).await,
            StatusCode::NOT_FOUND,
            "member not found",
        );
    }
}

#[tokio::test]
async fn a_kick_is_not_a_ban() {
    for db in backends().await {
        let Guild {
            app,
            id,
            code,
            owner: (alice, _),
            members: [(carol, carol_id)],
            ..
        } = guild(db, ["carol"]).await;
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("/api/v1/communities/{id}/members/{carol_id}"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(join(&app, &carol, &code).await.0, StatusCode::CREATED);
    }
}

// --- bans ---

/// Bans `user` from `community` as `by`; returns the ban.
async fn ban(app: &Router, by: &str, community: &str, user: &str) -> Value {
    let (s, b) = call(
        app,
        "PUT",
        &format!("/api/v1/communities/{community}/bans/{user}"),
        Some(by),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

#[tokio::test]
async fn banning_takes_ban_members() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (_, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        grant(&app, &alice, &id, &bob_id, "Mods", &["KICK_MEMBERS"]).await;
        assert_error(
            call(
                &app,
                "PUT",
                &format!("/api/v1/communities/{id}/bans/{carol_id}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission BAN_MEMBERS",
        );
    }
}

#[tokio::test]
async fn banning_the_owner_is_forbidden() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, alice_id),
            members: [(dave, dave_id)],
            ..
        } = guild(db, ["dave"]).await;
        grant(&app, &alice, &id, &dave_id, "Admins", &["ADMINISTRATOR"]).await;
        assert_error(
            call(
                &app,
                "PUT",
                &format!("/api/v1/communities/{id}/bans/{alice_id}"),
                Some(&dave),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "the owner cannot be banned",
        );
    }
}

#[tokio::test]
async fn banning_an_unknown_user_is_not_found() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(dave, dave_id)],
            ..
        } = guild(db, ["dave"]).await;
        grant(&app, &alice, &id, &dave_id, "Admins", &["ADMINISTRATOR"]).await;
        assert_error(
            call(
                &app,
                "PUT",
                &format!("/api/v1/communities/{id}/bans/no-such-user"),
                Some(&dave),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "user not found",
        );
    }
}

#[tokio::test]
async fn a_ban_removes_the_member_and_banning_again_is_ok() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            owner: (alice, _),
            members: [(_, carol_id), (dave, dave_id)],
            ..
        } = guild(db, ["carol", "dave"]).await;
        grant(&app, &alice, &id, &dave_id, "Admins", &["ADMINISTRATOR"]).await;
        let b = ban(&app, &dave, &id, &carol_id).await;
        assert_eq!(
            (b["user"]["id"].as_str(), b["bannedBy"].as_str()),
            (Some(carol_id.as_str()), Some(dave_id.as_str()))
        );
        assert_eq!(
            call(
                &app,
                "PUT",
                &format!("/api/v1/communities/{id}/bans/{carol_id}"),
                Some(&dave),
                None
            )
            .await
            .0,
            StatusCode::OK
        );
        assert!(
            !communities::is_member(&state.db, &id, &carol_id)
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn a_banned_user_cannot_rejoin_by_invite_and_uses_none_of_it() {
    for db in backends().await {
        let Guild {
            app,
            id,
            code,
            owner: (alice, _),
            members: [(carol, carol_id)],
            ..
        } = guild(db, ["carol"]).await;
        ban(&app, &alice, &id, &carol_id).await;
        assert_error(
            join(&app, &carol, &code).await,
            StatusCode::FORBIDDEN,
            "you are banned from this community",
        );
        let (_, invites) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}/invites"),
            Some(&alice),
            None,
        )
        .await;
        let counted = invites
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code.as_str())
            .unwrap();
        // carol's first join, not the refused one
        assert_eq!(counted["uses"], 1);
    }
}

#[tokio::test]
async fn a_banned_user_has_no_access_to_the_channels() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            owner: (alice, alice_id),
            members: [(_, carol_id)],
            ..
        } = guild(db, ["carol"]).await;
        ban(&app, &alice, &id, &carol_id).await;
        let views = communities::communities_of(&state.db, &alice_id)
            .await
            .unwrap();
        assert_eq!(views.len(), 1);
        let voice = &views[0].channels[1];
        assert_eq!(voice.kind, ChannelKind::Voice);
        let access = communities::channel_access(&state.db, &voice.id, &carol_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (access.is_member, access.banned, access.permissions),
            (false, true, Permissions::empty())
        );
    }
}

#[tokio::test]
async fn listing_bans_takes_ban_members() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, bob_id), (_, carol_id), (dave, dave_id)],
            ..
        } = guild(db, ["bob", "carol", "dave"]).await;
        grant(&app, &alice, &id, &bob_id, "Mods", &["KICK_MEMBERS"]).await;
        grant(&app, &alice, &id, &dave_id, "Admins", &["ADMINISTRATOR"]).await;
        ban(&app, &dave, &id, &carol_id).await;
        let bans = format!("/api/v1/communities/{id}/bans");
        assert_error(
            call(&app, "GET", &bans, Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "missing permission BAN_MEMBERS",
        );
        let (s, list) = call(&app, "GET", &bans, Some(&dave), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["user"]["id"], carol_id.as_str());
    }
}

#[tokio::test]
async fn a_user_who_never_joined_can_be_banned() {
    for db in backends().await {
        let Guild {
            app,
            id,
            code,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (erin, erin_id) = register(&app, "erin").await;
        assert_eq!(
            call(
                &app,
                "PUT",
                &format!("/api/v1/communities/{id}/bans/{erin_id}"),
                Some(&alice),
                None
            )
            .await
            .0,
            StatusCode::CREATED
        );
        assert_eq!(join(&app, &erin, &code).await.0, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn lifting_a_ban_lets_the_user_rejoin() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            code,
            owner: (alice, alice_id),
            members: [(carol, carol_id), (dave, dave_id)],
            ..
        } = guild(db, ["carol", "dave"]).await;
        grant(&app, &alice, &id, &dave_id, "Admins", &["ADMINISTRATOR"]).await;
        ban(&app, &dave, &id, &carol_id).await;
        let path = format!("/api/v1/communities/{id}/bans/{carol_id}");
        let (s, _) = call(&app, "DELETE", &path, Some(&dave), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_error(
            call(&app, "DELETE", &path, Some(&dave), None).await,
            StatusCode::NOT_FOUND,
            "ban not found",
        );
        assert_eq!(join(&app, &carol, &code).await.0, StatusCode::CREATED);
        let ids = communities::member_ids(&state.db, &id).await.unwrap();
        let mut expected = vec![alice_id, carol_id, dave_id];
        expected.sort();
        assert_eq!(ids, expected);
    }
}

// --- channels ---

#[tokio::test]
async fn a_voice_channel_keeps_its_user_limit_and_comes_after_the_defaults() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let voice = lounge(&app, &alice, &id).await;
        assert_eq!(
            (
                voice["kind"].as_str(),
                voice["userLimit"].as_u64(),
                voice["position"].as_i64()
            ),
            (Some("voice"), Some(99), Some(2))
        );
    }
}

#[tokio::test]
async fn a_video_channel_is_unlimited_unless_told_and_takes_the_position_given() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let video = create_channel(
            &app,
            &alice,
            &id,
            json!({"name": "Cams", "kind": "video", "position": 0}),
        )
        .await;
        assert_eq!(
            (video["userLimit"].as_u64(), video["position"].as_i64()),
            (Some(0), Some(0))
        );
    }
}

#[tokio::test]
async fn channel_fields_are_validated() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let channels = format!("/api/v1/communities/{id}/channels");
        for (body, message) in [
            (
                json!({"name": "t", "kind": "text", "userLimit": 5}),
                "userLimit applies only to voice and video channels",
            ),
            (
                json!({"name": "v", "kind": "voice", "userLimit": 100}),
                "userLimit must be 0 (unlimited) to 99",
            ),
            (
                json!({"name": "v", "kind": "voice", "userLimit": -1}),
                "userLimit must be 0 (unlimited) to 99",
            ),
            (
                json!({"name": "s", "kind": "stage"}),
                "kind must be \"text\", \"voice\" or \"video\", got \"stage\"",
            ),
            (
                json!({"name": " ", "kind": "text"}),
                "name must be 1 to 100 characters",
            ),
            (
                json!({"name": "x".repeat(101), "kind": "text"}),
                "name must be 1 to 100 characters",
            ),
            (
                json!({"name": "x", "kind": "text", "position": -1}),
                "position must be 0 to 1000000",
            ),
        ] {
            assert_error(
                call(&app, "POST", &channels, Some(&alice), Some(body)).await,
                StatusCode::BAD_REQUEST,
                message,
            );
        }
        let (s, e) = call(
            &app,
            "POST",
            &channels,
            Some(&alice),
            Some(json!({"name": "x", "kind": "text", "topic": "y"})),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `topic`"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn members_see_the_channels_in_position_order() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        lounge(&app, &alice, &id).await;
        create_channel(
            &app,
            &alice,
            &id,
            json!({"name": "Cams", "kind": "video", "position": 0}),
        )
        .await;
        let (s, list) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}/channels"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["general", "Cams", "General", "Lounge"]);
    }
}

#[tokio::test]
async fn a_non_member_cannot_see_a_channel() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let (carol, _) = register(&app, "carol").await;
        let voice = lounge(&app, &alice, &id).await;
        assert_error(
            call(
                &app,
                "GET",
                &format!("/api/v1/channels/{}", voice["id"].as_str().unwrap()),
                Some(&carol),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "channel not found",
        );
    }
}

#[tokio::test]
async fn editing_a_channel_takes_manage_channels() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let voice = lounge(&app, &alice, &id).await;
        assert_error(
            call(
                &app,
                "PATCH",
                &format!("/api/v1/channels/{}", voice["id"].as_str().unwrap()),
                Some(&bob),
                Some(json!({"userLimit": 4})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
    }
}

#[tokio::test]
async fn an_edited_channel_keeps_its_kind_and_members_see_the_edit() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let voice = lounge(&app, &alice, &id).await;
        let path = format!("/api/v1/channels/{}", voice["id"].as_str().unwrap());
        let (s, updated) = call(
            &app,
            "PATCH",
            &path,
            Some(&alice),
            Some(json!({"name": " Quiet ", "userLimit": 4})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{updated}");
        assert_eq!(
            (
                updated["name"].as_str(),
                updated["userLimit"].as_u64(),
                updated["kind"].as_str()
            ),
            (Some("Quiet"), Some(4), Some("voice"))
        );
        let (_, fetched) = call(&app, "GET", &path, Some(&bob), None).await;
        assert_eq!(fetched, updated);
    }
}

#[tokio::test]
async fn a_text_channel_cannot_be_given_a_user_limit() {
    for db in backends().await {
        let Guild {
            app,
            view,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let text = channel_id(&view, 0);
        assert_error(
            call(
                &app,
                "PATCH",
                &format!("/api/v1/channels/{text}"),
                Some(&alice),
                Some(json!({"userLimit": 3})),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "userLimit applies only to voice and video channels",
        );
    }
}

#[tokio::test]
async fn deleting_a_channel_takes_manage_channels() {
    for db in backends().await {
        let Guild {
            app,
            id,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let voice = lounge(&app, &alice, &id).await;
        let path = format!("/api/v1/channels/{}", voice["id"].as_str().unwrap());
        assert_error(
            call(&app, "DELETE", &path, Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
        let (s, _) = call(&app, "DELETE", &path, Some(&alice), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            call(&app, "GET", &path, Some(&alice), None).await.0,
            StatusCode::NOT_FOUND
        );
    }
}

// --- messages ---

#[tokio::test]
async fn messages_page_newest_first_each_exactly_once() {
    for db in backends().await {
        let Guild {
            app,
            state,
            view,
            owner: (alice, alice_id),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let text = channel_id(&view, 0);
        let messages = format!("/api/v1/channels/{text}/messages");

        let mut sent = Vec::new();
        for i in 0..25 {
            // one a second: within each user's message limit
            state.clock.advance(std::time::Duration::from_secs(1));
            let token = if i % 2 == 0 { &alice } else { &bob };
            let m = post(&app, token, &text, &format!("message {i}")).await;
            sent.push(m["id"].as_str().unwrap().to_owned());
        }
        assert!(sent.windows(2).all(|w| w[0] < w[1]), "ids are time-ordered");

        // pages of 10, newest first, every message exactly once
        let mut seen = Vec::new();
        let mut before: Option<String> = None;
        let mut sizes = Vec::new();
        loop {
            let path = match &before {
                Some(b) => format!("{messages}?limit=10&before={b}"),
                None => format!("{messages}?limit=10"),
            };
            let (s, page) = call(&app, "GET", &path, Some(&bob), None).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            let page = page.as_array().unwrap().clone();
            sizes.push(page.len());
            if page.is_empty() {
                break;
            }
            for m in &page {
                seen.push(m["id"].as_str().unwrap().to_owned());
            }
            before = Some(page.last().unwrap()["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(sizes, [10, 10, 5, 0]);
        let mut newest_first = sent.clone();
        newest_first.reverse();
        assert_eq!(seen, newest_first);
        let (_, first) = call(&app, "GET", &messages, Some(&alice), None).await;
        assert_eq!(first.as_array().unwrap().len(), 25);
        assert_eq!(first[0]["content"], "message 24");
        assert_eq!(first[24]["author"]["id"], alice_id.as_str());
    }
}

#[tokio::test]
async fn a_message_page_takes_only_a_limit_and_a_before_id() {
    for db in backends().await {
        let Guild {
            app,
            view,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let messages = format!("/api/v1/channels/{}/messages", channel_id(&view, 0));
        for (query, message) in [
            ("?limit=0", "limit must be 1 to 100, got \"0\""),
            ("?limit=101", "limit must be 1 to 100, got \"101\""),
            ("?limit=ten", "limit must be 1 to 100, got \"ten\""),
            ("?before=zz", "before must be a message id, got \"zz\""),
        ] {
            assert_error(
                call(
                    &app,
                    "GET",
                    &format!("{messages}{query}"),
                    Some(&alice),
                    None,
                )
                .await,
                StatusCode::BAD_REQUEST,
                message,
            );
        }
        let (s, e) = call(
            &app,
            "GET",
            &format!("{messages}?after=1"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `after`"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn message_content_must_be_1_to_4000_characters() {
    for db in backends().await {
        let Guild {
            app,
            view,
            owner: (alice, _),
            ..
        } = guild(db, []).await;
        let messages = format!("/api/v1/channels/{}/messages", channel_id(&view, 0));
        for content in ["", "  \n ", &"x".repeat(4001)] {
            assert_error(
                call(
                    &app,
                    "POST",
                    &messages,
                    Some(&alice),
                    Some(json!({"content": content})),
                )
                .await,
                StatusCode::BAD_REQUEST,
                "content must be 1 to 4000 characters",
            );
        }
        let (s, _) = call(
            &app,
            "POST",
            &messages,
            Some(&alice),
            Some(json!({"content": "x".repeat(4000)})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_non_member_can_neither_read_nor_post_in_a_channel() {
    for db in backends().await {
        let Guild { app, view, .. } = guild(db, []).await;
        let (carol, _) = register(&app, "carol").await;
        let messages = format!("/api/v1/channels/{}/messages", channel_id(&view, 0));
        assert_error(
            call(
                &app,
                "POST",
                &messages,
                Some(&carol),
                Some(json!({"content": "hi"})),
            )
            .await,
            StatusCode::NOT_FOUND,
            "channel not found",
        );
        assert_eq!(
            call(&app, "GET", &messages, Some(&carol), None).await.0,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn voice_channels_have_their_own_chat() {
    for db in backends().await {
        let Guild {
            app,
            view,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let (text, voice) = (channel_id(&view, 0), channel_id(&view, 1));
        post(&app, &alice, &text, "in the text channel").await;
        let (s, in_voice) = call(
            &app,
            "POST",
            &format!("/api/v1/channels/{voice}/messages"),
            Some(&bob),
            Some(json!({"content": "can you hear me"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, voice_page) = call(
            &app,
            "GET",
            &format!("/api/v1/channels/{voice}/messages"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(voice_page, json!([in_voice]));
    }
}

/// alice's and then bob's message in the default text channel: (messages path, alice's id,
/// bob's id).
async fn one_message_each(g: &Guild<1>) -> (String, String, String) {
    let text = channel_id(&g.view, 0);
    let alices = post(&g.app, &g.owner.0, &text, "message 0").await;
    let bobs = post(&g.app, &g.members[0].0, &text, "message 1").await;
    (
        format!("/api/v1/channels/{text}/messages"),
        alices["id"].as_str().unwrap().to_owned(),
        bobs["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn only_the_author_can_edit_a_message() {
    for db in backends().await {
        let g = guild(db, ["bob"]).await;
        let (messages, alices, bobs) = one_message_each(&g).await;
        let (app, bob) = (&g.app, &g.members[0].0);
        assert_error(
            call(
                app,
                "PATCH",
                &format!("{messages}/{alices}"),
                Some(bob),
                Some(json!({"content": "mine now"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "you can only edit your own messages",
        );
        let (s, edited) = call(
            app,
            "PATCH",
            &format!("{messages}/{bobs}"),
            Some(bob),
            Some(json!({"content": "fixed"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{edited}");
        assert_eq!(edited["content"], "fixed");
        assert!(edited["editedAt"].as_i64().is_some());
    }
}

#[tokio::test]
async fn deleting_someone_elses_message_takes_manage_channels() {
    for db in backends().await {
        let g = guild(db, ["bob"]).await;
        let (messages, alices, bobs) = one_message_each(&g).await;
        let (app, alice, bob) = (&g.app, &g.owner.0, &g.members[0].0);
        assert_error(
            call(
                app,
                "DELETE",
                &format!("{messages}/{alices}"),
                Some(bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
        assert_eq!(
            call(
                app,
                "DELETE",
                &format!("{messages}/{bobs}"),
                Some(alice),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
    }
}

#[tokio::test]
async fn an_author_can_delete_their_own_message() {
    for db in backends().await {
        let g = guild(db, ["bob"]).await;
        let (messages, _, bobs) = one_message_each(&g).await;
        assert_eq!(
            call(
                &g.app,
                "DELETE",
                &format!("{messages}/{bobs}"),
                Some(&g.members[0].0),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
    }
}

#[tokio::test]
async fn a_deleted_message_cannot_be_edited() {
    for db in backends().await {
        let g = guild(db, ["bob"]).await;
        let (messages, _, bobs) = one_message_each(&g).await;
        let (app, alice, bob) = (&g.app, &g.owner.0, &g.members[0].0);
        assert_eq!(
            call(
                app,
                "DELETE",
                &format!("{messages}/{bobs}"),
                Some(alice),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_error(
            call(
                app,
                "PATCH",
                &format!("{messages}/{bobs}"),
                Some(bob),
                Some(json!({"content": "again"})),
            )
            .await,
            StatusCode::NOT_FOUND,
            "message not found",
        );
    }
}

#[tokio::test]
async fn deleted_messages_leave_the_history() {
    for db in backends().await {
        let Guild {
            app,
            view,
            owner: (alice, _),
            members: [(bob, _)],
            ..
        } = guild(db, ["bob"]).await;
        let text = channel_id(&view, 0);
        let messages = format!("/api/v1/channels/{text}/messages");
        let mut sent = Vec::new();
        for i in 0..6 {
            let token = if i % 2 == 0 { &alice } else { &bob };
            let m = post(&app, token, &text, &format!("message {i}")).await;
            sent.push(m["id"].as_str().unwrap().to_owned());
        }
        // bob's first by alice (the owner), his second by himself
        for (id, token) in [(&sent[1], &alice), (&sent[3], &bob)] {
            let (s, _) = call(
                &app,
                "DELETE",
                &format!("{messages}/{id}"),
                Some(token),
                None,
            )
            .await;
            assert_eq!(s, StatusCode::NO_CONTENT);
        }
        let (_, oldest) = call(
            &app,
            "GET",
            &format!("{messages}?before={}", sent[5]),
            Some(&alice),
            None,
        )
        .await;
        let ids: Vec<&str> = oldest
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [sent[4].as_str(), sent[2].as_str(), sent[0].as_str()]);
    }
}

// --- realtime events ---

#[tokio::test]
async fn creating_a_community_tells_its_owner() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);

        let view = create(&app, &alice, "Guild").await;
        let events = drain(&mut to_alice);
        assert_eq!(kinds(&events), ["COMMUNITY_CREATE"]);
        assert_eq!(events[0].data, view);
    }
}

#[tokio::test]
async fn joining_tells_the_newcomer_and_the_members() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_bob) = state.hub.connect(&bob_id);
        let id = create(&app, &alice, "Guild").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        drain(&mut to_alice);

        let code = invite(&app, &alice, &id).await;
        let (_, joined) = join(&app, &bob, &code).await;
        let events = drain(&mut to_bob);
        assert_eq!(kinds(&events), ["COMMUNITY_CREATE"]);
        assert_eq!(events[0].data, joined);
        let events = drain(&mut to_alice);
        assert_eq!(kinds(&events), ["MEMBER_ADD"]);
        assert_eq!(events[0].data["user"]["id"], bob_id.as_str());
    }
}

#[tokio::test]
async fn messages_reach_members_only() {
    for db in backends().await {
        let Guild {
            app,
            state,
            view,
            owner: (_, alice_id),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let (_, carol_id) = register(&app, "carol").await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_bob) = state.hub.connect(&bob_id);
        let (_, mut to_carol) = state.hub.connect(&carol_id);

        let text = channel_id(&view, 0);
        let (s, message) = call(
            &app,
            "POST",
            &format!("/api/v1/channels/{text}/messages"),
            Some(&bob),
            Some(json!({"content": "hello"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        for rx in [&mut to_alice, &mut to_bob] {
            let events = drain(rx);
            assert_eq!(kinds(&events), ["MESSAGE_CREATE"]);
            assert_eq!(events[0].data, message);
        }
        assert!(
            drain(&mut to_carol).is_empty(),
            "a non-member hears nothing"
        );
    }
}

#[tokio::test]
async fn message_edits_and_deletions_reach_the_members() {
    for db in backends().await {
        let Guild {
            app,
            state,
            view,
            owner: (_, alice_id),
            members: [(bob, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let text = channel_id(&view, 0);
        let message = post(&app, &bob, &text, "hello").await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_bob) = state.hub.connect(&bob_id);

        let message_id = message["id"].as_str().unwrap();
        call(
            &app,
            "PATCH",
            &format!("/api/v1/channels/{text}/messages/{message_id}"),
            Some(&bob),
            Some(json!({"content": "hello!"})),
        )
        .await;
        call(
            &app,
            "DELETE",
            &format!("/api/v1/channels/{text}/messages/{message_id}"),
            Some(&bob),
            None,
        )
        .await;
        for rx in [&mut to_alice, &mut to_bob] {
            let events = drain(rx);
            assert_eq!(kinds(&events), ["MESSAGE_UPDATE", "MESSAGE_DELETE"]);
            assert_eq!(events[0].data["content"], "hello!");
            assert_eq!(events[1].data, json!({"id": message_id, "channelId": text}));
        }
    }
}

#[tokio::test]
async fn channel_role_and_community_changes_reach_members_only() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            owner: (alice, alice_id),
            members: [(_, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let (_, carol_id) = register(&app, "carol").await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_bob) = state.hub.connect(&bob_id);
        let (_, mut to_carol) = state.hub.connect(&carol_id);

        let (_, channel) = call(
            &app,
            "POST",
            &format!("/api/v1/communities/{id}/channels"),
            Some(&alice),
            Some(json!({"name": "cams", "kind": "video", "userLimit": 8})),
        )
        .await;
        let channel_id = channel["id"].as_str().unwrap();
        call(
            &app,
            "PATCH",
            &format!("/api/v1/channels/{channel_id}"),
            Some(&alice),
            Some(json!({"name": "cameras"})),
        )
        .await;
        call(
            &app,
            "DELETE",
            &format!("/api/v1/channels/{channel_id}"),
            Some(&alice),
            None,
        )
        .await;
        let (_, role) = call(
            &app,
            "POST",
            &format!("/api/v1/communities/{id}/roles"),
            Some(&alice),
            Some(json!({"name": "Mods"})),
        )
        .await;
        let role_id = role["id"].as_str().unwrap();
        call(
            &app,
            "PATCH",
            &format!("/api/v1/communities/{id}/roles/{role_id}"),
            Some(&alice),
            Some(json!({"permissions": ["KICK_MEMBERS"]})),
        )
        .await;
        let (_, member) = call(
            &app,
            "PUT",
            &format!("/api/v1/communities/{id}/members/{bob_id}/roles/{role_id}"),
            Some(&alice),
            None,
        )
        .await;
        call(
            &app,
            "DELETE",
            &format!("/api/v1/communities/{id}/roles/{role_id}"),
            Some(&alice),
            None,
        )
        .await;
        call(
            &app,
            "PATCH",
            &format!("/api/v1/communities/{id}"),
            Some(&alice),
            Some(json!({"name": "Guild 2"})),
        )
        .await;
        let events = drain(&mut to_bob);
        assert_eq!(
            kinds(&events),
            [
                "CHANNEL_CREATE",
                "CHANNEL_UPDATE",
                "CHANNEL_DELETE",
                "ROLE_CREATE",
                "ROLE_UPDATE",
                "MEMBER_UPDATE",
                "ROLE_DELETE",
                "COMMUNITY_UPDATE"
            ]
        );
        assert_eq!(events[0].data, channel);
        assert_eq!(events[1].data["name"], "cameras");
        assert_eq!(events[2].data, json!({"id": channel_id, "communityId": id}));
        assert_eq!(events[3].data, role);
        assert_eq!(events[4].data["permissions"], json!(["KICK_MEMBERS"]));
        assert_eq!(events[5].data, member);
        assert_eq!(events[6].data, json!({"id": role_id, "communityId": id}));
        assert_eq!(events[7].data["name"], "Guild 2");
        assert_eq!(drain(&mut to_alice).len(), 8);
        assert!(drain(&mut to_carol).is_empty());
    }
}

#[tokio::test]
async fn a_removed_member_is_told_and_then_hears_nothing() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            view,
            owner: (alice, alice_id),
            members: [(_, bob_id)],
            ..
        } = guild(db, ["bob"]).await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_bob) = state.hub.connect(&bob_id);

        // removal reaches the removed user and the rest; afterwards they hear nothing
        call(
            &app,
            "DELETE",
            &format!("/api/v1/communities/{id}/members/{bob_id}"),
            Some(&alice),
            None,
        )
        .await;
        let removed = json!({"communityId": id, "userId": bob_id});
        for rx in [&mut to_alice, &mut to_bob] {
            let events = drain(rx);
            assert_eq!(kinds(&events), ["MEMBER_REMOVE"]);
            assert_eq!(events[0].data, removed);
        }
        call(
            &app,
            "POST",
            &format!("/api/v1/channels/{}/messages", channel_id(&view, 0)),
            Some(&alice),
            Some(json!({"content": "bye"})),
        )
        .await;
        assert_eq!(kinds(&drain(&mut to_alice)), ["MESSAGE_CREATE"]);
        assert!(drain(&mut to_bob).is_empty());
    }
}

#[tokio::test]
async fn members_without_view_channel_are_not_sent_its_messages() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            view,
            owner: (alice, alice_id),
            members: [(_, carol_id)],
            ..
        } = guild(db, ["carol"]).await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_carol) = state.hub.connect(&carol_id);

        call(
            &app,
            "PATCH",
            &format!("/api/v1/communities/{id}/roles/{id}"),
            Some(&alice),
            Some(json!({"permissions": []})),
        )
        .await;
        assert_eq!(kinds(&drain(&mut to_carol)), ["ROLE_UPDATE"]);
        call(
            &app,
            "POST",
            &format!("/api/v1/channels/{}/messages", channel_id(&view, 0)),
            Some(&alice),
            Some(json!({"content": "secret"})),
        )
        .await;
        assert_eq!(
            kinds(&drain(&mut to_alice)),
            ["ROLE_UPDATE", "MESSAGE_CREATE"]
        );
        assert!(drain(&mut to_carol).is_empty());
    }
}

#[tokio::test]
async fn deleting_a_community_tells_its_members_only() {
    for db in backends().await {
        let Guild {
            app,
            state,
            id,
            owner: (alice, _),
            members: [(_, bob_id), (_, carol_id)],
            ..
        } = guild(db, ["bob", "carol"]).await;
        // bob is a former member
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("/api/v1/communities/{id}/members/{bob_id}"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, mut to_bob) = state.hub.connect(&bob_id);
        let (_, mut to_carol) = state.hub.connect(&carol_id);

        call(
            &app,
            "DELETE",
            &format!("/api/v1/communities/{id}"),
            Some(&alice),
            None,
        )
        .await;
        let events = drain(&mut to_carol);
        assert_eq!(kinds(&events), ["COMMUNITY_DELETE"]);
        assert_eq!(events[0].data, json!({"id": id}));
        assert!(drain(&mut to_bob).is_empty());
    }
}
