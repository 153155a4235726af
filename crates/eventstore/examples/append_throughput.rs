//! Append throughput and latency at 1, 8 and 64 concurrent writers, each appending single events
//! to streams of its own, beside a bare INSERT of the same row shape (no lock, no version check)
//! measured in the same run. A first look; the full benchmark harness is its own issue.
//!
//! `cargo run --release -p comms-eventstore --example append_throughput` (needs PostgreSQL at
//! TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).

use std::time::{Duration, Instant};

use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName};
use comms_testkit::TestDatabase;
use serde_json::json;
use uuid::Uuid;

const RUN_FOR: Duration = Duration::from_secs(5);

#[derive(Clone, Copy)]
enum Writer {
    EventStore,
    BareInsert,
}

async fn measure(store: &EventStore, writers: usize, kind: Writer) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamName::new("bench", Uuid::new_v4());
            let mut latencies = Vec::new();
            let mut version = None;
            while Instant::now() < deadline {
                let event = NewEvent::new("bench.appended", json!({ "n": latencies.len() }), json!({}));
                let started = Instant::now();
                match kind {
                    Writer::EventStore => {
                        let expected = version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
                        let result = store.append("org_bench", &stream, expected, vec![event]).await.unwrap();
                        version = Some(result.next_expected_version);
                    }
                    Writer::BareInsert => {
                        let position = latencies.len() as i64;
                        sqlx::query(
                            "INSERT INTO events (event_id, stream_name, stream_category, stream_position, event_type, tenant_id, data, metadata)
                             VALUES ($1, $2, 'bench', $3, $4, 'org_bench', $5, $6)",
                        )
                        .bind(event.event_id)
                        .bind(stream.as_str())
                        .bind(position)
                        .bind(&event.event_type)
                        .bind(&event.data)
                        .bind(&event.metadata)
                        .execute(store.pool())
                        .await
                        .unwrap();
                    }
                }
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let percentile = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (
        all.len() as f64 / RUN_FOR.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
    )
}

#[tokio::main]
async fn main() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(comms_runtime::db::connect(&db.url, 64).await.unwrap());
    println!(
        "{:>8} {:>14} {:>10} {:>10} {:>14} {:>8}",
        "writers", "append ev/s", "p50", "p99", "bare ins/s", "ratio"
    );
    for writers in [1, 8, 64] {
        let (rate, p50, p99) = measure(&store, writers, Writer::EventStore).await;
        let (ceiling, _, _) = measure(&store, writers, Writer::BareInsert).await;
        println!(
            "{writers:>8} {rate:>14.0} {:>10} {:>10} {ceiling:>14.0} {:>7.0}%",
            format!("{:.2}ms", p50.as_secs_f64() * 1e3),
            format!("{:.2}ms", p99.as_secs_f64() * 1e3),
            rate / ceiling * 100.0
        );
    }
}
