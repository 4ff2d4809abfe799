//! Channel messages: a page of a channel's, sending, editing and deleting one
//! (`crate::communities::service::messages`). The message content body and the page query
//! are shared with direct conversations (`super::super::conversations`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::St;
use crate::api::ApiPath as Path;
use crate::api::error::{BadRequest, ErrorBody, Forbidden, NotFound, Unauthorized};
use crate::api::params::{ChannelId, MessageId};
use crate::api::{ApiJson, Session};
use crate::communities::Message;
use crate::communities::service::messages::{self, PageRequest};
use crate::error::{Error, Result};
use crate::schema::Content;

/// Query strings of message pages: `?before=<messageId>&limit=1..100`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Only messages older than this message id (a page cursor); absent: the newest.
    #[param(pattern = "^[0-9A-Fa-f]{1,64}$")]
    before: Option<String>,
    /// The page size.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 50)]
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

/// A message to send, or a message's new content.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentRequest {
    #[schema(value_type = Content)]
    pub content: String,
}

/// A page of a channel's messages
///
/// Needs VIEW_CHANNEL. Unknown query parameters are refused (400).
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channelId}/messages",
    operation_id = "listMessages",
    tag = "messages",
    params(ChannelId, PageQuery),
    responses(
        (status = 200, description = "Up to `limit` messages, newest first.", body = Vec<Message>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn list_messages(
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

/// Send a message
///
/// Needs VIEW_CHANNEL and SEND_MESSAGES.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channelId}/messages",
    operation_id = "sendMessage",
    tag = "messages",
    params(ChannelId),
    request_body = ContentRequest,
    responses(
        (status = 201, description = "The message.", body = Message, links(
            ("EditMessage" = (operation_id = "editMessage", description = "Edit the new message.", parameters(("channelId" = "$response.body#/channelId"), ("messageId" = "$response.body#/id")))),
            ("DeleteMessage" = (operation_id = "deleteMessage", description = "Delete it.", parameters(("channelId" = "$response.body#/channelId"), ("messageId" = "$response.body#/id")))),
            ("OlderMessages" = (operation_id = "listMessages", description = "The messages before it.", parameters(("channelId" = "$response.body#/channelId"), ("query.before" = "$response.body#/id")))),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, description = "Too many messages from this user (`rate_limited`): at most 10 sent or edited in community channels per 10 seconds.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
    ),
)]
pub(super) async fn send_message(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ContentRequest>,
) -> Result<(StatusCode, Json<Message>)> {
    let message = messages::send(&state, &session.user, &id, &req.content).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// Edit a message
///
/// Only its author may (with VIEW_CHANNEL).
#[utoipa::path(
    patch,
    path = "/api/v1/channels/{channelId}/messages/{messageId}",
    operation_id = "editMessage",
    tag = "messages",
    params(ChannelId, MessageId),
    request_body = ContentRequest,
    responses(
        (status = 200, description = "The edited message.", body = Message),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, description = "Too many messages from this user (`rate_limited`): at most 10 sent or edited in community channels per 10 seconds.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
    ),
)]
pub(super) async fn edit_message(
    State(state): St,
    session: Session,
    Path((id, message_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<ContentRequest>,
) -> Result<Json<Message>> {
    let message = messages::edit(&state, &session.user.id, &id, &message_id, &req.content).await?;
    Ok(Json(message))
}

/// Delete a message
///
/// Its author may, and members with MANAGE_CHANNELS (with VIEW_CHANNEL).
#[utoipa::path(
    delete,
    path = "/api/v1/channels/{channelId}/messages/{messageId}",
    operation_id = "deleteMessage",
    tag = "messages",
    params(ChannelId, MessageId),
    responses(
        (status = 204, description = "The message is gone."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub(super) async fn delete_message(
    State(state): St,
    session: Session,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    messages::delete(&state, &session.user.id, &id, &message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
