//! `xcord loadtest`: a LiveKit-protocol load generator. Many simulated participants per
//! process, each a str0m peer speaking LiveKit's signal protocol, publishing synthetic Opus and
//! VP8 (simulcast) whose payloads carry a sequence number and a send time, so that it measures
//! join latency, forwarding latency, loss, bitrate and layers, and with `--server-pid` the
//! server's CPU per forwarded packet and memory per participant. `xcord loadtest floor`
//! measures this machine's per-packet floor (kernel UDP send + SRTP encryption).
//!
//! Modules: [`signal`] (WebSocket + tokens), [`peer`] (a str0m `Rtc` with its socket),
//! [`participant`] (one participant's task), [`media`] / [`payload`] / [`pacing`] (synthetic
//! sources), [`stats`] (loss and latency), [`procstat`] (`/proc`), [`report`], [`run`],
//! [`floor`].

pub mod error;
pub mod floor;
pub mod media;
pub mod pacing;
pub mod participant;
pub mod payload;
pub mod peer;
pub mod procstat;
pub mod report;
pub mod run;
pub mod server_metrics;
pub mod signal;
pub mod stats;

use std::net::IpAddr;

use clap::{Args, Subcommand};

pub use error::LoadError;
pub use signal::Protocol;

/// `xcord loadtest [FLAGS]` runs a load; `xcord loadtest floor` measures the machine.
#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoadtestCommand {
    #[command(subcommand)]
    pub tool: Option<Tool>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Tool {
    /// Measure this machine's per-packet floor: kernel UDP send + SRTP (AES-128-GCM) encrypt.
    Floor {
        /// Datagrams sent per packet size.
        #[arg(long, default_value_t = 300_000)]
        sends: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Server URL (ws, wss, http or https).
    #[arg(long, env = "LIVEKIT_URL", default_value = "ws://127.0.0.1:7880")]
    pub url: String,
    #[arg(long, env = "LIVEKIT_API_KEY", default_value = "devkey")]
    pub api_key: String,
    #[arg(
        long,
        env = "LIVEKIT_API_SECRET",
        default_value = "secret",
        hide_env_values = true
    )]
    pub api_secret: String,
    /// Room name (with `--rooms N`: the prefix of `<room>-0` … `<room>-N-1`).
    #[arg(long, default_value = "loadtest")]
    pub room: String,
    /// Number of rooms, each with the publishers and subscribers below.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Publishers per room (each publishes one Opus track, plus video with `--video`).
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// Subscribers per room (each subscribes to every track of the room).
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// Publishers also send VP8 video with this many simulcast layers (q, h, f) [default with
    /// no value: 3].
    #[arg(long, value_name = "LAYERS", num_args = 0..=1, default_missing_value = "3",
          value_parser = clap::value_parser!(u8).range(1..=3))]
    pub video: Option<u8>,
    /// Seconds of the measurement window (after everyone has joined).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Participants started per second.
    #[arg(long, default_value_t = 10.0)]
    pub join_rate: f64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// PID of the server on this machine: report its CPU per forwarded packet and its memory
    /// per participant.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server's Prometheus `/metrics` URL: its CPU and memory are read there when
    /// `--server-pid` is not given (e.g. `http://host:7880/metrics`).
    #[arg(long, value_name = "URL")]
    pub server_metrics: Option<String>,
    /// Bearer token for `--server-metrics` (the server's `--metrics-token`).
    #[arg(long, env = "XCORD_METRICS_TOKEN", hide_env_values = true)]
    pub server_metrics_token: Option<String>,
    /// Signal protocol.
    #[arg(long, value_enum, default_value = "v0")]
    pub protocol: Protocol,
    /// Local address for the peer connections [default: the one that routes to the server].
    #[arg(long)]
    pub local_ip: Option<IpAddr>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the command; returns the process exit status (0, or 2 when participants failed).
pub fn main(cmd: LoadtestCommand) -> Result<i32, LoadError> {
    if let Some(Tool::Floor { sends, json }) = cmd.tool {
        let floor = floor::measure(sends)?;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&floor).unwrap_or_default()
            );
        } else {
            print!("{}", floor.table());
        }
        return Ok(0);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run::run(&cmd.run))?;
    if cmd.run.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.table());
    }
    Ok(if report.failed > 0 { 2 } else { 0 })
}
