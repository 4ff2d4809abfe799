//! Rooms: who is in them, their settings and lifetime (closed `departure_timeout` after the last
//! participant leaves, or `empty_timeout` after creation when nobody ever joined).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;

use super::{Engine, ParticipantKey, TrackKey};
use crate::time::unix_ms;

pub struct Room {
    pub sid: String,
    pub name: String,
    pub metadata: String,
    pub created_ms: i64,
    pub created: Instant,
    pub empty_timeout: Duration,
    pub departure_timeout: Duration,
    pub max_participants: u32,
    pub participants: Vec<ParticipantKey>,
    /// When the last participant left; `None` while occupied or never joined.
    pub last_left: Option<Instant>,
    /// Published tracks by sid.
    pub track_sids: HashMap<String, TrackKey>,
    /// Who was last announced as speaking (participant sid, level), loudest first.
    pub speakers: Vec<(String, f32)>,
}

impl Room {
    pub fn new(
        name: &str,
        empty_timeout: Duration,
        departure_timeout: Duration,
        now: Instant,
    ) -> Self {
        Self {
            sid: crate::ids::room_sid(),
            name: name.to_owned(),
            metadata: String::new(),
            created_ms: unix_ms(),
            created: now,
            empty_timeout,
            departure_timeout,
            max_participants: 0,
            participants: Vec::new(),
            last_left: None,
            track_sids: HashMap::new(),
            speakers: Vec::new(),
        }
    }

    pub fn proto(&self, num_participants: u32, num_publishers: u32) -> proto::Room {
        proto::Room {
            sid: self.sid.clone(),
            name: self.name.clone(),
            empty_timeout: self.empty_timeout.as_secs() as u32,
            departure_timeout: self.departure_timeout.as_secs() as u32,
            max_participants: self.max_participants,
            creation_time: self.created_ms / 1000,
            creation_time_ms: self.created_ms,
            metadata: self.metadata.clone(),
            num_participants,
            num_publishers,
            ..Default::default()
        }
    }

    /// Whether an empty room has outlived its timeout at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        if !self.participants.is_empty() {
            return false;
        }
        match self.last_left {
            Some(left) => now.duration_since(left) >= self.departure_timeout,
            None => now.duration_since(self.created) >= self.empty_timeout,
        }
    }
}

impl Engine {
    /// The room as clients see it, with live counts.
    pub(super) fn room_proto(&self, name: &str) -> Option<proto::Room> {
        let room = self.rooms.get(name)?;
        let visible = room
            .participants
            .iter()
            .filter_map(|participant| self.participants.get(*participant))
            .filter(|p| !p.is_hidden());
        let (mut count, mut publishers) = (0, 0);
        for p in visible {
            count += 1;
            if !p.tracks.is_empty() {
                publishers += 1;
            }
        }
        Some(room.proto(count, publishers))
    }

    /// Closes expired rooms and drops participants that never connected or fell behind.
    pub(super) fn housekeeping(&mut self, now: Instant) {
        let stale: Vec<(ParticipantKey, proto::DisconnectReason)> = self
            .participants
            .iter()
            .filter_map(|(participant, p)| {
                if p.lagging {
                    Some((participant, proto::DisconnectReason::SignalClose))
                } else if p.state != proto::participant_info::State::Active
                    && now.duration_since(p.joined) > self.cfg.connect_timeout
                {
                    Some((participant, proto::DisconnectReason::ConnectionTimeout))
                } else {
                    None
                }
            })
            .collect();
        let unresumed = self.resume_expired();
        for participant in unresumed {
            tracing::info!("signal connection not resumed in time");
            self.remove_participant(participant, proto::DisconnectReason::SignalClose, None);
        }
        for (participant, reason) in stale {
            tracing::info!(?reason, "removing participant");
            self.remove_participant(participant, reason, None);
        }
        let expired: Vec<String> = self
            .rooms
            .values()
            .filter(|r| r.expired(now))
            .map(|r| r.name.clone())
            .collect();
        for name in expired {
            self.close_room(&name);
        }
    }
}

impl Engine {
    /// Registers a new room and announces it.
    pub(super) fn insert_room(&mut self, room: Room) {
        tracing::info!(room = %room.name, sid = %room.sid, "room created");
        let proto = room.proto(0, 0);
        let name = room.name.clone();
        self.rooms.insert(name, room);
        self.events.publish(proto::WebhookEvent {
            event: crate::events::names::ROOM_STARTED.into(),
            room: Some(proto),
            ..Default::default()
        });
    }

    /// Removes a room (which must be empty) and announces it.
    pub(super) fn close_room(&mut self, name: &str) {
        if let Some(room) = self.rooms.remove(name) {
            tracing::info!(room = %room.name, sid = %room.sid, "room closed");
            self.events.publish(proto::WebhookEvent {
                event: crate::events::names::ROOM_FINISHED.into(),
                room: Some(room.proto(0, 0)),
                ..Default::default()
            });
        }
    }

    /// Publishes an event about `room`, optionally a participant and a track.
    pub(super) fn emit(
        &self,
        event: &str,
        room: &str,
        participant: Option<proto::ParticipantInfo>,
        track: Option<proto::TrackInfo>,
    ) {
        self.events.publish(proto::WebhookEvent {
            event: event.into(),
            room: self.room_proto(room),
            participant,
            track,
            ..Default::default()
        });
    }

    pub(super) fn emit_track(&self, event: &str, participant: ParticipantKey, tk: TrackKey) {
        let (Some(p), Some(t)) = (self.participants.get(participant), self.tracks.get(tk)) else {
            return;
        };
        self.emit(
            event,
            &p.room,
            Some(p.info(&self.tracks)),
            Some(t.info.clone()),
        );
    }
}

impl Engine {
    /// Closes every audio track's level window and tells each room who started or stopped
    /// speaking (`SpeakersChanged`, sent only when that set changed). Hidden participants are
    /// never announced.
    pub(super) fn update_speakers(&mut self) {
        let mut announcements = Vec::new();
        for (name, room) in &mut self.rooms {
            let mut readings = Vec::new();
            for &pk in &room.participants {
                let Some(p) = self.participants.get(pk) else {
                    continue;
                };
                for &tk in &p.tracks {
                    if let Some(t) = self.tracks.get_mut(tk)
                        && t.kind == str0m::media::MediaKind::Audio
                    {
                        let reading = t.level.close_window();
                        if !p.is_hidden() {
                            readings.push((p.sid.clone(), reading));
                        }
                    }
                }
            }
            let now = super::speakers::speaking(readings);
            let changed = super::speakers::changes(&room.speakers, &now);
            if !changed.is_empty() {
                let speaking = now
                    .iter()
                    .filter_map(|(sid, _)| {
                        room.participants
                            .iter()
                            .filter_map(|pk| self.participants.get(*pk))
                            .find(|p| p.sid == *sid)
                            .map(|p| p.identity.clone())
                    })
                    .collect();
                self.events.publish_speakers(crate::events::SpeakersUpdate {
                    room: name.clone(),
                    speaking,
                });
                announcements.push((name.clone(), changed));
            }
            room.speakers = now;
        }
        for (room, speakers) in announcements {
            self.send_to_room(&room, None, false, |_| {
                Resp::SpeakersChanged(proto::SpeakersChanged {
                    speakers: speakers.clone(),
                })
            });
        }
    }
}

impl Engine {
    /// Evaluates every participant's connection quality and tells each room whose band changed
    /// (`ConnectionQualityUpdate`). Hidden participants are evaluated but never announced.
    pub(super) fn update_quality(&mut self) {
        let mut announcements = Vec::new();
        for (name, room) in &self.rooms {
            let mut updates = Vec::new();
            for &pk in &room.participants {
                let Some(p) = self.participants.get_mut(pk) else {
                    continue;
                };
                if let Some((quality, score)) = p.quality.evaluate()
                    && !p.is_hidden()
                {
                    updates.push(proto::ConnectionQualityInfo {
                        participant_sid: p.sid.clone(),
                        quality: quality as i32,
                        score,
                    });
                }
            }
            if !updates.is_empty() {
                announcements.push((name.clone(), updates));
            }
        }
        for (room, updates) in announcements {
            self.send_to_room(&room, None, false, |_| {
                Resp::ConnectionQuality(proto::ConnectionQualityUpdate {
                    updates: updates.clone(),
                })
            });
        }
    }
}
