//! A community itself: creating, listing one's own, reading, renaming and deleting
//! (`crate::communities::service::community`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::St;
use crate::api::ApiPath as Path;
use crate::api::error::{BadRequest, Forbidden, NotFound, Unauthorized};
use crate::api::params::CommunityId;
use crate::api::{ApiJson, Session};
use crate::communities::service::community;
use crate::communities::{Community, CommunityView};
use crate::error::Result;
use crate::schema::Name;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CommunityNameRequest {
    #[schema(value_type = Name)]
    name: String,
}

/// Create a community
///
/// The new community has an `@everyone` role (VIEW_CHANNEL, SEND_MESSAGES, CONNECT, SPEAK,
/// VIDEO, SCREEN_SHARE).
#[utoipa::path(
    post,
    path = "/api/v1/communities",
    operation_id = "createCommunity",
    tag = "communities",
    request_body = CommunityNameRequest,
    responses(
        (status = 201, description = "The new community; the caller is its owner and first member.", body = CommunityView, links(
            ("GetCommunity" = (operation_id = "getCommunity", description = "Read the new community.", parameters(("communityId" = "$response.body#/id")))),
            ("RenameCommunity" = (operation_id = "renameCommunity", description = "Rename it.", parameters(("communityId" = "$response.body#/id")))),
            ("DeleteCommunity" = (operation_id = "deleteCommunity", description = "Delete it (the caller owns it).", parameters(("communityId" = "$response.body#/id")))),
            ("LeaveCommunity" = (operation_id = "leaveCommunity", description = "Leave it (refused to the owner: 409).", parameters(("communityId" = "$response.body#/id")))),
            ("ListInvites" = (operation_id = "listInvites", description = "Its invites.", parameters(("communityId" = "$response.body#/id")))),
            ("CreateInvite" = (operation_id = "createInvite", description = "Invite to it.", parameters(("communityId" = "$response.body#/id")))),
            ("ListMembers" = (operation_id = "listMembers", description = "Its members.", parameters(("communityId" = "$response.body#/id")))),
            ("GetOwner" = (operation_id = "getMember", description = "Its owner as a member.", parameters(("communityId" = "$response.body#/id"), ("userId" = "$response.body#/ownerId")))),
            ("ListBans" = (operation_id = "listBans", description = "Its bans.", parameters(("communityId" = "$response.body#/id")))),
            ("ListRoles" = (operation_id = "listRoles", description = "Its roles.", parameters(("communityId" = "$response.body#/id")))),
            ("CreateRole" = (operation_id = "createRole", description = "Add a role.", parameters(("communityId" = "$response.body#/id")))),
            ("EditEveryone" = (operation_id = "updateRole", description = "Edit its `@everyone` role (whose id is the community's).", parameters(("communityId" = "$response.body#/id"), ("roleId" = "$response.body#/id")))),
            ("ListChannels" = (operation_id = "listChannels", description = "Its channels.", parameters(("communityId" = "$response.body#/id")))),
            ("CreateChannel" = (operation_id = "createChannel", description = "Add a channel.", parameters(("communityId" = "$response.body#/id")))),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    ),
)]
pub(super) async fn create(
    State(state): St,
    session: Session,
    ApiJson(req): ApiJson<CommunityNameRequest>,
) -> Result<(StatusCode, Json<CommunityView>)> {
    let view = community::create(&state, &session.user, &req.name).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The caller's communities
#[utoipa::path(
    get,
    path = "/api/v1/users/@me/communities",
    operation_id = "listMyCommunities",
    tag = "communities",
    responses(
        (status = 200, description = "Every community the caller is a member of.", body = Vec<CommunityView>),
        (status = 401, response = Unauthorized),
    ),
)]
pub(super) async fn mine(State(state): St, session: Session) -> Result<Json<Vec<CommunityView>>> {
    Ok(Json(community::mine(&state, &session.user.id).await?))
}

/// A community
#[utoipa::path(
    get,
    path = "/api/v1/communities/{communityId}",
    operation_id = "getCommunity",
    tag = "communities",
    params(CommunityId),
    responses(
        (status = 200, description = "The community as the caller (a member) sees it.", body = CommunityView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn view(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<CommunityView>> {
    Ok(Json(community::get(&state, &session.user.id, &id).await?))
}

/// Rename a community
///
/// Needs ADMINISTRATOR.
#[utoipa::path(
    patch,
    path = "/api/v1/communities/{communityId}",
    operation_id = "renameCommunity",
    tag = "communities",
    params(CommunityId),
    request_body = CommunityNameRequest,
    responses(
        (status = 200, description = "The renamed community.", body = Community),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn rename(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CommunityNameRequest>,
) -> Result<Json<Community>> {
    Ok(Json(
        community::rename(&state, &session.user.id, &id, &req.name).await?,
    ))
}

/// Delete a community
///
/// Only the owner may. Its voice rooms are closed.
#[utoipa::path(
    delete,
    path = "/api/v1/communities/{communityId}",
    operation_id = "deleteCommunity",
    tag = "communities",
    params(CommunityId),
    responses(
        (status = 204, description = "The community and everything in it are gone."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn remove(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    community::delete(&state, &session.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
