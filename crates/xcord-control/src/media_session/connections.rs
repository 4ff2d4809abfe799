//! What the gateway tells media sessions about a user's connections: one identified (or
//! resumed), one heartbeat (its lease starts again), one's socket closed. Ownership follows
//! (`machine`): a session without an owner takes the new connection, a closed owner hands off.

use super::machine::Input;
use super::unit::Unit;
use crate::app::Services;
use crate::error::Result;
use crate::realtime::session::ConnectionKind;

async fn change(services: &Services, user_id: &str, input: Input) -> Result<()> {
    let mut unit = Unit::begin(services).await;
    let _ = unit.feed(user_id, input).await?;
    unit.commit(None).await
}

pub async fn opened(
    services: &Services,
    user_id: &str,
    connection_id: &str,
    kind: ConnectionKind,
) -> Result<()> {
    change(
        services,
        user_id,
        Input::Opened {
            connection_id: connection_id.to_owned(),
            kind,
        },
    )
    .await
}

pub async fn heartbeat(services: &Services, user_id: &str, connection_id: &str) -> Result<()> {
    change(
        services,
        user_id,
        Input::Heartbeat {
            connection_id: connection_id.to_owned(),
        },
    )
    .await
}

pub async fn closed(services: &Services, user_id: &str, connection_id: &str) -> Result<()> {
    change(
        services,
        user_id,
        Input::Closed {
            connection_id: connection_id.to_owned(),
        },
    )
    .await
}
