//! Communities over the HTTP API, on SQLite and PostgreSQL: lifecycle, invites, roles and
//! permissions, kicks and bans, channels, messages with pagination, and realtime delivery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::{app, app_with_state, backends, call, register};
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use xcord_control::communities::{self, ChannelKind, Permissions};
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

/// Creates an unlimited invite; returns its code.
async fn invite(app: &Router, token: &str, community: &str) -> String {
    let (s, body) = call(
        app,
        "POST",
        &format!("/api/v1/communities/{community}/invites"),
        Some(token),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["code"].as_str().unwrap().to_owned()
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

/// A community of `owner` that `others` joined; returns its id.
async fn community_with(app: &Router, owner: &str, others: &[&str]) -> String {
    let id = create(app, owner, "Guild").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = invite(app, owner, &id).await;
    for token in others {
        let (s, body) = join(app, token, &code).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    id
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

#[tokio::test]
async fn create_view_rename_delete() {
    for db in backends().await {
        let app = app(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (bob, _) = register(&app, "bob").await;

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

        // validation
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

        // a non-member sees nothing
        let path = format!("/api/v1/communities/{id}");
        assert_error(
            call(&app, "GET", &path, Some(&bob), None).await,
            StatusCode::NOT_FOUND,
            "community not found",
        );
        let code = invite(&app, &alice, &id).await;
        assert_eq!(join(&app, &bob, &code).await.0, StatusCode::CREATED);

        // renaming takes ADMINISTRATOR; deleting, the owner
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
        assert_error(
            call(&app, "DELETE", &path, Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "only the owner can delete the community",
        );
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

#[tokio::test]
async fn invites_join_and_leave() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        let (carol, _) = register(&app, "carol").await;
        let id = create(&app, &alice, "Guild").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
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
        assert_error(
            call(&app, "POST", &invites, Some(&bob), Some(json!({}))).await,
            StatusCode::NOT_FOUND,
            "community not found",
        );

        let (s, once) = call(
            &app,
            "POST",
            &invites,
            Some(&alice),
            Some(json!({"maxUses": 1})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{once}");
        assert_eq!(
            (once["maxUses"].as_i64(), once["uses"].as_i64()),
            (Some(1), Some(0))
        );
        let code = once["code"].as_str().unwrap();
        assert_eq!(code.len(), 10);

        let (s, preview) = call(
            &app,
            "GET",
            &format!("/api/v1/invites/{code}"),
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

        let (s, view) = join(&app, &bob, code).await;
        assert_eq!(s, StatusCode::CREATED, "{view}");
        assert_eq!(view["id"], id.as_str());
        assert_eq!(view["members"].as_array().unwrap().len(), 2);
        // already a member: 200, and no use is counted
        let (s, _) = join(&app, &bob, code).await;
        assert_eq!(s, StatusCode::OK);
        assert_error(
            join(&app, &carol, code).await,
            StatusCode::GONE,
            "invite has reached its maximum uses",
        );
        assert_error(
            join(&app, &carol, "nosuchcode").await,
            StatusCode::NOT_FOUND,
            "invite not found",
        );

        let (s, short) = call(
            &app,
            "POST",
            &invites,
            Some(&alice),
            Some(json!({"maxAgeSeconds": 1})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
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

        // listing takes MANAGE_CHANNELS; creators revoke their own
        assert_error(
            call(&app, "GET", &invites, Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
        let (s, list) = call(&app, "GET", &invites, Some(&alice), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 2);
        let used = list
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code)
            .unwrap();
        assert_eq!(used["uses"], 1);
        let bobs = invite(&app, &bob, &id).await;
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

        // leaving: the owner cannot; members can (by either path)
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
        assert_eq!(join(&app, &bob, &alices).await.0, StatusCode::CREATED);
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

#[tokio::test]
async fn roles_grant_permissions_without_escalation() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        let (carol, carol_id) = register(&app, "carol").await;
        let id = community_with(&app, &alice, &[&bob, &carol]).await;
        let channels = format!("/api/v1/communities/{id}/channels");
        let roles = format!("/api/v1/communities/{id}/roles");

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
        assert_error(
            call(&app, "POST", &roles, Some(&bob), Some(json!({"name": "x"}))).await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_ROLES",
        );
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
        let mods = grant(&app, &alice, &id, &bob_id, "Mods", &["MANAGE_CHANNELS"]).await;
        let (s, channel) = call(&app, "POST", &channels, Some(&bob), Some(new_channel)).await;
        assert_eq!(s, StatusCode::CREATED, "{channel}");

        let (_, member) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}/members/{bob_id}"),
            Some(&carol),
            None,
        )
        .await;
        assert_eq!(member["roleIds"], json!([mods]));

        // the same from Rust: what voice join and the gateway see
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

        // MANAGE_ROLES does not let bob hand out more than he has
        let managers = grant(
            &app,
            &alice,
            &id,
            &bob_id,
            "Role managers",
            &["MANAGE_ROLES"],
        )
        .await;
        let (s, helper) = call(
            &app,
            "POST",
            &roles,
            Some(&bob),
            Some(json!({"name": "Helpers", "permissions": ["MANAGE_CHANNELS"]})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{helper}");
        assert_eq!(helper["permissions"], json!(["MANAGE_CHANNELS"]));
        assert_error(
            call(
                &app,
                "POST",
                &roles,
                Some(&bob),
                Some(json!({"name": "Bans", "permissions": ["BAN_MEMBERS", "MANAGE_CHANNELS"]})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "the new role has permissions you do not have: BAN_MEMBERS",
        );
        let (s, admins) = call(
            &app,
            "POST",
            &roles,
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
        assert_error(
            call(
                &app,
                "PATCH",
                &format!("{roles}/{managers}"),
                Some(&bob),
                Some(json!({"permissions": ["MANAGE_ROLES", "KICK_MEMBERS"]})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "the edited role has permissions you do not have: KICK_MEMBERS",
        );
        let helper_id = helper["id"].as_str().unwrap();
        let (s, carol_member) = call(
            &app,
            "PUT",
            &format!("/api/v1/communities/{id}/members/{carol_id}/roles/{helper_id}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(carol_member["roleIds"], json!([helper_id]));

        // @everyone: edited, never renamed, deleted or assigned
        let everyone = format!("{roles}/{id}");
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
        let (s, e) = call(
            &app,
            "PATCH",
            &everyone,
            Some(&alice),
            Some(json!({"permissions": ["VIEW_CHANNEL"]})),
        )
        .await;
        assert_eq!(
            (s, &e["permissions"]),
            (StatusCode::OK, &json!(["VIEW_CHANNEL"]))
        );
        let plans = channel_id;
        assert_error(
            call(
                &app,
                "POST",
                &format!("/api/v1/channels/{plans}/messages"),
                Some(&carol),
                Some(json!({"content": "hi"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission SEND_MESSAGES",
        );
        let (s, _) = call(
            &app,
            "PATCH",
            &everyone,
            Some(&alice),
            Some(json!({"permissions": []})),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_error(
            call(&app, "GET", &channels, Some(&carol), None).await,
            StatusCode::FORBIDDEN,
            "missing permission VIEW_CHANNEL",
        );
        assert_error(
            call(
                &app,
                "POST",
                &format!("/api/v1/channels/{plans}/messages"),
                Some(&carol),
                Some(json!({"content": "hi"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permissions VIEW_CHANNEL, SEND_MESSAGES",
        );
        let (_, carols_view) = call(
            &app,
            "GET",
            &format!("/api/v1/communities/{id}"),
            Some(&carol),
            None,
        )
        .await;
        assert_eq!(carols_view["channels"], json!([]));

        // unassigning and deleting roles
        let (s, _) = call(
            &app,
            "DELETE",
            &format!("/api/v1/communities/{id}/members/{carol_id}/roles/{helper_id}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("/api/v1/communities/{id}/members/{carol_id}/roles/{helper_id}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "the member does not have that role",
        );
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

#[tokio::test]
async fn kicks_and_bans() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        let (carol, carol_id) = register(&app, "carol").await;
        let (dave, dave_id) = register(&app, "dave").await;
        let id = community_with(&app, &alice, &[&bob, &carol, &dave]).await;
        let code = invite(&app, &alice, &id).await;
        let member = |u: &str| format!("/api/v1/communities/{id}/members/{u}");
        let ban = |u: &str| format!("/api/v1/communities/{id}/bans/{u}");

        assert_error(
            call(&app, "DELETE", &member(&carol_id), Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "missing permission KICK_MEMBERS",
        );
        grant(&app, &alice, &id, &bob_id, "Mods", &["KICK_MEMBERS"]).await;
        grant(&app, &alice, &id, &dave_id, "Admins", &["ADMINISTRATOR"]).await;
        assert_error(
            call(&app, "DELETE", &member(&alice_id), Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "the owner cannot be kicked",
        );
        assert_error(
            call(&app, "DELETE", &member(&dave_id), Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "a member whose permissions exceed yours cannot be kicked by you",
        );
        let (s, _) = call(&app, "DELETE", &member(&carol_id), Some(&bob), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert!(
            !communities::is_member(&state.db, &id, &carol_id)
                .await
                .unwrap()
        );
        assert_eq!(
            call(&app, "GET", &member(&carol_id), Some(&bob), None)
                .await
                .0,
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
            call(&app, "DELETE", &member(&carol_id), Some(&bob), None).await,
            StatusCode::NOT_FOUND,
            "member not found",
        );
        // a kick is not a ban
        assert_eq!(join(&app, &carol, &code).await.0, StatusCode::CREATED);

        // bans
        assert_error(
            call(&app, "PUT", &ban(&carol_id), Some(&bob), None).await,
            StatusCode::FORBIDDEN,
            "missing permission BAN_MEMBERS",
        );
        assert_error(
            call(&app, "PUT", &ban(&alice_id), Some(&dave), None).await,
            StatusCode::FORBIDDEN,
            "the owner cannot be banned",
        );
        assert_error(
            call(&app, "PUT", &ban("no-such-user"), Some(&dave), None).await,
            StatusCode::NOT_FOUND,
            "user not found",
        );
        let (s, b) = call(&app, "PUT", &ban(&carol_id), Some(&dave), None).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(
            (b["user"]["id"].as_str(), b["bannedBy"].as_str()),
            (Some(carol_id.as_str()), Some(dave_id.as_str()))
        );
        assert_eq!(
            call(&app, "PUT", &ban(&carol_id), Some(&dave), None)
                .await
                .0,
            StatusCode::OK
        );
        assert!(
            !communities::is_member(&state.db, &id, &carol_id)
                .await
                .unwrap()
        );

        // a banned user cannot join, even by invite, and nothing is counted
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
        assert_eq!(counted["uses"], 1);
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

        // a user who never joined can be banned too
        let (erin, erin_id) = register(&app, "erin").await;
        assert_eq!(
            call(&app, "PUT", &ban(&erin_id), Some(&alice), None)
                .await
                .0,
            StatusCode::CREATED
        );
        assert_eq!(join(&app, &erin, &code).await.0, StatusCode::FORBIDDEN);

        let (s, _) = call(&app, "DELETE", &ban(&carol_id), Some(&dave), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_error(
            call(&app, "DELETE", &ban(&carol_id), Some(&dave), None).await,
            StatusCode::NOT_FOUND,
            "ban not found",
        );
        assert_eq!(join(&app, &carol, &code).await.0, StatusCode::CREATED);
        let ids = communities::member_ids(&state.db, &id).await.unwrap();
        let mut expected = vec![alice_id, bob_id, carol_id, dave_id];
        expected.sort();
        assert_eq!(ids, expected);
    }
}

#[tokio::test]
async fn channels_rules() {
    for db in backends().await {
        let app = app(db);
        let (alice, _) = register(&app, "alice").await;
        let (bob, _) = register(&app, "bob").await;
        let (carol, _) = register(&app, "carol").await;
        let id = community_with(&app, &alice, &[&bob]).await;
        let channels = format!("/api/v1/communities/{id}/channels");

        let (s, voice) = call(
            &app,
            "POST",
            &channels,
            Some(&alice),
            Some(json!({"name": "Lounge", "kind": "voice", "userLimit": 99})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{voice}");
        assert_eq!(
            (
                voice["kind"].as_str(),
                voice["userLimit"].as_u64(),
                voice["position"].as_i64()
            ),
            (Some("voice"), Some(99), Some(2))
        );
        let (s, video) = call(
            &app,
            "POST",
            &channels,
            Some(&alice),
            Some(json!({"name": "Cams", "kind": "video", "position": 0})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(
            (video["userLimit"].as_u64(), video["position"].as_i64()),
            (Some(0), Some(0))
        );

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

        let (s, list) = call(&app, "GET", &channels, Some(&bob), None).await;
        assert_eq!(s, StatusCode::OK);
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["general", "Cams", "General", "Lounge"]);

        let path = format!("/api/v1/channels/{}", voice["id"].as_str().unwrap());
        assert_error(
            call(&app, "GET", &path, Some(&carol), None).await,
            StatusCode::NOT_FOUND,
            "channel not found",
        );
        assert_error(
            call(
                &app,
                "PATCH",
                &path,
                Some(&bob),
                Some(json!({"userLimit": 4})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
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
        let text = list[0]["id"].as_str().unwrap();
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

#[tokio::test]
async fn messages_paginate_edit_and_delete() {
    for db in backends().await {
        let app = app(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (bob, _) = register(&app, "bob").await;
        let (carol, _) = register(&app, "carol").await;
        let view = create(&app, &alice, "Guild").await;
        let id = view["id"].as_str().unwrap().to_owned();
        let code = invite(&app, &alice, &id).await;
        join(&app, &bob, &code).await;
        let text = view["channels"][0]["id"].as_str().unwrap();
        let voice = view["channels"][1]["id"].as_str().unwrap();
        let messages = format!("/api/v1/channels/{text}/messages");

        let mut sent = Vec::new();
        for i in 0..25 {
            let token = if i % 2 == 0 { &alice } else { &bob };
            let (s, m) = call(
                &app,
                "POST",
                &messages,
                Some(token),
                Some(json!({"content": format!("message {i}")})),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{m}");
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

        // voice channels have their own chat
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

        // edit own only; delete own, or with MANAGE_CHANNELS
        let alices = &sent[0];
        let bobs = &sent[1];
        assert_error(
            call(
                &app,
                "PATCH",
                &format!("{messages}/{alices}"),
                Some(&bob),
                Some(json!({"content": "mine now"})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "you can only edit your own messages",
        );
        let (s, edited) = call(
            &app,
            "PATCH",
            &format!("{messages}/{bobs}"),
            Some(&bob),
            Some(json!({"content": "fixed"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{edited}");
        assert_eq!(edited["content"], "fixed");
        assert!(edited["editedAt"].as_i64().is_some());
        assert_error(
            call(
                &app,
                "DELETE",
                &format!("{messages}/{alices}"),
                Some(&bob),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "missing permission MANAGE_CHANNELS",
        );
        assert_eq!(
            call(
                &app,
                "DELETE",
                &format!("{messages}/{bobs}"),
                Some(&alice),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(
                &app,
                "DELETE",
                &format!("{messages}/{}", sent[3]),
                Some(&bob),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_error(
            call(
                &app,
                "PATCH",
                &format!("{messages}/{bobs}"),
                Some(&bob),
                Some(json!({"content": "again"})),
            )
            .await,
            StatusCode::NOT_FOUND,
            "message not found",
        );
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

#[tokio::test]
async fn events_reach_members_only() {
    for db in backends().await {
        let (app, state) = app_with_state(db);
        let (alice, alice_id) = register(&app, "alice").await;
        let (bob, bob_id) = register(&app, "bob").await;
        let (carol, carol_id) = register(&app, "carol").await;
        let (_, mut to_alice) = state.hub.connect(&alice_id);
        let (_, mut to_bob) = state.hub.connect(&bob_id);
        let (_, mut to_carol) = state.hub.connect(&carol_id);

        let view = create(&app, &alice, "Guild").await;
        let id = view["id"].as_str().unwrap().to_owned();
        let events = drain(&mut to_alice);
        assert_eq!(kinds(&events), ["COMMUNITY_CREATE"]);
        assert_eq!(events[0].data, view);

        let code = invite(&app, &alice, &id).await;
        let (_, joined) = join(&app, &bob, &code).await;
        let events = drain(&mut to_bob);
        assert_eq!(kinds(&events), ["COMMUNITY_CREATE"]);
        assert_eq!(events[0].data, joined);
        let events = drain(&mut to_alice);
        assert_eq!(kinds(&events), ["MEMBER_ADD"]);
        assert_eq!(events[0].data["user"]["id"], bob_id.as_str());

        let text = view["channels"][0]["id"].as_str().unwrap();
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
            &format!("/api/v1/channels/{text}/messages"),
            Some(&alice),
            Some(json!({"content": "bye"})),
        )
        .await;
        assert_eq!(kinds(&drain(&mut to_alice)), ["MESSAGE_CREATE"]);
        assert!(drain(&mut to_bob).is_empty());

        // members without VIEW_CHANNEL are not sent channel messages
        join(&app, &carol, &code).await;
        drain(&mut to_alice);
        drain(&mut to_carol);
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
            &format!("/api/v1/channels/{text}/messages"),
            Some(&alice),
            Some(json!({"content": "secret"})),
        )
        .await;
        assert_eq!(
            kinds(&drain(&mut to_alice)),
            ["ROLE_UPDATE", "MESSAGE_CREATE"]
        );
        assert!(drain(&mut to_carol).is_empty());

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
