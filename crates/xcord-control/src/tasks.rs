//! The control plane's background tasks, owned in one place (the pattern of mini-redis's
//! listener): every long-running task (media-event handler, reconciler, gateway sessions, event
//! forwarders) is spawned here, watches one shutdown signal, and [`Tasks::shutdown`] waits for
//! all of them to finish, up to a deadline.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A set of tasks with one shutdown signal.
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns a task that runs to its own end; it should watch [`Tasks::shutdown_signal`] if
    /// it would otherwise run forever.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// Spawns a task that is dropped at the shutdown signal (for loops with nothing to finish).
    pub fn spawn_until_shutdown<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Resolves when shutdown has begun.
    pub fn shutdown_signal(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Signals shutdown without waiting.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Signals shutdown, then waits until every task has ended or `deadline` has passed.
    /// Returns whether all ended.
    pub async fn shutdown(&self, deadline: Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_loops_and_waits_for_finishing_work() {
        let tasks = Tasks::new();
        tasks.spawn_until_shutdown(std::future::pending());
        let finished = Arc::new(AtomicBool::new(false));
        let signal = tasks.shutdown_signal();
        let done = finished.clone();
        tasks.spawn(async move {
            signal.cancelled().await;
            // finishing work after the signal (say, draining a queue)
            tokio::time::sleep(Duration::from_millis(50)).await;
            done.store(true, Ordering::SeqCst);
        });
        assert!(tasks.shutdown(Duration::from_secs(1)).await);
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_task_makes_shutdown_report_the_deadline() {
        let tasks = Tasks::new();
        tasks.spawn(std::future::pending());
        assert!(!tasks.shutdown(Duration::from_millis(100)).await);
    }
}
