//! Settings from command-line flags, `XCORD_*` environment variables and a TOML file, layered
//! with figment. For every setting, booleans included, the precedence is
//! flags > environment > file (`--config` / `XCORD_CONFIG`) > defaults.
//!
//! Each layer only carries what it sets: absent flags are `None` (or empty lists) and are left out
//! when the flags are serialized into their layer, unset (or empty) variables are left out of the
//! environment layer. Unknown file keys are an error; unknown `XCORD_*` variables are warned about.

use std::ffi::OsString;
use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::http::HttpLimits;
use crate::secret::{DatabaseUrl, Secret};

/// Most media threads (shards) accepted: each takes a UDP port (and a TCP port) of its own.
const MAX_MEDIA_THREADS: usize = 256;

/// Prefix of the environment variables; `XCORD_<KEY>` sets the file key `<key>`.
const ENV_PREFIX: &str = "XCORD_";

/// Every setting, spelled as in the TOML file. Each is also the flag `--<key with - for _>` and
/// the variable `XCORD_<KEY>`.
const SETTING_KEYS: &[&str] = &[
    "dev",
    "keys",
    "bind",
    "node_ip",
    "udp_port",
    "tcp_port",
    "media_threads",
    "no_turn",
    "turn_udp_port",
    "turn_tls_port",
    "turn_domain",
    "turn_cert",
    "turn_key",
    "turn_credential_ttl",
    "data_dir",
    "no_auto_create",
    "no_signal_v1",
    "bandwidth_estimation",
    "webhook_url",
    "webhook_key",
    "livekit_url",
    "livekit_key",
    "livekit_secret",
    "media_event_log",
    "database_url",
    "public_url",
    "http_header_timeout",
    "http_idle_timeout",
    "http_max_connections",
    "http_max_connections_per_address",
    "ring_timeout",
    "max_incoming_calls",
    "web_dir",
    "metrics_bind",
    "metrics_token",
];

/// `XCORD_*` variables read outside the settings merge.
const OTHER_ENV: &[&str] = &["XCORD_CONFIG", "XCORD_LOG"];

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
    /// Generate load on a LiveKit-protocol server and measure it (`loadtest floor`: this
    /// machine's per-packet floor).
    Loadtest(xcord_loadtest::LoadtestCommand),
}

/// The command-line layer. Every setting also reads `XCORD_<NAME>` and the file key `<name>`
/// (flags > environment > file > defaults); the environment is merged in `resolve`, not by clap.
#[derive(Args, Debug, Clone, Default, Serialize)]
pub struct ServerArgs {
    /// TOML file with any of the settings below (flag names with `_` for `-`)
    /// [env: XCORD_CONFIG].
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Development keys: API key `devkey`, secret `secret` (as `livekit-server --dev`);
    /// `--dev=false` turns off a `dev` set by the file or environment [env: XCORD_DEV].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<bool>,
    /// An API key and secret, `KEY:SECRET`; repeatable or comma-separated [env: XCORD_KEYS].
    #[arg(long = "keys", value_name = "KEY:SECRET", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<Secret>,
    /// HTTP/WebSocket listen address [default: 127.0.0.1:7880] [env: XCORD_BIND].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// Address advertised in ICE host candidates; repeatable
    /// [default: every non-loopback interface address, plus loopback] [env: XCORD_NODE_IP].
    #[arg(long = "node-ip", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_ip: Vec<IpAddr>,
    /// UDP port of the media socket [default: 7882] [env: XCORD_UDP_PORT].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_port: Option<u16>,
    /// TCP port for ICE over TCP (passive TCP candidates, for clients whose UDP is blocked);
    /// 0 turns it off [default: 7881] [env: XCORD_TCP_PORT].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_port: Option<u16>,
    /// Media threads (shards): each runs its own rooms on its own sockets, shard `i` on UDP port
    /// `udp_port + i` (and ICE-TCP port `tcp_port + i`); 0 means one per core
    /// [default: number of cores] [env: XCORD_MEDIA_THREADS].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_threads: Option<usize>,
    /// Do not run the embedded TURN server (nor offer it in `ice_servers`);
    /// `--no-turn=false` turns it back on [env: XCORD_NO_TURN].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_turn: Option<bool>,
    /// UDP port of the embedded TURN server; 0 turns TURN over UDP off [default: 3478]
    /// [env: XCORD_TURN_UDP_PORT].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_udp_port: Option<u16>,
    /// TCP port of TURN over TLS (443 in production, for clients that can reach only HTTPS);
    /// 0 turns it off [default: 5349] [env: XCORD_TURN_TLS_PORT].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_tls_port: Option<u16>,
    /// Host name (or IP) clients are told to reach TURN at; the TLS certificate must be valid
    /// for it [default: the first node IP] [env: XCORD_TURN_DOMAIN].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_domain: Option<String>,
    /// PEM certificate chain for TURN over TLS [default with `--dev`: a generated self-signed
    /// certificate; otherwise TLS is off without one] [env: XCORD_TURN_CERT].
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_cert: Option<PathBuf>,
    /// PEM private key of `--turn-cert` [env: XCORD_TURN_KEY].
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_key: Option<PathBuf>,
    /// Seconds the TURN credentials issued with each join stay valid for new allocations
    /// (60 to 86400) [default: 3600] [env: XCORD_TURN_CREDENTIAL_TTL].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_credential_ttl: Option<u64>,
    /// Where generated keys (and the default database) live [default: ./xcord-data]
    /// [env: XCORD_DATA_DIR].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Refuse joins into rooms not created through the room service (404);
    /// `--no-auto-create=false` turns it off [env: XCORD_NO_AUTO_CREATE].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_auto_create: Option<bool>,
    /// Do not serve LiveKit's signal protocol v1 (`/rtc/v1`, one peer connection): it answers
    /// 404, so the SDKs fall back to v0 (`/rtc`, two peer connections); `--no-signal-v1=false`
    /// turns v1 back on [env: XCORD_NO_SIGNAL_V1].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_signal_v1: Option<bool>,
    /// Estimate each subscriber's downlink (TWCC) and give it the simulcast layers that fit,
    /// probing before stepping up and pacing its video; off by default (without it every
    /// subscriber gets the layer its `UpdateTrackSettings` ask for, unpaced);
    /// `--bandwidth-estimation=false` turns off one set by the file or environment
    /// [env: XCORD_BANDWIDTH_ESTIMATION].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_estimation: Option<bool>,
    /// POST webhook events to this URL; repeatable [env: XCORD_WEBHOOK_URL].
    #[arg(long = "webhook-url", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_url: Vec<String>,
    /// API key whose secret signs webhooks [default: the first configured key]
    /// [env: XCORD_WEBHOOK_KEY].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_key: Option<String>,
    /// `serve` only: use this LiveKit-compatible server as the media plane instead of the
    /// embedded SFU (an `xcord media` node, a LiveKit cluster, LiveKit Cloud); needs the key and
    /// secret below [env: XCORD_LIVEKIT_URL].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livekit_url: Option<String>,
    /// API key for `--livekit-url` (also verifies its webhooks) [env: XCORD_LIVEKIT_KEY].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livekit_key: Option<String>,
    /// API secret for `--livekit-url` [env: XCORD_LIVEKIT_SECRET].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livekit_secret: Option<Secret>,
    /// `serve` only: the URL clients use to reach the media plane, put in the tokens the API
    /// issues [default: ws://<bind address>] [env: XCORD_PUBLIC_URL].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// `serve` only: the database, `sqlite://FILE` or `postgres://…`
    /// [default: sqlite in the data directory] [env: XCORD_DATABASE_URL].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    /// `serve` only: append every media-plane event the control plane receives to this file
    /// (JSON lines) [env: XCORD_MEDIA_EVENT_LOG].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_event_log: Option<PathBuf>,
    /// Seconds a client has to send a request's head, counted from when its connection waits
    /// for one (so it also closes idle keep-alive connections) [default: 10]
    /// [env: XCORD_HTTP_HEADER_TIMEOUT].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_header_timeout: Option<u64>,
    /// Seconds an HTTP connection may go without reading or writing anything (a stalled
    /// upload) before it is closed [default: 60] [env: XCORD_HTTP_IDLE_TIMEOUT].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_idle_timeout: Option<u64>,
    /// HTTP connections (WebSockets included) open at once; beyond it new ones wait to be
    /// accepted [default: 4096] [env: XCORD_HTTP_MAX_CONNECTIONS].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_max_connections: Option<usize>,
    /// HTTP connections (WebSockets included) open at once from one client address; beyond
    /// it new ones are closed [default: 512] [env: XCORD_HTTP_MAX_CONNECTIONS_PER_ADDRESS].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_max_connections_per_address: Option<usize>,
    /// `serve` only: how long a call rings, in seconds (1 to 600) [default: 30]
    /// [env: XCORD_RING_TIMEOUT].
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_timeout: Option<u64>,
    /// `serve` only: how many calls may ring for one user at once; one more is `busy`
    /// (1 to 100) [default: 3] [env: XCORD_MAX_INCOMING_CALLS].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_incoming_calls: Option<usize>,
    /// `serve` only: the built web client served at `/` (`make run` builds it into `web/dist`);
    /// when it has no `index.html`, `/` keeps answering only the health check
    /// [default: web/dist] [env: XCORD_WEB_DIR].
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_dir: Option<PathBuf>,
    /// Also serve Prometheus metrics at `/metrics` on this separate listener, without
    /// authentication (bind it to a private address) [env: XCORD_METRICS_BIND].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_bind: Option<SocketAddr>,
    /// Bearer token that opens `/metrics` on the main HTTP port (without it, and without
    /// `--dev`, `/metrics` there answers 403) [env: XCORD_METRICS_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<Secret>,
}

/// The merged layers, keyed as in the TOML file; absent keys take the defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Layered {
    dev: bool,
    #[serde(deserialize_with = "list")]
    keys: Vec<Secret>,
    bind: SocketAddr,
    #[serde(deserialize_with = "list")]
    node_ip: Vec<IpAddr>,
    udp_port: u16,
    tcp_port: u16,
    media_threads: usize,
    no_turn: bool,
    turn_udp_port: u16,
    turn_tls_port: u16,
    turn_domain: Option<String>,
    turn_cert: Option<PathBuf>,
    turn_key: Option<PathBuf>,
    turn_credential_ttl: u64,
    data_dir: PathBuf,
    no_auto_create: bool,
    no_signal_v1: bool,
    bandwidth_estimation: bool,
    #[serde(deserialize_with = "list")]
    webhook_url: Vec<String>,
    webhook_key: Option<String>,
    livekit_url: Option<String>,
    livekit_key: Option<String>,
    livekit_secret: Option<Secret>,
    media_event_log: Option<PathBuf>,
    database_url: Option<DatabaseUrl>,
    public_url: Option<String>,
    http_header_timeout: u64,
    http_idle_timeout: u64,
    http_max_connections: usize,
    http_max_connections_per_address: usize,
    ring_timeout: u64,
    max_incoming_calls: usize,
    web_dir: PathBuf,
    metrics_bind: Option<SocketAddr>,
    metrics_token: Option<Secret>,
}

impl Default for Layered {
    fn default() -> Self {
        Self {
            dev: false,
            keys: Vec::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 7880)),
            node_ip: Vec::new(),
            udp_port: 7882,
            tcp_port: 7881,
            media_threads: 0,
            no_turn: false,
            turn_udp_port: 3478,
            turn_tls_port: 5349,
            turn_domain: None,
            turn_cert: None,
            turn_key: None,
            turn_credential_ttl: 3600,
            data_dir: PathBuf::from("xcord-data"),
            no_auto_create: false,
            no_signal_v1: false,
            bandwidth_estimation: false,
            webhook_url: Vec::new(),
            webhook_key: None,
            livekit_url: None,
            livekit_key: None,
            livekit_secret: None,
            media_event_log: None,
            database_url: None,
            public_url: None,
            http_header_timeout: HttpLimits::default().header_timeout.as_secs(),
            http_idle_timeout: HttpLimits::default().idle_timeout.as_secs(),
            http_max_connections: HttpLimits::default().max_connections,
            http_max_connections_per_address: HttpLimits::default().max_connections_per_address,
            ring_timeout: 30,
            max_incoming_calls: 3,
            web_dir: PathBuf::from("web/dist"),
            metrics_bind: None,
            metrics_token: None,
        }
    }
}

/// Fully resolved server settings. `Debug` hides every secret.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dev: bool,
    pub keys: Vec<(String, Secret)>,
    pub bind: SocketAddr,
    pub node_ips: Vec<IpAddr>,
    pub udp_port: u16,
    /// ICE-TCP port; `None` when off.
    pub tcp_port: Option<u16>,
    /// Media shards (engine threads), at least 1.
    pub media_threads: usize,
    /// The embedded TURN server; `None` when off.
    pub turn: Option<TurnSettings>,
    pub data_dir: PathBuf,
    pub auto_create: bool,
    /// Whether the embedded SFU serves signal protocol v1 (`/rtc/v1`).
    pub signal_v1: bool,
    /// Whether the embedded SFU estimates subscribers' downlinks to choose their layers.
    pub bandwidth_estimation: bool,
    pub webhook_urls: Vec<String>,
    pub webhook_key: Option<String>,
    /// A remote media plane: (url, key, secret).
    pub livekit: Option<(String, String, Secret)>,
    pub media_event_log: Option<PathBuf>,
    pub database_url: Option<DatabaseUrl>,
    pub public_url: Option<String>,
    /// The HTTP listener's timeouts and connection caps.
    pub http: HttpLimits,
    /// How long a call rings.
    pub ring_timeout: std::time::Duration,
    /// How many calls may ring for one user at once.
    pub max_incoming_calls: usize,
    /// The built web client's directory.
    pub web_dir: PathBuf,
    /// A separate, unauthenticated listener for `/metrics`.
    pub metrics_bind: Option<SocketAddr>,
    /// The bearer token for `/metrics` on the main port.
    pub metrics_token: Option<Secret>,
}

/// The embedded TURN server's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnSettings {
    pub udp_port: Option<u16>,
    pub tls_port: Option<u16>,
    pub domain: Option<String>,
    /// Certificate chain and key files for TLS.
    pub cert: Option<(PathBuf, PathBuf)>,
    pub credential_ttl: Duration,
}

/// The environment layer: the known `XCORD_*` variables as text (figment's lossy extraction turns
/// `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off` into booleans and digits into numbers), keeping
/// secrets that look like numbers intact. Empty variables count as unset. No `Debug`: the values
/// include secrets.
#[derive(Default)]
struct EnvLayer {
    /// Setting values by file key.
    values: Dict,
    /// `XCORD_CONFIG`.
    config: Option<PathBuf>,
    /// Names of `XCORD_*` variables that are no setting, sorted.
    unknown: Vec<String>,
}

impl EnvLayer {
    fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> anyhow::Result<Self>
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut layer = Self::default();
        for (name, value) in vars {
            let (name, value) = (name.into(), value.into());
            let Some(name) = name.to_str() else { continue };
            let Some(suffix) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = suffix.to_ascii_lowercase();
            let known = SETTING_KEYS.contains(&key.as_str()) && suffix == key.to_ascii_uppercase();
            if !known && !OTHER_ENV.contains(&name) {
                layer.unknown.push(name.to_owned());
                continue;
            }
            if name == "XCORD_CONFIG" {
                if !value.is_empty() {
                    layer.config = Some(PathBuf::from(value));
                }
                continue;
            }
            if !known {
                continue;
            }
            let Some(value) = value.to_str() else {
                bail!("{name} is not valid UTF-8");
            };
            if !value.trim().is_empty() {
                layer.values.insert(key, Value::from(value.to_owned()));
            }
        }
        layer.unknown.sort();
        Ok(layer)
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment").interpolater(|_: &Profile, keys: &[&str]| {
            format!("{ENV_PREFIX}{}", keys.join("_").to_ascii_uppercase())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// Logs each unknown `XCORD_*` variable by name (never its value).
fn warn_unknown(names: &[String]) {
    for name in names {
        tracing::warn!(
            variable = %name,
            "unknown XCORD_ environment variable ignored (not a setting; see `xcord serve --help`)"
        );
    }
}

impl ServerArgs {
    /// Merges flags, the process environment, the file and the defaults. Unknown `XCORD_*`
    /// variables are logged as warnings, so call this once tracing is set up.
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let env = EnvLayer::from_vars(std::env::vars_os())?;
        warn_unknown(&env.unknown);
        self.resolve_with(env)
    }

    /// As `resolve`, with the environment layer given.
    fn resolve_with(self, env: EnvLayer) -> anyhow::Result<Settings> {
        let mut figment = Figment::new();
        if let Some(path) = self.config.clone().or_else(|| env.config.clone()) {
            std::fs::metadata(&path).with_context(|| format!("config file {}", path.display()))?;
            figment = figment.merge(Toml::file_exact(path));
        }
        let layered: Layered = figment
            .merge(env)
            .merge(Serialized::defaults(self))
            .extract_lossy()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        layered.into_settings()
    }
}

impl Layered {
    fn into_settings(self) -> anyhow::Result<Settings> {
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, pair)| parse_key(i, pair))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for url in &self.webhook_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("webhook_url must be an http(s) URL, got {url:?}");
            }
        }
        if let Some(url) = &self.database_url {
            let u = url.expose();
            if !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://"))
            {
                bail!(
                    "database_url must be sqlite:… or postgres://…, got {:?}",
                    url.redacted()
                );
            }
        }
        let livekit = match (self.livekit_url, self.livekit_key, self.livekit_secret) {
            (None, _, _) => None,
            (Some(url), Some(key), Some(secret)) => Some((url, key, secret)),
            (Some(_), _, _) => bail!(
                "livekit_url (--livekit-url / XCORD_LIVEKIT_URL) needs livekit_key and \
                 livekit_secret as well"
            ),
        };
        for (key, value) in [
            ("http_header_timeout", self.http_header_timeout),
            ("http_idle_timeout", self.http_idle_timeout),
            ("http_max_connections", self.http_max_connections as u64),
            (
                "http_max_connections_per_address",
                self.http_max_connections_per_address as u64,
            ),
        ] {
            if value == 0 {
                bail!("{key} must be at least 1");
            }
        }
        let http = HttpLimits {
            header_timeout: Duration::from_secs(self.http_header_timeout),
            idle_timeout: Duration::from_secs(self.http_idle_timeout),
            max_connections: self.http_max_connections,
            max_connections_per_address: self.http_max_connections_per_address,
        };
        if self.media_threads > MAX_MEDIA_THREADS {
            bail!(
                "media_threads must be 0 (one per core) to {MAX_MEDIA_THREADS}, got {}",
                self.media_threads
            );
        }
        if !(1..=600).contains(&self.ring_timeout) {
            bail!(
                "ring_timeout must be 1 to 600 seconds, got {}",
                self.ring_timeout
            );
        }
        if !(1..=100).contains(&self.max_incoming_calls) {
            bail!(
                "max_incoming_calls must be 1 to 100, got {}",
                self.max_incoming_calls
            );
        }
        if !(60..=86_400).contains(&self.turn_credential_ttl) {
            bail!(
                "turn_credential_ttl must be 60 to 86400 seconds, got {}",
                self.turn_credential_ttl
            );
        }
        let cert = match (self.turn_cert, self.turn_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("turn_cert and turn_key go together: set both or neither"),
        };
        let nonzero = |p: u16| (p != 0).then_some(p);
        let turn = (!self.no_turn).then(|| TurnSettings {
            udp_port: nonzero(self.turn_udp_port),
            tls_port: nonzero(self.turn_tls_port),
            domain: self.turn_domain,
            cert,
            credential_ttl: Duration::from_secs(self.turn_credential_ttl),
        });
        Ok(Settings {
            tcp_port: nonzero(self.tcp_port),
            media_threads: match self.media_threads {
                0 => std::thread::available_parallelism().map_or(1, usize::from),
                n => n,
            },
            turn,
            http,
            dev: self.dev,
            keys,
            bind: self.bind,
            node_ips: self.node_ip,
            udp_port: self.udp_port,
            data_dir: self.data_dir,
            auto_create: !self.no_auto_create,
            signal_v1: !self.no_signal_v1,
            bandwidth_estimation: self.bandwidth_estimation,
            webhook_urls: self.webhook_url,
            webhook_key: self.webhook_key,
            livekit,
            media_event_log: self.media_event_log,
            database_url: self.database_url,
            public_url: self.public_url,
            ring_timeout: std::time::Duration::from_secs(self.ring_timeout),
            max_incoming_calls: self.max_incoming_calls,
            web_dir: self.web_dir,
            metrics_bind: self.metrics_bind,
            metrics_token: self.metrics_token,
        })
    }
}

/// `KEY:SECRET` → (key, secret). The error never shows the entry: it may be the bare secret.
fn parse_key(index: usize, pair: &Secret) -> anyhow::Result<(String, Secret)> {
    match pair.expose().split_once(':') {
        Some((k, s)) if !k.is_empty() && !s.is_empty() => Ok((k.to_owned(), Secret::new(s))),
        _ => bail!(
            "keys: entry {} is not KEY:SECRET (value not shown)",
            index + 1
        ),
    }
}

/// A list setting: a list (file, flags) or one comma-separated string (environment). Errors name
/// no element: the parse errors of the element types used here do not carry the value, and a
/// `Secret` never fails to parse.
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct ListVisitor<T>(PhantomData<T>);

    impl<'de, T> Visitor<'de> for ListVisitor<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings or a comma-separated string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(E::custom))
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item.trim().parse().map_err(de::Error::custom)?);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_any(ListVisitor(PhantomData))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A TOML file in a fresh temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(contents: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "xcord-cli-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("xcord.toml");
            std::fs::write(&path, contents).unwrap();
            Self(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn parse(flags: &[&str]) -> Result<ServerArgs, clap::Error> {
        let mut full = vec!["xcord", "serve"];
        full.extend_from_slice(flags);
        Cli::try_parse_from(full).map(|c| match c.command {
            Command::Serve(a) | Command::Media(a) => a,
            Command::Loadtest(_) => unreachable!("parsed as serve"),
        })
    }

    fn env(vars: &[(&str, &str)]) -> EnvLayer {
        EnvLayer::from_vars(vars.iter().copied()).unwrap()
    }

    /// Resolves with an optional file (passed as `--config`), an injected environment and flags.
    fn resolve(
        file: Option<&str>,
        vars: &[(&str, &str)],
        flags: &[&str],
    ) -> anyhow::Result<Settings> {
        let file = file.map(TempFile::new);
        let mut all: Vec<&str> = Vec::new();
        if let Some(f) = &file {
            all.extend(["--config", f.path()]);
        }
        all.extend_from_slice(flags);
        parse(&all)?.resolve_with(env(vars))
    }

    fn ok(file: Option<&str>, vars: &[(&str, &str)], flags: &[&str]) -> Settings {
        match resolve(file, vars, flags) {
            Ok(s) => s,
            Err(e) => panic!("resolve failed: {e:#}"),
        }
    }

    fn err(file: Option<&str>, vars: &[(&str, &str)], flags: &[&str]) -> String {
        match resolve(file, vars, flags) {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn media_threads_default_to_the_cores_and_are_bounded() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(ok(None, &[], &[]).media_threads, cores);
        assert_eq!(
            ok(None, &[], &["--media-threads", "0"]).media_threads,
            cores
        );
        assert_eq!(ok(None, &[], &["--media-threads", "3"]).media_threads, 3);
        let vars = [("XCORD_MEDIA_THREADS", "2")];
        assert_eq!(ok(None, &vars, &[]).media_threads, 2);
        let e = err(None, &[], &["--media-threads", "257"]);
        assert!(e.contains("media_threads"), "{e}");
    }

    #[test]
    fn defaults_apply_without_any_source() {
        let s = ok(None, &[], &[]);
        assert!(!s.dev && s.auto_create && s.signal_v1 && !s.bandwidth_estimation);
        assert!(s.keys.is_empty() && s.node_ips.is_empty() && s.webhook_urls.is_empty());
        assert_eq!(s.bind, SocketAddr::from(([127, 0, 0, 1], 7880)));
        assert_eq!(s.udp_port, 7882);
        assert_eq!(s.data_dir, PathBuf::from("xcord-data"));
        assert!(s.livekit.is_none() && s.database_url.is_none() && s.public_url.is_none());
        assert!(s.webhook_key.is_none() && s.media_event_log.is_none());
        assert_eq!(s.ring_timeout, std::time::Duration::from_secs(30));
        assert_eq!(s.web_dir, PathBuf::from("web/dist"));
        assert_eq!(s.max_incoming_calls, 3);
    }

    #[test]
    fn ice_tcp_and_turn_settings_default_on_and_turn_off_with_zero_or_no_turn() {
        let s = ok(None, &[], &[]);
        assert_eq!(s.tcp_port, Some(7881));
        let turn = s.turn.unwrap();
        assert_eq!((turn.udp_port, turn.tls_port), (Some(3478), Some(5349)));
        assert_eq!(turn.credential_ttl, std::time::Duration::from_secs(3600));
        assert!(turn.cert.is_none() && turn.domain.is_none());

        let s = ok(
            Some("turn_tls_port = 443\nturn_cert = \"/c.pem\"\nturn_key = \"/k.pem\"\n"),
            &[("XCORD_TCP_PORT", "0")],
            &["--turn-udp-port", "0", "--turn-domain", "turn.example"],
        );
        assert_eq!(s.tcp_port, None);
        let turn = s.turn.unwrap();
        assert_eq!((turn.udp_port, turn.tls_port), (None, Some(443)));
        assert_eq!(turn.domain.as_deref(), Some("turn.example"));
        assert_eq!(
            turn.cert,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );

        assert!(ok(None, &[], &["--no-turn"]).turn.is_none());
        assert!(err(None, &[], &["--turn-cert", "/c.pem"]).contains("turn_cert and turn_key"));
        assert!(err(None, &[], &["--turn-credential-ttl", "5"]).contains("turn_credential_ttl"));
    }

    #[test]
    fn call_settings_come_from_flags_env_and_file_within_their_bounds() {
        let s = ok(
            None,
            &[("XCORD_RING_TIMEOUT", "45")],
            &["--max-incoming-calls", "5"],
        );
        assert_eq!(s.ring_timeout, std::time::Duration::from_secs(45));
        assert_eq!(s.max_incoming_calls, 5);
        assert!(err(None, &[], &["--ring-timeout", "0"]).contains("ring_timeout must be 1 to 600"));
        assert!(
            err(None, &[("XCORD_MAX_INCOMING_CALLS", "0")], &[]).contains("max_incoming_calls")
        );
    }

    /// For each layer: flag beats environment beats file beats default.
    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let file = "udp_port = 1001\nbind = \"0.0.0.0:1001\"\ndata_dir = \"/file\"\n\
                    webhook_key = \"file\"\npublic_url = \"ws://file\"\n\
                    media_event_log = \"/file.log\"\ndatabase_url = \"sqlite://file.db\"\n";
        let vars = [
            ("XCORD_UDP_PORT", "1002"),
            ("XCORD_BIND", "0.0.0.0:1002"),
            ("XCORD_DATA_DIR", "/env"),
            ("XCORD_WEBHOOK_KEY", "env"),
            ("XCORD_PUBLIC_URL", "ws://env"),
            ("XCORD_MEDIA_EVENT_LOG", "/env.log"),
            ("XCORD_DATABASE_URL", "sqlite://env.db"),
        ];
        let flags = [
            "--udp-port=1003",
            "--bind=0.0.0.0:1003",
            "--data-dir=/flag",
            "--webhook-key=flag",
            "--public-url=ws://flag",
            "--media-event-log=/flag.log",
            "--database-url=sqlite://flag.db",
        ];
        let seen = |s: &Settings| {
            (
                s.udp_port,
                s.bind.port(),
                s.data_dir.display().to_string(),
                s.webhook_key.clone().unwrap_or_default(),
                s.public_url.clone().unwrap_or_default(),
                s.media_event_log
                    .clone()
                    .unwrap_or_default()
                    .display()
                    .to_string(),
                s.database_url
                    .as_ref()
                    .map(|u| u.expose().to_owned())
                    .unwrap_or_default(),
            )
        };
        let expect = |port: u16, word: &str| {
            (
                port,
                port,
                format!("/{word}"),
                word.to_owned(),
                format!("ws://{word}"),
                format!("/{word}.log"),
                format!("sqlite://{word}.db"),
            )
        };
        assert_eq!(seen(&ok(Some(file), &vars, &flags)), expect(1003, "flag"));
        assert_eq!(seen(&ok(Some(file), &vars, &[])), expect(1002, "env"));
        assert_eq!(seen(&ok(Some(file), &[], &[])), expect(1001, "file"));
        assert_eq!(seen(&ok(None, &vars, &[])), expect(1002, "env"));
        assert_eq!(seen(&ok(None, &[], &flags)), expect(1003, "flag"));
        assert_eq!(seen(&ok(Some(file), &[], &flags)), expect(1003, "flag"));
    }

    #[test]
    fn http_limits_have_defaults_and_follow_precedence() {
        assert_eq!(ok(None, &[], &[]).http, HttpLimits::default());
        assert_eq!(
            HttpLimits::default(),
            HttpLimits {
                header_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                max_connections: 4096,
                max_connections_per_address: 512,
            }
        );
        let file = "http_header_timeout = 5\nhttp_idle_timeout = 30\nhttp_max_connections = 100\nhttp_max_connections_per_address = 7\n";
        let from_file = ok(Some(file), &[], &[]).http;
        assert_eq!(
            from_file,
            HttpLimits {
                header_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(30),
                max_connections: 100,
                max_connections_per_address: 7,
            }
        );
        let vars = [
            ("XCORD_HTTP_HEADER_TIMEOUT", "6"),
            ("XCORD_HTTP_MAX_CONNECTIONS", "200"),
        ];
        let from_env = ok(Some(file), &vars, &[]).http;
        assert_eq!(
            (
                from_env.header_timeout,
                from_env.max_connections,
                from_env.idle_timeout
            ),
            (Duration::from_secs(6), 200, Duration::from_secs(30))
        );
        let flags = [
            "--http-header-timeout=7",
            "--http-max-connections-per-address=9",
        ];
        let from_flags = ok(Some(file), &vars, &flags).http;
        assert_eq!(
            (
                from_flags.header_timeout,
                from_flags.max_connections_per_address
            ),
            (Duration::from_secs(7), 9)
        );
        assert!(
            err(None, &[], &["--http-idle-timeout=0"])
                .contains("http_idle_timeout must be at least 1")
        );
    }

    #[test]
    fn livekit_settings_follow_precedence_and_mix_layers() {
        let file =
            "livekit_url = \"ws://file\"\nlivekit_key = \"kfile\"\nlivekit_secret = \"sfile\"\n";
        let lk = |s: &Settings| {
            s.livekit
                .as_ref()
                .map(|(u, k, s)| (u.clone(), k.clone(), s.expose().to_owned()))
        };
        let all_file = ok(Some(file), &[], &[]);
        assert_eq!(
            lk(&all_file),
            Some(("ws://file".into(), "kfile".into(), "sfile".into()))
        );
        let mixed = ok(
            Some(file),
            &[
                ("XCORD_LIVEKIT_KEY", "kenv"),
                ("XCORD_LIVEKIT_SECRET", "senv"),
            ],
            &["--livekit-secret", "sflag"],
        );
        assert_eq!(
            lk(&mixed),
            Some(("ws://file".into(), "kenv".into(), "sflag".into()))
        );
    }

    /// Each boolean, at each pair of layers, in both directions.
    #[test]
    fn booleans_switch_both_ways_at_every_layer() {
        struct Case {
            file: Option<bool>,
            env: Option<&'static str>,
            flag: Option<&'static str>,
            want: bool,
        }
        let cases = [
            // Defaults and single layers.
            Case {
                file: None,
                env: None,
                flag: None,
                want: false,
            },
            Case {
                file: Some(true),
                env: None,
                flag: None,
                want: true,
            },
            Case {
                file: Some(false),
                env: None,
                flag: None,
                want: false,
            },
            Case {
                file: None,
                env: Some("true"),
                flag: None,
                want: true,
            },
            Case {
                file: None,
                env: Some("1"),
                flag: None,
                want: true,
            },
            Case {
                file: None,
                env: Some("false"),
                flag: None,
                want: false,
            },
            Case {
                file: None,
                env: None,
                flag: Some(""),
                want: true,
            },
            Case {
                file: None,
                env: None,
                flag: Some("=true"),
                want: true,
            },
            Case {
                file: None,
                env: None,
                flag: Some("=false"),
                want: false,
            },
            // Environment over file, both ways.
            Case {
                file: Some(true),
                env: Some("false"),
                flag: None,
                want: false,
            },
            Case {
                file: Some(true),
                env: Some("0"),
                flag: None,
                want: false,
            },
            Case {
                file: Some(false),
                env: Some("true"),
                flag: None,
                want: true,
            },
            Case {
                file: Some(false),
                env: Some("1"),
                flag: None,
                want: true,
            },
            // An empty variable is unset.
            Case {
                file: Some(true),
                env: Some(""),
                flag: None,
                want: true,
            },
            // Flag over environment, both ways.
            Case {
                file: None,
                env: Some("true"),
                flag: Some("=false"),
                want: false,
            },
            Case {
                file: None,
                env: Some("1"),
                flag: Some("=0"),
                want: false,
            },
            Case {
                file: None,
                env: Some("false"),
                flag: Some(""),
                want: true,
            },
            Case {
                file: None,
                env: Some("0"),
                flag: Some("=true"),
                want: true,
            },
            // Flag over file, both ways.
            Case {
                file: Some(true),
                env: None,
                flag: Some("=false"),
                want: false,
            },
            Case {
                file: Some(false),
                env: None,
                flag: Some(""),
                want: true,
            },
            // All three.
            Case {
                file: Some(false),
                env: Some("true"),
                flag: Some("=false"),
                want: false,
            },
            Case {
                file: Some(true),
                env: Some("false"),
                flag: Some(""),
                want: true,
            },
        ];
        for (key, env_name, flag_name, read) in [
            (
                "dev",
                "XCORD_DEV",
                "--dev",
                (|s: &Settings| s.dev) as fn(&Settings) -> bool,
            ),
            (
                "no_auto_create",
                "XCORD_NO_AUTO_CREATE",
                "--no-auto-create",
                |s: &Settings| !s.auto_create,
            ),
            (
                "no_signal_v1",
                "XCORD_NO_SIGNAL_V1",
                "--no-signal-v1",
                |s: &Settings| !s.signal_v1,
            ),
            (
                "bandwidth_estimation",
                "XCORD_BANDWIDTH_ESTIMATION",
                "--bandwidth-estimation",
                |s: &Settings| s.bandwidth_estimation,
            ),
        ] {
            for c in &cases {
                let file = c.file.map(|b| format!("{key} = {b}\n"));
                let vars: Vec<(&str, &str)> = c.env.map(|v| (env_name, v)).into_iter().collect();
                let flag = c.flag.map(|v| format!("{flag_name}{v}"));
                let flags: Vec<&str> = flag.iter().map(String::as_str).collect();
                let s = ok(file.as_deref(), &vars, &flags);
                assert_eq!(
                    read(&s),
                    c.want,
                    "{key}: file {:?}, env {:?}, flag {:?}",
                    c.file,
                    c.env,
                    flag
                );
            }
        }
    }

    #[test]
    fn boolean_flags_need_an_equals_sign_for_a_value() {
        assert!(parse(&["--dev", "false"]).is_err());
        assert!(parse(&["--dev=maybe"]).is_err());
        assert_eq!(parse(&["--dev=no"]).map(|a| a.dev).ok(), Some(Some(false)));
        assert_eq!(parse(&["--dev"]).map(|a| a.dev).ok(), Some(Some(true)));
        assert_eq!(parse(&[]).map(|a| a.dev).ok(), Some(None));
        let e = err(None, &[("XCORD_DEV", "maybe")], &[]);
        assert!(e.contains("XCORD_DEV"), "{e}");
    }

    #[test]
    fn lists_come_comma_separated_from_env_and_flags_win() {
        let vars = [
            ("XCORD_KEYS", "a:b, c:d"),
            ("XCORD_NODE_IP", "10.0.0.1,10.0.0.2"),
            ("XCORD_WEBHOOK_URL", "http://one/hook,https://two/hook"),
        ];
        let s = ok(
            Some("keys = [\"file:x\"]\nnode_ip = [\"10.9.9.9\"]\n"),
            &vars,
            &[],
        );
        let keys: Vec<(&str, &str)> = s
            .keys
            .iter()
            .map(|(k, s)| (k.as_str(), s.expose()))
            .collect();
        assert_eq!(keys, [("a", "b"), ("c", "d")]);
        assert_eq!(
            s.node_ips,
            [IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2])]
        );
        assert_eq!(s.webhook_urls, ["http://one/hook", "https://two/hook"]);

        let s = ok(
            None,
            &vars,
            &[
                "--keys",
                "e:f",
                "--node-ip",
                "10.0.0.3",
                "--node-ip=10.0.0.4",
            ],
        );
        let keys: Vec<(&str, &str)> = s
            .keys
            .iter()
            .map(|(k, s)| (k.as_str(), s.expose()))
            .collect();
        assert_eq!(keys, [("e", "f")]);
        assert_eq!(
            s.node_ips,
            [IpAddr::from([10, 0, 0, 3]), IpAddr::from([10, 0, 0, 4])]
        );

        let s = ok(
            Some("keys = [\"file:x\"]\nnode_ip = [\"10.9.9.9\"]\n"),
            &[],
            &[],
        );
        assert_eq!(s.keys.len(), 1);
        assert_eq!(s.node_ips, [IpAddr::from([10, 9, 9, 9])]);

        let e = err(None, &[("XCORD_NODE_IP", "10.0.0.1,nonsense")], &[]);
        assert!(e.contains("XCORD_NODE_IP"), "{e}");
    }

    #[test]
    fn env_values_stay_text_even_when_they_look_like_numbers() {
        let s = ok(
            None,
            &[
                ("XCORD_LIVEKIT_URL", "ws://lk"),
                ("XCORD_LIVEKIT_KEY", "1234"),
                ("XCORD_LIVEKIT_SECRET", "56789"),
                ("XCORD_WEBHOOK_KEY", "42"),
            ],
            &[],
        );
        let lk = s.livekit.map(|(u, k, s)| (u, k, s.expose().to_owned()));
        assert_eq!(lk, Some(("ws://lk".into(), "1234".into(), "56789".into())));
        assert_eq!(s.webhook_key.as_deref(), Some("42"));
    }

    #[test]
    fn config_file_from_flag_or_env() {
        let from_env = TempFile::new("udp_port = 1111\n");
        let from_flag = TempFile::new("udp_port = 2222\n");
        let s = parse(&[])
            .unwrap()
            .resolve_with(env(&[("XCORD_CONFIG", from_env.path())]))
            .unwrap();
        assert_eq!(s.udp_port, 1111);
        let s = parse(&["--config", from_flag.path()])
            .unwrap()
            .resolve_with(env(&[("XCORD_CONFIG", from_env.path())]))
            .unwrap();
        assert_eq!(s.udp_port, 2222);
        let missing = std::env::temp_dir().join("xcord-cli-no-such-file.toml");
        let e = parse(&["--config", missing.to_str().unwrap()])
            .unwrap()
            .resolve_with(env(&[]));
        assert!(e.is_err());
    }

    #[test]
    fn unknown_file_keys_are_an_error_naming_the_key() {
        let e = err(Some("udp_prot = 1\n"), &[], &[]);
        assert!(e.contains("udp_prot"), "{e}");
        let e = err(Some("config = \"x.toml\"\n"), &[], &[]);
        assert!(e.contains("config"), "{e}");
    }

    #[test]
    fn unknown_env_vars_are_collected_and_warned_by_name_only() {
        let layer = env(&[
            ("XCORD_DEVV", "value-of-devv"),
            ("XCORD_LOG", "debug"),
            ("XCORD_CONFIG", ""),
            ("XCORD_dev", "1"),
            ("XCORD_UDP_PORT", "9"),
            ("PATH", "/bin"),
        ]);
        assert_eq!(layer.unknown, ["XCORD_DEVV", "XCORD_dev"]);

        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || warn_unknown(&layer.unknown));
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("WARN") && text.contains("XCORD_DEVV"),
            "{text}"
        );
        assert!(!text.contains("value-of-devv"), "{text}");

        // Unknown variables do not stop the rest from applying.
        let s = parse(&[]).unwrap().resolve_with(layer).unwrap();
        assert_eq!(s.udp_port, 9);
    }

    #[test]
    fn every_setting_has_a_known_env_var() {
        let names: Vec<String> = SETTING_KEYS
            .iter()
            .map(|k| format!("{ENV_PREFIX}{}", k.to_ascii_uppercase()))
            .collect();
        let values = |name: &str| match name {
            "XCORD_DEV"
            | "XCORD_NO_AUTO_CREATE"
            | "XCORD_NO_SIGNAL_V1"
            | "XCORD_BANDWIDTH_ESTIMATION"
            | "XCORD_NO_TURN" => "true",
            "XCORD_TURN_CREDENTIAL_TTL" => "60",
            "XCORD_BIND" => "127.0.0.1:1",
            "XCORD_METRICS_BIND" => "127.0.0.1:2",
            "XCORD_NODE_IP" => "10.0.0.1",
            "XCORD_UDP_PORT"
            | "XCORD_TCP_PORT"
            | "XCORD_MEDIA_THREADS"
            | "XCORD_TURN_UDP_PORT"
            | "XCORD_TURN_TLS_PORT"
            | "XCORD_RING_TIMEOUT"
            | "XCORD_MAX_INCOMING_CALLS"
            | "XCORD_HTTP_HEADER_TIMEOUT"
            | "XCORD_HTTP_IDLE_TIMEOUT"
            | "XCORD_HTTP_MAX_CONNECTIONS"
            | "XCORD_HTTP_MAX_CONNECTIONS_PER_ADDRESS" => "1",
            "XCORD_KEYS" => "k:s",
            "XCORD_WEBHOOK_URL" | "XCORD_LIVEKIT_URL" => "http://x",
            "XCORD_DATABASE_URL" => "sqlite://x.db",
            _ => "x",
        };
        let vars: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), values(n))).collect();
        let layer = env(&vars);
        assert!(layer.unknown.is_empty(), "{:?}", layer.unknown);
        assert_eq!(layer.values.len(), SETTING_KEYS.len());
        let s = parse(&[]).unwrap().resolve_with(layer).unwrap();
        assert!(s.dev && !s.auto_create && !s.signal_v1 && s.livekit.is_some());
        assert!(s.bandwidth_estimation);
        assert_eq!(s.web_dir, PathBuf::from("x"));
        assert_eq!(s.metrics_bind, Some("127.0.0.1:2".parse().unwrap()));
        assert_eq!(s.metrics_token.as_ref().map(|t| t.expose()), Some("x"));
    }

    #[test]
    fn debug_never_shows_secrets_or_database_passwords() {
        let file = "keys = [\"filekey:file-secret-1\"]\nlivekit_secret = \"file-secret-2\"\n";
        let vars = [
            ("XCORD_KEYS", "envkey:env-secret-1"),
            ("XCORD_LIVEKIT_URL", "ws://lk"),
            ("XCORD_LIVEKIT_KEY", "lkkey"),
            (
                "XCORD_DATABASE_URL",
                "postgres://xcord:env-db-pass@db/xcord",
            ),
        ];
        let flags = [
            "--keys=flagkey:flag-secret-1",
            "--livekit-secret=flag-secret-2",
            "--database-url=postgres://xcord:flag-db-pass@db/xcord",
        ];
        let args = parse(&flags).unwrap();
        let settings = ok(Some(file), &vars, &flags);
        let shown = format!("{args:?}\n{settings:?}\n{settings:#?}");
        for hidden in ["secret-1", "secret-2", "db-pass"] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
        assert!(
            shown.contains("flagkey") && shown.contains("lkkey"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://xcord:[redacted]@db/xcord"),
            "{shown}"
        );
        // The values are there for the code that uses them.
        assert_eq!(settings.keys[0].1.expose(), "flag-secret-1");
        assert_eq!(
            settings.database_url.as_ref().map(|u| u.expose()),
            Some("postgres://xcord:flag-db-pass@db/xcord")
        );
    }

    #[test]
    fn livekit_url_requires_key_and_secret() {
        for (vars, flags) in [
            (vec![], vec!["--livekit-url=ws://lk"]),
            (vec![], vec!["--livekit-url=ws://lk", "--livekit-key=k"]),
            (
                vec![("XCORD_LIVEKIT_URL", "ws://lk")],
                vec!["--livekit-secret=s"],
            ),
        ] {
            let e = err(None, &vars, &flags);
            assert!(
                e.contains("livekit_key") && e.contains("livekit_secret"),
                "{e}"
            );
        }
        let s = ok(
            Some("livekit_secret = \"s\"\n"),
            &[("XCORD_LIVEKIT_KEY", "k")],
            &["--livekit-url=ws://lk"],
        );
        assert!(s.livekit.is_some());
        // Key and secret alone select nothing.
        assert!(
            ok(None, &[], &["--livekit-key=k", "--livekit-secret=s"])
                .livekit
                .is_none()
        );
    }

    #[test]
    fn bad_values_are_reported_without_echoing_secrets() {
        let e = err(None, &[], &["--keys", "just-a-secret"]);
        assert!(
            e.contains("KEY:SECRET") && !e.contains("just-a-secret"),
            "{e}"
        );
        let e = err(None, &[("XCORD_KEYS", "k:s,:orphan-secret")], &[]);
        assert!(e.contains("entry 2") && !e.contains("orphan-secret"), "{e}");
        let e = err(Some("livekit_secret = true\n"), &[], &[]);
        assert!(e.contains("livekit_secret"), "{e}");
        let e = err(
            None,
            &[("XCORD_DATABASE_URL", "mysql://u:db-pass@h/x")],
            &[],
        );
        assert!(e.contains("database_url") && !e.contains("db-pass"), "{e}");
        let e = err(None, &[], &["--webhook-url", "ftp://x"]);
        assert!(e.contains("webhook_url"), "{e}");
    }

    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
