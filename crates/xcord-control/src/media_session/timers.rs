//! The timer task: it waits on the injected clock until the earliest deadline of any session or
//! call (or until a change may have moved one), then ticks everything that is due. On a manual
//! clock nothing fires until a test moves the clock.

use std::sync::Arc;

use super::machine::Input;
use super::store;
use super::unit::Unit;
use crate::app::Services;
use crate::calls::machine::CallInput;
use crate::calls::store as call_store;
use crate::error::Result;

/// Starts the task (registered by the crate root; ends at the services' shutdown).
pub fn start(services: &Arc<Services>) {
    let services = services.clone();
    services.tasks.clone().spawn_until_shutdown(run(services));
}

async fn earliest(services: &Services) -> Result<Option<i64>> {
    let sessions = store::earliest_deadline(&services.db).await?;
    let calls = call_store::earliest_deadline(&services.db).await?;
    Ok(sessions.into_iter().chain(calls).min())
}

async fn run(services: Arc<Services>) {
    let runtime = &services.media_sessions;
    loop {
        let woken = runtime.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let next = match earliest(&services).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!("media session deadlines unreadable: {e}");
                let retry = services.clock.now_ms() + 1_000;
                tokio::select! {
                    () = services.clock.sleep_until_ms(retry) => {}
                    () = &mut woken => {}
                }
                continue;
            }
        };
        match next {
            Some(t) if t <= services.clock.now_ms() => {
                if let Err(e) = tick_due(&services).await {
                    // Not again at once: a second later, or at the next change.
                    tracing::warn!("media session timers failed: {e}");
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

/// Ticks every call and session whose deadline has come (one unit each).
pub async fn tick_due(services: &Services) -> Result<()> {
    let now = services.clock.now_ms();
    for call_id in call_store::due(&services.db, now).await? {
        let mut unit = Unit::begin(services).await;
        let _ = unit.feed_call(&call_id, CallInput::Tick).await?;
        unit.commit(None).await?;
    }
    for user_id in store::due(&services.db, now).await? {
        let mut unit = Unit::begin(services).await;
        let _ = unit.feed(&user_id, Input::Tick).await?;
        unit.commit(None).await?;
    }
    Ok(())
}
