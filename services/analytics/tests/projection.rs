//! The analytics projection against the real PostgreSQL and RabbitMQ.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use comms_analytics::projection::{self, Table};
use comms_analytics::{Config, rebuild::rebuild, run};
use comms_bus::{Envelope, HandleError, Relay, RelayConfig};
use comms_events::{Event, call};
use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName};
use comms_proto::v1::analytics_service_client::AnalyticsServiceClient;
use comms_proto::v1::{Dashboard, GetDashboardRequest};
use comms_runtime::{Env, Shutdown};
use comms_testkit::{TestDatabase, amqp_url, unique_name};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// The events of one call: started, answered after 2 s, ended after `talk` seconds.
fn answered_call(talk: i64) -> Vec<(&'static str, Value)> {
    let id = Uuid::new_v4();
    let start = Utc::now();
    vec![
        (
            <call::Started as Event>::TYPE,
            json!({ "call_id": id, "direction": "outbound", "to": "+14155550100", "from": null, "agent_id": null, "campaign_id": null, "language": "en", "started_at": start }),
        ),
        (
            <call::Ringing as Event>::TYPE,
            json!({ "call_id": id, "ringing_at": start }),
        ),
        (
            <call::Answered as Event>::TYPE,
            json!({ "call_id": id, "answered_at": start + Span::seconds(2) }),
        ),
        (
            <call::Ended as Event>::TYPE,
            json!({ "call_id": id, "duration": talk, "outcome": "completed", "reason": "", "ended_at": start + Span::seconds(2 + talk) }),
        ),
    ]
}

fn unanswered_call(outcome: &str) -> Vec<(&'static str, Value)> {
    let id = Uuid::new_v4();
    vec![
        (
            <call::Started as Event>::TYPE,
            json!({ "call_id": id, "direction": "outbound", "to": "+14155550100", "language": "en", "started_at": Utc::now() }),
        ),
        (
            <call::Failed as Event>::TYPE,
            json!({ "call_id": id, "outcome": outcome, "reason": "sim", "failed_at": Utc::now() }),
        ),
    ]
}

async fn append_call(store: &EventStore, org: &str, events: Vec<(&'static str, Value)>) {
    let id: Uuid = events[0].1["call_id"].as_str().unwrap().parse().unwrap();
    let new = events
        .into_iter()
        .map(|(ty, data)| NewEvent::new(ty, data, json!({})))
        .collect();
    store
        .append(
            org,
            &StreamName::new("call", id),
            ExpectedVersion::NoStream,
            new,
        )
        .await
        .unwrap();
}

async fn snapshot(pool: &PgPool) -> Vec<(Uuid, String, String, i64, Option<i64>)> {
    sqlx::query_as("SELECT call_id, organization_id, status, status_position, duration_seconds FROM analytics_calls ORDER BY call_id")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn counters(pool: &PgPool) -> Vec<(String, String, i64, i64, i64)> {
    sqlx::query_as(
        "SELECT organization_id, status, calls, answered, duration_sum FROM analytics_call_counters
         WHERE calls <> 0 ORDER BY 1, 2, started_day",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn envelopes(org: &str, events: &[(&'static str, Value)]) -> Vec<Envelope> {
    events
        .iter()
        .enumerate()
        .map(|(position, (ty, data))| {
            let mut envelope: Envelope = serde_json::from_value(json!({
                "id": Uuid::new_v4(), "type": ty, "source": "communications", "timestamp": Utc::now(),
                "organizationId": org, "data": data,
                "metadata": { "version": "1.0.0", "module": "cc-lite", "streamPosition": position }
            }))
            .unwrap();
            envelope.metadata.stream = Some("call-x".into());
            envelope
        })
        .collect()
}

#[tokio::test]
async fn duplicates_and_reordering_give_the_same_row() {
    let db = TestDatabase::new().await;
    let call = answered_call(60);
    let in_order = envelopes("org_a", &call);
    let mut conn = db.pool.acquire().await.unwrap();
    for envelope in &in_order {
        projection::apply(&mut conn, Table::Live, envelope)
            .await
            .unwrap();
    }
    let expected = snapshot(&db.pool).await;
    assert_eq!(expected[0].2, "ended");
    assert_eq!(expected[0].4, Some(60));

    sqlx::query("DELETE FROM analytics_calls")
        .execute(&db.pool)
        .await
        .unwrap();
    for envelope in in_order.iter().rev().chain(in_order.iter()) {
        projection::apply(&mut conn, Table::Live, envelope)
            .await
            .unwrap();
    }
    assert_eq!(snapshot(&db.pool).await, expected);

    // One batch holding the events reversed and twice over gives the same row.
    sqlx::query("DELETE FROM analytics_calls")
        .execute(&db.pool)
        .await
        .unwrap();
    let scrambled: Vec<Envelope> = in_order
        .iter()
        .rev()
        .chain(in_order.iter())
        .cloned()
        .collect();
    projection::apply_batch(&mut conn, Table::Live, &scrambled)
        .await
        .unwrap();
    assert_eq!(snapshot(&db.pool).await, expected);

    // Another organization's event for the same call id changes nothing and is rejected.
    let foreign = envelopes("org_b", &call);
    let err = projection::apply(&mut conn, Table::Live, &foreign[3])
        .await
        .unwrap_err();
    assert!(matches!(err, HandleError::Reject(_)));
    assert_eq!(snapshot(&db.pool).await, expected);
    // Malformed data is rejected with the field.
    let mut bad = in_order[3].clone();
    bad.data = json!({ "call_id": "not-a-uuid" });
    let HandleError::Reject(reason) = projection::apply(&mut conn, Table::Live, &bad)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert!(reason.contains(": data.call_id: "), "{reason}");
}

/// The queue a call counts in: skills, language, and when it first waited.
async fn queue_of(pool: &PgPool) -> (Vec<String>, String, chrono::DateTime<Utc>) {
    sqlx::query_as("SELECT queue_skills, queue_language, queued_at FROM analytics_calls")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rerouted_call_counts_in_its_latest_queue_whatever_order_its_events_arrive_in() {
    let db = TestDatabase::new().await;
    let id = Uuid::new_v4();
    let queued_at = Utc::now();
    let call = vec![
        (
            <call::Started as Event>::TYPE,
            json!({ "call_id": id, "direction": "inbound", "to": "+14155550100", "language": "en", "started_at": queued_at }),
        ),
        (
            <call::Queued as Event>::TYPE,
            json!({ "call_id": id, "skills": ["billing"], "language": "en", "priority": 0, "queued_at": queued_at }),
        ),
        (
            <call::Rerouted as Event>::TYPE,
            json!({ "call_id": id, "skills": ["support", "vip"], "language": "es", "reason": "wrong_language", "rerouted_by": "lead", "rerouted_at": queued_at + Span::seconds(30) }),
        ),
        (
            <call::Rerouted as Event>::TYPE,
            json!({ "call_id": id, "skills": ["support"], "language": "de", "reason": "overflow", "rerouted_by": "lead", "rerouted_at": queued_at + Span::seconds(40) }),
        ),
    ];
    let in_order = envelopes("org_a", &call);
    let expected = (vec!["support".to_owned()], "de".to_owned(), queued_at);
    let mut conn = db.pool.acquire().await.unwrap();
    let orders: [Vec<Envelope>; 2] = [in_order.clone(), in_order.iter().rev().cloned().collect()];
    for events in orders {
        // One at a time, then all in one batch twice over.
        for envelope in &events {
            projection::apply(&mut conn, Table::Live, envelope)
                .await
                .unwrap();
        }
        let got = queue_of(&db.pool).await;
        assert_eq!((got.0, got.1), (expected.0.clone(), expected.1.clone()));
        assert_eq!(got.2.timestamp_micros(), queued_at.timestamp_micros());
        sqlx::query("DELETE FROM analytics_calls")
            .execute(&db.pool)
            .await
            .unwrap();
        let twice: Vec<Envelope> = events.iter().chain(events.iter()).cloned().collect();
        projection::apply_batch(&mut conn, Table::Live, &twice)
            .await
            .unwrap();
        let got = queue_of(&db.pool).await;
        assert_eq!((got.0, got.1), (expected.0.clone(), expected.1.clone()));
        sqlx::query("DELETE FROM analytics_calls")
            .execute(&db.pool)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_counts_consumed_events_and_a_rebuild_equals_the_live_projection() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.pool.clone());
    let exchange = unique_name("test.events");
    let env = Env::from_pairs([
        ("DATABASE_URL", db.url.as_str()),
        ("RABBITMQ_URL", &amqp_url()),
        ("EVENTS_EXCHANGE", exchange.as_str()),
        ("ANALYTICS_QUEUE", &unique_name("test.analytics")),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = Shutdown::new();
    let config = Config::from_env(&env).unwrap();
    // The queue exists before anything publishes, as `comms migrate` ensures in a deployment.
    let consumer = config.consumer();
    let connection = comms_testkit::amqp_connection().await;
    let channel = connection.create_channel().await.unwrap();
    comms_bus::declare_consumer(&channel, &consumer)
        .await
        .unwrap();
    let tokens = comms_auth::AuthConfig::ephemeral().tokens;
    let service = tokio::spawn(run(config, tokens.clone(), listener, shutdown.clone()));
    let mut relay_config = RelayConfig::new(amqp_url(), &exchange);
    relay_config.leadership_check = Duration::from_millis(100);
    let relay = tokio::spawn(Relay::new(store.clone(), relay_config).run(shutdown.clone().wait()));

    append_call(&store, "org_a", answered_call(60)).await;
    append_call(&store, "org_a", answered_call(120)).await;
    append_call(&store, "org_a", unanswered_call("no_answer")).await;
    append_call(&store, "org_a", unanswered_call("busy")).await;
    append_call(&store, "org_b", answered_call(30)).await;
    let in_flight = Uuid::new_v4();
    append_call(
        &store,
        "org_a",
        vec![(
            <call::Started as Event>::TYPE,
            json!({ "call_id": in_flight, "direction": "outbound", "to": "+14155550100", "language": "en", "started_at": Utc::now() }),
        )],
    )
    .await;

    let mut client = AnalyticsServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let as_role = |role| {
        let identity = comms_auth::Identity::new("org_a", "user_1", role).unwrap();
        let mut request = tonic::Request::new(GetDashboardRequest {});
        let token = tokens.internal_token(&identity).unwrap();
        comms_auth::service::attach(request.metadata_mut(), &token);
        request
    };
    let denied = client
        .get_dashboard(as_role(comms_auth::Role::Agent))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert!(denied.message().contains("analytics:read"));
    let mut dashboard = Dashboard::default();
    for _ in 0..1500 {
        let request = as_role(comms_auth::Role::Supervisor);
        dashboard = client.get_dashboard(request).await.unwrap().into_inner();
        if dashboard.total_calls == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        dashboard.total_calls, 5,
        "org_b's call is not counted for org_a"
    );
    assert_eq!(dashboard.active_calls, 1);
    assert_eq!(dashboard.calls_today, 5);
    assert_eq!(dashboard.average_duration_seconds, 90.0);
    assert_eq!(dashboard.answer_rate, 0.5);
    let by_status: Vec<(String, i64)> = dashboard
        .calls_by_status
        .into_iter()
        .map(|s| (s.status, s.count))
        .collect();
    assert_eq!(
        by_status,
        [
            ("busy".into(), 1),
            ("ended".into(), 2),
            ("initiated".into(), 1),
            ("no_answer".into(), 1)
        ]
    );

    let live = snapshot(&db.pool).await;
    let counters_before = counters(&db.pool).await;
    let mut reported = Vec::new();
    let report = rebuild(&store, |n| reported.push(n)).await.unwrap();
    assert_eq!(report.events_replayed, 4 + 4 + 2 + 2 + 4 + 1);
    assert_eq!(reported.last(), Some(&report.events_replayed));
    assert_eq!(
        snapshot(&db.pool).await,
        live,
        "the rebuilt projection equals the live one"
    );
    assert_eq!(
        counters(&db.pool).await,
        counters_before,
        "and so do the dashboard counters"
    );

    // The consumer keeps working on the swapped-in table.
    append_call(&store, "org_a", answered_call(10)).await;
    for _ in 0..1500 {
        if snapshot(&db.pool).await.len() == live.len() + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(snapshot(&db.pool).await.len(), live.len() + 1);
    stop.trigger();
    service.await.unwrap().unwrap();
    relay.await.unwrap();
}
