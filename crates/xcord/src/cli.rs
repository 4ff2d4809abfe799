//! Command line, environment (`XCORD_*`) and TOML settings, merged with the precedence
//! flags > environment > file > defaults. Unknown file keys are reported, not ignored.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(
    name = "xcord",
    version,
    about = "Self-hosted voice, video and live streaming: a LiveKit-compatible SFU and an app backend in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run everything: the media server (SFU) and, as they land, the app backend and web client.
    Serve(ServerArgs),
    /// Run only the media server (an SFU node).
    Media(ServerArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// TOML file with any of the settings below (flag names with `_` for `-`).
    #[arg(long, env = "XCORD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Development keys: API key `devkey`, secret `secret` (as `livekit-server --dev`).
    #[arg(long, env = "XCORD_DEV")]
    pub dev: bool,
    /// An API key and secret, `KEY:SECRET`; repeatable.
    #[arg(long = "keys", env = "XCORD_KEYS", value_delimiter = ',')]
    pub keys: Vec<String>,
    /// HTTP/WebSocket listen address [default: 127.0.0.1:7880].
    #[arg(long, env = "XCORD_BIND")]
    pub bind: Option<SocketAddr>,
    /// Address advertised in ICE host candidates; repeatable
    /// [default: every non-loopback interface address, plus loopback].
    #[arg(long = "node-ip", env = "XCORD_NODE_IP", value_delimiter = ',')]
    pub node_ip: Vec<IpAddr>,
    /// UDP port of the media socket [default: 7882].
    #[arg(long, env = "XCORD_UDP_PORT")]
    pub udp_port: Option<u16>,
    /// Where generated keys (and later the database) live [default: ./xcord-data].
    #[arg(long, env = "XCORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Refuse joins into rooms not created through the room service (404).
    #[arg(long, env = "XCORD_NO_AUTO_CREATE")]
    pub no_auto_create: bool,
    /// POST webhook events to this URL; repeatable.
    #[arg(long = "webhook-url", env = "XCORD_WEBHOOK_URL", value_delimiter = ',')]
    pub webhook_url: Vec<String>,
    /// API key whose secret signs webhooks [default: the first configured key].
    #[arg(long, env = "XCORD_WEBHOOK_KEY")]
    pub webhook_key: Option<String>,
    /// `serve` only: use this LiveKit-compatible server as the media plane instead of the
    /// embedded SFU (an `xcord media` node, a LiveKit cluster, LiveKit Cloud).
    #[arg(long, env = "XCORD_LIVEKIT_URL", requires_all = ["livekit_key", "livekit_secret"])]
    pub livekit_url: Option<String>,
    /// API key for `--livekit-url` (also verifies its webhooks).
    #[arg(long, env = "XCORD_LIVEKIT_KEY")]
    pub livekit_key: Option<String>,
    /// API secret for `--livekit-url`.
    #[arg(long, env = "XCORD_LIVEKIT_SECRET")]
    pub livekit_secret: Option<String>,
    /// `serve` only: the URL clients use to reach the media plane, put in the tokens the API
    /// issues [default: ws://<bind address>].
    #[arg(long, env = "XCORD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `serve` only: the database, `sqlite://FILE` or `postgres://…`
    /// [default: sqlite in the data directory].
    #[arg(long, env = "XCORD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `serve` only: append every media-plane event the control plane receives to this file
    /// (JSON lines).
    #[arg(long, env = "XCORD_MEDIA_EVENT_LOG")]
    pub media_event_log: Option<PathBuf>,
}

/// Settings a TOML file may carry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    dev: Option<bool>,
    keys: Option<Vec<String>>,
    bind: Option<SocketAddr>,
    node_ip: Option<Vec<IpAddr>>,
    udp_port: Option<u16>,
    data_dir: Option<PathBuf>,
    no_auto_create: Option<bool>,
    webhook_url: Option<Vec<String>>,
    webhook_key: Option<String>,
    livekit_url: Option<String>,
    livekit_key: Option<String>,
    livekit_secret: Option<String>,
    media_event_log: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
}

/// Fully resolved server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dev: bool,
    pub keys: Vec<(String, String)>,
    pub bind: SocketAddr,
    pub node_ips: Vec<IpAddr>,
    pub udp_port: u16,
    pub data_dir: PathBuf,
    pub auto_create: bool,
    pub webhook_urls: Vec<String>,
    pub webhook_key: Option<String>,
    /// A remote media plane: (url, key, secret).
    pub livekit: Option<(String, String, String)>,
    pub media_event_log: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in {}", path.display()))
}

fn parse_key(pair: &str) -> anyhow::Result<(String, String)> {
    match pair.split_once(':') {
        Some((k, s)) if !k.is_empty() && !s.is_empty() => Ok((k.to_owned(), s.to_owned())),
        _ => bail!("--keys expects KEY:SECRET, got {pair:?}"),
    }
}

impl ServerArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(p) => read_file(p)?,
            None => FileSettings::default(),
        };
        let keys = if self.keys.is_empty() {
            file.keys.unwrap_or_default()
        } else {
            self.keys
        };
        let keys = keys
            .iter()
            .map(|k| parse_key(k))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let node_ips = if self.node_ip.is_empty() {
            file.node_ip.unwrap_or_default()
        } else {
            self.node_ip
        };
        let webhook_urls = if self.webhook_url.is_empty() {
            file.webhook_url.unwrap_or_default()
        } else {
            self.webhook_url
        };
        for url in &webhook_urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("--webhook-url must be an http(s) URL, got {url:?}");
            }
        }
        let livekit = match (
            self.livekit_url.or(file.livekit_url),
            self.livekit_key.or(file.livekit_key),
            self.livekit_secret.or(file.livekit_secret),
        ) {
            (None, _, _) => None,
            (Some(url), Some(key), Some(secret)) => Some((url, key, secret)),
            (Some(_), _, _) => bail!("--livekit-url needs --livekit-key and --livekit-secret"),
        };
        Ok(Settings {
            livekit,
            media_event_log: self.media_event_log.or(file.media_event_log),
            database_url: self.database_url.or(file.database_url),
            public_url: self.public_url.or(file.public_url),
            auto_create: !(self.no_auto_create || file.no_auto_create.unwrap_or(false)),
            webhook_urls,
            webhook_key: self.webhook_key.or(file.webhook_key),
            dev: self.dev || file.dev.unwrap_or(false),
            keys,
            bind: self
                .bind
                .or(file.bind)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7880))),
            node_ips,
            udp_port: self.udp_port.or(file.udp_port).unwrap_or(7882),
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("xcord-data")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> ServerArgs {
        let mut full = vec!["xcord", "serve"];
        full.extend_from_slice(list);
        match Cli::try_parse_from(full).map(|c| c.command) {
            Ok(Command::Serve(a)) => a,
            other => panic!("unexpected parse: {other:?}"),
        }
    }

    #[test]
    fn flags_override_file_and_defaults_apply() {
        let dir = std::env::temp_dir().join(format!("xcord-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("x.toml");
        std::fs::write(
            &file,
            "udp_port = 9000\nbind = \"0.0.0.0:1\"\nkeys = [\"a:b\"]\n",
        )
        .ok();
        let s = args(&[
            "--config",
            file.to_str().unwrap_or_default(),
            "--bind",
            "127.0.0.1:9",
        ])
        .resolve()
        .map_err(|e| e.to_string());
        let s = s
            .as_ref()
            .map(|s| (s.bind.port(), s.udp_port, s.keys.clone()));
        assert_eq!(s, Ok((9, 9000, vec![("a".into(), "b".into())])));
        let d = args(&[])
            .resolve()
            .map(|s| (s.bind, s.udp_port, s.dev))
            .map_err(|e| e.to_string());
        assert_eq!(
            d,
            Ok((SocketAddr::from(([127, 0, 0, 1], 7880)), 7882, false))
        );
    }

    #[test]
    fn unknown_file_keys_and_bad_keys_are_reported() {
        let dir = std::env::temp_dir().join(format!("xcord-cli2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("x.toml");
        std::fs::write(&file, "udp_prot = 1\n").ok();
        let err = args(&["--config", file.to_str().unwrap_or_default()])
            .resolve()
            .err();
        assert!(err.is_some_and(|e| format!("{e:#}").contains("udp_prot")));
        assert!(args(&["--keys", "nocolon"]).resolve().is_err());
    }
}
