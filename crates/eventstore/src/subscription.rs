//! A live subscription: catch up from a checkpoint, then follow the log.

use std::time::{Duration, Instant};

use crate::{Checkpoint, EventStore, Filter, RecordedEvent, Result};

/// Shortest and longest wait between polls when the log is quiet. A poll that finds events polls
/// again at once; an empty one doubles the wait. Local appends wake the subscription early.
const MIN_IDLE_WAIT: Duration = Duration::from_millis(5);
const MAX_IDLE_WAIT: Duration = Duration::from_millis(100);

pub struct Subscription {
    store: EventStore,
    filter: Filter,
    position: Checkpoint,
    batch_size: usize,
    idle_wait: Duration,
    max_idle_wait: Duration,
    /// Names the lag metric.
    name: String,
}

impl EventStore {
    /// Follows the log after `from`, filtered by `filter`. `name` labels the lag metric.
    pub fn subscribe(&self, name: &str, from: Checkpoint, filter: Filter) -> Subscription {
        Subscription {
            store: self.clone(),
            filter,
            position: from,
            batch_size: 500,
            idle_wait: MIN_IDLE_WAIT,
            max_idle_wait: MAX_IDLE_WAIT,
            name: name.to_owned(),
        }
    }
}

impl Subscription {
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Polls a quiet log at least this often (100 ms unless set): what a reader whose appends
    /// happen in other processes waits at most for a new event.
    pub fn with_max_idle_wait(mut self, wait: Duration) -> Self {
        self.max_idle_wait = wait.max(MIN_IDLE_WAIT);
        self
    }

    /// The position after the last event returned.
    pub fn position(&self) -> Checkpoint {
        self.position
    }

    /// The next events in global order, waiting until there is at least one.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>> {
        loop {
            let woken = self.store.appended.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let batch = self
                .store
                .read_all(self.position, &self.filter, self.batch_size)
                .await?;
            if let Some(last) = batch.last() {
                self.position = last.checkpoint();
                self.idle_wait = MIN_IDLE_WAIT;
                let lag = (chrono::Utc::now() - last.recorded_at)
                    .num_milliseconds()
                    .max(0);
                metrics::gauge!("comms_eventstore_reader_lag_seconds", "reader" => self.name.clone())
                    .set(lag as f64 / 1000.0);
                return Ok(batch);
            }
            metrics::gauge!("comms_eventstore_reader_lag_seconds", "reader" => self.name.clone())
                .set(0.0);
            let started = Instant::now();
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(self.idle_wait) => {}
            }
            if started.elapsed() >= self.idle_wait {
                self.idle_wait = (self.idle_wait * 2).min(self.max_idle_wait);
            }
        }
    }
}
