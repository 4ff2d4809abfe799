//! Communities ("servers"): members, invites, bans, roles, channels and channel messages. The
//! handlers read the request and shape the response; the rules live in
//! `crate::communities::service`. `{userId}` may be `@me` in member paths (removing yourself
//! is leaving).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

use super::ApiPath as Path;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiJson, Services, Session};
use crate::communities::service::channels::{ChannelChanges, NewChannel};
use crate::communities::service::messages::PageRequest;
use crate::communities::service::{channels, community, invites, members, messages, roles};
use crate::communities::{
    Ban, Channel, Community, CommunityView, Invite, InvitePreview, Member, Message, Role,
};
use crate::error::{Error, Result};

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/api/v1/communities", post(create))
        .route("/api/v1/users/@me/communities", get(mine))
        .route(
            "/api/v1/users/@me/communities/{id}",
            axum::routing::delete(leave),
        )
        .route(
            "/api/v1/communities/{id}",
            get(view).patch(rename).delete(remove),
        )
        .route(
            "/api/v1/communities/{id}/invites",
            get(list_invites).post(create_invite),
        )
        .route(
            "/api/v1/invites/{code}",
            get(preview_invite).post(join).delete(revoke_invite),
        )
        .route("/api/v1/communities/{id}/members", get(list_members))
        .route(
            "/api/v1/communities/{id}/members/{user_id}",
            get(member).delete(kick),
        )
        .route("/api/v1/communities/{id}/bans", get(list_bans))
        .route(
            "/api/v1/communities/{id}/bans/{user_id}",
            put(ban).delete(unban),
        )
        .route(
            "/api/v1/communities/{id}/roles",
            get(list_roles).post(create_role),
        )
        .route(
            "/api/v1/communities/{id}/roles/{role_id}",
            axum::routing::patch(update_role).delete(delete_role),
        )
        .route(
            "/api/v1/communities/{id}/members/{user_id}/roles/{role_id}",
            put(assign_role).delete(unassign_role),
        )
        .route(
            "/api/v1/communities/{id}/channels",
            get(list_channels).post(create_channel),
        )
        .route(
            "/api/v1/channels/{id}",
            get(channel).patch(update_channel).delete(delete_channel),
        )
        .route(
            "/api/v1/channels/{id}/messages",
            get(list_messages).post(send_message),
        )
        .route(
            "/api/v1/channels/{id}/messages/{message_id}",
            axum::routing::patch(edit_message).delete(delete_message),
        )
}

type St = State<Arc<Services>>;

/// `@me` names the signed-in user in paths.
fn user_param<'a>(session: &'a Session, user_id: &'a str) -> &'a str {
    if user_id == "@me" {
        &session.user.id
    } else {
        user_id
    }
}

/// Query strings of message pages: `?before=<messageId>&limit=1..100`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    before: Option<String>,
    limit: Option<String>,
}

/// The page request of a query string, its rejection an API error.
pub fn page_request(query: &Result<Query<PageQuery>, QueryRejection>) -> Result<PageRequest<'_>> {
    match query {
        Ok(Query(q)) => Ok(PageRequest {
            before: q.before.as_deref(),
            limit: q.limit.as_deref(),
        }),
        Err(rejection) => Err(Error::invalid(rejection.body_text())),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameRequest {
    name: String,
}

async fn create(
    State(state): St,
    session: Session,
    ApiJson(req): ApiJson<NameRequest>,
) -> Result<(StatusCode, Json<CommunityView>)> {
    let view = community::create(&state, &session.user, &req.name).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn mine(State(state): St, session: Session) -> Result<Json<Vec<CommunityView>>> {
    Ok(Json(community::mine(&state, &session.user.id).await?))
}

async fn view(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<CommunityView>> {
    Ok(Json(community::get(&state, &session.user.id, &id).await?))
}

async fn rename(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NameRequest>,
) -> Result<Json<Community>> {
    Ok(Json(
        community::rename(&state, &session.user.id, &id, &req.name).await?,
    ))
}

async fn remove(State(state): St, session: Session, Path(id): Path<String>) -> Result<StatusCode> {
    community::delete(&state, &session.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn leave(State(state): St, session: Session, Path(id): Path<String>) -> Result<StatusCode> {
    members::leave(&state, &session.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteRequest {
    max_uses: Option<i64>,
    max_age_seconds: Option<i64>,
}

async fn create_invite(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<Invite>)> {
    let invite = invites::create(
        &state,
        &session.user.id,
        &id,
        req.max_uses,
        req.max_age_seconds,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

async fn list_invites(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Invite>>> {
    Ok(Json(invites::list(&state, &session.user.id, &id).await?))
}

async fn preview_invite(
    State(state): St,
    _session: Session,
    Path(code): Path<String>,
) -> Result<Json<InvitePreview>> {
    Ok(Json(invites::preview(&state, &code).await?))
}

/// Joins by invite: 201 with the community, or 200 when already a member.
async fn join(
    State(state): St,
    session: Session,
    Path(code): Path<String>,
) -> Result<(StatusCode, Json<CommunityView>)> {
    let (view, joined) = invites::join(&state, &session.user, &code).await?;
    let status = if joined {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

async fn revoke_invite(
    State(state): St,
    session: Session,
    Path(code): Path<String>,
) -> Result<StatusCode> {
    invites::revoke(&state, &session.user.id, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Member>>> {
    Ok(Json(members::list(&state, &session.user.id, &id).await?))
}

async fn member(
    State(state): St,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Json<Member>> {
    let target = user_param(&session, &user_id);
    Ok(Json(
        members::get(&state, &session.user.id, &id, target).await?,
    ))
}

/// Kicks a member; on yourself (or `@me`) it is leaving.
async fn kick(
    State(state): St,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let target = user_param(&session, &user_id);
    members::kick(&state, &session.user.id, &id, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_bans(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Ban>>> {
    Ok(Json(members::bans(&state, &session.user.id, &id).await?))
}

/// Bans a user: 201 with the ban, or 200 when they already were.
async fn ban(
    State(state): St,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Ban>)> {
    let target = user_param(&session, &user_id);
    let (ban, new) = members::ban(&state, &session.user.id, &id, target).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ban)))
}

async fn unban(
    State(state): St,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    members::unban(&state, &session.user.id, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoleRequest {
    name: String,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRoleRequest {
    name: Option<String>,
    permissions: Option<Vec<String>>,
}

async fn list_roles(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Role>>> {
    Ok(Json(roles::list(&state, &session.user.id, &id).await?))
}

async fn create_role(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateRoleRequest>,
) -> Result<(StatusCode, Json<Role>)> {
    let role = roles::create(&state, &session.user.id, &id, &req.name, &req.permissions).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

async fn update_role(
    State(state): St,
    session: Session,
    Path((id, role_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<UpdateRoleRequest>,
) -> Result<Json<Role>> {
    let role = roles::update(
        &state,
        &session.user.id,
        &id,
        &role_id,
        req.name.as_deref(),
        req.permissions.as_deref(),
    )
    .await?;
    Ok(Json(role))
}

async fn delete_role(
    State(state): St,
    session: Session,
    Path((id, role_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    roles::delete(&state, &session.user.id, &id, &role_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn assign_role(
    State(state): St,
    session: Session,
    Path((id, user_id, role_id)): Path<(String, String, String)>,
) -> Result<Json<Member>> {
    let target = user_param(&session, &user_id);
    let member = roles::set_assigned(&state, &session.user.id, &id, target, &role_id, true).await?;
    Ok(Json(member))
}

async fn unassign_role(
    State(state): St,
    session: Session,
    Path((id, user_id, role_id)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    let target = user_param(&session, &user_id);
    roles::set_assigned(&state, &session.user.id, &id, target, &role_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateChannelRequest {
    name: String,
    kind: String,
    user_limit: Option<i64>,
    position: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateChannelRequest {
    name: Option<String>,
    user_limit: Option<i64>,
    position: Option<i64>,
}

async fn list_channels(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Channel>>> {
    Ok(Json(channels::list(&state, &session.user.id, &id).await?))
}

async fn create_channel(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateChannelRequest>,
) -> Result<(StatusCode, Json<Channel>)> {
    let new = NewChannel {
        name: &req.name,
        kind: &req.kind,
        user_limit: req.user_limit,
        position: req.position,
    };
    let channel = channels::create(&state, &session.user.id, &id, new).await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

async fn channel(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Channel>> {
    Ok(Json(channels::get(&state, &session.user.id, &id).await?))
}

async fn update_channel(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateChannelRequest>,
) -> Result<Json<Channel>> {
    let changes = ChannelChanges {
        name: req.name.as_deref(),
        user_limit: req.user_limit,
        position: req.position,
    };
    Ok(Json(
        channels::update(&state, &session.user.id, &id, changes).await?,
    ))
}

async fn delete_channel(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    channels::delete(&state, &session.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentRequest {
    content: String,
}

async fn list_messages(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Vec<Message>>> {
    let page = page_request(&query)?;
    Ok(Json(
        messages::list(&state, &session.user.id, &id, page).await?,
    ))
}

async fn send_message(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ContentRequest>,
) -> Result<(StatusCode, Json<Message>)> {
    let message = messages::send(&state, &session.user, &id, &req.content).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

async fn edit_message(
    State(state): St,
    session: Session,
    Path((id, message_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<ContentRequest>,
) -> Result<Json<Message>> {
    let message = messages::edit(&state, &session.user.id, &id, &message_id, &req.content).await?;
    Ok(Json(message))
}

async fn delete_message(
    State(state): St,
    session: Session,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    messages::delete(&state, &session.user.id, &id, &message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
