//! An engine handle with no engine behind it, for tests of the signal session: what the
//! session tells the engine is read back here.

use std::net::SocketAddr;

use livekit_protocol as proto;
use tokio::sync::mpsc;

use super::{Command, EngineHandle};

pub(crate) struct TestEngine {
    rx: mpsc::Receiver<Command>,
}

impl TestEngine {
    pub(crate) fn new() -> (EngineHandle, Self) {
        let (tx, rx) = mpsc::channel(64);
        let handle = EngineHandle {
            tx,
            media_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        (handle, Self { rx })
    }

    /// The departure the session reported so far, if any.
    pub(crate) fn departure(&mut self) -> Option<proto::DisconnectReason> {
        while let Ok(cmd) = self.rx.try_recv() {
            if let Command::Disconnected(_, reason) = cmd {
                return Some(reason);
            }
        }
        None
    }
}
