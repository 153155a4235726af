//! The relay against the real PostgreSQL and RabbitMQ: at-least-once publication across a kill,
//! exactly-once application by an idempotent consumer, one active relay at a time.

use std::time::Duration;

use comms_bus::{ConsumerConfig, Envelope, HandleError, Handler, Relay, RelayConfig, run_consumer};
use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName};
use comms_testkit::{TestDatabase, amqp_connection, amqp_url, unique_name};
use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Counts how many times each event is applied, in the consumer's transaction.
struct CountApplications;

impl Handler for CountApplications {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        if envelope.data.get("poison").is_some() {
            return Err(HandleError::Reject(
                "data.poison: this event cannot be applied".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO applied (event_id, times) VALUES ($1, 1)
             ON CONFLICT (event_id) DO UPDATE SET times = applied.times + 1",
        )
        .bind(envelope.id)
        .execute(conn)
        .await?;
        Ok(())
    }
}

struct Fixture {
    store: EventStore,
    pool: PgPool,
    exchange: String,
    queue: String,
}

impl Fixture {
    async fn new() -> Self {
        let db = TestDatabase::new().await;
        sqlx::query("CREATE TABLE applied (event_id uuid PRIMARY KEY, times int NOT NULL)")
            .execute(&db.pool)
            .await
            .unwrap();
        let fixture = Self {
            store: EventStore::new(db.pool.clone()),
            pool: db.pool,
            exchange: unique_name("test.events"),
            queue: unique_name("test.queue"),
        };
        // The queue exists before anything publishes, as `comms migrate` ensures in a deployment.
        let config = fixture.consumer_config();
        let connection = amqp_connection().await;
        let channel = connection.create_channel().await.unwrap();
        comms_bus::declare_events_exchange(&channel, &config.exchange)
            .await
            .unwrap();
        comms_bus::declare_queue(
            &channel,
            &config.exchange,
            &config.queue,
            &config.bindings,
            config.queue_type,
        )
        .await
        .unwrap();
        fixture
    }

    fn relay(&self) -> Relay {
        let mut config = RelayConfig::new(amqp_url(), &self.exchange);
        config.batch_size = 25;
        config.leadership_check = Duration::from_millis(100);
        Relay::new(self.store.clone(), config)
    }

    fn consumer_config(&self) -> ConsumerConfig {
        ConsumerConfig {
            amqp_url: amqp_url(),
            exchange: self.exchange.clone(),
            queue: self.queue.clone(),
            bindings: vec!["test.#".into()],
            consumer_name: "counting".into(),
            prefetch: 50,
            queue_type: Default::default(),
        }
    }

    fn start_consumer(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run_consumer(
            self.pool.clone(),
            self.consumer_config(),
            CountApplications,
            never(),
        ))
    }

    async fn append(&self, count: usize, data: serde_json::Value) -> Vec<Uuid> {
        let mut ids = Vec::new();
        let streams: Vec<_> = (0..10)
            .map(|_| StreamName::new("test", Uuid::new_v4()))
            .collect();
        for n in 0..count {
            let event = NewEvent::new("test.happened", data.clone(), json!({}));
            ids.push(event.event_id);
            self.store
                .append("org_a", &streams[n % 10], ExpectedVersion::Any, vec![event])
                .await
                .unwrap();
        }
        ids
    }

    async fn relay_position(&self) -> i64 {
        sqlx::query_scalar("SELECT global_position FROM checkpoints WHERE name = $1")
            .bind(format!("relay:{}", self.exchange))
            .fetch_optional(&self.pool)
            .await
            .unwrap()
            .unwrap_or(0)
    }

    async fn wait_until_applied(&self, count: i64) {
        for _ in 0..600 {
            let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM applied")
                .fetch_one(&self.pool)
                .await
                .unwrap();
            if applied >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} events were applied in time");
    }
}

fn never() -> std::future::Pending<()> {
    std::future::pending()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_mid_stream_loses_nothing_and_consumers_apply_each_event_once() {
    let fx = Fixture::new().await;
    let consumer = fx.start_consumer();
    let ids = fx.append(300, json!({ "ok": true })).await;

    // Kill the first relay part-way through.
    let first = tokio::spawn(fx.relay().run(never()));
    while fx.relay_position().await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    let _ = first.await;
    // Worst case for at-least-once: the relay published but died before saving its checkpoint.
    sqlx::query("DELETE FROM checkpoints")
        .execute(&fx.pool)
        .await
        .unwrap();

    let second = tokio::spawn(fx.relay().run(never()));
    fx.wait_until_applied(300).await;
    // Give redelivered duplicates time to arrive and be discarded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.abort();
    consumer.abort();

    let rows: Vec<(Uuid, i32)> = sqlx::query_as("SELECT event_id, times FROM applied")
        .fetch_all(&fx.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), ids.len(), "every event reached the consumer");
    assert!(
        rows.iter().all(|(_, times)| *times == 1),
        "no event applied twice"
    );
    let mut applied: Vec<Uuid> = rows.into_iter().map(|(id, _)| id).collect();
    let mut expected = ids;
    applied.sort();
    expected.sort();
    assert_eq!(applied, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_relay_is_active_and_a_standby_takes_over_when_it_dies() {
    let fx = Fixture::new().await;
    let consumer = fx.start_consumer();
    let (a, b) = (fx.relay(), fx.relay());
    let (mut a_active, mut b_active) = (a.active(), b.active());
    let a_task = tokio::spawn(a.run(never()));
    a_active.wait_for(|active| *active).await.unwrap();
    let b_task = tokio::spawn(b.run(never()));

    fx.append(50, json!({})).await;
    fx.wait_until_applied(50).await;
    assert!(
        !*b_active.borrow(),
        "the standby does not publish while the active relay lives"
    );

    a_task.abort(); // the process dies: its session, and so its lock, goes with it
    tokio::time::timeout(Duration::from_secs(10), b_active.wait_for(|active| *active))
        .await
        .expect("the standby took over")
        .unwrap();
    fx.append(50, json!({})).await;
    fx.wait_until_applied(100).await;
    b_task.abort();
    consumer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_carry_the_envelope_and_poison_goes_to_the_dead_letter_queue_with_its_reason() {
    let fx = Fixture::new().await;
    let consumer = fx.start_consumer();
    // A raw queue of our own, to look at the relay's messages as any platform module would.
    let amqp = amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    let raw = unique_name("test.raw");
    comms_bus::declare_events_exchange(&channel, &fx.exchange)
        .await
        .unwrap();
    comms_bus::declare_queue(
        &channel,
        &fx.exchange,
        &raw,
        &["test.#".to_string()],
        Default::default(),
    )
    .await
    .unwrap();

    let relay = tokio::spawn(fx.relay().run(never()));
    let good = fx.append(1, json!({ "ok": true })).await[0];
    let poison = fx.append(1, json!({ "poison": true })).await[0];
    fx.wait_until_applied(1).await;

    let message = get(&channel, &raw).await;
    let envelope: serde_json::Value = serde_json::from_slice(&message.data).unwrap();
    assert_eq!(envelope["id"], good.to_string());
    assert_eq!(envelope["type"], "test.happened");
    assert_eq!(envelope["organizationId"], "org_a");
    assert_eq!(
        message.properties.message_id().as_ref().unwrap().as_str(),
        good.to_string()
    );
    assert_eq!(
        message.properties.kind().as_ref().unwrap().as_str(),
        "test.happened"
    );
    assert_eq!(*message.properties.delivery_mode(), Some(2));

    // The handler's rejection, and a body that is not an envelope at all, are dead-lettered.
    channel
        .basic_publish(
            fx.exchange.as_str().into(),
            "test.garbage".into(),
            Default::default(),
            b"{not json",
            Default::default(),
        )
        .await
        .unwrap();
    let dlq = comms_bus::dead_letter_queue(&fx.queue);
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let dead = get(&channel, &dlq).await;
        let headers = dead.properties.headers().clone().unwrap();
        let Some(AMQPValue::LongString(reason)) = headers.inner().get("x-comms-dead-letter-reason")
        else {
            panic!("dead letter without a reason");
        };
        reasons.push((
            dead.properties
                .message_id()
                .as_ref()
                .map(|id| id.to_string()),
            String::from_utf8_lossy(reason.as_bytes()).into_owned(),
        ));
    }
    reasons.sort();
    assert_eq!(reasons[0].0, None);
    assert!(
        reasons[0]
            .1
            .starts_with("body is not a valid event envelope"),
        "{}",
        reasons[0].1
    );
    assert_eq!(
        reasons[1],
        (
            Some(poison.to_string()),
            "data.poison: this event cannot be applied".into()
        )
    );
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM applied")
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(applied, 1, "the poison message changed nothing");
    relay.abort();
    consumer.abort();
}

async fn get(channel: &lapin::Channel, queue: &str) -> lapin::message::BasicGetMessage {
    for _ in 0..200 {
        let options = BasicGetOptions { no_ack: true };
        if let Some(message) = channel.basic_get(queue.into(), options).await.unwrap() {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no message arrived on {queue}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_inside_a_batch_is_dead_lettered_alone() {
    let fx = Fixture::new().await;
    // Everything is on the queue before the consumer starts, so it arrives in batches.
    let relay = tokio::spawn(fx.relay().run(never()));
    let mut ids = fx.append(60, json!({ "ok": true })).await;
    let poison = fx.append(1, json!({ "poison": true })).await[0];
    ids.extend(fx.append(60, json!({ "ok": true })).await);
    let amqp = amqp_connection().await;
    let channel = amqp.create_channel().await.unwrap();
    for _ in 0..400 {
        let queue = channel
            .queue_declare(
                fx.queue.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        if queue.message_count() == 121 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let consumer = fx.start_consumer();
    fx.wait_until_applied(120).await;
    let dead = get(&channel, &comms_bus::dead_letter_queue(&fx.queue)).await;
    assert_eq!(
        dead.properties.message_id().as_ref().unwrap().to_string(),
        poison.to_string()
    );
    let times: Vec<i32> = sqlx::query_scalar("SELECT times FROM applied")
        .fetch_all(&fx.pool)
        .await
        .unwrap();
    assert_eq!(times.len(), ids.len());
    assert!(
        times.iter().all(|t| *t == 1),
        "each event of the batch applied once"
    );
    relay.abort();
    consumer.abort();
}
