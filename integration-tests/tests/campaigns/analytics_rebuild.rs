//! `comms replay`'s second part against the read models a real campaign left: damaged tables
//! come back equal, an event replayed but not yet consumed is not counted twice, and a rebuild
//! that deadlocks with a consumer batch starts again.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Fleet, rows_of, settled_rows_of};

/// The agent and campaign analytics tables.
const ANALYTICS_TABLES: [&str; 6] = [
    "analytics_agent_current t",
    "analytics_agent_names t",
    "analytics_agent_time t",
    "analytics_agent_calls t",
    "analytics_campaigns t",
    "analytics_campaign_contacts t",
];

async fn analytics_tables(fleet: &Fleet) -> Value {
    rows_of(fleet, &ANALYTICS_TABLES).await
}

/// `comms replay`'s second part, against the live read models the fleet built: damaged tables
/// come back equal, and an event replayed but not yet consumed is not counted twice when the
/// consumer gets it.
pub async fn equals_the_live_read_models(fleet: &Fleet) {
    let live = settled_rows_of(fleet, &ANALYTICS_TABLES).await;
    // One event as if still in the queue, and the tables damaged.
    let (event_id, stream): (uuid::Uuid, String) = sqlx::query_as(
        "SELECT event_id, stream_name FROM events WHERE event_type = 'comms.campaign.call_placed' LIMIT 1",
    )
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM processed_messages WHERE message_id = $1")
        .bind(event_id)
        .execute(&fleet.pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "UPDATE analytics_campaigns SET attempts = attempts + 100;
         DELETE FROM analytics_agent_time;",
    )
    .execute(&fleet.pool)
    .await
    .unwrap();

    let store = comms_eventstore::EventStore::new(fleet.pool.clone());
    let mut reported = Vec::new();
    let report = comms_analytics::rebuild::rebuild_read_models(&store, "analytics.calls", |n| {
        reported.push(n)
    })
    .await
    .unwrap();
    assert_eq!(report.events_skipped, 0);
    assert_eq!(reported.last(), Some(&report.events_replayed));
    assert_eq!(
        analytics_tables(fleet).await,
        live,
        "the rebuild equals the live read models"
    );

    // The consumer now receives that event: a duplicate, applied by the rebuild already.
    // `handled` counts the messages it applied or found to be duplicates.
    let handled = || async {
        let metrics = metrics_text(fleet).await;
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("comms_consumer_messages_total")
                    && l.contains(&fleet.analytics_queue)
                    && (l.contains("\"applied\"") || l.contains("\"duplicate\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let before = handled().await;
    let recorded = store
        .read_stream(
            &comms_eventstore::StreamName::parse(&stream).unwrap(),
            0,
            10_000,
        )
        .await
        .unwrap();
    let event = recorded.iter().find(|e| e.event_id == event_id).unwrap();
    fleet.publish(&comms_bus::envelope_of(event)).await;
    for _ in 0..100 {
        if handled().await > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(handled().await > before, "the consumer got the event");
    assert_eq!(analytics_tables(fleet).await, live, "and counted it once");

    // A consumer batch that recorded that event as processed and then waits for the tables
    // deadlocks with the rebuild, which starts again and still ends equal.
    let mut batch = fleet.pool.begin().await.unwrap();
    sqlx::query("DELETE FROM processed_messages WHERE message_id = $1")
        .bind(event_id)
        .execute(&fleet.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO processed_messages (consumer, message_id) VALUES ('analytics.calls', $1)",
    )
    .bind(event_id)
    .execute(&mut *batch)
    .await
    .unwrap();
    let rebuild = tokio::spawn({
        let store = store.clone();
        async move {
            comms_analytics::rebuild::rebuild_read_models(&store, "analytics.calls", |_| {}).await
        }
    });
    // Once the rebuild waits on our row, we wait for its tables: PostgreSQL aborts the one that
    // waited first, the rebuild, which starts again when we are done.
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sqlx::query("UPDATE analytics_campaigns SET attempts = attempts")
        .execute(&mut *batch)
        .await
        .expect("the rebuild gave way");
    batch.commit().await.unwrap();
    let report = rebuild.await.unwrap().unwrap();
    assert_eq!(report.events_skipped, 0);
    assert_eq!(
        analytics_tables(fleet).await,
        live,
        "equal after the deadlock"
    );
}

async fn metrics_text(fleet: &Fleet) -> String {
    fleet
        .http
        .get(fleet.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
