//! What a media event means for voice, decided without I/O: given the event, what the store
//! holds (`Observed`) and the server's verdict on the participant, at `now`, the rows to write,
//! the changes to announce and what to ask of the media plane. `apply` reads, calls this, and
//! carries the decision out in one transaction.

use livekit_protocol as proto;
use xcord_sfu::events::names;

use super::VoiceState;
use super::admission::Verdict;

/// A change to announce after the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The user is now in this state (joined, flags changed, or moved from `previous`).
    Updated {
        state: VoiceState,
        previous: Option<String>,
    },
    /// The user left the channel.
    Left {
        user_id: String,
        channel_id: String,
        participant_sid: String,
    },
}

/// What the store holds that the event concerns.
#[derive(Debug, Default)]
pub struct Observed {
    /// The state keyed by the event's participant sid.
    pub same_sid: Option<VoiceState>,
    /// Every state of the event's user (joins only).
    pub user_states: Vec<VoiceState>,
    /// Every state in the event's room (room_finished only).
    pub room_states: Vec<VoiceState>,
    /// The server's verdict on the joining participant (joins only).
    pub verdict: Option<Verdict>,
}

/// A row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Insert(VoiceState),
    UpdateFlags(VoiceState),
    Delete { participant_sid: String },
}

/// What to ask of the media plane after the transaction commits.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaAction {
    /// Remove the participant and refuse the tickets it holds for the room (a new ticket,
    /// issued by the rules, is needed to come back: an SDK's automatic retries fail fast).
    Remove { identity: String },
    /// Bring the participant's live permissions to what the server decided.
    SetPermission {
        identity: String,
        permission: proto::ParticipantPermission,
    },
}

/// Everything an event leads to.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub writes: Vec<Write>,
    pub changes: Vec<Change>,
    pub media: Vec<MediaAction>,
}

/// The camera, screen-share and self-mute flags the participant's tracks show.
fn flags_from_tracks(s: &mut VoiceState, tracks: &[proto::TrackInfo]) {
    let has = |src: proto::TrackSource, unmuted: bool| {
        tracks
            .iter()
            .any(|t| t.source == src as i32 && (!unmuted || !t.muted))
    };
    s.camera = has(proto::TrackSource::Camera, true);
    s.screen_share = has(proto::TrackSource::ScreenShare, false);
    if has(proto::TrackSource::Microphone, false) {
        s.self_mute = !has(proto::TrackSource::Microphone, true);
    }
}

fn left(s: &VoiceState) -> Change {
    Change::Left {
        user_id: s.user_id.clone(),
        channel_id: s.channel_id.clone(),
        participant_sid: s.participant_sid.clone(),
    }
}

/// Decides what `event` (in the room of `channel_id`) changes, at `now`.
pub fn decide(
    event: &proto::WebhookEvent,
    channel_id: &str,
    observed: &Observed,
    now: i64,
) -> Decision {
    let mut d = Decision::default();
    let participant = event.participant.as_ref();
    match event.event.as_str() {
        names::PARTICIPANT_JOINED => {
            let Some(p) = participant else { return d };
            if observed.same_sid.is_some() {
                return d;
            }
            let (moderation, permission) = match &observed.verdict {
                Some(Verdict::Admit {
                    moderation,
                    permission,
                }) => (*moderation, permission),
                Some(Verdict::Refuse(_)) => {
                    d.media.push(MediaAction::Remove {
                        identity: p.identity.clone(),
                    });
                    return d;
                }
                None => return d,
            };
            // One voice state per user: an older one (another channel, or a replaced
            // connection) is superseded by this join — a move is one change.
            let mut previous = None;
            for old in &observed.user_states {
                d.writes.push(Write::Delete {
                    participant_sid: old.participant_sid.clone(),
                });
                if old.channel_id != channel_id {
                    previous = Some(old.channel_id.clone());
                }
            }
            let mut s = VoiceState {
                user_id: p.identity.clone(),
                channel_id: channel_id.to_owned(),
                participant_sid: p.sid.clone(),
                self_mute: false,
                self_deaf: false,
                server_mute: moderation.server_mute,
                server_deaf: moderation.server_deaf,
                camera: false,
                screen_share: false,
                joined_at: now,
            };
            flags_from_tracks(&mut s, &p.tracks);
            d.writes.push(Write::Insert(s.clone()));
            d.changes.push(Change::Updated { state: s, previous });
            if p.permission.as_ref() != Some(permission) {
                d.media.push(MediaAction::SetPermission {
                    identity: p.identity.clone(),
                    permission: permission.clone(),
                });
            }
        }
        names::PARTICIPANT_LEFT | names::PARTICIPANT_CONNECTION_ABORTED => {
            if let Some(s) = &observed.same_sid {
                d.writes.push(Write::Delete {
                    participant_sid: s.participant_sid.clone(),
                });
                d.changes.push(left(s));
            }
        }
        names::TRACK_PUBLISHED | names::TRACK_UNPUBLISHED => {
            if let (Some(p), Some(before)) = (participant, &observed.same_sid) {
                let mut s = before.clone();
                flags_from_tracks(&mut s, &p.tracks);
                if s != *before {
                    d.writes.push(Write::UpdateFlags(s.clone()));
                    d.changes.push(Change::Updated {
                        state: s,
                        previous: None,
                    });
                }
            }
        }
        names::ROOM_FINISHED => {
            for s in &observed.room_states {
                d.writes.push(Write::Delete {
                    participant_sid: s.participant_sid.clone(),
                });
                d.changes.push(left(s));
            }
        }
        _ => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::admission::Refusal;
    use crate::voice::moderation::Moderation;

    const NOW: i64 = 1_800_000_000_000;

    fn joined(
        identity: &str,
        sid: &str,
        permission: Option<proto::ParticipantPermission>,
    ) -> proto::WebhookEvent {
        proto::WebhookEvent {
            event: names::PARTICIPANT_JOINED.into(),
            participant: Some(proto::ParticipantInfo {
                identity: identity.into(),
                sid: sid.into(),
                permission,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn state(user: &str, channel: &str, sid: &str) -> VoiceState {
        VoiceState {
            user_id: user.into(),
            channel_id: channel.into(),
            participant_sid: sid.into(),
            self_mute: false,
            self_deaf: false,
            server_mute: false,
            server_deaf: false,
            camera: false,
            screen_share: false,
            joined_at: 1,
        }
    }

    fn admit(server_mute: bool) -> Verdict {
        Verdict::Admit {
            moderation: Moderation {
                server_mute,
                server_deaf: false,
            },
            permission: proto::ParticipantPermission {
                can_publish: true,
                can_subscribe: true,
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_refused_join_writes_nothing_and_removes_the_participant() {
        for why in [Refusal::Banned, Refusal::ChannelFull] {
            let observed = Observed {
                verdict: Some(Verdict::Refuse(why)),
                user_states: vec![state("u1", "other", "PA_old")],
                ..Default::default()
            };
            let d = decide(&joined("u1", "PA_1", None), "ch", &observed, NOW);
            assert!(d.writes.is_empty() && d.changes.is_empty(), "{d:?}");
            assert_eq!(
                d.media,
                vec![MediaAction::Remove {
                    identity: "u1".into()
                }]
            );
        }
    }

    #[test]
    fn an_admitted_join_moves_the_user_keeps_moderation_and_fixes_stale_grants() {
        let observed = Observed {
            verdict: Some(admit(true)),
            user_states: vec![state("u1", "other", "PA_old")],
            ..Default::default()
        };
        let d = decide(&joined("u1", "PA_1", None), "ch", &observed, NOW);
        let Some(Write::Insert(s)) = d.writes.last() else {
            panic!("{d:?}")
        };
        assert!(s.server_mute && s.joined_at == NOW && s.channel_id == "ch");
        assert_eq!(
            d.writes[0],
            Write::Delete {
                participant_sid: "PA_old".into()
            }
        );
        assert!(matches!(&d.changes[0], Change::Updated { previous: Some(p), .. } if p == "other"));
        assert!(matches!(d.media[..], [MediaAction::SetPermission { .. }]));

        // The ticket already said exactly this: nothing to push.
        let Some(Verdict::Admit { permission, .. }) = &observed.verdict else {
            unreachable!()
        };
        let d = decide(
            &joined("u1", "PA_1", Some(permission.clone())),
            "ch",
            &observed,
            NOW,
        );
        assert!(d.media.is_empty());
    }

    #[test]
    fn a_known_sid_and_a_late_leave_are_no_ops() {
        let observed = Observed {
            same_sid: Some(state("u1", "ch", "PA_1")),
            verdict: Some(admit(false)),
            ..Default::default()
        };
        assert_eq!(
            decide(&joined("u1", "PA_1", None), "ch", &observed, NOW),
            Decision::default()
        );
        let mut leave = joined("u1", "PA_gone", None);
        leave.event = names::PARTICIPANT_LEFT.into();
        assert_eq!(
            decide(&leave, "ch", &Observed::default(), NOW),
            Decision::default()
        );
    }
}
