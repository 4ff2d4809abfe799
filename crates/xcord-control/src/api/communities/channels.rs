//! Channels: listing and creating a community's, reading, editing and deleting one
//! (`crate::communities::service::channels`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

use super::St;
use crate::api::ApiPath as Path;
use crate::api::error::{BadRequest, Forbidden, NotFound, Unauthorized};
use crate::api::params::{ChannelId, CommunityId};
use crate::api::{ApiJson, Session};
use crate::communities::service::channels::{self, ChannelChanges, NewChannel};
use crate::communities::{Channel, ChannelKind};
use crate::error::Result;
use crate::schema::Name;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateChannelRequest {
    #[schema(value_type = Name)]
    name: String,
    #[schema(value_type = ChannelKind)]
    kind: String,
    /// 0 (or absent or `null`) is unlimited; a non-zero limit only for `voice` and `video`
    /// channels (400 for `text`).
    #[schema(minimum = 0, maximum = 99, default = 0)]
    user_limit: Option<i64>,
    /// Absent or `null`: after the last channel.
    #[schema(minimum = 0, maximum = 1000000)]
    position: Option<i64>,
}

/// What `CreateChannelRequest`'s derive cannot say: a text channel has no user limit.
pub fn document_kind_rule(document: &mut OpenApi) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    let Some(RefOr::T(Schema::Object(request))) = components
        .schemas
        .get_mut(CreateChannelRequest::name().as_ref())
    else {
        return;
    };
    let rule = Extensions::from_iter([
        (
            "if",
            serde_json::json!({
                "properties": {"kind": {"const": "text"}},
                "required": ["kind"],
            }),
        ),
        (
            "then",
            serde_json::json!({"properties": {"userLimit": {"enum": [0, null]}}}),
        ),
    ]);
    request
        .extensions
        .get_or_insert_with(Extensions::default)
        .merge(rule);
}

/// The fields to change; absent or `null` fields keep their value. A channel's kind is fixed.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UpdateChannelRequest {
    #[schema(value_type = Option<Name>)]
    name: Option<String>,
    /// 0 is unlimited; a non-zero limit only for `voice` and `video` channels (400 for `text`).
    #[schema(minimum = 0, maximum = 99)]
    user_limit: Option<i64>,
    #[schema(minimum = 0, maximum = 1000000)]
    position: Option<i64>,
}

/// A community's channels
///
/// Needs VIEW_CHANNEL.
#[utoipa::path(
    get,
    path = "/api/v1/communities/{communityId}/channels",
    operation_id = "listChannels",
    tag = "channels",
    params(CommunityId),
    responses(
        (status = 200, description = "The channels, by position.", body = Vec<Channel>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn list_channels(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Vec<Channel>>> {
    Ok(Json(channels::list(&state, &session.user.id, &id).await?))
}

/// Create a channel
///
/// Needs MANAGE_CHANNELS.
#[utoipa::path(
    post,
    path = "/api/v1/communities/{communityId}/channels",
    operation_id = "createChannel",
    tag = "channels",
    params(CommunityId),
    request_body = CreateChannelRequest,
    responses(
        (status = 201, description = "The new channel.", body = Channel, links(
            ("GetChannel" = (operation_id = "getChannel", description = "Read the new channel.", parameters(("channelId" = "$response.body#/id")))),
            ("UpdateChannel" = (operation_id = "updateChannel", description = "Edit it.", parameters(("channelId" = "$response.body#/id")))),
            ("DeleteChannel" = (operation_id = "deleteChannel", description = "Delete it.", parameters(("channelId" = "$response.body#/id")))),
            ("ListMessages" = (operation_id = "listMessages", description = "Its messages.", parameters(("channelId" = "$response.body#/id")))),
            ("SendMessage" = (operation_id = "sendMessage", description = "Send a message in it.", parameters(("channelId" = "$response.body#/id")))),
            ("ListVoiceStates" = (operation_id = "listVoiceStates", description = "Who is in it (voice and video channels).", parameters(("channelId" = "$response.body#/id")))),
            ("JoinVoice" = (operation_id = "joinVoice", description = "A media token for it (voice and video channels).", parameters(("channelId" = "$response.body#/id")))),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn create_channel(
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

/// A channel
///
/// Needs VIEW_CHANNEL.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channelId}",
    operation_id = "getChannel",
    tag = "channels",
    params(ChannelId),
    responses(
        (status = 200, description = "The channel.", body = Channel),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn channel(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<Channel>> {
    Ok(Json(channels::get(&state, &session.user.id, &id).await?))
}

/// Edit a channel
///
/// Needs MANAGE_CHANNELS.
#[utoipa::path(
    patch,
    path = "/api/v1/channels/{channelId}",
    operation_id = "updateChannel",
    tag = "channels",
    params(ChannelId),
    request_body = UpdateChannelRequest,
    responses(
        (status = 200, description = "The edited channel.", body = Channel),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn update_channel(
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

/// Delete a channel
///
/// Needs MANAGE_CHANNELS.
#[utoipa::path(
    delete,
    path = "/api/v1/channels/{channelId}",
    operation_id = "deleteChannel",
    tag = "channels",
    params(ChannelId),
    responses(
        (status = 204, description = "The channel and its messages are gone; its voice room is closed."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn delete_channel(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    channels::delete(&state, &session.user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
