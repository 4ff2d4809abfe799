//! Why a simulated participant or a run failed.

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("signal connection: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("signal message: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("peer connection: {0}")]
    Rtc(#[from] str0m::RtcError),
    #[error("SDP: {0}")]
    Sdp(String),
    #[error("access token: {0}")]
    Token(String),
    #[error("bad URL {0}")]
    Url(String),
    #[error("signal closed: {0}")]
    Closed(String),
    #[error("server metrics: {0}")]
    Metrics(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
}
