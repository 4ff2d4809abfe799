//! Direct conversations between two users and their messages. The rules live in
//! `crate::conversations::service`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

use super::ApiPath as Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::communities::{PageQuery, page_request};
use super::{ApiJson, Services, Session};
use crate::conversations::{ConversationView, DmMessage, service};
use crate::error::Result;

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/api/v1/conversations", get(mine).post(open))
        .route("/api/v1/conversations/{id}", get(conversation))
        .route(
            "/api/v1/conversations/{id}/messages",
            get(list_messages).post(send_message),
        )
}

type St = State<Arc<Services>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenRequest {
    user_id: String,
}

/// The conversation with `userId`: 201 when created now, 200 when it existed.
async fn open(
    State(state): St,
    session: Session,
    ApiJson(req): ApiJson<OpenRequest>,
) -> Result<(StatusCode, Json<ConversationView>)> {
    let (conversation, created) = service::open(&state, &session.user, &req.user_id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(conversation)))
}

async fn mine(State(state): St, session: Session) -> Result<Json<Vec<ConversationView>>> {
    Ok(Json(service::mine(&state, &session.user.id).await?))
}

async fn conversation(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>> {
    Ok(Json(service::get(&state, &session.user.id, &id).await?))
}

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendRequest {
    content: String,
}

async fn send_message(
    State(state): St,
    session: Session,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SendRequest>,
) -> Result<(StatusCode, Json<DmMessage>)> {
    let message = service::send(&state, &session.user, &id, &req.content).await?;
    Ok((StatusCode::CREATED, Json(message)))
}
