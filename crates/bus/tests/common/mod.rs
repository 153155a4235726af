//! What the bus tests share: a database and broker names of their own, a counting handler,
//! and helpers to append events and wait for them.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use comms_bus::{ConsumerConfig, Envelope, HandleError, Handler, Relay, RelayConfig, run_consumer};
use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName};
use comms_testkit::{TestDatabase, amqp_connection, amqp_url, unique_name};
use lapin::options::BasicGetOptions;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Counts how many times each event is applied, in the consumer's transaction. An event whose
/// data has `poison` is rejected; one with `"fail_times": n` fails its first n attempts.
#[derive(Clone, Default)]
pub struct CountApplications {
    attempts: Arc<Mutex<HashMap<Uuid, u64>>>,
}

impl CountApplications {
    /// How many times the handler was asked to apply event `id`.
    pub fn attempts(&self, id: Uuid) -> u64 {
        self.attempts.lock().unwrap().get(&id).copied().unwrap_or(0)
    }
}

impl Handler for CountApplications {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let attempt = attempts.entry(envelope.id).or_default();
            *attempt += 1;
            *attempt
        };
        if envelope.data.get("poison").is_some() {
            return Err(HandleError::Reject(
                "data.poison: this event cannot be applied".into(),
            ));
        }
        let fail_times = envelope.data.get("fail_times").and_then(|n| n.as_u64());
        if fail_times.is_some_and(|times| attempt <= times) {
            return Err(HandleError::Retry(anyhow::anyhow!(
                "attempt {attempt} failed on purpose"
            )));
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

pub struct Fixture {
    pub db: TestDatabase,
    pub store: EventStore,
    pub pool: PgPool,
    pub exchange: String,
    pub queue: String,
}

impl Fixture {
    pub async fn new() -> Self {
        let db = TestDatabase::new().await;
        sqlx::query("CREATE TABLE applied (event_id uuid PRIMARY KEY, times int NOT NULL)")
            .execute(&db.pool)
            .await
            .unwrap();
        let fixture = Self {
            store: EventStore::new(db.pool.clone()),
            pool: db.pool.clone(),
            db,
            exchange: unique_name("test.events"),
            queue: unique_name("test.queue"),
        };
        // The queue exists before anything publishes, as `comms migrate` ensures in a deployment.
        let config = fixture.consumer_config();
        let connection = amqp_connection().await;
        let channel = connection.create_channel().await.unwrap();
        comms_bus::declare_consumer(&channel, &config)
            .await
            .unwrap();
        fixture
    }

    pub fn relay(&self) -> Relay {
        self.relay_on(self.store.clone())
    }

    pub fn relay_on(&self, store: EventStore) -> Relay {
        let mut config = RelayConfig::new(amqp_url(), &self.exchange);
        config.batch_size = 25;
        config.leadership_check = Duration::from_millis(100);
        Relay::new(store, config)
    }

    pub fn consumer_config(&self) -> ConsumerConfig {
        ConsumerConfig {
            amqp_url: amqp_url(),
            exchange: self.exchange.clone(),
            queue: self.queue.clone(),
            bindings: vec!["test.#".into()],
            consumer_name: "counting".into(),
            prefetch: 50,
            queue_type: Default::default(),
            retry: Default::default(),
            publishers: test_events_from_us(),
        }
    }

    pub fn start_consumer(&self) -> tokio::task::JoinHandle<()> {
        self.start_consumer_with(
            self.pool.clone(),
            self.consumer_config(),
            Default::default(),
        )
    }

    pub fn start_consumer_with(
        &self,
        pool: PgPool,
        config: ConsumerConfig,
        handler: CountApplications,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run_consumer(pool, config, handler, never()))
    }

    pub async fn append(&self, count: usize, data: serde_json::Value) -> Vec<Uuid> {
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

    pub async fn relay_position(&self) -> i64 {
        sqlx::query_scalar("SELECT global_position FROM checkpoints WHERE name = $1")
            .bind(format!("relay:{}", self.exchange))
            .fetch_optional(&self.pool)
            .await
            .unwrap()
            .unwrap_or(0)
    }

    /// How many times each event was applied, one row per event.
    pub async fn times_applied(&self) -> Vec<i32> {
        sqlx::query_scalar("SELECT times FROM applied")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// Waits until the relay has published and nothing is ready on the queue: the consumer
    /// holds every message.
    pub async fn wait_until_taken(&self, channel: &lapin::Channel) {
        for _ in 0..1200 {
            if self.relay_position().await > 0 && ready(channel, &self.queue).await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the consumer did not take the messages");
    }

    pub async fn wait_until_applied(&self, count: i64) {
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

pub fn never() -> std::future::Pending<()> {
    std::future::pending()
}

/// The relay publishes as the test's RabbitMQ user; the tests' events are `test.*`.
pub fn test_events_from_us() -> comms_bus::Publishers {
    let me = comms_bus::user_of(&amqp_url());
    comms_bus::Publishers::parse(&me, &format!("test.*={me}")).unwrap()
}

/// Messages ready on `queue`.
pub async fn ready(channel: &lapin::Channel, queue: &str) -> u32 {
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, Default::default())
        .await
        .unwrap()
        .message_count()
}

/// Takes the next message from `queue`, waiting for one to arrive.
pub async fn get(channel: &lapin::Channel, queue: &str) -> lapin::message::BasicGetMessage {
    for _ in 0..1200 {
        let options = BasicGetOptions { no_ack: true };
        if let Some(message) = channel.basic_get(queue.into(), options).await.unwrap() {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no message arrived on {queue}");
}
