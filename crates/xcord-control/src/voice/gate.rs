//! Voice's join gate for the embedded SFU: before a participant joins a channel's room, the
//! admission rules are applied to the server's state now, so a member banned, kicked or
//! stripped of CONNECT after their ticket was issued, or a join beyond the user limit, is
//! refused at the door with a reason (the SDK fails fast) instead of removed after connecting.
//! The same rules run again on `participant_joined` (the only check a remote media plane allows).

use std::sync::Arc;

use livekit_protocol::participant_info::Kind;
use xcord_sfu::gate::{GateFuture, JoinGate};

use super::admission::{Refusal, Verdict};
use super::{apply, channel_of_room};
use crate::app::Services;

/// The gate; other rooms than channel rooms pass.
pub struct VoiceJoinGate {
    services: Arc<Services>,
}

impl VoiceJoinGate {
    pub fn new(services: Arc<Services>) -> Self {
        Self { services }
    }
}

/// What a refused client is told.
fn reason(why: Refusal) -> &'static str {
    match why {
        Refusal::NotMember => "not a member of this channel's community",
        Refusal::Banned => "banned from this community",
        Refusal::NoConnect => "no permission to connect to this channel",
        Refusal::ChannelFull => "the channel is full",
    }
}

impl JoinGate for VoiceJoinGate {
    fn check(&self, room: &str, identity: &str, kind: Kind) -> GateFuture {
        let services = self.services.clone();
        let channel = channel_of_room(room).map(str::to_owned);
        let identity = identity.to_owned();
        Box::pin(async move {
            // Recorders, agents and other server-side participants carry the operator's own
            // tokens: not members, not judged.
            let Some(channel) = channel.filter(|_| kind == Kind::Standard) else {
                return Ok(());
            };
            match apply::verdict(&services.db, &channel, &identity).await {
                Ok(Verdict::Admit { .. }) => Ok(()),
                Ok(Verdict::Refuse(why)) => Err(reason(why).to_owned()),
                Err(e) => {
                    // The event path still judges the participant once it joins.
                    tracing::warn!(%channel, "join gate could not read the server's state: {e}");
                    Ok(())
                }
            }
        })
    }
}
