//! Rooms sharded across media threads. Each shard is one [`Engine`](crate::engine) on its own
//! thread with its own UDP socket (and ICE-TCP listener) on its own port: shard `i` listens on
//! `udp_port + i` (and `tcp_port + i`), and its ICE candidates advertise that port, so a
//! client's datagrams reach the shard of its room directly — no demultiplexing, no datagram
//! handed between threads.
//!
//! A room lives on exactly one shard, chosen by a hash of its name: every participant of a room,
//! every room-service call about it and every resume find the same shard without shared state
//! or locks. Calls that concern every room (listing, the census, shutdown) ask every shard.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::SfuConfig;
use crate::engine::{self, EngineHandle, Unavailable};
use crate::events::EventBus;

/// Handles to every media shard.
#[derive(Clone)]
pub struct MediaShards {
    shards: Arc<[EngineHandle]>,
}

impl MediaShards {
    /// Starts `cfg.media_threads` shards (at least one), shard `i` on `udp_port + i` and, with
    /// ICE-TCP on, `tcp_port + i` (port 0 stays 0: each shard gets an ephemeral port).
    pub fn start(cfg: Arc<SfuConfig>, events: EventBus) -> std::io::Result<Self> {
        let count = cfg.media_threads.max(1);
        let mut shards = Vec::with_capacity(count);
        for index in 0..count {
            let ports = engine::MediaPorts {
                udp: shard_port(cfg.udp_port, index)?,
                tcp: cfg
                    .tcp_port
                    .map(|port| shard_port(port, index))
                    .transpose()?,
            };
            let shard = engine::spawn(cfg.clone(), events.clone(), index, ports).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "media shard {index} (UDP port {}, ICE-TCP port {:?}): {e}",
                        ports.udp, ports.tcp
                    ),
                )
            })?;
            shards.push(shard);
        }
        Ok(Self {
            shards: shards.into(),
        })
    }

    /// The shard that owns `room`.
    pub fn for_room(&self, room: &str) -> &EngineHandle {
        let index = shard_index(room, self.shards.len());
        // `shard_index` is below `len`, and there is always at least one shard.
        self.shards.get(index).unwrap_or(&self.shards[0])
    }

    /// Every shard, in port order.
    pub fn all(&self) -> &[EngineHandle] {
        &self.shards
    }

    /// The UDP address of every shard, in port order.
    pub fn media_addrs(&self) -> Vec<SocketAddr> {
        self.shards.iter().map(EngineHandle::media_addr).collect()
    }

    /// Runs `f` on every shard and collects the results, in shard order.
    pub(crate) async fn gather<R: Send + 'static>(
        &self,
        f: impl Fn(&mut engine::Engine) -> R + Clone + Send + 'static,
    ) -> Result<Vec<R>, Unavailable> {
        let calls = self.shards.iter().map(|shard| shard.call(f.clone()));
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .collect()
    }
}

/// Shard `index`'s port: `base + index`, or 0 (ephemeral) when `base` is 0.
fn shard_port(base: u16, index: usize) -> std::io::Result<u16> {
    if base == 0 {
        return Ok(0);
    }
    u16::try_from(index)
        .ok()
        .and_then(|i| base.checked_add(i))
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("media port {base} + {index} shards is beyond 65535"),
            )
        })
}

/// Which of `count` shards owns `room`: a hash of the name that is the same in every run (the
/// standard hasher with its fixed default keys), so a room's shard never changes while the
/// process lives.
pub(crate) fn shard_index(room: &str, count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    let mut hasher = std::hash::DefaultHasher::new();
    room.hash(&mut hasher);
    (hasher.finish() % count as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_base_and_zero_stays_ephemeral() {
        assert_eq!(shard_port(7882, 0).unwrap(), 7882);
        assert_eq!(shard_port(7882, 3).unwrap(), 7885);
        assert_eq!(shard_port(0, 3).unwrap(), 0);
        assert!(shard_port(65535, 1).is_err());
    }

    #[test]
    fn a_room_always_maps_to_one_shard_and_rooms_spread() {
        assert_eq!(shard_index("anything", 1), 0);
        for count in 2..5 {
            let mut used = vec![0usize; count];
            for n in 0..400 {
                let room = format!("room-{n}");
                let index = shard_index(&room, count);
                assert_eq!(index, shard_index(&room, count));
                used[index] += 1;
            }
            // 400 rooms over at most 4 shards: each shard gets a fair share (expect 100-200).
            assert!(
                used.iter().all(|&u| u > 400 / count / 2),
                "{count} shards: {used:?}"
            );
        }
    }
}
