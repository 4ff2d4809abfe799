//! Query parameters of `/rtc` and `/rtc/validate` as the SDKs send them.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct ConnectParams {
    pub access_token: Option<String>,
    pub auto_subscribe: Option<String>,
    pub reconnect: Option<String>,
    /// The participant sid a resume is for.
    pub sid: Option<String>,
    pub protocol: Option<i32>,
    pub client_protocol: Option<i32>,
    /// The browser livekit-client runs in (`Chrome`, `Firefox`, `Safari`, …).
    pub browser: Option<String>,
}

/// Ended subscriber m-lines are reused for every client but Safari, whose transceiver reuse the
/// reference server also avoids.
pub fn reuses_m_lines(browser: &str) -> bool {
    !browser.eq_ignore_ascii_case("safari")
}

fn truthy(v: &str) -> bool {
    matches!(v, "1" | "true" | "True" | "TRUE")
}

impl ConnectParams {
    /// `auto_subscribe` defaults to on.
    pub fn auto_subscribe(&self) -> bool {
        self.auto_subscribe.as_deref().is_none_or(truthy)
    }

    /// See [`reuses_m_lines`].
    pub fn reuses_m_lines(&self) -> bool {
        reuses_m_lines(self.browser.as_deref().unwrap_or_default())
    }

    pub fn is_reconnect(&self) -> bool {
        self.reconnect.as_deref().is_some_and(truthy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_flags() {
        let p = ConnectParams::default();
        assert!(p.auto_subscribe());
        assert!(!p.is_reconnect());
        let p = ConnectParams {
            auto_subscribe: Some("0".into()),
            reconnect: Some("1".into()),
            ..Default::default()
        };
        assert!(!p.auto_subscribe());
        assert!(p.is_reconnect());
    }

    #[test]
    fn m_lines_are_reused_except_for_safari() {
        assert!(
            ConnectParams::default().reuses_m_lines(),
            "native SDKs send no browser"
        );
        for browser in ["Chrome", "Firefox", "edge"] {
            assert!(reuses_m_lines(browser), "{browser}");
        }
        let safari = ConnectParams {
            browser: Some("Safari".into()),
            ..Default::default()
        };
        assert!(!safari.reuses_m_lines());
    }
}
