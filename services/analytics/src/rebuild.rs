//! Rebuilding the read models from the event store.
//!
//! - Calls: replay every call event into a fresh table, then, holding off the live consumer,
//!   catch up and swap the fresh table in. The fresh table has no counting trigger while it fills
//!   (that is what makes replay fast); the swap attaches it and recounts the dashboard counters.
//! - Agents and campaigns: replayed in place, in one transaction that holds the consumer off.

use comms_bus::HandleError;
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
        let envelope = comms_bus::envelope_of(event);
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
        Err(HandleError::Retry(error) | HandleError::Unavailable(error)) => return Err(error),
    }
    Ok(events.len())
}

/// The agent, campaign and sentiment read models, and the stream category each is built from.
const READ_MODELS: [(&str, &[&str]); 3] = [
    (
        "agent",
        &[
            "analytics_agent_current",
            "analytics_agent_names",
            "analytics_agent_time",
            "analytics_agent_calls",
            "analytics_agent_spells",
        ],
    ),
    (
        "campaign",
        &["analytics_campaigns", "analytics_campaign_contacts"],
    ),
    ("transcript", &["analytics_call_sentiment"]),
];

/// Rebuilds the agent, campaign and sentiment read models from the `agent`, `campaign` and
/// `transcript` streams, through the code the live consumer runs, in one transaction that holds
/// the consumer off: the tables are emptied, every event is replayed, and each replayed event is
/// recorded as processed for `consumer` (the analytics consumer's name), so one still waiting in
/// the queue is not counted twice. These tables are small (a row per agent-day, per campaign, per
/// campaign contact and per transcribed call), so unlike `analytics_calls` they are rebuilt in place; the consumer waits meanwhile and loses
/// nothing.
///
/// A consumer batch that recorded its messages as processed and then waits for these tables
/// deadlocks with the rebuild when the rebuild records the same messages. PostgreSQL aborts one
/// of the two: the consumer's batch is redelivered (and then finds its messages replayed), and
/// a rebuild that was aborted starts again.
pub async fn rebuild_read_models(
    store: &EventStore,
    consumer: &str,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<RebuildReport> {
    const ATTEMPTS: usize = 3;
    for attempt in 1.. {
        match replay_in_place(store, consumer, &mut progress).await {
            Err(error) if attempt < ATTEMPTS && is_deadlock(&error) => {
                warn!(
                    attempt,
                    "the rebuild deadlocked with the live consumer; starting again"
                );
            }
            done => return done,
        }
    }
    unreachable!("the last attempt returns")
}

fn is_deadlock(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<sqlx::Error>()
        .and_then(|e| e.as_database_error()?.code())
        .is_some_and(|code| code == "40P01")
}

async fn replay_in_place(
    store: &EventStore,
    consumer: &str,
    progress: &mut impl FnMut(u64),
) -> anyhow::Result<RebuildReport> {
    let mut tx = store.pool().begin().await?;
    let tables: Vec<&str> = READ_MODELS
        .iter()
        .flat_map(|(_, t)| t.iter().copied())
        .collect();
    let tables = tables.join(", ");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {tables} IN EXCLUSIVE MODE; TRUNCATE {tables};"
    )))
    .execute(&mut *tx)
    .await?;
    let mut report = RebuildReport {
        events_replayed: 0,
        events_skipped: 0,
    };
    for (category, _) in READ_MODELS {
        let mut position = Checkpoint::START;
        loop {
            // Read outside this transaction: the store shows what is committed (and, as to the
            // relay, nothing past a transaction still running, this one included).
            let events = store
                .read_all(position, &Filter::Category(category.into()), BATCH)
                .await?;
            let Some(last) = events.last() else {
                break;
            };
            position = last.checkpoint();
            let mut replayed = Vec::with_capacity(events.len());
            for event in &events {
                let envelope = comms_bus::envelope_of(event);
                // Each event in a savepoint: one the consumer would dead-letter leaves no trace.
                let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
                let applied = match category {
                    "agent" => crate::agents::apply(&mut savepoint, &envelope).await,
                    "campaign" => crate::campaigns::apply(&mut savepoint, &envelope)
                        .await
                        .map(drop),
                    "transcript" => crate::sentiment::apply(&mut savepoint, &envelope).await,
                    other => unreachable!("no read model is built from {other} streams"),
                };
                match applied {
                    Ok(()) => {
                        savepoint.commit().await?;
                        replayed.push(event.event_id);
                        report.events_replayed += 1;
                    }
                    Err(HandleError::Reject(reason)) => {
                        savepoint.rollback().await?;
                        warn!(event_id = %event.event_id, reason, "event skipped in rebuild");
                        report.events_skipped += 1;
                    }
                    Err(HandleError::Retry(error) | HandleError::Unavailable(error)) => {
                        return Err(error);
                    }
                }
            }
            sqlx::query(
                "INSERT INTO processed_messages (consumer, message_id)
                 SELECT $1, id FROM UNNEST($2::uuid[]) AS id ON CONFLICT DO NOTHING",
            )
            .bind(consumer)
            .bind(&replayed)
            .execute(&mut *tx)
            .await?;
            progress(report.events_replayed);
            if events.len() < BATCH {
                break;
            }
        }
    }
    tx.commit().await?;
    info!(
        events = report.events_replayed,
        skipped = report.events_skipped,
        "agent, campaign and sentiment read models rebuilt"
    );
    Ok(report)
}
