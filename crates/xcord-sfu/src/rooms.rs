//! The room service (LiveKit's RoomService) as a Rust API over the engine: what the Twirp
//! endpoint serves and what an in-process control plane calls directly. A call about one room
//! goes to that room's shard; calls about every room ask every shard (see [`crate::shards`]).

use livekit_protocol as proto;

pub use crate::engine::RoomServiceError;
use crate::shards::MediaShards;

type Result<T> = std::result::Result<T, RoomServiceError>;

/// Handle to the room service of a running SFU.
#[derive(Clone)]
pub struct RoomService {
    shards: MediaShards,
}

impl RoomService {
    pub(crate) fn new(shards: MediaShards) -> Self {
        Self { shards }
    }

    /// Runs `f` on the shard that owns `room`.
    async fn run<R: Send + 'static>(
        &self,
        room: &str,
        f: impl FnOnce(&mut crate::engine::Engine) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let shard = self.shards.for_room(room).clone();
        shard.call(f).await?
    }

    pub async fn create_room(&self, req: proto::CreateRoomRequest) -> Result<proto::Room> {
        let shard = self.shards.for_room(&req.name).clone();
        shard.call(move |e| e.admin_create_room(req)).await?
    }

    /// The rooms of every shard (those named in `names`, or all), sorted by name.
    pub async fn list_rooms(&self, names: Vec<String>) -> Result<Vec<proto::Room>> {
        let names = std::sync::Arc::new(names);
        let mut rooms: Vec<proto::Room> = self
            .shards
            .gather(move |e| e.admin_list_rooms(&names))
            .await?
            .into_iter()
            .flatten()
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rooms)
    }

    /// Rooms, participants and tracks now, summed over every shard (for the metrics gauges).
    pub async fn census(&self) -> Result<crate::metrics::Census> {
        let shards = self.shards.gather(|e| e.census()).await?;
        Ok(shards
            .into_iter()
            .fold(crate::metrics::Census::default(), |sum, c| {
                crate::metrics::Census {
                    rooms: sum.rooms + c.rooms,
                    participants: sum.participants + c.participants,
                    tracks: sum.tracks + c.tracks,
                }
            }))
    }

    pub async fn room_exists(&self, name: String) -> Result<bool> {
        let shard = self.shards.for_room(&name).clone();
        Ok(shard.call(move |e| e.room_exists(&name)).await?)
    }

    /// Whether the token behind `grant` is still admitted (not revoked for its room).
    pub(crate) async fn admits(&self, grant: &crate::auth::JoinGrant) -> Result<bool> {
        let (room, identity) = (grant.room.clone(), grant.identity.clone());
        let nbf = u64::try_from(grant.claims.nbf).unwrap_or(0);
        let shard = self.shards.for_room(&room).clone();
        Ok(shard.call(move |e| e.admits(&room, &identity, nbf)).await?)
    }

    pub async fn delete_room(&self, room: String) -> Result<()> {
        let shard = self.shards.for_room(&room).clone();
        shard.call(move |e| e.admin_delete_room(&room)).await?
    }

    pub async fn update_room_metadata(
        &self,
        room: String,
        metadata: String,
    ) -> Result<proto::Room> {
        self.run(&room.clone(), move |e| {
            e.admin_update_room_metadata(&room, metadata)
        })
        .await
    }

    pub async fn list_participants(&self, room: String) -> Result<Vec<proto::ParticipantInfo>> {
        self.run(&room.clone(), move |e| e.admin_list_participants(&room))
            .await
    }

    pub async fn get_participant(
        &self,
        room: String,
        identity: String,
    ) -> Result<proto::ParticipantInfo> {
        self.run(&room.clone(), move |e| {
            e.admin_get_participant(&room, &identity)
        })
        .await
    }

    pub async fn remove_participant(&self, room: String, identity: String) -> Result<()> {
        self.run(&room.clone(), move |e| {
            e.admin_remove_participant(&room, &identity)
        })
        .await
    }

    /// Removes `identity` from `room` (if there) and refuses every token issued to it so far,
    /// for `token_lifetime` (the longest such a token lives): a ban or kick that holds even
    /// against a ticket issued before it.
    pub async fn revoke_participant(
        &self,
        room: String,
        identity: String,
        token_lifetime: std::time::Duration,
    ) -> Result<()> {
        self.run(&room.clone(), move |e| {
            e.admin_revoke_participant(&room, &identity, token_lifetime);
            Ok(())
        })
        .await
    }

    pub async fn mute_published_track(
        &self,
        req: proto::MuteRoomTrackRequest,
    ) -> Result<proto::TrackInfo> {
        self.run(&req.room.clone(), move |e| e.admin_mute_track(&req))
            .await
    }

    pub async fn update_participant(
        &self,
        req: proto::UpdateParticipantRequest,
    ) -> Result<proto::ParticipantInfo> {
        self.run(&req.room.clone(), move |e| e.admin_update_participant(req))
            .await
    }

    pub async fn update_subscriptions(&self, req: proto::UpdateSubscriptionsRequest) -> Result<()> {
        self.run(&req.room.clone(), move |e| {
            e.admin_update_subscriptions(req)
        })
        .await
    }

    pub async fn send_data(&self, req: proto::SendDataRequest) -> Result<()> {
        self.run(&req.room.clone(), move |e| e.admin_send_data(req))
            .await
    }

    /// Disconnects everyone with SERVER_SHUTDOWN (clients are asked to reconnect) and closes
    /// every room.
    pub async fn shutdown(&self) -> Result<()> {
        self.shards.gather(|e| e.shutdown()).await?;
        Ok(())
    }
}
