//! The web client's files (`web/dist`, built by `make run`), served by `xcord serve` in front of
//! the API and the SFU. For a `GET` or `HEAD`:
//!
//! - paths under `/api`, `/rtc`, `/twirp` and `/metrics` always go to the server's routes;
//! - a path naming a file of the directory is that file (`/assets/…` are cached for good: Vite
//!   puts a content hash in their names);
//! - any other path asked for by a browser (`Accept` includes `text/html`) is `index.html`, so
//!   client-side routes load the app;
//! - everything else goes to the server's routes, so health checks that ask `GET /` without
//!   `text/html` (LiveKit's, the tests') still get the SFU's `OK`.
//!
//! Without an `index.html` in the directory nothing changes but the files it has.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Path prefixes that belong to the server, whatever the web client's files are.
const SERVER_PREFIXES: &[&str] = &["/api", "/rtc", "/twirp", "/metrics"];

/// Wraps `app` so that the web client in `dir` is served as described above.
pub fn serve(app: Router, dir: PathBuf) -> Router {
    app.layer(axum::middleware::from_fn_with_state(Arc::new(dir), web))
}

async fn web(State(dir): State<Arc<PathBuf>>, req: Request, next: Next) -> Response {
    let head = req.method() == Method::HEAD;
    let get = head || req.method() == Method::GET;
    let path = req.uri().path().to_owned();
    let html = accepts_html(&req);
    let found = if get {
        web_response(&dir, &path, html, head).await
    } else {
        None
    };
    match found {
        Some(resp) => resp,
        None => next.run(req).await,
    }
}

async fn web_response(dir: &Path, path: &str, html: bool, head: bool) -> Option<Response> {
    if SERVER_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    if let Some(file) = file_path(dir, path)
        && let Ok(body) = tokio::fs::read(&file).await
    {
        let immutable = path.starts_with("/assets/");
        return Some(file_response(&file, body, immutable, head));
    }
    if !html {
        return None;
    }
    let index = dir.join("index.html");
    let body = tokio::fs::read(&index).await.ok()?;
    Some(file_response(&index, body, false, head))
}

/// The file of `dir` that a URL path names, if its segments are plain names (no `..`, no
/// escapes, no hidden files).
fn file_path(dir: &Path, path: &str) -> Option<PathBuf> {
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return None;
    }
    let mut file = dir.to_path_buf();
    for segment in rest.split('/') {
        let plain = !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        if !plain {
            return None;
        }
        file.push(segment);
    }
    // a directory fails to read, and falls through like a missing file
    Some(file)
}

fn accepts_html(req: &Request) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn file_response(file: &Path, body: Vec<u8>, immutable: bool, head: bool) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let len = body.len();
    let body = if head {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut resp = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type(file)),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    /// A directory with a built client: index.html and one asset.
    fn dist(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xcord-web-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html>app").unwrap();
        std::fs::write(dir.join("assets/app-1234.js"), "console.log(1)").unwrap();
        std::fs::write(dir.join(".secret"), "no").unwrap();
        dir
    }

    /// The server's routes as `xcord serve` has them: the SFU's health check at `/`, an API
    /// route, `/rtc`.
    fn app(dir: PathBuf) -> Router {
        let inner = Router::new()
            .route("/", get(|| async { "OK" }).head(|| async { "OK" }))
            .route("/api/v1/ping", get(|| async { "pong" }))
            .route("/api/v1/echo", post(|b: String| async move { b }))
            .route("/rtc", get(|| async { "signal" }));
        serve(inner, dir)
    }

    async fn call(
        app: &Router,
        method: Method,
        path: &str,
        accept: Option<&str>,
    ) -> (StatusCode, String, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned(), ctype)
    }

    const BROWSER: Option<&str> = Some("text/html,application/xhtml+xml,*/*;q=0.8");

    #[tokio::test]
    async fn browsers_get_the_app_and_health_checks_get_ok() {
        let app = app(dist("root"));
        let (s, body, ctype) = call(&app, Method::GET, "/", BROWSER).await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "<!doctype html>app"));
        assert!(ctype.starts_with("text/html"));
        assert_eq!(call(&app, Method::GET, "/", None).await.1, "OK");
        assert_eq!(call(&app, Method::GET, "/", Some("*/*")).await.1, "OK");
        let (s, body, _) = call(&app, Method::HEAD, "/", None).await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, ""));
    }

    #[tokio::test]
    async fn client_routes_fall_back_to_index_and_files_are_served() {
        let app = app(dist("routes"));
        for path in ["/c/12/channels/34", "/invite/abc", "/sign-in"] {
            let (s, body, _) = call(&app, Method::GET, path, BROWSER).await;
            assert_eq!(
                (s, body.as_str()),
                (StatusCode::OK, "<!doctype html>app"),
                "{path}"
            );
        }
        let (s, body, ctype) = call(&app, Method::GET, "/assets/app-1234.js", Some("*/*")).await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "console.log(1)"));
        assert!(ctype.starts_with("text/javascript"));
        // a directory is no file
        assert_eq!(
            call(&app, Method::GET, "/assets", None).await.0,
            StatusCode::NOT_FOUND
        );
        // not a browser, not a file: the server's 404
        assert_eq!(
            call(&app, Method::GET, "/nope", None).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&app, Method::GET, "/assets/missing.js", None).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn server_paths_keep_priority() {
        let app = app(dist("priority"));
        assert_eq!(
            call(&app, Method::GET, "/api/v1/ping", BROWSER).await.1,
            "pong"
        );
        assert_eq!(call(&app, Method::GET, "/rtc", BROWSER).await.1, "signal");
        let (s, body, _) = call(&app, Method::GET, "/api/v1/unknown", BROWSER).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_ne!(body, "<!doctype html>app");
        assert_eq!(
            call(&app, Method::GET, "/twirp/x", BROWSER).await.0,
            StatusCode::NOT_FOUND
        );
        let req = Request::post("/api/v1/echo")
            .body(Body::from("hi"))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"hi");
    }

    #[tokio::test]
    async fn no_traversal_and_no_hidden_files() {
        let dir = dist("traversal");
        let app = app(dir.join("assets"));
        for path in [
            "/../index.html",
            "/%2e%2e/index.html",
            "/..",
            "/./app-1234.js",
            "/app-1234.js/",
        ] {
            assert_eq!(
                call(&app, Method::GET, path, None).await.0,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        assert_eq!(
            call(&app, Method::GET, "/app-1234.js", None).await.0,
            StatusCode::OK
        );
        let app = self::app(dir);
        assert_eq!(
            call(&app, Method::GET, "/.secret", None).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn without_a_build_only_the_server_answers() {
        let app = app(std::env::temp_dir().join("xcord-web-test-absent"));
        assert_eq!(call(&app, Method::GET, "/", BROWSER).await.1, "OK");
        assert_eq!(
            call(&app, Method::GET, "/c/1", BROWSER).await.0,
            StatusCode::NOT_FOUND
        );
    }
}
