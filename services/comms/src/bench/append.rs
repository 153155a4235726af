//! Append throughput and latency against a bare INSERT of the same rows (no lock, no version
//! check), at 1, 8 and 64 writers, single events and batches of 10, many streams and one.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName};
use serde_json::{Value, json};
use uuid::Uuid;

use super::setup::BenchDatabase;
use super::stats::{Samples, ms, percent};
use super::{Options, heading};

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Store,
    BareInsert,
}

#[derive(Clone, Copy)]
struct Cell {
    writers: usize,
    batch: usize,
    hot_stream: bool,
}

fn batch(size: usize) -> Vec<NewEvent> {
    (0..size)
        .map(|n| {
            NewEvent::new(
                "bench.appended",
                json!({ "call_id": Uuid::new_v4(), "n": n }),
                json!({ "userId": "bench" }),
            )
        })
        .collect()
}

/// Runs one cell for `options.cell`; returns per-append latencies (one append = `batch` events).
async fn measure(
    store: &EventStore,
    cell: Cell,
    target: Target,
    options: &Options,
) -> anyhow::Result<Samples> {
    let hot = StreamName::new("bench", Uuid::new_v4());
    let hot_position = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let deadline = started + options.cell;
    let mut tasks = Vec::new();
    for _ in 0..cell.writers {
        let (store, hot, hot_position) = (store.clone(), hot.clone(), hot_position.clone());
        tasks.push(tokio::spawn(async move {
            let stream = if cell.hot_stream {
                hot
            } else {
                StreamName::new("bench", Uuid::new_v4())
            };
            let mut latencies = Vec::new();
            let mut version: Option<u64> = None;
            while Instant::now() < deadline {
                let events = batch(cell.batch);
                let began = Instant::now();
                match target {
                    Target::Store => {
                        let expected = match (cell.hot_stream, version) {
                            (true, _) => ExpectedVersion::Any,
                            (false, None) => ExpectedVersion::NoStream,
                            (false, Some(v)) => ExpectedVersion::Exact(v),
                        };
                        let result = store.append("org_bench", &stream, expected, events).await?;
                        version = Some(result.next_expected_version);
                    }
                    Target::BareInsert => {
                        let first = if cell.hot_stream {
                            hot_position.fetch_add(cell.batch as i64, Ordering::Relaxed)
                        } else {
                            version.map_or(0, |v| v as i64 + 1)
                        };
                        bare_insert(&store, &stream, first, events).await?;
                        version = Some((first + cell.batch as i64 - 1) as u64);
                    }
                }
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    Samples::join(tasks, started).await
}

/// The ceiling: the same rows in one autocommitted INSERT, nothing else.
async fn bare_insert(
    store: &EventStore,
    stream: &StreamName,
    first: i64,
    events: Vec<NewEvent>,
) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let types: Vec<String> = events.iter().map(|e| e.event_type.clone()).collect();
    let data: Vec<Value> = events.iter().map(|e| e.data.clone()).collect();
    let metadata: Vec<Value> = events.iter().map(|e| e.metadata.clone()).collect();
    sqlx::query(
        "INSERT INTO events (event_id, stream_name, stream_category, stream_position, event_type, tenant_id, data, metadata)
         SELECT e.id, $1, 'bench', $2 + e.ord - 1, e.ty, 'org_bench', e.data, e.metadata
         FROM UNNEST($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[]) WITH ORDINALITY AS e(id, ty, data, metadata, ord)",
    )
    .bind(stream.as_str())
    .bind(first)
    .bind(ids)
    .bind(types)
    .bind(data)
    .bind(metadata)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading("append: the event store against a bare INSERT of the same rows");
    println!(
        "{:>7} {:>5} {:>6} | {:>10} {:>8} {:>8} | {:>10} {:>8} | {:>6}",
        "writers",
        "batch",
        "stream",
        "events/s",
        "p50 ms",
        "p99 ms",
        "bare ev/s",
        "p50 ms",
        "ratio"
    );
    let db = BenchDatabase::create(&options.admin_database_url, 70).await?;
    let store = EventStore::new(db.pool.clone());
    let mut rows = Vec::new();
    for hot_stream in [false, true] {
        for batch in [1, 10] {
            for writers in [1, 8, 64] {
                let cell = Cell {
                    writers,
                    batch,
                    hot_stream,
                };
                let appended = measure(&store, cell, Target::Store, options).await?;
                let ceiling = measure(&store, cell, Target::BareInsert, options).await?;
                let (events, bare_events) = (
                    appended.rate() * batch as f64,
                    ceiling.rate() * batch as f64,
                );
                let ratio = percent(events, bare_events);
                println!(
                    "{writers:>7} {batch:>5} {:>6} | {events:>10.0} {:>8.2} {:>8.2} | {bare_events:>10.0} {:>8.2} | {ratio:>5.0}%",
                    if hot_stream { "one" } else { "many" },
                    ms(appended.percentile(0.5)),
                    ms(appended.percentile(0.99)),
                    ms(ceiling.percentile(0.5)),
                );
                rows.push(json!({
                    "writers": writers, "batch": batch, "streams": if hot_stream { "one" } else { "many" },
                    "events_per_second": events.round(), "append": appended.to_json(),
                    "bare_insert": ceiling.to_json(), "bare_events_per_second": bare_events.round(),
                    "ratio_percent": ratio,
                }));
            }
        }
    }
    db.drop_now().await?;
    Ok(Value::Array(rows))
}
