//! Direct conversations between two users and their messages. The rules live in
//! `crate::conversations::service`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiPath as Path;
use super::communities::messages::{ContentRequest, PageQuery, page_request};
use super::error::{BadRequest, ErrorBody, NotFound, Unauthorized};
use super::params::ConversationId;
use super::{ApiJson, Services, Session};
use crate::conversations::{ConversationView, DmMessage, service};
use crate::error::Result;
use crate::schema::Id;

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .routes(routes!(mine, open))
        .routes(routes!(conversation))
        .routes(routes!(list_messages, send_message))
}

type St = State<Arc<Services>>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenConversationRequest {
    /// The other user (not the caller).
    #[schema(value_type = Id)]
    user_id: String,
}

/// Start (or find) a direct conversation
///
/// One conversation per pair of users; not with oneself (400). Only with a user who shares a
/// community with the caller: anyone else is `404 user not found`, as an unknown id is.
#[utoipa::path(
    post,
    path = "/api/v1/conversations",
    operation_id = "openConversation",
    tag = "conversations",
    request_body = OpenConversationRequest,
    responses(
        (status = 200, description = "The conversation already existed.", body = ConversationView, links(
            ("GetConversation" = (operation_id = "getConversation", description = "Read the conversation.", parameters(("conversationId" = "$response.body#/id")))),
            ("ListDmMessages" = (operation_id = "listDmMessages", description = "Its messages.", parameters(("conversationId" = "$response.body#/id")))),
            ("SendDmMessage" = (operation_id = "sendDmMessage", description = "Send a message in it.", parameters(("conversationId" = "$response.body#/id")))),
        )),
        (status = 201, description = "The conversation was created (CONVERSATION_CREATE is sent to both).", body = ConversationView, links(
            ("GetConversation" = (operation_id = "getConversation", description = "Read the conversation.", parameters(("conversationId" = "$response.body#/id")))),
            ("ListDmMessages" = (operation_id = "listDmMessages", description = "Its messages.", parameters(("conversationId" = "$response.body#/id")))),
            ("SendDmMessage" = (operation_id = "sendDmMessage", description = "Send a message in it.", parameters(("conversationId" = "$response.body#/id")))),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn open(
    State(state): St,
    session: Session,
    ApiJson(req): ApiJson<OpenConversationRequest>,
) -> Result<(StatusCode, Json<ConversationView>)> {
    let (conversation, created) = service::open(&state, &session.user, &req.user_id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(conversation)))
}

/// The caller's direct conversations
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    operation_id = "listConversations",
    tag = "conversations",
    responses(
        (status = 200, description = "The conversations.", body = Vec<ConversationView>),
        (status = 401, response = Unauthorized),
    ),
)]
async fn mine(State(state): St, session: Session) -> Result<Json<Vec<ConversationView>>> {
    Ok(Json(service::mine(&state, &session.user.id).await?))
}

/// A direct conversation
///
/// Only its two participants see it.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{conversationId}",
    operation_id = "getConversation",
    tag = "conversations",
    params(ConversationId),
    responses(
        (status = 200, description = "The conversation.", body = ConversationView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn conversation(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>> {
    Ok(Json(service::get(&state, &session.user.id, &id).await?))
}

/// A page of a conversation's messages
///
/// Unknown query parameters are refused (400).
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{conversationId}/messages",
    operation_id = "listDmMessages",
    tag = "conversations",
    params(ConversationId, PageQuery),
    responses(
        (status = 200, description = "Up to `limit` messages, newest first.", body = Vec<DmMessage>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
)]
async fn list_messages(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Vec<DmMessage>>> {
    let page = page_request(&query)?;
    Ok(Json(
        service::messages(&state, &session.user.id, &id, page).await?,
    ))
}

/// Send a direct message
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{conversationId}/messages",
    operation_id = "sendDmMessage",
    tag = "conversations",
    params(ConversationId),
    request_body = ContentRequest,
    responses(
        (status = 201, description = "The message (DM_MESSAGE_CREATE is sent to both).", body = DmMessage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 403, description = "The two participants no longer share a community (`forbidden`).", body = ErrorBody),
        (status = 429, description = "Too many direct messages from this user (`rate_limited`): at most 10 per 10 seconds.", body = ErrorBody, headers(
            ("Retry-After" = u32, description = "Seconds to wait before trying again."),
        )),
    ),
)]
async fn send_message(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ContentRequest>,
) -> Result<(StatusCode, Json<DmMessage>)> {
    let message = service::send(&state, &session.user, &id, &req.content).await?;
    Ok((StatusCode::CREATED, Json(message)))
}
