//! Replay: rebuilding the analytics projection from stored call events.

use std::time::Instant;

use comms_events::{Event, call};
use comms_eventstore::EventStore;
use serde_json::{Value, json};

use super::setup::BenchDatabase;
use super::stats::round;
use super::{Options, heading};

/// Events are generated in SQL, four per call (started, ringing, answered, ended), in chunks.
const CHUNK: usize = 100_000;

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading("replay: rebuilding the analytics projection from the event store");
    let db = BenchDatabase::create(&options.admin_database_url, 4).await?;
    let mut stored = 0;
    while stored < options.replay_events {
        let calls = (CHUNK.min(options.replay_events - stored) / 4).max(1);
        sqlx::query(
            "INSERT INTO events (event_id, stream_name, stream_category, stream_position, event_type, tenant_id, data, metadata)
             SELECT gen_random_uuid(), 'call-' || c.id, 'call', p.pos, p.type, 'org_' || (c.n % 10), p.data, '{}'
             FROM (SELECT n, gen_random_uuid() AS id FROM generate_series(1, $1) n) c
             CROSS JOIN LATERAL (VALUES
               (0, $2, jsonb_build_object('call_id', c.id, 'direction', 'outbound',
                    'to', '+14155550100', 'from', null, 'agent_id', null, 'campaign_id', null,
                    'language', 'en', 'started_at', now())),
               (1, $3, jsonb_build_object('call_id', c.id, 'ringing_at', now())),
               (2, $4, jsonb_build_object('call_id', c.id, 'answered_at', now())),
               (3, $5, jsonb_build_object('call_id', c.id, 'duration', c.n % 600,
                    'outcome', 'completed', 'reason', '', 'ended_at', now()))
             ) AS p(pos, type, data)",
        )
        .bind(calls as i64)
        .bind(<call::Started as Event>::TYPE)
        .bind(<call::Ringing as Event>::TYPE)
        .bind(<call::Answered as Event>::TYPE)
        .bind(<call::Ended as Event>::TYPE)
        .execute(&db.pool)
        .await?;
        stored += calls * 4;
        println!("  stored {stored} of {} events", options.replay_events);
    }
    sqlx::query("ANALYZE events").execute(&db.pool).await?;
    // Readers see an event once every appending transaction older than its own has ended.
    // Measure the replay of the whole history: wait until all of it is visible.
    let started = Instant::now();
    loop {
        let visible: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE tx_id < (SELECT comms_read_horizon())",
        )
        .fetch_one(&db.pool)
        .await?;
        if visible as usize >= stored {
            break;
        }
        anyhow::ensure!(
            started.elapsed().as_secs() < 120,
            "a transaction elsewhere in the cluster keeps {} events invisible",
            stored - visible as usize
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let store = EventStore::new(db.pool.clone());
    let started = Instant::now();
    let mut next_report = CHUNK as u64;
    let report = comms_analytics::rebuild::rebuild(&store, |replayed| {
        if replayed >= next_report {
            println!(
                "  replayed {replayed} events ({:.0}/s)",
                replayed as f64 / started.elapsed().as_secs_f64()
            );
            next_report += CHUNK as u64;
        }
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let rate = report.events_replayed as f64 / seconds;
    println!("{:>10} {:>9} | {:>10}", "events", "seconds", "events/s");
    println!(
        "{:>10} {seconds:>9.1} | {rate:>10.0}",
        report.events_replayed
    );
    db.drop_now().await?;
    Ok(
        json!({ "events": report.events_replayed, "seconds": round(seconds), "events_per_second": rate.round() }),
    )
}
