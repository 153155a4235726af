//! Appending: one call of `comms_append` (migrations/0005, 0016), which locks the stream, checks
//! idempotency, tenant, expected version and transaction order, and inserts — in a single round
//! trip.

use serde_json::Value;
use sqlx::postgres::PgDatabaseError;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use crate::{CurrentVersion, Error, EventStore, ExpectedVersion, NewEvent, Result, StreamName};

/// What an append left the stream at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's version after the append: pass it as `Exact` to the next append.
    pub next_expected_version: u64,
    /// True when every event was already stored by an earlier attempt of this same append.
    pub already_stored: bool,
}

/// A transaction on the store. Appends and the caller's own writes commit together; committing
/// through this type wakes this process's subscribers. A failed append aborts the transaction.
pub struct Transaction<'s> {
    store: &'s EventStore,
    tx: sqlx::Transaction<'static, Postgres>,
}

impl<'s> Transaction<'s> {
    /// Begins a transaction that may append after writing something else (migrations/0020).
    pub(crate) async fn begin(store: &'s EventStore) -> Result<Self> {
        let tx = store.pool.begin_with(crate::BEGIN_APPENDING).await?;
        Ok(Self { store, tx })
    }

    /// The connection, for the caller's own statements in this transaction.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits. When the connection is lost with the commit sent (the server may have committed
    /// and its answer never arrived), asks the database whether this transaction committed
    /// rather than reporting a failure that may not be one: a caller that retried a committed
    /// command would apply it twice, or be told it was refused.
    pub async fn commit(self) -> Result<()> {
        let Self { store, mut tx } = self;
        // Its id, if it wrote anything: how it finds out, should the answer be lost.
        let id: Option<String> =
            sqlx::query_scalar("SELECT pg_current_xact_id_if_assigned()::text")
                .fetch_one(&mut *tx)
                .await?;
        match (tx.commit().await, id) {
            (Ok(()), _) => {}
            (Err(error), Some(id)) if answer_lost(&error) => {
                if store.outcome(&id).await != Some(Outcome::Committed) {
                    return Err(error.into());
                }
                tracing::warn!(transaction = %id, error = %error, "a commit's answer was lost; the transaction had committed");
            }
            (Err(error), _) => return Err(error.into()),
        }
        store.appended.notify_waiters();
        Ok(())
    }

    /// Appends `events` to `stream`, owned by `tenant_id`. The stream's advisory lock is held
    /// until this transaction ends, so concurrent writers of one stream are serialised.
    pub async fn append(
        &mut self,
        tenant_id: &str,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        append(self.conn(), tenant_id, stream, expected, events).await
    }
}

/// Whether a failed commit may have happened: the connection broke after it was sent.
fn answer_lost(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Io(_) | sqlx::Error::Protocol(_))
}

/// What became of a transaction whose commit went unanswered.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Committed,
    Aborted,
}

/// How long a commit whose answer was lost waits to learn its outcome (the database may be
/// unreachable for a moment, or still ending the transaction), and the pause between asks.
const OUTCOME_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
const OUTCOME_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

impl EventStore {
    /// The outcome of transaction `id`, or `None` if the database could not tell in time.
    async fn outcome(&self, id: &str) -> Option<Outcome> {
        let started = std::time::Instant::now();
        while started.elapsed() < OUTCOME_PATIENCE {
            let status: Result<Option<String>, _> =
                sqlx::query_scalar("SELECT pg_xact_status($1::xid8)")
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await;
            match status.as_ref().map(Option::as_deref) {
                Ok(Some("committed")) => return Some(Outcome::Committed),
                Ok(Some("aborted")) => return Some(Outcome::Aborted),
                // Still ending on the server, or the database is out of reach: ask again.
                _ => tokio::time::sleep(OUTCOME_PAUSE).await,
            }
        }
        None
    }
}

/// Appends inside a transaction the caller runs on `conn` (a consumer's, say), so the events
/// commit with the caller's other writes. This process's subscribers are not woken at once;
/// they find the events on their next poll.
pub async fn append_in(
    conn: &mut PgConnection,
    tenant_id: &str,
    stream: &StreamName,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult> {
    append(conn, tenant_id, stream, expected, events).await
}

impl EventStore {
    /// Appends `events` to `stream` in a transaction of its own: one round trip.
    pub async fn append(
        &self,
        tenant_id: &str,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        let mut conn = self.pool.acquire().await?;
        let result = append(&mut conn, tenant_id, stream, expected, events).await?;
        self.appended.notify_waiters();
        Ok(result)
    }
}

async fn append(
    conn: &mut PgConnection,
    tenant_id: &str,
    stream: &StreamName,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult> {
    if events.is_empty() {
        return Err(Error::EmptyAppend);
    }
    let mut ids = Vec::with_capacity(events.len());
    let mut types = Vec::with_capacity(events.len());
    let mut data: Vec<Value> = Vec::with_capacity(events.len());
    let mut metadata: Vec<Value> = Vec::with_capacity(events.len());
    for event in events {
        ids.push(event.event_id);
        types.push(event.event_type);
        data.push(event.data);
        metadata.push(event.metadata);
    }
    let expected_code: i64 = match expected {
        ExpectedVersion::Any => -2,
        ExpectedVersion::NoStream => -1,
        ExpectedVersion::Exact(version) => version as i64,
    };
    let row: Result<(i64, bool), sqlx::Error> =
        sqlx::query_as("SELECT * FROM comms_append($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(stream.as_str())
            .bind(stream.category())
            .bind(tenant_id)
            .bind(expected_code)
            .bind(&ids as &[Uuid])
            .bind(types)
            .bind(data)
            .bind(metadata)
            .fetch_one(conn)
            .await;
    match row {
        Ok((next, already_stored)) => Ok(AppendResult {
            next_expected_version: next as u64,
            already_stored,
        }),
        Err(error) => Err(typed_error(error, stream, expected)),
    }
}

/// The function's own error codes, and the unique constraints behind the lock, as typed errors.
fn typed_error(error: sqlx::Error, stream: &StreamName, expected: ExpectedVersion) -> Error {
    let Some(db) = error.as_database_error() else {
        return Error::Database(error);
    };
    let stream_name = stream.to_string();
    let current = || {
        let detail = db
            .try_downcast_ref::<PgDatabaseError>()
            .and_then(|e| e.detail());
        CurrentVersion(detail.and_then(|d| d.parse().ok()))
    };
    match (db.code().as_deref(), db.constraint()) {
        (Some("CM001"), _) => Error::WrongExpectedVersion {
            stream: stream_name,
            expected,
            actual: current(),
        },
        (Some("CM002"), _) | (_, Some("events_event_id_key")) => Error::EventIdConflict {
            stream: stream_name,
        },
        (Some("CM003"), _) => Error::TenantMismatch {
            stream: stream_name,
        },
        (Some("CM004"), _) => Error::OlderTransaction {
            stream: stream_name,
        },
        (Some("CM005"), _) => Error::UndeclaredAppend {
            stream: stream_name,
        },
        (_, Some("events_stream_position_key")) => Error::WrongExpectedVersion {
            stream: stream_name,
            expected,
            actual: CurrentVersion(None),
        },
        _ => Error::Database(error),
    }
}
