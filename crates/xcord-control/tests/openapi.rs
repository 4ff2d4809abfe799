//! The generated OpenAPI document (served at `GET /api/v1/openapi.json`): what it says, and
//! that the router does what it says.
//!
//! - Its meaning: OpenAPI 3.1.x with a bearer scheme required by default; every `$ref`
//!   resolves; every operation has an id, declares exactly its template's path parameters and
//!   the error responses it can give (401 behind the session, 404 with path parameters, 400
//!   with a JSON body or a query), all as the `Error` schema, whose `code` lists every
//!   `ErrorCode`; links name existing operations and their parameters.
//! - Both ways against the router: every documented operation reaches a handler with a
//!   documented status, and on a documented path every undocumented method answers 405.
//!   Routes are registered only through `utoipa_axum`'s `routes!`, which documents them.
//! - Request bodies are as closed as documented: an unknown field is refused (400).
//! - Real responses of a session that touches every object validate against their documented
//!   schemas (types, required and no other properties, enums, patterns, limits), statuses too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{app_with_state, backends, call, databases, register};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use xcord_control::api;
use xcord_control::error::ErrorCode;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
/// Stands in for every path parameter: shaped like an id, naming nothing.
const PLACEHOLDER: &str = "0123456789abcdef0123456789abcdef";

/// The API as `xcord serve` mounts it with a remote media plane: the routes of `api::router`
/// and the webhook receiver.
fn app(db: xcord_control::db::Db) -> Router {
    let (app, services) = app_with_state(db);
    let (events, _) = tokio::sync::mpsc::channel(16);
    app.merge(api::webhooks::webhook_router(
        "devkey",
        "secret",
        events,
        Some(services),
    ))
}

/// The document as served, with its content type.
async fn fetch_document(app: &Router) -> Value {
    let req = Request::builder()
        .uri("/api/v1/openapi.json")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).expect("the served document is not JSON")
}

/// The value at a `#/…` reference.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// `v`, or what it refers to.
fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(doc, r).unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

/// One documented operation.
struct Operation<'a> {
    method: &'static str,
    path: &'a str,
    op: &'a Value,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    fn statuses(&self) -> BTreeSet<&str> {
        self.op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no responses", self.name()))
            .keys()
            .map(String::as_str)
            .collect()
    }

    /// Its parameters (resolved): `(in, name)`.
    fn parameters(&self, doc: &Value) -> Vec<(String, String, Value)> {
        self.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let p = deref(doc, p);
                let place = p["in"].as_str().unwrap_or_default().to_owned();
                (
                    place,
                    p["name"].as_str().unwrap_or_default().to_owned(),
                    p.clone(),
                )
            })
            .collect()
    }

    fn json_body_schema<'d>(&self, doc: &'d Value) -> Option<&'d Value>
    where
        Self: 'd,
    {
        let body = self.op.get("requestBody")?;
        deref(doc, body)["content"]
            .get("application/json")
            .map(|c| &c["schema"])
    }
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (key, _) in item.as_object().expect("path item") {
            assert!(
                METHODS.contains(&key.as_str()) || key == "parameters" || key == "summary",
                "{path}: `{key}` is not a method the router registers"
            );
        }
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push(Operation { method, path, op });
            }
        }
    }
    ops
}

/// The names of a path template's parameters: `/a/{id}/b/{userId}` → `{id, userId}`.
fn template_params(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

fn check_refs(doc: &Value, v: &Value, at: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "$ref" {
                    let r = child.as_str().unwrap_or_default();
                    assert!(resolve(doc, r).is_some(), "{at}: dangling $ref {r}");
                } else {
                    check_refs(doc, child, &format!("{at}/{k}"));
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                check_refs(doc, child, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

// ---- a small JSON Schema validator, for what the document uses ---------------------------------

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

/// The keywords [`violations`] knows (it refuses schemas with others).
const KEYWORDS: [&str; 21] = [
    "$ref",
    "type",
    "description",
    "examples",
    "default",
    "format",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "oneOf",
    "allOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
];

/// The ways `v` breaks `schema` (empty when it conforms).
fn violations(doc: &Value, schema: &Value, v: &Value, at: &str) -> Vec<String> {
    let schema = deref(doc, schema);
    let mut out = Vec::new();
    let Some(s) = schema.as_object() else {
        return out;
    };
    for key in s.keys() {
        assert!(
            KEYWORDS.contains(&key.as_str()),
            "{at}: the validator does not know `{key}`"
        );
    }
    if let Some(ty) = s.get("type") {
        let ok = match ty {
            Value::String(t) => type_matches(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), v)),
            _ => panic!("{at}: bad type {ty}"),
        };
        if !ok {
            out.push(format!("{at}: {v} is not of type {ty}"));
            return out;
        }
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        out.push(format!("{at}: {v} is not one of {values:?}"));
    }
    if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
        let matching = branches
            .iter()
            .filter(|b| violations(doc, b, v, at).is_empty())
            .count();
        if matching != 1 {
            out.push(format!("{at}: {v} matches {matching} branches of oneOf"));
        }
    }
    for part in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(violations(doc, part, v, at));
    }
    if let Value::Object(fields) = v {
        let properties = s.get("properties").and_then(Value::as_object);
        for name in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !fields.contains_key(name) {
                out.push(format!("{at}: required `{name}` is missing"));
            }
        }
        for (name, value) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => {
                    out.extend(violations(doc, property, value, &format!("{at}.{name}")))
                }
                None if s.get("additionalProperties") == Some(&json!(false)) => {
                    out.push(format!("{at}: `{name}` is not a documented property"));
                }
                None => {}
            }
        }
    }
    if let Value::Array(items) = v {
        if let Some(item) = s.get("items") {
            for (i, x) in items.iter().enumerate() {
                out.extend(violations(doc, item, x, &format!("{at}[{i}]")));
            }
        }
        if s.get("uniqueItems") == Some(&json!(true))
            && items
                .iter()
                .enumerate()
                .any(|(i, x)| items[..i].contains(x))
        {
            out.push(format!("{at}: repeated items"));
        }
        let len = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
            || s.get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| len > m)
        {
            out.push(format!("{at}: {len} items"));
        }
    }
    if let Some(n) = v.as_i64()
        && (s
            .get("minimum")
            .and_then(Value::as_i64)
            .is_some_and(|m| n < m)
            || s.get("maximum")
                .and_then(Value::as_i64)
                .is_some_and(|m| n > m))
    {
        out.push(format!("{at}: {n} is out of bounds"));
    }
    if let Some(text) = v.as_str() {
        let len = text.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
            || s.get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| len > m)
        {
            out.push(format!("{at}: {text:?} has a bad length"));
        }
        if let Some(pattern) = s.get("pattern").and_then(Value::as_str)
            && !regex::Regex::new(pattern).unwrap().is_match(text)
        {
            out.push(format!("{at}: {text:?} does not match {pattern}"));
        }
    }
    out
}

#[test]
fn the_validator_can_fail() {
    let doc =
        json!({"components": {"schemas": {"Id": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}}});
    let schema = json!({
        "type": "object",
        "properties": {
            "id": {"$ref": "#/components/schemas/Id"},
            "n": {"type": ["integer", "null"], "minimum": 1},
            "kind": {"type": "string", "enum": ["a", "b"]},
        },
        "required": ["id", "n"],
        "additionalProperties": false,
    });
    let good = json!({"id": PLACEHOLDER, "n": null, "kind": "a"});
    assert_eq!(violations(&doc, &schema, &good, "$"), Vec::<String>::new());
    for bad in [
        json!({"id": PLACEHOLDER}),
        json!({"id": "xyz", "n": 1}),
        json!({"id": PLACEHOLDER, "n": 0}),
        json!({"id": PLACEHOLDER, "n": 1, "kind": "c"}),
        json!({"id": PLACEHOLDER, "n": 1, "extra": true}),
        json!({"id": PLACEHOLDER, "n": "1"}),
    ] {
        assert!(!violations(&doc, &schema, &bad, "$").is_empty(), "{bad}");
    }
}

// ---- the document's meaning --------------------------------------------------------------------

#[tokio::test]
async fn document_is_openapi_3_1_with_bearer_auth_and_errors() {
    let db = databases().await.remove(0);
    let doc = fetch_document(&app(db)).await;
    assert_eq!(
        doc,
        serde_json::to_value(api::openapi()).unwrap(),
        "the served document is not api::openapi()"
    );

    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1."),
        "openapi is {version:?}, not 3.1.x"
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        doc["security"],
        json!([{"bearer": []}]),
        "the session is not required by default"
    );

    // Every security requirement names a defined scheme.
    let requirements = doc["security"].as_array().into_iter().flatten().chain(
        doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| METHODS.iter().filter_map(|m| item.get(m)))
            .flat_map(|op| op["security"].as_array().into_iter().flatten()),
    );
    for requirement in requirements {
        for scheme in requirement.as_object().unwrap().keys() {
            assert!(schemes.contains_key(scheme), "no security scheme {scheme}");
        }
    }

    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["type"], "object");
    assert_eq!(error["additionalProperties"], false);
    assert_eq!(error["required"], json!(["code", "message"]));
    assert_eq!(error["properties"]["message"]["type"], "string");
    let code = deref(&doc, &error["properties"]["code"]);
    assert_eq!(code["type"], "string");
    assert_eq!(code["enum"], json!(ErrorCode::ALL.map(ErrorCode::as_str)));

    check_refs(&doc, &doc, "#");

    let ops = operations(&doc);
    assert!(ops.len() > 40, "only {} documented operations", ops.len());
    let mut ids = BTreeMap::new();
    for op in &ops {
        let id = op.op["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{}: no operationId", op.name());
        assert!(
            ids.insert(id.to_owned(), op).is_none(),
            "operationId {id} is used twice"
        );
    }

    let mut links = 0;
    for op in &ops {
        let name = op.name();
        let params = op.parameters(&doc);
        let declared: BTreeSet<String> = params
            .iter()
            .filter(|(place, _, _)| place == "path")
            .map(|(_, n, p)| {
                assert_eq!(p["required"], true, "{name}: optional path parameter {n}");
                n.clone()
            })
            .collect();
        assert_eq!(
            declared,
            template_params(op.path),
            "{name}: declared path parameters differ from the template's"
        );

        let statuses = op.statuses();
        let public = op.op["security"].as_array().is_some_and(|s| s.is_empty());
        if !public {
            assert!(statuses.contains("401"), "{name}: no 401");
        }
        if !declared.is_empty() {
            assert!(
                statuses.contains("404"),
                "{name}: path parameters but no 404"
            );
        }
        let has_query = params.iter().any(|(place, _, _)| place == "query");
        if op.json_body_schema(&doc).is_some() || has_query {
            assert!(
                statuses.contains("400"),
                "{name}: a body or a query but no 400"
            );
        }
        for (status, response) in op.op["responses"].as_object().unwrap() {
            let response = deref(&doc, response);
            assert!(
                response["description"].is_string(),
                "{name} {status}: no description"
            );
            if (status.starts_with('4') || status.starts_with('5')) && op.path != "/api/v1/gateway"
            {
                // (The WebSocket upgrade's refusals are axum's plain text.)
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{name} {status} is not the Error schema"
                );
            }
            for (link_name, link) in response["links"].as_object().into_iter().flatten() {
                links += 1;
                let at = format!("{name} {status} → {link_name}");
                let target = link["operationId"].as_str().unwrap_or_default();
                let target = ids
                    .get(target)
                    .unwrap_or_else(|| panic!("{at}: no operation {target:?}"));
                let target_params: BTreeSet<String> = target
                    .parameters(&doc)
                    .into_iter()
                    .map(|(place, n, _)| {
                        if place == "path" {
                            n
                        } else {
                            format!("{place}.{n}")
                        }
                    })
                    .collect();
                for param in link["parameters"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|p| p.0)
                {
                    assert!(
                        target_params.contains(param),
                        "{at}: {} has no parameter {param}",
                        target.name()
                    );
                }
                if let Some(body) = link.get("requestBody") {
                    assert!(
                        target.json_body_schema(&doc).is_some(),
                        "{at}: a request body for an operation without one: {body}"
                    );
                }
            }
        }
    }
    assert!(links > 30, "only {links} links");

    // Every object schema is closed, and every request body is an object schema.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if schema["type"] == "object" {
            assert_eq!(schema["additionalProperties"], false, "{name} is open");
        }
    }
    for op in &ops {
        if let Some(schema) = op.json_body_schema(&doc) {
            assert_eq!(deref(&doc, schema)["type"], "object", "{}", op.name());
        }
    }
}

// ---- the document against the router -----------------------------------------------------------

#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    for db in backends().await {
        let backend = db.backend;
        let app = app(db);
        let doc = fetch_document(&app).await;
        let (token, _) = register(&app, "openapi_probe").await;
        let mut ops = operations(&doc);
        // Signing out ends the probe's session: last.
        ops.sort_by_key(|op| op.op["operationId"] == "logout");
        for op in ops {
            let uri = template_params(op.path)
                .iter()
                .fold(op.path.to_owned(), |uri, p| {
                    uri.replace(&format!("{{{p}}}"), PLACEHOLDER)
                });
            let method = op.method.to_uppercase();
            let (status, body) = call(&app, &method, &uri, Some(&token), None).await;
            let context = format!(
                "{backend:?}: {} (as {method} {uri}) answered {status} {body}",
                op.name()
            );
            assert!(
                !(status == StatusCode::NOT_FOUND && body["message"] == "no such endpoint"),
                "{context}: the router has no such route"
            );
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{context}: the router has the path but not the method"
            );
            assert!(
                op.statuses().contains(status.as_str()),
                "{context}: status {} is not documented for it (documented: {:?})",
                status.as_u16(),
                op.statuses()
            );
        }
    }
}

#[tokio::test]
async fn undocumented_methods_of_documented_paths_are_not_served() {
    let db = databases().await.remove(0);
    let app = app(db);
    let doc = fetch_document(&app).await;
    let (token, _) = register(&app, "openapi_methods").await;
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = template_params(path).iter().fold(path.clone(), |uri, p| {
            uri.replace(&format!("{{{p}}}"), PLACEHOLDER)
        });
        for method in METHODS.into_iter().filter(|m| item.get(m).is_none()) {
            let method = method.to_uppercase();
            let (status, body) = call(&app, &method, &uri, Some(&token), None).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is served ({status} {body}) but not documented"
            );
            probed += 1;
        }
    }
    assert!(probed > 50, "only {probed} probes");
    let (status, body) = call(&app, "GET", "/api/v1/nothing/here", Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"code": "not_found", "message": "no such endpoint"})
    );
}

#[tokio::test]
async fn request_bodies_refuse_unknown_fields_as_documented() {
    let db = databases().await.remove(0);
    let app = app(db);
    let doc = fetch_document(&app).await;
    let (token, _) = register(&app, "openapi_bodies").await;
    let mut probed = 0;
    for op in operations(&doc) {
        let Some(schema) = op.json_body_schema(&doc) else {
            continue;
        };
        let schema = deref(&doc, schema);
        assert_eq!(schema["additionalProperties"], false, "{}", op.name());
        assert!(schema["properties"].get("unexpectedField").is_none());
        let uri = template_params(op.path)
            .iter()
            .fold(op.path.to_owned(), |uri, p| {
                uri.replace(&format!("{{{p}}}"), PLACEHOLDER)
            });
        let (status, body) = call(
            &app,
            &op.method.to_uppercase(),
            &uri,
            Some(&token),
            Some(json!({"unexpectedField": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", op.name());
        assert_eq!(body["code"], "invalid_request", "{}", op.name());
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("unexpectedField"),
            "{}: {body}",
            op.name()
        );
        probed += 1;
    }
    assert!(probed >= 18, "only {probed} request bodies");
}

// ---- real responses against their schemas ------------------------------------------------------

/// The documented path template `uri` (without its query) falls under: the one whose
/// segments match, literal segments first (`/users/@me` before `/users/{userId}`).
fn template_of<'d>(doc: &'d Value, uri: &str) -> &'d str {
    let path = uri.split_once('?').map_or(uri, |(p, _)| p);
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t.starts_with('{') || t == s)
    };
    let literal = |template: &str| template.split('/').filter(|t| !t.starts_with('{')).count();
    doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|t| matches(t))
        .max_by_key(|t| literal(t))
        .unwrap_or_else(|| panic!("{uri} is under no documented path"))
}

/// Calls the API and checks that the status is documented for the operation and that the body
/// validates against the documented schema; records each (operation, status) exercised.
struct Checker<'a> {
    app: &'a Router,
    doc: &'a Value,
    seen: BTreeSet<String>,
}

impl Checker<'_> {
    async fn call(
        &mut self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let path = template_of(self.doc, uri);
        let op = &self.doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        let (status, value) = call(self.app, method, uri, token, body).await;
        let at = format!("{method} {path} → {status}");
        let response = op["responses"]
            .get(status.as_str())
            .unwrap_or_else(|| panic!("{at} is not documented: {value}"));
        match deref(self.doc, response)["content"].get("application/json") {
            Some(content) => {
                let problems = violations(self.doc, &content["schema"], &value, "$");
                assert!(
                    problems.is_empty(),
                    "{at}: {value}\n  {}",
                    problems.join("\n  ")
                );
            }
            None => assert!(
                value.is_null(),
                "{at}: a body the document does not have: {value}"
            ),
        }
        let id = op["operationId"].as_str().unwrap();
        self.seen.insert(format!("{id} {}", status.as_u16()));
        (status, value)
    }

    /// [`Checker::call`] with `token`, expecting `expected`.
    async fn ok(
        &mut self,
        method: &str,
        uri: &str,
        token: &str,
        body: Option<Value>,
        expected: u16,
    ) -> Value {
        let (status, value) = self.call(method, uri, Some(token), body).await;
        assert_eq!(status.as_u16(), expected, "{method} {uri}: {value}");
        value
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn responses_validate_against_their_documented_schemas() {
    for db in backends().await {
        let app = app(db);
        let doc = fetch_document(&app).await;
        let c = &mut Checker {
            app: &app,
            doc: &doc,
            seen: BTreeSet::new(),
        };
        let mut users = Vec::new();
        for (handle, extra) in [
            ("ada", json!({"isCreator": true})),
            ("bob", json!({"avatarGradient": ["#000000", "#ffffff"]})),
        ] {
            let mut body =
                json!({"handle": handle, "displayName": handle, "password": "a long password"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let (status, session) = c
                .call("POST", "/api/v1/auth/register", None, Some(body))
                .await;
            assert_eq!(status, StatusCode::CREATED);
            users.push((
                session["token"].as_str().unwrap().to_owned(),
                id(&session["user"]),
            ));
        }
        let [(a, a_id), (b, b_id)] = <[_; 2]>::try_from(users).unwrap();
        let (a, b) = (a.as_str(), b.as_str());

        let login = |password: &str| json!({"handle": "ada", "password": password});
        c.call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(login("a long password")),
        )
        .await;
        c.call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(login("wrong password")),
        )
        .await;
        c.call("GET", "/api/v1/users/@me", None, None).await;
        c.ok("GET", "/api/v1/users/@me", a, None, 200).await;
        c.ok(
            "PATCH",
            "/api/v1/users/@me",
            a,
            Some(json!({"displayName": "Ada L."})),
            200,
        )
        .await;
        c.ok("GET", &format!("/api/v1/users/{b_id}"), a, None, 200)
            .await;
        c.ok("GET", &format!("/api/v1/users/{PLACEHOLDER}"), a, None, 404)
            .await;

        let name = |n: &str| Some(json!({"name": n}));
        let community = c
            .ok("POST", "/api/v1/communities", a, name("Guild"), 201)
            .await;
        let base = format!("/api/v1/communities/{}", id(&community));
        c.ok("POST", "/api/v1/communities", a, name(" "), 400).await;
        c.ok("PATCH", &base, a, name("Guild 2"), 200).await;
        c.ok("PATCH", &base, b, name("Mine"), 404).await;
        c.ok("GET", &base, a, None, 200).await;
        c.ok("GET", "/api/v1/users/@me/communities", a, None, 200)
            .await;

        let channels = format!("{base}/channels");
        let text = c
            .ok(
                "POST",
                &channels,
                a,
                Some(json!({"name": "general", "kind": "text"})),
                201,
            )
            .await;
        let text = format!("/api/v1/channels/{}", id(&text));
        let voice = json!({"name": "lounge", "kind": "voice", "userLimit": 5, "position": 3});
        let voice = c.ok("POST", &channels, a, Some(voice), 201).await;
        let voice = format!("/api/v1/channels/{}", id(&voice));
        c.ok("GET", &text, a, None, 200).await;
        c.ok(
            "PATCH",
            &voice,
            a,
            Some(json!({"userLimit": 7, "name": null})),
            200,
        )
        .await;
        c.ok("GET", &channels, a, None, 200).await;

        let messages = format!("{text}/messages");
        let content = |text: &str| Some(json!({"content": text}));
        let message = c.ok("POST", &messages, a, content("hello"), 201).await;
        let message = format!("{messages}/{}", id(&message));
        c.ok("PATCH", &message, a, content("hello!"), 200).await;
        c.ok("POST", &messages, a, content("again"), 201).await;
        let page = c.ok("GET", &messages, a, None, 200).await;
        let older = format!("{messages}?before={}&limit=10", id(&page[0]));
        let older = c.ok("GET", &older, a, None, 200).await;
        assert_eq!(older.as_array().map(Vec::len), Some(1));
        c.ok("GET", &format!("{messages}?after=1"), a, None, 400)
            .await;

        let roles = format!("{base}/roles");
        let role = json!({"name": "helper", "permissions": ["VIEW_CHANNEL", "KICK_MEMBERS"]});
        let role = c.ok("POST", &roles, a, Some(role), 201).await;
        let role_id = id(&role);
        let role = format!("{roles}/{role_id}");
        c.ok(
            "PATCH",
            &role,
            a,
            Some(json!({"permissions": ["SPEAK"]})),
            200,
        )
        .await;
        c.ok("GET", &roles, a, None, 200).await;
        c.ok("POST", &roles, a, name(" @Everyone"), 400).await;

        let invites = format!("{base}/invites");
        let invite = c.ok("POST", &invites, a, Some(json!({})), 201).await;
        let invite = format!("/api/v1/invites/{}", invite["code"].as_str().unwrap());
        let limited = json!({"maxUses": 5, "maxAgeSeconds": 3600});
        c.ok("POST", &invites, a, Some(limited), 201).await;
        c.ok("GET", &invites, a, None, 200).await;
        c.ok("GET", &invite, b, None, 200).await;
        c.ok("POST", &invite, b, None, 201).await;
        c.ok("POST", &invite, b, None, 200).await;

        let members = format!("{base}/members");
        c.ok("GET", &members, b, None, 200).await;
        c.ok("GET", &format!("{members}/@me"), b, None, 200).await;
        let assignment = format!("{members}/{b_id}/roles/{role_id}");
        c.ok("PUT", &assignment, a, None, 200).await;
        c.ok("DELETE", &assignment, a, None, 204).await;
        c.ok("PATCH", &base, b, name("Mine"), 403).await;
        let leave = format!("/api/v1/users/@me/communities/{}", id(&community));
        c.ok("DELETE", &leave, a, None, 409).await;

        c.ok("GET", &format!("{voice}/voice"), a, None, 200).await;
        c.ok("POST", &format!("{voice}/voice/join"), a, None, 503)
            .await;
        c.ok(
            "PATCH",
            "/api/v1/voice/@me",
            a,
            Some(json!({"selfMute": true})),
            404,
        )
        .await;

        let open = |user: &str| Some(json!({"userId": user}));
        let conversation = c
            .ok("POST", "/api/v1/conversations", a, open(&b_id), 201)
            .await;
        let conversation = format!("/api/v1/conversations/{}", id(&conversation));
        c.ok("POST", "/api/v1/conversations", b, open(&a_id), 200)
            .await;
        c.ok(
            "POST",
            &format!("{conversation}/messages"),
            b,
            content("hi"),
            201,
        )
        .await;
        c.ok("GET", &format!("{conversation}/messages"), a, None, 200)
            .await;
        c.ok("GET", &conversation, a, None, 200).await;
        c.ok("GET", "/api/v1/conversations", a, None, 200).await;

        let ban = format!("{base}/bans/{b_id}");
        c.ok("PUT", &ban, a, None, 201).await;
        c.ok("PUT", &ban, a, None, 200).await;
        c.ok("GET", &format!("{base}/bans"), a, None, 200).await;
        c.ok("POST", &invite, b, None, 403).await;
        c.ok("DELETE", &ban, a, None, 204).await;

        c.ok("DELETE", &message, a, None, 204).await;
        c.ok("DELETE", &role, a, None, 204).await;
        c.ok("DELETE", &invite, a, None, 204).await;
        c.ok("GET", &invite, a, None, 404).await;
        c.ok("DELETE", &voice, a, None, 204).await;
        c.ok("DELETE", &base, a, None, 204).await;
        c.ok("GET", "/api/v1/openapi.json", a, None, 200).await;
        let event = Some(json!({"event": "room_started"}));
        c.call("POST", "/api/v1/webhooks/livekit", Some(a), event)
            .await;
        c.ok("POST", "/api/v1/auth/logout", a, None, 204).await;
        c.call("GET", "/api/v1/users/@me", Some(a), None).await;

        let operations: BTreeSet<&str> =
            c.seen.iter().filter_map(|s| s.split(' ').next()).collect();
        assert!(
            operations.len() >= 45,
            "only {} operations exercised",
            operations.len()
        );
        for expected in [
            "register 201",
            "login 401",
            "getMe 401",
            "getUser 404",
            "renameCommunity 403",
            "joinByInvite 403",
            "joinVoice 503",
            "leaveCommunity 409",
            "receiveMediaWebhook 401",
        ] {
            assert!(
                c.seen.contains(expected),
                "{expected} was not exercised: {:?}",
                c.seen
            );
        }
    }
}
