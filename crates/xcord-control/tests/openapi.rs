//! The OpenAPI document (`src/api/openapi.json`, served at `GET /api/v1/openapi.json`) against the
//! router, both ways:
//!
//! - every documented operation reaches a handler: a request with placeholder ids must not fall
//!   through to the router's fallback (404 "no such endpoint") nor be refused as another method
//!   (405), and its status must be one the document lists for the operation;
//! - every route registered in `src/api/*.rs` (read from the sources: each `.route("…", …)` and
//!   its chain of `get(`/`post(`/`patch(`/`put(`/`delete(`) is documented.
//!
//! Path parameters are compared by position only (`{id}` in the router is `{communityId}` in the
//! document).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{app, backends, call, databases, register};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// An operation: upper-case method and path with its parameters written `{}`.
type Op = (String, String);

const METHODS: [&str; 5] = ["get", "post", "patch", "put", "delete"];
/// What the document may hold under a path besides the methods above.
const OTHER_PATH_ITEM_KEYS: [&str; 5] = ["summary", "description", "parameters", "servers", "$ref"];
/// Stands in for every path parameter: shaped like an id, naming nothing.
const PLACEHOLDER: &str = "0123456789abcdef0123456789ab";

/// `/a/{id}/b/{user_id}` → `/a/{}/b/{}`.
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                assert!(!in_param, "nested braces in {path}");
                in_param = true;
                out.push_str("{}");
            }
            '}' => {
                assert!(in_param, "unbalanced braces in {path}");
                in_param = false;
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    assert!(!in_param, "unbalanced braces in {path}");
    out
}

// ---- the router's side: the sources -------------------------------------------------------------

/// The code of a Rust source with comments blanked out (string and char literals kept), so that
/// a `.route(` in a comment is not read and a `//` in a string is not a comment.
fn strip_comments(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == '"' {
            let end = string_end(&chars, i);
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\'') is copied whole; otherwise it is a lifetime.
            let len = if next == Some('\\') {
                chars[i + 3..]
                    .iter()
                    .position(|&d| d == '\'')
                    .map(|p| p + 4)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(3)
            } else {
                None
            };
            let len = len.unwrap_or(1);
            out.extend(&chars[i..i + len]);
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The index just past the string literal starting at `chars[start] == '"'`.
fn string_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    panic!("unterminated string literal")
}

/// The index of the `)` closing the `(` at `chars[open]`, skipping string literals.
fn closing_paren(chars: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' => {
                i = string_end(chars, i);
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!("unbalanced parentheses")
}

/// The methods a route's method-router expression registers: each call at the top level of the
/// expression (`get(h)`, `axum::routing::patch(h)`, `.delete(h)`); calls inside the arguments
/// (the handlers) are not read. Any other top-level call is refused, so that a new kind of
/// registration (`any(…)`, `on(…)`, `get_service(…)`) is noticed here.
fn methods_of(expr: &[char], context: &str) -> Vec<String> {
    let mut methods = Vec::new();
    let mut i = 0;
    while i < expr.len() {
        let c = expr[i];
        if c == '"' {
            i = string_end(expr, i);
        } else if c == '(' || c == '[' || c == '{' {
            i = closing_paren(expr, i) + 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < expr.len() && (expr[i].is_alphanumeric() || expr[i] == '_') {
                i += 1;
            }
            let word: String = expr[start..i].iter().collect();
            if expr.get(i) == Some(&'(') {
                assert!(
                    METHODS.contains(&word.as_str()),
                    "{context}: unsupported method registration `{word}(…)`: teach tests/openapi.rs \
                     about it (and document the route)"
                );
                methods.push(word.to_uppercase());
            }
        } else {
            i += 1;
        }
    }
    assert!(!methods.is_empty(), "{context}: no method registered");
    methods
}

/// Every `(method, path)` registered by `.route("…", …)` calls in `src`.
fn routes_in_source(src: &str, file: &str) -> Vec<Op> {
    let code = strip_comments(src);
    for unsupported in [".nest(", ".nest_service(", ".route_service("] {
        assert!(
            !code.contains(unsupported),
            "{file}: `{unsupported}` is not understood by tests/openapi.rs"
        );
    }
    let chars: Vec<char> = code.chars().collect();
    let needle: Vec<char> = ".route(".chars().collect();
    let mut ops = Vec::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        if chars[i..i + needle.len()] != needle[..] {
            i += 1;
            continue;
        }
        let open = i + needle.len() - 1;
        let close = closing_paren(&chars, open);
        let args = &chars[open + 1..close];
        let mut j = args
            .iter()
            .position(|c| !c.is_whitespace())
            .unwrap_or(args.len());
        assert!(
            args.get(j) == Some(&'"'),
            "{file}: a .route( whose path is not a string literal: {}",
            args.iter().collect::<String>()
        );
        let end = string_end(args, j);
        let path: String = args[j + 1..end - 1].iter().collect();
        j = end;
        while j < args.len() && args[j].is_whitespace() {
            j += 1;
        }
        assert!(
            args.get(j) == Some(&','),
            "{file}: .route(\"{path}\" without a method router"
        );
        let context = format!("{file}: .route(\"{path}\", …)");
        for method in methods_of(&args[j + 1..], &context) {
            ops.push((method, normalize(&path)));
        }
        i = close + 1;
    }
    ops
}

/// Every route registered in `src/api/*.rs` by the API router. `webhooks.rs` is left out: its
/// receiver is mounted only in front of a remote media plane (`serve --livekit-url`), not by
/// `api::router`, and is not part of the client API this document describes.
fn source_routes() -> BTreeMap<Op, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !p.ends_with("webhooks.rs"))
        .collect();
    files.sort();
    let mut routes = BTreeMap::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&file).unwrap();
        for op in routes_in_source(&src, &name) {
            if let Some(first) = routes.insert(op.clone(), name.clone()) {
                panic!("{op:?} is registered twice ({first} and {name})");
            }
        }
    }
    routes
}

// ---- the document's side -----------------------------------------------------------------------

/// Every documented operation with its documented status codes.
fn documented(doc: &Value) -> BTreeMap<Op, (String, BTreeSet<String>)> {
    let mut ops = BTreeMap::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        assert!(
            path.starts_with("/api/v1/"),
            "documented path {path} is not under /api/v1/"
        );
        for (key, operation) in item.as_object().expect("path item") {
            if OTHER_PATH_ITEM_KEYS.contains(&key.as_str()) {
                continue;
            }
            assert!(
                METHODS.contains(&key.as_str()),
                "{path}: `{key}` is not a method the router registers"
            );
            let statuses: BTreeSet<String> = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{key} {path}: no responses"))
                .keys()
                .cloned()
                .collect();
            let op = (key.to_uppercase(), normalize(path));
            let previous = ops.insert(op.clone(), (path.clone(), statuses));
            assert!(previous.is_none(), "{op:?} is documented twice");
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

/// The value at a `#/…` reference.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
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

/// The document as served, with its content type.
async fn fetch_document(app: &axum::Router) -> Value {
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

// ---- the tests ---------------------------------------------------------------------------------

#[tokio::test]
async fn document_is_openapi_3_1_with_bearer_auth_and_errors() {
    let db = databases().await.remove(0);
    let doc = fetch_document(&app(db)).await;

    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1."),
        "openapi is {version:?}, not 3.1.x"
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    let bearer: Vec<&String> = schemes
        .iter()
        .filter(|(_, s)| s["type"] == "http" && s["scheme"].as_str() == Some("bearer"))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(bearer.len(), 1, "one http bearer scheme: {schemes:?}");
    let bearer = bearer[0];
    assert!(
        doc["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get(bearer).is_some())),
        "the bearer scheme is not required by default"
    );

    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["type"], "object");
    for field in ["code", "message"] {
        assert_eq!(
            error["properties"][field]["type"], "string",
            "Error.{field}"
        );
        assert!(
            error["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|f| f == field)),
            "Error.{field} is not required"
        );
    }

    check_refs(&doc, &doc, "#");

    // Every operation has an id and declares exactly its template's path parameters, every
    // error response is the shared Error, and operations behind the session document 401.
    let mut ids = BTreeSet::new();
    let mut link_targets = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path}: no operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            let declared: BTreeSet<String> = [&item["parameters"], &op["parameters"]]
                .into_iter()
                .filter_map(Value::as_array)
                .flatten()
                .map(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(&doc, r).unwrap(),
                    None => p,
                })
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(
                        p["required"], true,
                        "{method} {path}: optional path parameter"
                    );
                    p["name"].as_str().unwrap_or_default().to_owned()
                })
                .collect();
            assert_eq!(
                declared,
                template_params(path),
                "{method} {path}: declared path parameters differ from the template's"
            );
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            let responses = op["responses"].as_object().unwrap();
            if !public {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
            for (status, response) in responses {
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(&doc, r).unwrap(),
                    None => response,
                };
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    let target = link["operationId"].as_str().unwrap_or_default().to_owned();
                    link_targets.push((format!("{method} {path} {status} → {name}"), target));
                }
                let json_schema = &response["content"]["application/json"]["schema"];
                if status.starts_with('4') || status.starts_with('5') {
                    if path == "/api/v1/gateway" {
                        continue; // the WebSocket upgrade's refusals are plain text
                    }
                    assert_eq!(
                        json_schema["$ref"], "#/components/schemas/Error",
                        "{method} {path} {status} is not the Error schema"
                    );
                }
            }
        }
    }
    for (link, target) in link_targets {
        assert!(ids.contains(&target), "{link}: no operation {target:?}");
    }
}

#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    for db in backends().await {
        let backend = db.backend;
        let app = app(db);
        let doc = fetch_document(&app).await;
        let (token, _) = register(&app, "openapi_probe").await;
        let mut ops: Vec<_> = documented(&doc).into_iter().collect();
        // Signing out ends the probe's session: last.
        ops.sort_by_key(|((method, path), _)| method == "POST" && path == "/api/v1/auth/logout");
        assert!(ops.len() > 40, "only {} documented operations", ops.len());
        for ((method, normalized), (path, statuses)) in ops {
            let uri = normalized.replace("{}", PLACEHOLDER);
            let (status, body) = call(&app, &method, &uri, Some(&token), None).await;
            let context = format!(
                "{backend:?}: {method} {path} (as {method} {uri}) answered {status} {body}"
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
                statuses.contains(status.as_str()),
                "{context}: status {} is not documented for it (documented: {statuses:?})",
                status.as_u16()
            );
        }
    }
}

#[tokio::test]
async fn every_route_in_the_sources_is_documented() {
    let db = databases().await.remove(0);
    let doc = fetch_document(&app(db)).await;
    let documented = documented(&doc);
    let routes = source_routes();
    assert!(
        routes.contains_key(&("GET".to_owned(), "/api/v1/users/@me".to_owned()))
            && routes.contains_key(&("GET".to_owned(), "/api/v1/openapi.json".to_owned()))
            && routes.len() > 40,
        "the route parser found too little: {routes:?}"
    );
    let missing: Vec<String> = routes
        .iter()
        .filter(|(op, _)| !documented.contains_key(*op))
        .map(|((method, path), file)| format!("{method} {path} (src/api/{file})"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from src/api/openapi.json:\n  {}",
        missing.join("\n  ")
    );
    let extra: Vec<String> = documented
        .iter()
        .filter(|(op, _)| !routes.contains_key(*op))
        .map(|((method, _), (path, _))| format!("{method} {path}"))
        .collect();
    assert!(
        extra.is_empty(),
        "documented operations no `.route(` in src/api registers:\n  {}",
        extra.join("\n  ")
    );
}

#[test]
fn the_route_parser_reads_method_chains_and_skips_comments() {
    let src = r#"
        // .route("/api/v1/commented", get(nothing))
        /* .route("/api/v1/blocked", post(nothing)) */
        let url = "ws://x"; // a string with // in it
        let c = '"';
        Router::new()
            .route("/api/v1/a/{id}", get(view).patch(rename).delete(remove))
            .route(
                "/api/v1/b/{id}/c/{user_id}",
                axum::routing::put(put_it).delete(delete), // trailing comment
            )
            .route("/api/v1/d", post(|| async { get(1) }))
    "#;
    let ops = routes_in_source(src, "sample.rs");
    let ops: Vec<(&str, &str)> = ops.iter().map(|(m, p)| (m.as_str(), p.as_str())).collect();
    assert_eq!(
        ops,
        [
            ("GET", "/api/v1/a/{}"),
            ("PATCH", "/api/v1/a/{}"),
            ("DELETE", "/api/v1/a/{}"),
            ("PUT", "/api/v1/b/{}/c/{}"),
            ("DELETE", "/api/v1/b/{}/c/{}"),
            ("POST", "/api/v1/d"),
        ]
    );
}

#[test]
#[should_panic(expected = "unsupported method registration `any(…)`")]
fn the_route_parser_refuses_what_it_does_not_know() {
    routes_in_source(r#".route("/api/v1/x", any(h))"#, "sample.rs");
}
