//! The process's log: `tracing` events to stderr, filtered by `XCORD_LOG` (else `RUST_LOG`, else
//! `info`), with two guarantees whatever the filter asks for:
//!
//! - **no secrets from the WebSocket library**: at trace level it prints every frame it receives,
//!   and a gateway `identify` carries the session token; its events are kept to debug and above
//!   (see [`PAYLOAD_LOGGING_TARGETS`]). xcord's own code logs no token, no `Authorization`
//!   header and no query string (where `/rtc` takes `access_token`).
//! - **no forged lines**: every field value, the message included, is written with control
//!   characters escaped (`\n`, `\r`, `\u{1b}`, …), so a client-chosen string (a room name, a
//!   participant identity, a handle) cannot start a log line of its own or colour the terminal.

use std::fmt::Write as _;

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::{Writer, debug_fn};
use tracing_subscriber::layer::SubscriberExt;

/// Libraries whose trace events carry what clients send (WebSocket frames: tokens, messages).
pub const PAYLOAD_LOGGING_TARGETS: &[&str] = &["tungstenite", "tokio_tungstenite"];

/// The filter from `XCORD_LOG`, else `RUST_LOG`, else `info`; the TURN protocol library is
/// kept at `warn` (and its per-request authentication failures, which every allocation's first
/// request gets by design, off) unless the variable names it.
pub fn env_filter() -> EnvFilter {
    let filter = EnvFilter::try_from_env("XCORD_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let names_turn = |var: &str| {
        std::env::var(var).is_ok_and(|v| v.contains("stun_proto") || v.contains("turn_server"))
    };
    if names_turn("XCORD_LOG") || names_turn("RUST_LOG") {
        return filter;
    }
    [
        "stun_proto=warn",
        "stun_proto::auth=off",
        "turn_server_proto=warn",
    ]
    .into_iter()
    .filter_map(|d| d.parse().ok())
    .fold(filter, EnvFilter::add_directive)
}

/// Whether an event may be logged at all (a library's payload traces may not).
fn allowed(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    let payload_library = PAYLOAD_LOGGING_TARGETS
        .iter()
        .any(|t| target == *t || target.strip_prefix(t).is_some_and(|r| r.starts_with("::")));
    !(payload_library && *meta.level() == Level::TRACE)
}

/// `text` with every control character escaped as Rust would (`\n`, `\u{1b}`); the rest as is.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The log's subscriber: `filter`, the payload rule, escaped fields, written to `writer`.
pub fn subscriber<W>(filter: EnvFilter, writer: W, ansi: bool) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fields = debug_fn(|w: &mut Writer<'_>, field, value| {
        let text = escape_controls(&format!("{value:?}"));
        if field.name() == "message" {
            w.write_str(&text)
        } else {
            write!(w, "{}={text}", field.name())
        }
    })
    .delimited(" ");
    let layer = tracing_subscriber::fmt::layer()
        .fmt_fields(fields)
        .with_writer(writer)
        .with_ansi(ansi);
    tracing_subscriber::registry()
        .with(filter)
        .with(filter_fn(allowed))
        .with(layer)
}

/// Installs the log for this process (and routes the `log` crate's records into it).
pub fn init() {
    use tracing_subscriber::util::SubscriberInitExt;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = subscriber(env_filter(), std::io::stderr, ansi).try_init();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    fn captured(f: impl FnOnce()) -> String {
        let out = Captured::default();
        let sub = subscriber(EnvFilter::new("trace"), out.clone(), false);
        tracing::subscriber::with_default(sub, f);
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn client_strings_cannot_forge_lines_in_any_field_form() {
        let room = "lobby\n2026-12-01T00:00:00Z  INFO xcord: admin logged in\r\u{1b}[31m";
        let log = captured(|| {
            tracing::info!(room = %room, "joined");
            tracing::info!(room = ?room, "joined");
            tracing::info!(room, "joined");
            tracing::warn!("room {room} is full");
        });
        assert_eq!(log.lines().count(), 4, "{log}");
        assert!(!log.contains('\u{1b}'), "{log}");
        assert!(
            log.contains(r"lobby\n2026-12-01T00:00:00Z  INFO xcord: admin logged in\r"),
            "{log}"
        );
        assert!(
            log.contains(r"room lobby\n2026"),
            "the message is escaped too: {log}"
        );
    }

    #[test]
    fn websocket_frames_are_not_logged_even_at_trace() {
        let log = captured(|| {
            tracing::trace!(target: "tungstenite::protocol", "Received message {{\"op\":\"identify\",\"d\":{{\"token\":\"s3cr3t-token\"}}}}");
            tracing::trace!(target: "tokio_tungstenite", "frame s3cr3t-token");
            tracing::debug!(target: "tungstenite::protocol", "Received close frame");
            tracing::trace!(target: "tungstenite_like", "another library");
            tracing::trace!(target: "xcord", "our own trace");
        });
        assert!(!log.contains("s3cr3t-token"), "{log}");
        assert!(
            log.contains("Received close frame"),
            "debug and above stay: {log}"
        );
        assert!(log.contains("another library") && log.contains("our own trace"));
    }

    #[test]
    fn escaping_keeps_text_and_escapes_controls() {
        assert_eq!(escape_controls("Zoë 😀"), "Zoë 😀");
        assert_eq!(escape_controls("a\nb\tc\u{7f}"), r"a\nb\tc\u{7f}");
    }
}
