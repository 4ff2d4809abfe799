//! Reading calls (only their two parties see them) and telling both parties about a change.

use super::machine::Call;
use super::{CALL_UPDATE, CallView, store};
use crate::app::Services;
use crate::error::{Error, Result};
use crate::realtime::hub::{Audience, GatewayEvent};

/// The call, for one of its parties (anyone else: 404).
pub async fn get(services: &Services, user_id: &str, id: &str) -> Result<CallView> {
    let call = store::get(&services.db, id)
        .await?
        .filter(|c| c.is_party(user_id))
        .ok_or_else(|| Error::not_found("call not found"))?;
    Ok(CallView::from(&call))
}

/// `CALL_UPDATE` to every connection of both parties.
pub fn announce(services: &Services, call: &Call) {
    services.hub.publish(
        Audience::Users(vec![call.caller_id.clone(), call.callee_id.clone()]),
        GatewayEvent::new(CALL_UPDATE, CallView::from(call)),
    );
}
