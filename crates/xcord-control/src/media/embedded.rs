//! The in-process media plane: direct calls into this process's SFU; events copied from its bus.

use async_trait::async_trait;
use livekit_protocol as proto;
use tokio::sync::mpsc;
use xcord_sfu::Sfu;
use xcord_sfu::rooms::{RoomService, RoomServiceError};

use super::{MediaError, MediaEvent, MediaPlane};
use crate::tasks::Tasks;

pub struct EmbeddedMediaPlane {
    rooms: RoomService,
    bus: xcord_sfu::events::EventBus,
}

impl EmbeddedMediaPlane {
    /// Wraps `sfu`; its events are forwarded to `events` from now on, by a task of `tasks`.
    /// At shutdown the forwarder passes on what the SFU already emitted (the leaves of the
    /// participants it disconnected), then ends, closing `events`.
    pub fn new(sfu: &Sfu, events: mpsc::Sender<MediaEvent>, tasks: &Tasks) -> Self {
        let mut rx = sfu.events().subscribe();
        let shutdown = tasks.shutdown_signal();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    e = rx.recv() => match e {
                        Some(e) => {
                            if events.send(e).await.is_err() {
                                return;
                            }
                        }
                        None => return,
                    },
                    () = shutdown.cancelled() => break,
                }
            }
            while let Ok(e) = rx.try_recv() {
                if events.send(e).await.is_err() {
                    return;
                }
            }
        });
        Self {
            rooms: sfu.rooms(),
            bus: sfu.events().clone(),
        }
    }
}

impl From<RoomServiceError> for MediaError {
    fn from(e: RoomServiceError) -> Self {
        match e {
            RoomServiceError::NotFound(m) => MediaError::NotFound(m),
            RoomServiceError::InvalidArgument(m) => MediaError::Invalid(m),
            RoomServiceError::Unavailable => MediaError::Unavailable(e.to_string()),
        }
    }
}

#[async_trait]
impl MediaPlane for EmbeddedMediaPlane {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn create_room(&self, req: proto::CreateRoomRequest) -> Result<proto::Room, MediaError> {
        Ok(self.rooms.create_room(req).await?)
    }

    async fn list_rooms(&self, names: Vec<String>) -> Result<Vec<proto::Room>, MediaError> {
        Ok(self.rooms.list_rooms(names).await?)
    }

    async fn delete_room(&self, room: &str) -> Result<(), MediaError> {
        Ok(self.rooms.delete_room(room.to_owned()).await?)
    }

    async fn update_room_metadata(
        &self,
        room: &str,
        metadata: &str,
    ) -> Result<proto::Room, MediaError> {
        Ok(self
            .rooms
            .update_room_metadata(room.to_owned(), metadata.to_owned())
            .await?)
    }

    async fn list_participants(
        &self,
        room: &str,
    ) -> Result<Vec<proto::ParticipantInfo>, MediaError> {
        Ok(self.rooms.list_participants(room.to_owned()).await?)
    }

    async fn get_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<proto::ParticipantInfo, MediaError> {
        Ok(self
            .rooms
            .get_participant(room.to_owned(), identity.to_owned())
            .await?)
    }

    async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), MediaError> {
        Ok(self
            .rooms
            .remove_participant(room.to_owned(), identity.to_owned())
            .await?)
    }

    fn speakers(&self) -> Option<tokio::sync::broadcast::Receiver<super::SpeakersUpdate>> {
        Some(self.bus.subscribe_speakers())
    }

    async fn revoke_participant(
        &self,
        room: &str,
        identity: &str,
        token_lifetime: std::time::Duration,
    ) -> Result<bool, MediaError> {
        self.rooms
            .revoke_participant(room.to_owned(), identity.to_owned(), token_lifetime)
            .await?;
        Ok(true)
    }

    async fn mute_published_track(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
        muted: bool,
    ) -> Result<proto::TrackInfo, MediaError> {
        Ok(self
            .rooms
            .mute_published_track(proto::MuteRoomTrackRequest {
                room: room.to_owned(),
                identity: identity.to_owned(),
                track_sid: track_sid.to_owned(),
                muted,
            })
            .await?)
    }

    async fn update_participant(
        &self,
        req: proto::UpdateParticipantRequest,
    ) -> Result<proto::ParticipantInfo, MediaError> {
        Ok(self.rooms.update_participant(req).await?)
    }

    async fn update_subscriptions(
        &self,
        room: &str,
        identity: &str,
        track_sids: Vec<String>,
        subscribe: bool,
    ) -> Result<(), MediaError> {
        Ok(self
            .rooms
            .update_subscriptions(proto::UpdateSubscriptionsRequest {
                room: room.to_owned(),
                identity: identity.to_owned(),
                track_sids,
                subscribe,
                ..Default::default()
            })
            .await?)
    }

    async fn send_data(&self, req: proto::SendDataRequest) -> Result<(), MediaError> {
        Ok(self.rooms.send_data(req).await?)
    }
}
