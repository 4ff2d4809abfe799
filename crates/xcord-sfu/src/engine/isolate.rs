//! Fault isolation. The engine is one thread serving every room, so a panic while handling one
//! participant's input — a signal request, a datagram or timeout of one of its peers — must not
//! end it. Each such unit of work runs under `catch_unwind`; when one panics, the panic is
//! logged with what was being done, and the participant it concerned is removed (told to
//! reconnect: `STATE_MISMATCH`), since its state may be half-updated. The process and every
//! other participant and room go on. Work that concerns no single participant (the room
//! service, housekeeping) is isolated the same way, without a removal.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use livekit_protocol as proto;

use super::{Engine, ParticipantKey, PeerKey};

/// The text of a panic payload.
fn describe(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(non-text panic payload)"
    }
}

impl Engine {
    /// Runs `work`; if it panics, logs `what` and removes `participant` (if given). Returns
    /// whether `work` completed.
    pub(super) fn isolated(
        &mut self,
        what: &'static str,
        participant: Option<ParticipantKey>,
        work: impl FnOnce(&mut Engine),
    ) -> bool {
        let Err(payload) = catch_unwind(AssertUnwindSafe(|| work(self))) else {
            return true;
        };
        let sid = participant
            .and_then(|pk| self.participants.get(pk))
            .map(|p| p.sid.clone());
        tracing::error!(what, participant = ?sid, reason = describe(payload.as_ref()), "panic in the media engine; the participant it concerned is dropped");
        if let Some(pk) = participant {
            let leave = proto::LeaveRequest {
                can_reconnect: true,
                reason: proto::DisconnectReason::StateMismatch as i32,
                action: proto::leave_request::Action::Reconnect as i32,
                ..Default::default()
            };
            let removed = catch_unwind(AssertUnwindSafe(|| {
                self.remove_participant(pk, proto::DisconnectReason::StateMismatch, Some(leave))
            }));
            if removed.is_err() {
                // Removal itself failed half-way: forget the participant so it cannot panic again.
                tracing::error!(participant = ?sid, "removing the participant panicked too; it is forgotten");
                if let Some(mut p) = self.participants.remove(pk) {
                    p.close();
                }
            }
        }
        false
    }

    /// The participant a peer belongs to.
    pub(super) fn owner_of(&self, peer: PeerKey) -> Option<ParticipantKey> {
        self.peers.get(peer).map(|p| p.participant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outbound;
    use crate::engine::testing::{engine, join};

    #[tokio::test]
    async fn a_panic_for_one_participant_drops_only_that_participant() {
        let mut e = engine();
        let (a, mut a_rx) = join(&mut e, "r1", "alice");
        let (b, _b_rx) = join(&mut e, "r1", "bob");
        let (c, _c_rx) = join(&mut e, "r2", "carol");
        assert!(!e.isolated("test input", Some(a), |_| panic!("boom")));
        assert!(
            !e.participants.contains_key(a),
            "the participant whose input panicked is gone"
        );
        assert!(e.participants.contains_key(b) && e.participants.contains_key(c));
        let mut told = None;
        while let Ok(m) = a_rx.try_recv() {
            if let Outbound::Signal(r) = m
                && let Some(proto::signal_response::Message::Leave(l)) = r.message
            {
                told = Some(l);
            }
        }
        let leave = told.expect("the dropped participant is told");
        assert_eq!(leave.reason, proto::DisconnectReason::StateMismatch as i32);
        assert_eq!(leave.action, proto::leave_request::Action::Reconnect as i32);
        // the engine keeps serving the others
        assert!(e.isolated("test input", Some(b), |e| e.update_speakers()));
        assert_eq!(e.rooms.get("r1").map(|r| r.participants.len()), Some(1));
        // work that concerns nobody in particular removes nobody
        assert!(!e.isolated("housekeeping", None, |_| panic!("boom")));
        assert_eq!(e.participants.len(), 2);
    }
}
