//! Rebuilding the projection from the event store: replay every call event into a fresh table,
//! then, holding off the live consumer, catch up and swap the fresh table in. The fresh table has
//! no counting trigger while it fills (that is what makes replay fast); the swap attaches it and
//! recounts the dashboard counters once.

use comms_bus::{Envelope, HandleError};
use comms_eventstore::{Checkpoint, EventStore, Filter, RecordedEvent};
use sqlx::PgConnection;
use tracing::{info, warn};

use crate::projection::{self, Table};

const BATCH: usize = 2_000;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    pub events_replayed: u64,
    pub events_skipped: u64,
}

/// Replays the `call` category into a fresh table and swaps it in for `analytics_calls`.
/// `progress` is told the running count after each batch.
pub async fn rebuild(
    store: &EventStore,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<RebuildReport> {
    let pool = store.pool();
    let live = Table::Live.name();
    let fresh = Table::Rebuild.name();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS {fresh}; CREATE TABLE {fresh} (LIKE {live} INCLUDING ALL);"
    )))
    .execute(pool)
    .await?;

    let mut report = RebuildReport {
        events_replayed: 0,
        events_skipped: 0,
    };
    let mut position = Checkpoint::START;
    // Bulk of the history, while the live projection keeps serving and consuming.
    loop {
        let mut tx = pool.begin().await?;
        let applied = replay_batch(store, &mut tx, &mut position, &mut report).await?;
        tx.commit().await?;
        progress(report.events_replayed);
        if applied < BATCH {
            break;
        }
    }

    // The tail and the swap, with the live consumer held off by the lock so nothing it applies
    // can fall between the catch-up and the rename.
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {live} IN EXCLUSIVE MODE"
    )))
    .execute(&mut *tx)
    .await?;
    while replay_batch(store, &mut tx, &mut position, &mut report).await? == BATCH {}
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {live} RENAME TO analytics_calls_replaced;
         ALTER TABLE {fresh} RENAME TO {live};
         DROP TABLE analytics_calls_replaced;
         SELECT analytics_adopt_calls_table();"
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    progress(report.events_replayed);
    info!(
        events = report.events_replayed,
        skipped = report.events_skipped,
        "analytics projection rebuilt"
    );
    Ok(report)
}

/// Replays up to one batch after `position` into the fresh table; returns how many were read.
/// Events the live consumer would dead-letter are skipped (and counted) the same way.
async fn replay_batch(
    store: &EventStore,
    conn: &mut PgConnection,
    position: &mut Checkpoint,
    report: &mut RebuildReport,
) -> anyhow::Result<usize> {
    let events: Vec<RecordedEvent> = store
        .read_all(*position, &Filter::Category("call".into()), BATCH)
        .await?;
    let Some(last) = events.last() else {
        return Ok(0);
    };
    *position = last.checkpoint();
    let mut envelopes = Vec::with_capacity(events.len());
    for event in &events {
        let envelope = Envelope::from_recorded(event);
        match projection::check(&envelope) {
            Ok(()) => envelopes.push(envelope),
            Err(reason) => {
                warn!(event_id = %event.event_id, reason, "event skipped in rebuild");
                report.events_skipped += 1;
            }
        }
    }
    match projection::apply_batch(conn, Table::Rebuild, &envelopes).await {
        Ok(()) => report.events_replayed += envelopes.len() as u64,
        // Only calls of another organization get here; the rest of the batch was applied.
        Err(HandleError::Reject(reason)) => {
            warn!(reason, "events skipped in rebuild");
            report.events_replayed += envelopes.len() as u64;
        }
        Err(HandleError::Retry(error)) => return Err(error),
    }
    Ok(events.len())
}
