//! What must hold after a fault, read from the log, the bus and the read models: every event of
//! the log reached the bus, each stream's in its order; every read model equals a rebuild from
//! the log; no agent is left busy; no contact was called while a call to it was in progress;
//! nothing was dead-lettered.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use comms_calls::domain::{Call, CallEvent, fold};
use lapin::options::BasicGetOptions;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Fleet, json_of, rows_of, settled_rows_of};

/// How long the bus may take to carry every event of the log once the load has stopped.
const BUS_PATIENCE: Duration = Duration::from_secs(60);

/// Every tapped event of the log reaches the bus, and each stream's events are first delivered
/// in the order of their positions (a redelivery after a fault may repeat one; none comes
/// before an earlier position of its stream, none is skipped). Returns how many were checked.
pub async fn bus_has_the_log_in_order(fleet: &Fleet) -> usize {
    // The event types the test's tap queue is bound to.
    let in_log: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT event_id, stream_name, stream_position FROM events
         WHERE event_type LIKE 'comms.call.%' OR event_type LIKE 'comms.agent.%'
            OR event_type LIKE 'comms.campaign.%' OR event_type LIKE 'comms.contact.%'",
    )
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    let mut missing: HashSet<Uuid> = in_log.iter().map(|(id, _, _)| *id).collect();
    let mut last_position: HashMap<String, i64> = HashMap::new();
    let mut seen = HashSet::new();
    let started = Instant::now();
    while !missing.is_empty() {
        assert!(
            started.elapsed() < BUS_PATIENCE,
            "{} events of the log never reached the bus",
            missing.len()
        );
        let Some(message) = fleet
            .amqp
            .basic_get(fleet.tap.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        else {
            tokio::time::sleep(Duration::from_millis(25)).await;
            continue;
        };
        let envelope = comms_bus::Envelope::parse(&message.data).unwrap();
        missing.remove(&envelope.id);
        if !seen.insert(envelope.id) {
            continue; // published again after a fault: consumers drop it by its id
        }
        let stream = envelope
            .metadata
            .stream
            .expect("the relay names the stream");
        let position = envelope.metadata.stream_position.expect("and the position");
        let previous = last_position.insert(stream.clone(), position);
        assert_eq!(
            position,
            previous.map_or(0, |p| p + 1),
            "{stream}: position {position} was published after {previous:?}"
        );
    }
    in_log.len()
}

/// The calls' read model equals its rebuild: each call's row is what folding its stream gives.
pub async fn calls_view_equals_the_log(fleet: &Fleet) {
    let store = comms_eventstore::EventStore::new(fleet.pool.clone());
    let category = comms_eventstore::Filter::Category("call".into());
    let mut streams: BTreeMap<String, Vec<CallEvent>> = BTreeMap::new();
    let mut after = comms_eventstore::Checkpoint::START;
    loop {
        let events = store.read_all(after, &category, 1_000).await.unwrap();
        let Some(last) = events.last() else { break };
        after = last.checkpoint();
        for event in &events {
            let call = event.stream_name["call-".len()..].to_owned();
            let decoded = comms_bus::decode_recorded::<CallEvent>(event).unwrap();
            streams.entry(call).or_default().push(decoded);
        }
    }
    let view: Vec<(Uuid, i64, Value)> =
        sqlx::query_as("SELECT call_id, version, state FROM calls_view")
            .fetch_all(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(view.len(), streams.len(), "one row per call in the log");
    for (call_id, version, state) in view {
        let events = &streams[&call_id.to_string()];
        let rebuilt = fold(events).unwrap();
        assert_eq!(
            serde_json::from_value::<Call>(state).unwrap(),
            rebuilt,
            "call {call_id}"
        );
        assert_eq!(version as usize, events.len() - 1, "call {call_id}");
    }
}

/// Every analytics table (the counters without their emptied rows, which a rebuild drops).
const ANALYTICS_TABLES: [&str; 8] = [
    "analytics_calls t",
    "analytics_call_counters t WHERE calls <> 0",
    "analytics_agent_current t",
    "analytics_agent_names t",
    "analytics_agent_time t",
    "analytics_agent_calls t",
    "analytics_campaigns t",
    "analytics_campaign_contacts t",
];

/// The analytics read models, once they stop changing, equal what `comms replay` rebuilds from
/// the log.
pub async fn analytics_equal_a_rebuild(fleet: &Fleet) {
    let live = settled_rows_of(fleet, &ANALYTICS_TABLES).await;
    let store = comms_eventstore::EventStore::new(fleet.pool.clone());
    let calls = comms_analytics::rebuild::rebuild(&store, |_| ())
        .await
        .unwrap();
    let others = comms_analytics::rebuild::rebuild_read_models(&store, "analytics.calls", |_| ())
        .await
        .unwrap();
    assert_eq!(calls.events_skipped + others.events_skipped, 0);
    assert!(
        rows_of(fleet, &ANALYTICS_TABLES).await == live,
        "the analytics read models equal a rebuild from the log"
    );
}

/// Once the campaign is paused and its calls are over, every agent is available again and no
/// call is waiting for one.
pub async fn no_agent_stuck(fleet: &Fleet, agents: &[String]) {
    let in_progress = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM calls_view WHERE status IN ('initiated', 'ringing', 'answered')",
        )
        .fetch_one(&fleet.pool)
        .await
        .unwrap()
    };
    let started = Instant::now();
    while in_progress().await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{} calls never ended",
            in_progress().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for agent in agents {
        let mut status = Value::Null;
        for _ in 0..300 {
            let seen = json_of(fleet.get(&format!("/api/communications/agents/{agent}"))).await;
            status = seen["status"].clone();
            if status == json!("available") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            status,
            json!("available"),
            "agent {agent} was left {status}"
        );
    }
    // Ended calls stay an hour as tombstones (a late reservation for one is refused); a call
    // the agents service has not seen end would keep its agent when it is offered one.
    let not_ended = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM routing_calls WHERE ended_at IS NULL")
            .fetch_one(&fleet.pool)
            .await
            .unwrap()
    };
    let started = Instant::now();
    while not_ended().await > 0 {
        assert!(
            started.elapsed() < BUS_PATIENCE,
            "the agents service never saw {} calls end",
            not_ended().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// No contact was called while a call to them was in progress, and the campaign's attempts are
/// the calls the calls service placed for it.
pub async fn no_contact_called_twice_at_once(fleet: &Fleet, campaign: &str) {
    let calls: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT state->>'to', created_at, (state->>'updated_at')::timestamptz FROM calls_view
         WHERE campaign_id = $1::uuid ORDER BY created_at",
    )
    .bind(campaign)
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    let mut last_end: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for (to, created, finished) in &calls {
        if let Some(previous) = last_end.insert(to, *finished) {
            assert!(
                previous <= *created,
                "{to} was called at {created} while their call that ended at {previous} was on"
            );
        }
    }
    let attempts: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum((state->>'attempts')::bigint), 0)::bigint FROM campaign_contacts WHERE campaign_id = $1::uuid",
    )
    .bind(campaign)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(attempts, calls.len() as i64, "one call per attempt");
}

/// No consumer dead-lettered a message, and the fleet is healthy without a restart.
pub async fn nothing_dead_lettered_and_healthy(fleet: &Fleet) {
    for queue in &fleet.queues {
        let dead = fleet
            .message_count(&comms_bus::dead_letter_queue(queue))
            .await;
        assert_eq!(dead, 0, "{queue}: a healthy message was dead-lettered");
    }
    let health = fleet.http.get(fleet.url("/health")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "healthy again without a restart"
    );
}
