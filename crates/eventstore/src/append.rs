//! Appending: lock the stream, check idempotency and the expected version, then write.

use serde_json::Value;
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
/// through this type wakes this process's subscribers.
pub struct Transaction<'s> {
    store: &'s EventStore,
    tx: sqlx::Transaction<'static, Postgres>,
}

impl<'s> Transaction<'s> {
    pub(crate) fn new(store: &'s EventStore, tx: sqlx::Transaction<'static, Postgres>) -> Self {
        Self { store, tx }
    }

    /// The connection, for the caller's own statements in this transaction.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        self.store.appended.notify_waiters();
        Ok(())
    }

    /// Appends `events` to `stream`, owned by `tenant_id`.
    ///
    /// The stream's advisory lock is taken before anything is written and held until commit, so
    /// concurrent writers of one stream are serialised and each sees the other's events.
    pub async fn append(
        &mut self,
        tenant_id: &str,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        if events.is_empty() {
            return Err(Error::EmptyAppend);
        }
        let conn = self.conn();
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(stream.as_str())
            .execute(&mut *conn)
            .await?;

        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        if let Some(result) = already_stored(conn, stream, &ids).await? {
            return Ok(result);
        }

        let current = current_version(conn, stream, tenant_id).await?;
        if !expected.allows(current) {
            return Err(Error::WrongExpectedVersion {
                stream: stream.to_string(),
                expected,
                actual: CurrentVersion(current),
            });
        }
        let first_position = current.map_or(0, |v| v + 1);
        insert(conn, tenant_id, stream, first_position, events)
            .await
            .map_err(|e| map_unique_violation(e, stream, current))?;
        Ok(AppendResult {
            next_expected_version: first_position + ids.len() as u64 - 1,
            already_stored: false,
        })
    }
}

/// `Some` when this exact append was already stored (a retry); an error when only some of the
/// ids are stored, or elsewhere.
async fn already_stored(
    conn: &mut PgConnection,
    stream: &StreamName,
    ids: &[Uuid],
) -> Result<Option<AppendResult>> {
    let stored: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT event_id, stream_name, stream_position FROM events WHERE event_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    if stored.is_empty() {
        return Ok(None);
    }
    let conflict = || Error::EventIdConflict {
        stream: stream.to_string(),
    };
    if stored.len() != ids.len() || stored.iter().any(|(_, name, _)| name != stream.as_str()) {
        return Err(conflict());
    }
    let position_of = |id: &Uuid| stored.iter().find(|(e, _, _)| e == id).map(|(_, _, p)| *p);
    let positions: Vec<i64> = ids.iter().filter_map(position_of).collect();
    let consecutive = positions.windows(2).all(|w| w[1] == w[0] + 1);
    if positions.len() != ids.len() || !consecutive {
        return Err(conflict());
    }
    Ok(Some(AppendResult {
        next_expected_version: *positions.last().expect("non-empty") as u64,
        already_stored: true,
    }))
}

/// The stream's last position, after checking it belongs to `tenant_id`.
async fn current_version(
    conn: &mut PgConnection,
    stream: &StreamName,
    tenant_id: &str,
) -> Result<Option<u64>> {
    let last: Option<(i64, String)> = sqlx::query_as(
        "SELECT stream_position, tenant_id FROM events WHERE stream_name = $1
         ORDER BY stream_position DESC LIMIT 1",
    )
    .bind(stream.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match last {
        Some((_, owner)) if owner != tenant_id => Err(Error::TenantMismatch {
            stream: stream.to_string(),
        }),
        Some((position, _)) => Ok(Some(position as u64)),
        None => Ok(None),
    }
}

async fn insert(
    conn: &mut PgConnection,
    tenant_id: &str,
    stream: &StreamName,
    first_position: u64,
    events: Vec<NewEvent>,
) -> Result<(), sqlx::Error> {
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
    sqlx::query(
        "INSERT INTO events (event_id, stream_name, stream_category, stream_position,
                             event_type, tenant_id, data, metadata)
         SELECT e.event_id, $1, $2, $3 + e.ord - 1, e.event_type, $4, e.data, e.metadata
         FROM UNNEST($5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[])
              WITH ORDINALITY AS e(event_id, event_type, data, metadata, ord)
         ORDER BY e.ord",
    )
    .bind(stream.as_str())
    .bind(stream.category())
    .bind(first_position as i64)
    .bind(tenant_id)
    .bind(ids)
    .bind(types)
    .bind(data)
    .bind(metadata)
    .execute(conn)
    .await?;
    Ok(())
}

/// The unique constraints are the backstop behind the lock: report them as the typed conflicts.
fn map_unique_violation(error: sqlx::Error, stream: &StreamName, current: Option<u64>) -> Error {
    let constraint = error
        .as_database_error()
        .and_then(|e| e.constraint())
        .map(str::to_owned);
    match constraint.as_deref() {
        Some("events_stream_position_key") => Error::WrongExpectedVersion {
            stream: stream.to_string(),
            expected: ExpectedVersion::Any,
            actual: CurrentVersion(current),
        },
        Some("events_event_id_key") => Error::EventIdConflict {
            stream: stream.to_string(),
        },
        _ => Error::Database(error),
    }
}
