//! The live timer task: it waits on the injected clock until the earliest instant a live
//! session ends by itself (its maximum duration) or fails (its host never connected, or lost
//! the connection and did not come back, within the grace periods), or until a change may have
//! moved one (a start, the host's connection or its loss), then
//! brings every due session up to date — which ends it, disconnects everyone, closes its room
//! and announces it. On a manual clock nothing fires until a test moves the clock.

use std::sync::Arc;

use super::machine::{HOST_CONNECT_GRACE_MS, HOST_RECONNECT_GRACE_MS};
use super::{service, store};
use crate::app::Services;
use crate::error::Result;

/// Starts the task (registered by the crate root; ends at the services' shutdown).
pub fn start(services: &Arc<Services>) {
    let services = services.clone();
    services.tasks.clone().spawn_until_shutdown(run(services));
}

async fn run(services: Arc<Services>) {
    loop {
        let woken = services.live.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let next = match store::earliest_deadline(
            &services.db,
            HOST_CONNECT_GRACE_MS,
            HOST_RECONNECT_GRACE_MS,
        )
        .await
        {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!("live deadlines unreadable: {e}");
                Some(services.clock.now_ms() + 1_000)
            }
        };
        match next {
            Some(t) if t <= services.clock.now_ms() => {
                if let Err(e) = tick_due(&services).await {
                    tracing::warn!("live timers failed: {e}");
                    let retry = services.clock.now_ms() + 1_000;
                    tokio::select! {
                        () = services.clock.sleep_until_ms(retry) => {}
                        () = &mut woken => {}
                    }
                }
            }
            Some(t) => {
                tokio::select! {
                    () = services.clock.sleep_until_ms(t) => {}
                    () = &mut woken => {}
                }
            }
            None => woken.await,
        }
    }
}

/// Brings every session whose deadline has come up to date (ends or fails it).
pub async fn tick_due(services: &Services) -> Result<()> {
    let now = services.clock.now_ms();
    for id in store::due(
        &services.db,
        now,
        HOST_CONNECT_GRACE_MS,
        HOST_RECONNECT_GRACE_MS,
    )
    .await?
    {
        service::get(services, &id).await?;
    }
    Ok(())
}
