//! Roles: listing, creating, editing and deleting a community's, and giving them to members
//! or taking them away (`crate::communities::service::roles`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{St, user_param};
use crate::api::ApiPath as Path;
use crate::api::error::{BadRequest, Forbidden, NotFound, Unauthorized};
use crate::api::params::{CommunityId, MemberUserId, RoleId};
use crate::api::{ApiJson, Session};
use crate::communities::service::roles;
use crate::communities::{Member, Permissions, Role};
use crate::error::Result;
use crate::schema::RoleName;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateRoleRequest {
    #[schema(value_type = RoleName)]
    name: String,
    /// Only permissions the caller has themselves (unless owner or ADMINISTRATOR). Duplicates
    /// are allowed and count once.
    #[serde(default)]
    #[schema(value_type = Permissions, default = json!([]))]
    permissions: Vec<String>,
}

/// The fields to change; absent or `null` fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UpdateRoleRequest {
    /// The `@everyone` role cannot be renamed.
    #[schema(value_type = Option<RoleName>)]
    name: Option<String>,
    /// Replaces the role's permissions; only permissions the caller has themselves.
    #[schema(value_type = Option<Permissions>)]
    permissions: Option<Vec<String>>,
}

/// A community's roles
#[utoipa::path(
    get,
    path = "/api/v1/communities/{communityId}/roles",
    operation_id = "listRoles",
    tag = "roles",
    params(CommunityId),
    responses(
        (status = 200, description = "The roles, by position.", body = Vec<Role>),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn list_roles(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Role>>> {
    Ok(Json(roles::list(&state, &session.user.id, &id).await?))
}

/// Create a role
///
/// Needs MANAGE_ROLES, and only with permissions the caller has.
#[utoipa::path(
    post,
    path = "/api/v1/communities/{communityId}/roles",
    operation_id = "createRole",
    tag = "roles",
    params(CommunityId),
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "The new role (last in position).", body = Role, links(
            ("UpdateRole" = (operation_id = "updateRole", description = "Edit the new role.", parameters(("communityId" = "$response.body#/communityId"), ("roleId" = "$response.body#/id")))),
            ("DeleteRole" = (operation_id = "deleteRole", description = "Delete it.", parameters(("communityId" = "$response.body#/communityId"), ("roleId" = "$response.body#/id")))),
            ("AssignRoleToMe" = (operation_id = "assignRole", description = "Give it to the caller.", parameters(("communityId" = "$response.body#/communityId"), ("userId" = "@me"), ("roleId" = "$response.body#/id")))),
            ("UnassignRoleFromMe" = (operation_id = "unassignRole", description = "Take it from the caller.", parameters(("communityId" = "$response.body#/communityId"), ("userId" = "@me"), ("roleId" = "$response.body#/id")))),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn create_role(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateRoleRequest>,
) -> Result<(StatusCode, Json<Role>)> {
    let role = roles::create(&state, &session.user.id, &id, &req.name, &req.permissions).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// Edit a role
///
/// Needs MANAGE_ROLES, on a role whose permissions the caller has, and only granting
/// permissions the caller has. The `@everyone` role's permissions can be edited, not its name.
#[utoipa::path(
    patch,
    path = "/api/v1/communities/{communityId}/roles/{roleId}",
    operation_id = "updateRole",
    tag = "roles",
    params(CommunityId, RoleId),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, description = "The edited role.", body = Role),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn update_role(
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

/// Delete a role
///
/// Needs MANAGE_ROLES, on a role whose permissions the caller has. `@everyone` cannot be
/// deleted (400).
#[utoipa::path(
    delete,
    path = "/api/v1/communities/{communityId}/roles/{roleId}",
    operation_id = "deleteRole",
    tag = "roles",
    params(CommunityId, RoleId),
    responses(
        (status = 204, description = "The role is gone, and taken from every member."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn delete_role(
    State(state): St,
    session: Session,
    Path((id, role_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    roles::delete(&state, &session.user.id, &id, &role_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a member a role
///
/// Needs MANAGE_ROLES, on a role whose permissions the caller has. `@everyone` cannot be
/// assigned (400). No request body.
#[utoipa::path(
    put,
    path = "/api/v1/communities/{communityId}/members/{userId}/roles/{roleId}",
    operation_id = "assignRole",
    tag = "roles",
    params(CommunityId, MemberUserId, RoleId),
    responses(
        (status = 200, description = "The member as they are now (also when they already had it).", body = Member),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn assign_role(
    State(state): St,
    session: Session,
    Path((id, user_id, role_id)): Path<(String, String, String)>,
) -> Result<Json<Member>> {
    let target = user_param(&session, &user_id);
    let member = roles::set_assigned(&state, &session.user.id, &id, target, &role_id, true).await?;
    Ok(Json(member))
}

/// Take a role from a member
///
/// Needs MANAGE_ROLES, on a role whose permissions the caller has; 404 when the member does
/// not have it.
#[utoipa::path(
    delete,
    path = "/api/v1/communities/{communityId}/members/{userId}/roles/{roleId}",
    operation_id = "unassignRole",
    tag = "roles",
    params(CommunityId, MemberUserId, RoleId),
    responses(
        (status = 204, description = "The member no longer has the role."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn unassign_role(
    State(state): St,
    session: Session,
    Path((id, user_id, role_id)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    let target = user_param(&session, &user_id);
    roles::set_assigned(&state, &session.user.id, &id, target, &role_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
