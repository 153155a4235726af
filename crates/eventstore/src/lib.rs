//! The fleet's append-only event log on PostgreSQL (DESIGN.md §3).
//!
//! Streams are named `<category>-<uuid>`. An append is one transaction that takes a per-stream
//! advisory lock before it writes anything, checks the expected version, and is idempotent by
//! event id. Readers of `$all` or a category order by `(tx_id, global_position)` and read only
//! below the oldest running transaction that appends (ADR 12), so an append that commits late
//! is never skipped, and a long transaction that does not append holds back no reader.

mod append;
mod checkpoint;
mod error;
mod event;
pub mod leadership;
mod read;
mod stream;
mod subscription;
pub mod unit_of_work;

pub use append::{AppendResult, Transaction, append_in};
pub use checkpoint::Checkpoint;
pub use error::{CurrentVersion, Error};
pub use event::{NewEvent, RecordedEvent};
pub use leadership::{LeaderLock, LockLost};
pub use read::{Filter, read_stream_in};
pub use stream::{ExpectedVersion, StreamName};
pub use subscription::Subscription;
pub use unit_of_work::is_database_unavailable;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Begins a transaction that may append after writing something else, for
/// `sqlx::Pool::begin_with` (migrations/0020). Readers of the log wait for such a transaction
/// while it runs; every other transaction, however long, holds nobody back. A transaction whose
/// first write is its append needs no declaration; one that wrote before without it cannot
/// append ([`Error::UndeclaredAppend`]).
pub const BEGIN_APPENDING: &str = "BEGIN; SELECT comms_begin_appending()";

/// A handle on the log. Cheap to clone; every clone shares the pool and the local wake-up.
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
    /// Wakes this process's subscribers after a local append commits. Other processes find new
    /// events by adaptive polling: NOTIFY inside the append would serialise every commit.
    appended: Arc<Notify>,
}

impl EventStore {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            appended: Arc::new(Notify::new()),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts a transaction in which appends and the caller's own writes (read models,
    /// checkpoints, processed-message records) commit or fail together, in any order.
    pub async fn begin(&self) -> Result<Transaction<'_>> {
        Transaction::begin(self).await
    }
}
