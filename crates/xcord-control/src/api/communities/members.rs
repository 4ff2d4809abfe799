//! Members and bans: listing and reading members, kicking, leaving, banning and unbanning
//! (`crate::communities::service::members`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{St, user_param};
use crate::api::ApiPath as Path;
use crate::api::Session;
use crate::api::error::{BadRequest, ErrorBody, Forbidden, NotFound, Unauthorized};
use crate::api::params::{CommunityId, MemberUserId, UserId};
use crate::communities::service::members;
use crate::communities::{Ban, Member};
use crate::error::Result;

/// Leave a community
#[utoipa::path(
    delete,
    path = "/api/v1/users/@me/communities/{communityId}",
    operation_id = "leaveCommunity",
    tag = "communities",
    params(CommunityId),
    responses(
        (status = 204, description = "The caller is no longer a member (MEMBER_REMOVE is sent)."),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, description = "Conflict (`conflict`): the owner cannot leave; they delete the community instead.", body = ErrorBody),
    ),
)]
pub(super) async fn leave(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    members::leave(&state, &session.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A community's members
#[utoipa::path(
    get,
    path = "/api/v1/communities/{communityId}/members",
    operation_id = "listMembers",
    tag = "members",
    params(CommunityId),
    responses(
        (status = 200, description = "The members.", body = Vec<Member>),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn list_members(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Member>>> {
    Ok(Json(members::list(&state, &session.user.id, &id).await?))
}

/// A member
#[utoipa::path(
    get,
    path = "/api/v1/communities/{communityId}/members/{userId}",
    operation_id = "getMember",
    tag = "members",
    params(CommunityId, MemberUserId),
    responses(
        (status = 200, description = "The member.", body = Member),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn member(
    State(state): St,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Json<Member>> {
    let target = user_param(&session, &user_id);
    Ok(Json(
        members::get(&state, &session.user.id, &id, target).await?,
    ))
}

/// Kick a member (or leave)
///
/// Needs KICK_MEMBERS; nobody can kick the owner, and only the owner and administrators can
/// kick a member whose permissions exceed their own. On the caller (or `@me`) it is leaving.
#[utoipa::path(
    delete,
    path = "/api/v1/communities/{communityId}/members/{userId}",
    operation_id = "kickMember",
    tag = "members",
    params(CommunityId, MemberUserId),
    responses(
        (status = 204, description = "The member is removed (MEMBER_REMOVE is sent; they leave its voice channels)."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "Conflict (`conflict`): the owner cannot leave (when the target is the caller).", body = ErrorBody),
    ),
)]
pub(super) async fn kick(
    State(state): St,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let target = user_param(&session, &user_id);
    members::kick(&state, &session.user.id, &id, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A community's bans
///
/// Needs BAN_MEMBERS.
#[utoipa::path(
    get,
    path = "/api/v1/communities/{communityId}/bans",
    operation_id = "listBans",
    tag = "members",
    params(CommunityId),
    responses(
        (status = 200, description = "The bans.", body = Vec<Ban>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn list_bans(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Ban>>> {
    Ok(Json(members::bans(&state, &session.user.id, &id).await?))
}

/// Ban a user
///
/// Needs BAN_MEMBERS. Members and non-members may be banned; not the caller themselves (400),
/// not the owner, and not a member whose permissions exceed the caller's. No request body.
#[utoipa::path(
    put,
    path = "/api/v1/communities/{communityId}/bans/{userId}",
    operation_id = "banUser",
    tag = "members",
    params(CommunityId, MemberUserId),
    responses(
        (status = 200, description = "The user already was banned.", body = Ban),
        (status = 201, description = "The user is banned now (and removed if they were a member).", body = Ban),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn ban(
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

/// Lift a ban
///
/// Needs BAN_MEMBERS.
#[utoipa::path(
    delete,
    path = "/api/v1/communities/{communityId}/bans/{userId}",
    operation_id = "unbanUser",
    tag = "members",
    params(CommunityId, UserId),
    responses(
        (status = 204, description = "The ban is lifted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn unban(
    State(state): St,
    session: Session,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    members::unban(&state, &session.user.id, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
