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
    /// Which SDK connects (`js`, `reactnative`, `rust`, …).
    pub sdk: Option<String>,
}

fn truthy(v: &str) -> bool {
    matches!(v, "1" | "true" | "True" | "TRUE")
}

impl ConnectParams {
    /// `auto_subscribe` defaults to on.
    pub fn auto_subscribe(&self) -> bool {
        self.auto_subscribe.as_deref().is_none_or(truthy)
    }

    /// livekit-client (`sdk=js`) announces new tracks on reused m-lines.
    pub fn reuses_m_lines(&self) -> bool {
        self.sdk.as_deref() == Some("js")
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
}
