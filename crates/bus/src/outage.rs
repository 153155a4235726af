//! A consumer's view of the database being down: how long it holds its messages (and
//! attempts against them do not count), when it gives them back to the queue for replicas whose
//! database answers, and how it knows the database is back.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tracing::{info, warn};

use crate::{HandleError, RetryPolicy};

/// A transaction applying messages that takes longer than this is abandoned as a database that
/// does not answer (a link gone silent would otherwise hold the messages forever).
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages are held through a database outage this long, then given back to the queue.
const HOLD_AT_MOST: Duration = Duration::from_secs(10);

/// Waits until the database answers again (after the consumer gave its messages back); false
/// if shutdown came first.
pub(crate) async fn wait_for_database<S: Future<Output = ()>>(
    pool: &PgPool,
    queue: &str,
    mut shutdown: std::pin::Pin<&mut S>,
) -> bool {
    warn!(
        queue,
        "the database is unreachable; messages given back to the queue until it answers"
    );
    let mut pause = Duration::from_millis(250);
    loop {
        let ping = sqlx::query("SELECT 1").execute(pool);
        if let Ok(Ok(_)) = tokio::time::timeout(APPLY_TIMEOUT, ping).await {
            info!(queue, "the database answers; consuming again");
            return true;
        }
        tokio::select! {
            () = &mut shutdown => return false,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// A dependency that is down, as one consumer sees it: the first failure is a warning, the
/// wait grows to the policy's longest delay, and the recovery is logged with how long it took.
#[derive(Default)]
pub(crate) struct Outage {
    started: Option<Instant>,
    failures: u32,
}

impl Outage {
    /// An attempt begun at `attempt` failed for want of the dependency: the outage dates from
    /// the first such attempt (an unanswered one began long before it failed).
    pub(crate) fn failed(
        &mut self,
        queue: &str,
        error: &anyhow::Error,
        policy: RetryPolicy,
        attempt: Instant,
    ) -> Duration {
        self.failures += 1;
        if self.started.is_none() {
            self.started = Some(attempt);
            warn!(queue, error = %format!("{error:#}"), "a dependency is down; holding messages until it is back");
            metrics::gauge!("comms_consumer_held", "queue" => queue.to_owned()).set(1.0);
        }
        policy.delay(self.failures)
    }

    /// True once the outage has lasted [`HOLD_AT_MOST`]: time to give the messages back.
    pub(crate) fn held_too_long(&self) -> bool {
        self.started
            .is_some_and(|started| started.elapsed() >= HOLD_AT_MOST)
    }

    pub(crate) fn over(&mut self, queue: &str) {
        if let Some(started) = self.started.take() {
            info!(
                queue,
                held_ms = started.elapsed().as_millis() as u64,
                "dependency back; consuming again"
            );
            metrics::gauge!("comms_consumer_held", "queue" => queue.to_owned()).set(0.0);
        }
        self.failures = 0;
    }
}

/// `applying`, or [`HandleError::Unavailable`] if the database has not answered it within
/// [`APPLY_TIMEOUT`] (its transaction is then dropped, and rolled back).
pub(crate) async fn answered_in_time<T>(
    applying: impl Future<Output = Result<T, HandleError>>,
) -> Result<T, HandleError> {
    match tokio::time::timeout(APPLY_TIMEOUT, applying).await {
        Ok(outcome) => outcome,
        Err(_) => Err(HandleError::Unavailable(anyhow::anyhow!(
            "the database did not answer within {APPLY_TIMEOUT:?}"
        ))),
    }
}
