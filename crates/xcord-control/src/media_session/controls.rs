//! What the controls any of the user's connections sends do to the session: mute and deafen
//! (deafen mutes too; enforced at the SFU through effects while the session has a room), camera, screen share and
//! picture-in-picture (relayed to the owner through the snapshot), claiming ownership, and the
//! owner's report of its media connection. Part of the pure machine (`machine::decide` fences
//! the epoch first).

use super::machine::{Effect, Refusal};
use super::model::{ConnectionState, Owner, Pip, Session};

/// The controls any connection may send.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    SetMute(bool),
    SetDeafen(bool),
    SetCamera(bool),
    SetScreenShare(bool),
    SetPip(Pip),
    ClaimOwner {
        connection_id: String,
    },
    ReportConnection {
        connection_id: String,
        state: ConnectionState,
    },
}

pub(super) fn apply(
    s: &mut Session,
    control: Control,
    fx: &mut Vec<Effect>,
) -> Result<(), Refusal> {
    match control {
        Control::SetMute(muted) => {
            if muted
                && !s.controls.muted
                && let Some(room) = &s.room
            {
                fx.push(Effect::MuteMicrophone { room: room.clone() });
            }
            s.controls.muted = muted;
        }
        Control::SetDeafen(deafened) => {
            // Deafened means muted too (undeafening leaves the microphone as it is).
            if deafened {
                apply(s, Control::SetMute(true), fx)?;
            }
            if deafened != s.controls.deafened
                && let Some(room) = &s.room
            {
                fx.push(Effect::Deafen {
                    room: room.clone(),
                    deafened,
                });
            }
            s.controls.deafened = deafened;
        }
        Control::SetCamera(on) => s.controls.camera = on,
        Control::SetScreenShare(on) => s.controls.screen_share = on,
        Control::SetPip(pip) => s.pip = pip,
        Control::ClaimOwner { connection_id } => {
            let Some(c) = s.connections.iter().find(|c| c.id == connection_id) else {
                return Err(Refusal::NotLive(connection_id));
            };
            let owner = Owner {
                connection_id: c.id.clone(),
                kind: c.kind,
            };
            if s.owner.as_ref() != Some(&owner) {
                s.owner = Some(owner);
                s.epoch += 1;
                if let Some(room) = &s.room {
                    s.connection = ConnectionState::Connecting;
                    s.unattended_since = None;
                    fx.push(Effect::Connect {
                        connection_id,
                        room: room.clone(),
                        epoch: s.epoch,
                    });
                }
            }
        }
        Control::ReportConnection {
            connection_id,
            state,
        } => {
            if s.owner.as_ref().map(|o| o.connection_id.as_str()) != Some(connection_id.as_str()) {
                return Err(Refusal::NotOwner);
            }
            if s.is_active() {
                s.connection = state;
            }
        }
    }
    Ok(())
}
