//! The API's OpenAPI 3.1 document, generated from the code: the operations come from the
//! handlers' `#[utoipa::path]` attributes as `super::routes` registers them (and the webhook
//! receiver's, from [`super::webhooks`]), the schemas from the types' `ToSchema`. This module
//! adds what belongs to the whole document — its info, servers, tags, security schemes and
//! shared error responses — and the rules utoipa's derives cannot state, then serves the
//! result at `GET /api/v1/openapi.json` (serialized once, when the router is built).
//!
//! Document-wide rules applied here:
//! - every object schema among the components is closed (`additionalProperties: false`):
//!   request bodies refuse unknown fields (`deny_unknown_fields`), and responses are serde
//!   structs, which write exactly their fields;
//! - a text channel cannot have a user limit (`CreateChannelRequest`'s `if`/`then`).

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Services;
use super::error::{
    BadRequest, Conflict, ErrorBody, Forbidden, Gone, MediaUnavailable, NotFound, Unauthorized,
};
use crate::error::Error;

const DESCRIPTION: &str = "The HTTP API of xcord's control plane under `/api/v1`: accounts and \
sessions, communities (members, invites, bans, roles, channels, channel messages), direct \
conversations, voice and video channels, calls and each user's media session, the realtime gateway (a WebSocket, described at \
`GET /api/v1/gateway`), and the receiver of a remote media plane's webhooks.

Bodies are JSON (`Content-Type: application/json`) with camelCase field names; unknown fields \
in request bodies are refused. Every error is `{code, message}` (the `Error` schema) with its \
status. Requests are authorized with `Authorization: Bearer <session token>` from register or \
login, except where an operation says otherwise. Integers in request bodies are JSON integers \
written without a fraction or exponent (`5`, not `5.0`). Timestamps are Unix milliseconds. \
Unknown paths answer 404 `{\"code\":\"not_found\",\"message\":\"no such endpoint\"}`; a known \
path with another method answers 405.";

/// The document's frame: everything but the operations and the schemas they bring.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "xcord control plane API",
        version = "1",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/", description = "The control plane (`xcord serve`).")),
    security(("bearer" = [])),
    tags(
        (name = "auth"),
        (name = "users"),
        (name = "communities"),
        (name = "invites"),
        (name = "members"),
        (name = "roles"),
        (name = "channels"),
        (name = "messages"),
        (name = "conversations"),
        (name = "voice"),
        (name = "media-session"),
        (name = "live"),
        (name = "wallet"),
        (name = "gateway"),
        (name = "webhooks"),
        (name = "meta"),
    ),
    components(
        schemas(ErrorBody),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Gone, MediaUnavailable),
    ),
)]
struct Frame;

/// The whole document around `operations` (the router's documented routes).
pub fn document(operations: Document) -> Document {
    let mut document = Frame::openapi();
    document.merge(operations);
    document.merge(super::webhooks::document());
    if let Some(components) = document.components.as_mut() {
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The session token of register or login: `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        );
        for schema in components.schemas.values_mut() {
            close(schema);
        }
    }
    super::communities::document_kind_rule(&mut document);
    document
}

/// `additionalProperties: false` on an object schema that says nothing about them.
fn close(schema: &mut RefOr<Schema>) {
    if let RefOr::T(Schema::Object(object)) = schema
        && object.schema_type == Type::Object.into()
        && object.additional_properties.is_none()
    {
        object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
}

/// The document as served: its JSON, made once.
#[derive(Clone)]
pub struct Served(Option<Bytes>);

/// The layer that gives [`openapi_json`] the document around `operations`.
pub fn serve(operations: Document) -> Extension<Served> {
    let json = match serde_json::to_vec(&document(operations)) {
        Ok(json) => Some(Bytes::from(json)),
        Err(e) => {
            tracing::error!("the OpenAPI document does not serialize: {e}");
            None
        }
    };
    Extension(Served(json))
}

pub fn routes() -> OpenApiRouter<std::sync::Arc<Services>> {
    OpenApiRouter::default().routes(routes!(openapi_json))
}

/// Any JSON object (the document's own schema is OpenAPI's).
struct AnyObject;

impl PartialSchema for AnyObject {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Object).into()
    }
}

impl ToSchema for AnyObject {}

/// This document
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document of the API.", body = inline(AnyObject), content_type = "application/json")),
    security(),
)]
async fn openapi_json(Extension(Served(json)): Extension<Served>) -> Response {
    match json {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        None => Error::internal("the OpenAPI document is unavailable").into_response(),
    }
}
