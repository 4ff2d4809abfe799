//! Invites: creating and listing a community's, previewing, joining by and revoking one
//! (`crate::communities::service::invites`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::St;
use crate::api::ApiPath as Path;
use crate::api::error::{BadRequest, ErrorBody, Forbidden, Gone, NotFound, Unauthorized};
use crate::api::params::{Code, CommunityId};
use crate::api::{ApiJson, Session};
use crate::communities::service::invites;
use crate::communities::{CommunityView, Invite, InvitePreview};
use crate::error::Result;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateInviteRequest {
    /// How many users may join with it; absent or `null`: unlimited.
    #[schema(minimum = 1, maximum = 1000)]
    max_uses: Option<i64>,
    /// Its lifetime, at most 30 days; absent or `null`: it never expires.
    #[schema(minimum = 1, maximum = 2592000)]
    max_age_seconds: Option<i64>,
}

/// Create an invite
///
/// Any member may.
#[utoipa::path(
    post,
    path = "/api/v1/communities/{communityId}/invites",
    operation_id = "createInvite",
    tag = "invites",
    params(CommunityId),
    request_body = CreateInviteRequest,
    responses(
        (status = 201, description = "The new invite.", body = Invite, links(
            ("PreviewInvite" = (operation_id = "previewInvite", description = "Preview the new invite.", parameters(("code" = "$response.body#/code")))),
            ("JoinByInvite" = (operation_id = "joinByInvite", description = "Join by it.", parameters(("code" = "$response.body#/code")))),
            ("RevokeInvite" = (operation_id = "revokeInvite", description = "Revoke it.", parameters(("code" = "$response.body#/code")))),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, description = "Too many invites made by this user (`rate_limited`): at most 10 per 10 minutes.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
    ),
)]
pub(super) async fn create_invite(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateInviteRequest>,
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

/// A community's invites
///
/// Needs MANAGE_CHANNELS.
#[utoipa::path(
    get,
    path = "/api/v1/communities/{communityId}/invites",
    operation_id = "listInvites",
    tag = "invites",
    params(CommunityId),
    responses(
        (status = 200, description = "The invites.", body = Vec<Invite>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn list_invites(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Invite>>> {
    Ok(Json(invites::list(&state, &session.user.id, &id).await?))
}

/// Preview an invite
///
/// Anyone signed in may.
#[utoipa::path(
    get,
    path = "/api/v1/invites/{code}",
    operation_id = "previewInvite",
    tag = "invites",
    params(Code),
    responses(
        (status = 200, description = "What the code leads to.", body = InvitePreview),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 410, response = Gone),
    ),
)]
pub(super) async fn preview_invite(
    State(state): St,
    _session: Session,
    Path(code): Path<String>,
) -> Result<Json<InvitePreview>> {
    Ok(Json(invites::preview(&state, &code).await?))
}

/// Join by invite
///
/// No request body.
#[utoipa::path(
    post,
    path = "/api/v1/invites/{code}",
    operation_id = "joinByInvite",
    tag = "invites",
    params(Code),
    responses(
        (status = 200, description = "The caller already was a member (no use is counted).", body = CommunityView),
        (status = 201, description = "The caller joined.", body = CommunityView),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is banned from the community (`forbidden`).", body = ErrorBody),
        (status = 404, response = NotFound),
        (status = 410, response = Gone),
    ),
)]
pub(super) async fn join(
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

/// Revoke an invite
///
/// Its creator may, and members with MANAGE_CHANNELS.
#[utoipa::path(
    delete,
    path = "/api/v1/invites/{code}",
    operation_id = "revokeInvite",
    tag = "invites",
    params(Code),
    responses(
        (status = 204, description = "The invite is gone."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn revoke_invite(
    State(state): St,
    session: Session,
    Path(code): Path<String>,
) -> Result<StatusCode> {
    invites::revoke(&state, &session.user.id, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}
