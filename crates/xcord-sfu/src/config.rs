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
    /// UDP port of the one media socket.
    pub udp_port: u16,
    /// Seconds between client pings, sent in the JoinResponse.
    pub ping_interval: u32,
    /// Seconds of signal silence after which a participant is dropped.
    pub ping_timeout: u32,
    /// How long a room nobody ever joined is kept.
    pub empty_timeout: Duration,
    /// How long a room is kept after its last participant left.
    pub departure_timeout: Duration,
    /// How long a participant may stay without connecting its media transport.
    pub connect_timeout: Duration,
    /// Whether joining a room that does not exist creates it.
    pub auto_create: bool,
    /// Reported to clients as the server version.
    pub server_version: String,
    /// This node's id, reported in ServerInfo.
    pub node_id: String,
    /// Webhook delivery, if any URL is configured.
    pub webhooks: Option<crate::webhook::WebhookConfig>,
}

impl SfuConfig {
    /// Defaults matching `livekit-server`, with the given keys and candidate addresses.
    pub fn new(keys: KeyStore, node_ips: Vec<IpAddr>) -> Self {
        Self {
            keys,
            node_ips,
            udp_bind: IpAddr::from([0, 0, 0, 0]),
            udp_port: 7882,
            ping_interval: 5,
            ping_timeout: 15,
            empty_timeout: Duration::from_secs(300),
            departure_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(60),
            auto_create: true,
            server_version: format!("xcord-{}", env!("CARGO_PKG_VERSION")),
            node_id: format!("ND_{}", crate::ids::random_token(12)),
            webhooks: None,
        }
    }
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
