//! Settings of the media plane, resolved by the binary from flags, environment and file.

use std::net::IpAddr;
use std::time::Duration;

use crate::auth::KeyStore;

/// Everything the SFU needs to run.
#[derive(Clone, Debug)]
pub struct SfuConfig {
    /// API keys accepted for access tokens.
    pub keys: KeyStore,
    /// Addresses advertised as ICE host candidates.
    pub node_ips: Vec<IpAddr>,
    /// Address the media socket binds to (all interfaces by default).
    pub udp_bind: IpAddr,
    /// UDP port of the first media shard's socket; shard `i` listens on `udp_port + i` (0: every
    /// shard on an ephemeral port).
    pub udp_port: u16,
    /// Media shards: engine threads, each with its own sockets and its own rooms (see
    /// [`crate::shards`]). 1 in [`SfuConfig::new`]; the binary defaults to the number of cores.
    pub media_threads: usize,
    /// Port of the first shard's ICE-TCP listener (shard `i`: `tcp_port + i`; passive TCP host candidates, RFC 4571 framing) for clients
    /// whose UDP is blocked; `None` turns ICE-TCP off. Off in [`SfuConfig::new`] (tests start
    /// many servers at once); the binary turns it on at 7881, as `livekit-server` does.
    pub tcp_port: Option<u16>,
    /// How often clients should ping, sent in the JoinResponse in whole seconds (see
    /// [`SfuConfig::ping_interval_secs`]).
    pub ping_interval: Duration,
    /// Signal silence after which a participant is dropped. Clients are told it in whole seconds
    /// (see [`SfuConfig::ping_timeout_secs`]); the server drops at this exact value, so a
    /// sub-second value is only meaningful for tests whose clients ping on their own.
    pub ping_timeout: Duration,
    /// How long a room nobody ever joined is kept (unless its CreateRoom request says otherwise).
    pub empty_timeout: Duration,
    /// How long a room is kept after its last participant left (unless its CreateRoom request
    /// says otherwise).
    pub departure_timeout: Duration,
    /// How long a participant may stay without connecting its media transport.
    pub connect_timeout: Duration,
    /// Whether subscriber connections estimate their downlink (str0m's TWCC estimator,
    /// prober and pacer) to choose simulcast layers by bandwidth (see `engine::bwe`).
    pub bandwidth_estimation: bool,
    /// How long a connected participant whose signal connection broke (without `leave`) is kept
    /// for the client to resume it; zero removes it at once and tells clients not to resume.
    pub resume_window: Duration,
    /// Whether joining a room that does not exist creates it.
    pub auto_create: bool,
    /// Whether LiveKit's signal protocol v1 (`/rtc/v1`: one peer connection) is served. Off,
    /// `/rtc/v1` answers 404 and the SDKs fall back to v0 (`/rtc`: two peer connections).
    pub signal_v1: bool,
    /// Reported to clients as the server version.
    pub server_version: String,
    /// This node's id, reported in ServerInfo.
    pub node_id: String,
    /// Webhook delivery, if any URL is configured.
    pub webhooks: Option<crate::webhook::WebhookConfig>,
    /// The embedded TURN server, offered to clients in `ice_servers`; `None` runs none.
    pub turn: Option<TurnSettings>,
}

/// The embedded TURN server (see the `xcord-turn` crate) and how clients are told about it.
#[derive(Clone, Debug)]
pub struct TurnSettings {
    /// What the credentials issued with each join are derived from.
    pub secret: xcord_turn::CredentialSecret,
    /// Host name or IP in the URLs clients get (TLS clients check the certificate against it).
    pub host: String,
    /// TURN over UDP's port, if on.
    pub udp_port: Option<u16>,
    /// TURN over TLS's port and certificate, if on.
    pub tls: Option<(u16, std::sync::Arc<rustls::ServerConfig>)>,
    /// How long issued credentials allow new allocations.
    pub credential_ttl: Duration,
    /// Address the listeners and relay sockets bind to.
    pub bind_ip: IpAddr,
    /// Relays at once, and per client IP.
    pub max_allocations: usize,
    pub max_allocations_per_ip: usize,
}

impl TurnSettings {
    /// TURN over UDP on 3478 and over TLS on `tls` (when given), reached at `host`, with a
    /// random secret and one-hour credentials.
    pub fn new(host: String, tls: Option<(u16, std::sync::Arc<rustls::ServerConfig>)>) -> Self {
        Self {
            secret: xcord_turn::CredentialSecret::random(),
            host,
            udp_port: Some(3478),
            tls,
            credential_ttl: Duration::from_secs(3600),
            bind_ip: IpAddr::from([0, 0, 0, 0]),
            max_allocations: 1000,
            max_allocations_per_ip: 10,
        }
    }

    /// The `ice_servers` entry for a client called `name`, its credentials valid until
    /// `now_unix` plus the credential lifetime.
    pub fn ice_servers(&self, name: &str, now_unix: u64) -> Vec<livekit_protocol::IceServer> {
        let host = match self.host.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]"),
            Err(_) => self.host.clone(),
        };
        let mut urls = Vec::new();
        if let Some(port) = self.udp_port {
            urls.push(format!("turn:{host}:{port}?transport=udp"));
        }
        if let Some((port, _)) = &self.tls {
            urls.push(format!("turns:{host}:{port}?transport=tcp"));
        }
        if urls.is_empty() {
            return Vec::new();
        }
        let c = self
            .secret
            .issue(name, now_unix.saturating_add(self.credential_ttl.as_secs()));
        vec![livekit_protocol::IceServer {
            urls,
            username: c.username,
            credential: c.password,
        }]
    }
}

impl SfuConfig {
    /// Defaults matching `livekit-server`, with the given keys and candidate addresses.
    pub fn new(keys: KeyStore, node_ips: Vec<IpAddr>) -> Self {
        Self {
            keys,
            node_ips,
            udp_bind: IpAddr::from([0, 0, 0, 0]),
            udp_port: 7882,
            media_threads: 1,
            tcp_port: None,
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(15),
            empty_timeout: Duration::from_secs(300),
            departure_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(60),
            bandwidth_estimation: false,
            resume_window: Duration::from_secs(15),
            auto_create: true,
            signal_v1: true,
            server_version: format!("xcord-{}", env!("CARGO_PKG_VERSION")),
            node_id: format!("ND_{}", crate::ids::random_token(12)),
            webhooks: None,
            turn: None,
        }
    }

    /// `ping_interval` as the JoinResponse carries it: the SDKs read whole seconds.
    pub fn ping_interval_secs(&self) -> i32 {
        whole_secs_for_clients(self.ping_interval)
    }

    /// `ping_timeout` as the JoinResponse carries it: the SDKs read whole seconds.
    pub fn ping_timeout_secs(&self) -> i32 {
        whole_secs_for_clients(self.ping_timeout)
    }
}

/// Whole seconds, rounded up and at least 1 (an SDK told 0 does not ping at all). LiveKit's
/// defaults are whole seconds anyway; only tests use sub-second values.
fn whole_secs_for_clients(d: Duration) -> i32 {
    i32::try_from(d.as_millis().div_ceil(1000).max(1)).unwrap_or(i32::MAX)
}

/// Every non-loopback interface address plus loopback: the default ICE host candidates.
pub fn default_node_ips() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| {
            ifs.into_iter()
                .map(|i| i.ip())
                .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
                .collect()
        })
        .unwrap_or_default();
    ips.push(IpAddr::from([127, 0, 0, 1]));
    ips.dedup();
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_servers_carry_both_urls_and_credentials_the_turn_server_accepts() {
        let turn = TurnSettings::new("turn.example".into(), None);
        let servers = turn.ice_servers("PA_x", 1_000);
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].urls, ["turn:turn.example:3478?transport=udp"]);
        assert_eq!(servers[0].username, "4600:PA_x");
        assert_eq!(
            turn.secret.verify(&servers[0].username, 4_599).as_deref(),
            Ok(servers[0].credential.as_str())
        );
        assert!(turn.secret.verify(&servers[0].username, 4_600).is_err());

        let (tls, _) = xcord_turn::tls::self_signed(&["::1".into()]).unwrap();
        let mut turn = TurnSettings::new("::1".into(), Some((443, tls)));
        turn.udp_port = None;
        assert_eq!(
            turn.ice_servers("PA_x", 0)[0].urls,
            ["turns:[::1]:443?transport=tcp"]
        );
        turn.tls = None;
        assert!(turn.ice_servers("PA_x", 0).is_empty());
    }

    #[test]
    fn clients_are_told_ping_times_in_whole_seconds_rounded_up() {
        let mut cfg = SfuConfig::new(KeyStore::default(), Vec::new());
        assert_eq!((cfg.ping_interval_secs(), cfg.ping_timeout_secs()), (5, 15));
        cfg.ping_interval = Duration::from_millis(1500);
        cfg.ping_timeout = Duration::from_millis(200);
        assert_eq!((cfg.ping_interval_secs(), cfg.ping_timeout_secs()), (2, 1));
        cfg.ping_timeout = Duration::ZERO;
        assert_eq!(cfg.ping_timeout_secs(), 1);
    }
}
