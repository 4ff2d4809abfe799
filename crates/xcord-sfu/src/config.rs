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
}

impl SfuConfig {
    /// Defaults matching `livekit-server`, with the given keys and candidate addresses.
    pub fn new(keys: KeyStore, node_ips: Vec<IpAddr>) -> Self {
        Self {
            keys,
            node_ips,
            udp_bind: IpAddr::from([0, 0, 0, 0]),
            udp_port: 7882,
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(15),
            empty_timeout: Duration::from_secs(300),
            departure_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(60),
            resume_window: Duration::from_secs(15),
            auto_create: true,
            signal_v1: true,
            server_version: format!("xcord-{}", env!("CARGO_PKG_VERSION")),
            node_id: format!("ND_{}", crate::ids::random_token(12)),
            webhooks: None,
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
