//! Two instances of every service as separate processes against one PostgreSQL and one RabbitMQ
//! exchange: both sides serve, exactly one relay (and one dialer) is active, a SIGKILLed relay
//! hands over to its standby with no event lost, and two analytics instances sharing a queue
//! never double-count.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Cluster, Instance, login};
use uuid::Uuid;

const CALLS_PER_PHASE: usize = 30;
const FINAL: [&str; 5] = ["ended", "failed", "no_answer", "busy", "canceled"];

async fn active_relay(relays: &[&Instance]) -> Vec<usize> {
    let mut active = Vec::new();
    for (i, relay) in relays.iter().enumerate() {
        if relay.metric("comms_relay_active", &[]).await == 1.0 {
            active.push(i);
        }
    }
    active
}

/// Places `n` calls, alternating between the two edges' REST URLs; returns their ids.
async fn place_calls(
    http: reqwest::Client,
    edges: [String; 2],
    token: String,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let call: Value = http
            .post(format!("{}/calls", edges[i % 2]))
            .bearer_auth(&token)
            .json(&json!({ "to": format!("+1415555{:04}", i) }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(call["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_each_side_by_side_with_a_killed_relay_lose_and_double_nothing() {
    let cluster = Cluster::new().await;
    let mut tap = cluster.tap().await;
    let relays = [cluster.start("relay", &[]), cluster.start("relay", &[])];
    let (a, b) = (cluster.start_side().await, cluster.start_side().await);
    for relay in &relays {
        relay.ready().await;
    }
    let http = comms_runtime::http::client(std::time::Duration::from_secs(120));
    let token = login(&http, &a.edge).await;

    // Exactly one relay publishes; the other waits.
    let started = Instant::now();
    let active = loop {
        let active = active_relay(&[&relays[0], &relays[1]]).await;
        if active.len() == 1 {
            break active[0];
        }
        assert!(active.len() < 2, "both relays are active");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no relay became active"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let standby = 1 - active;

    // Likewise exactly one campaigns instance dials.
    let dialing = |side: &support::Side| {
        side.campaigns
            .logs()
            .iter()
            .any(|line| line.contains("dialer is active"))
    };
    let started = Instant::now();
    while !(dialing(&a) || dialing(&b)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no dialer became active"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!(dialing(&a) && dialing(&b)), "both dialers are active");

    // Both sides serve, and each sees what the other wrote.
    let edges = [a.edge.rest(), b.edge.rest()];
    let mut ids = place_calls(http.clone(), edges.clone(), token.clone(), CALLS_PER_PHASE).await;
    for (i, id) in ids.iter().enumerate() {
        let other = [&b.edge, &a.edge][i % 2];
        let found = http
            .get(format!("{}/calls/{id}", other.rest()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(found.status(), 200);
    }

    // The active relay dies while calls are being placed and simulated calls append events.
    let placing = tokio::spawn(place_calls(
        http.clone(),
        edges,
        token.clone(),
        CALLS_PER_PHASE,
    ));
    tokio::time::sleep(Duration::from_millis(150)).await;
    relays[active].kill();
    let killed_at = Instant::now();
    let handed_over = loop {
        if relays[standby].metric("comms_relay_active", &[]).await == 1.0 {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "the standby relay never took over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    ids.extend(placing.await.unwrap());

    // Every call finishes (the simulated provider ends each within a second).
    let started = Instant::now();
    loop {
        let unfinished: i64 =
            sqlx::query_scalar("SELECT count(*) FROM calls_view WHERE NOT status = ANY($1)")
                .bind(FINAL.map(String::from).to_vec())
                .fetch_one(&cluster.db.pool)
                .await
                .unwrap();
        if unfinished == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{unfinished} calls never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // No event was lost: every event of the log reached the exchange.
    let logged: Vec<Uuid> =
        sqlx::query_scalar("SELECT event_id FROM events WHERE event_type LIKE 'comms.%'")
            .fetch_all(&cluster.db.pool)
            .await
            .unwrap();
    tap.collect_until(&logged, Duration::from_secs(20)).await;
    let missing = logged
        .iter()
        .filter(|id| !tap.seen.contains_key(id))
        .count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} events never reached the exchange",
        logged.len()
    );

    // Analytics applied each call event once: its figures equal the calls' own read model,
    // although two instances shared its queue and some events may have been published twice.
    let expected: BTreeMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT status, count(*) FROM calls_view GROUP BY status",
    )
    .fetch_all(&cluster.db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let started = Instant::now();
    let dashboard = loop {
        let dashboard: Value = http
            .get(format!("{}/analytics/dashboard", b.edge.rest()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let by_status: BTreeMap<String, i64> =
            serde_json::from_value(dashboard["calls_by_status"].clone()).unwrap();
        let by_status: BTreeMap<String, i64> =
            by_status.into_iter().filter(|(_, n)| *n > 0).collect();
        if by_status == expected || started.elapsed() > Duration::from_secs(20) {
            assert_eq!(by_status, expected, "analytics disagrees with the calls");
            break dashboard;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dashboard["total_calls"], ids.len());

    // Each analytics instance took part, and between them applied each message exactly once.
    let queue = format!("queue=\"{}\"", cluster.var("ANALYTICS_QUEUE"));
    let labels = [queue.as_str(), "outcome=\"applied\""];
    let mut applied = Vec::new();
    for analytics in [&a.analytics, &b.analytics] {
        applied.push(
            analytics
                .metric("comms_consumer_messages_total", &labels)
                .await,
        );
    }
    let analysed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type LIKE 'comms.call.%' OR event_type LIKE 'comms.agent.%'",
    )
    .fetch_one(&cluster.db.pool)
    .await
    .unwrap();
    assert!(
        applied.iter().all(|n| *n > 0.0),
        "one analytics instance idled: {applied:?}"
    );
    assert_eq!(
        applied.iter().sum::<f64>() as i64,
        analysed,
        "applied per instance: {applied:?}"
    );

    eprintln!(
        "scale-out: {} calls through 2 edges, {} events; standby relay active {} ms after SIGKILL; \
         {} published twice (redelivered, not reapplied); analytics applied {:?}",
        ids.len(),
        logged.len(),
        handed_over.as_millis(),
        tap.duplicates(),
        applied
    );
}
