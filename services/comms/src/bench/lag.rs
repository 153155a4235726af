//! End-to-end lag: from an append's commit to the analytics projection applying it (relay →
//! RabbitMQ → consumer), at steady 500 and 2,000 events/s and during a burst.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use comms_events::call::CallEvent;

use comms_analytics::projection::{self, Table};
use comms_bus::{ConsumerConfig, Envelope, HandleError, Handler, QueueType, Relay, RelayConfig};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName};
use serde_json::{Value, json};
use sqlx::PgConnection;
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;

use super::setup::{BenchDatabase, unique};
use super::stats::{Samples, ms};
use super::{Options, heading};

/// Applies events to the live projection as the analytics consumer does (in batches), then notes
/// when: just before the consumer's commit, which the lag therefore leaves out (well under a
/// millisecond here).
struct Recorder(mpsc::UnboundedSender<(Uuid, Instant)>);

impl Handler for Recorder {
    /// Read models only: a slow batch holds back no one's events.
    const APPENDS: bool = false;

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        self.handle_batch(conn, std::slice::from_ref(envelope))
            .await
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        envelopes: &[Envelope],
    ) -> Result<(), HandleError> {
        projection::apply_batch(conn, Table::Live, envelopes).await?;
        let now = Instant::now();
        for envelope in envelopes {
            let _ = self.0.send((envelope.id, now));
        }
        Ok(())
    }
}

type Appended = Arc<Mutex<HashMap<Uuid, Instant>>>;

async fn append_one(store: &EventStore, appended: &Appended) -> anyhow::Result<()> {
    let call_id = Uuid::new_v4();
    let event = super::call_started(call_id);
    let id = event.event_id;
    store
        .append(
            "org_bench",
            &StreamName::new("call", call_id),
            ExpectedVersion::NoStream,
            vec![event],
        )
        .await?;
    appended.lock().await.insert(id, Instant::now());
    Ok(())
}

/// Appends at `rate` events/s for `seconds` (8 paced writers), or `burst` events at once.
async fn generate(
    store: &EventStore,
    appended: &Appended,
    rate: Option<f64>,
    count: usize,
) -> anyhow::Result<()> {
    const WRITERS: usize = 8;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (store, appended) = (store.clone(), appended.clone());
        let share = count / WRITERS + usize::from(writer < count % WRITERS);
        tasks.push(tokio::spawn(async move {
            let mut ticker = rate
                .map(|rate| tokio::time::interval(Duration::from_secs_f64(WRITERS as f64 / rate)));
            for _ in 0..share {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                append_one(&store, &appended).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading("end-to-end lag: append committed → analytics projection applied");
    let db = BenchDatabase::create(&options.admin_database_url, 24).await?;
    let store = EventStore::new(db.pool.clone());
    let consumer = ConsumerConfig {
        amqp_url: options.amqp_url.clone(),
        exchange: unique("bench.events"),
        queue: unique("bench.analytics"),
        bindings: vec![CallEvent::BINDING.into()],
        consumer_name: "bench".into(),
        prefetch: 100,
        queue_type: QueueType::default(),
        retry: comms_bus::RetryPolicy::default(),
        publishers: comms_bus::Publishers::parse(&comms_bus::user_of(&options.amqp_url), "")
            .map_err(anyhow::Error::msg)?,
    };
    let connection = comms_bus::connect(&options.amqp_url).await?;
    let channel = connection.create_channel().await?;
    comms_bus::declare_events_exchange(&channel, &consumer.exchange).await?;
    comms_bus::declare_queue(
        &channel,
        &consumer.exchange,
        &consumer.queue,
        &consumer.bindings,
        consumer.queue_type,
    )
    .await?;

    let (applied_tx, mut applied_rx) = mpsc::unbounded_channel();
    let (stop, shutdown) = comms_runtime::Shutdown::new();
    let consumer_task = tokio::spawn(comms_bus::run_consumer(
        db.pool.clone(),
        consumer.clone(),
        Recorder(applied_tx),
        shutdown.clone().wait(),
    ));
    let relay = Relay::new(
        store.clone(),
        RelayConfig::new(&options.amqp_url, &consumer.exchange),
    );
    let mut active = relay.active();
    let relay_task = tokio::spawn(relay.run(shutdown.clone().wait()));
    active.wait_for(|a| *a).await?;

    let phases = [
        (
            "steady 500/s",
            Some(500.0),
            (500.0 * options.lag_seconds) as usize,
        ),
        (
            "steady 2000/s",
            Some(2000.0),
            (2000.0 * options.lag_seconds) as usize,
        ),
        ("burst", None, options.burst_events),
    ];
    println!(
        "{:>14} {:>8} {:>11} | {:>8} {:>8} {:>8}",
        "load", "events", "achieved/s", "p50 ms", "p99 ms", "max ms"
    );
    let mut results = Vec::new();
    let mut applied: HashMap<Uuid, Instant> = HashMap::new();
    for (name, rate, count) in phases {
        let appended: Appended = Arc::default();
        let started = Instant::now();
        generate(&store, &appended, rate, count).await?;
        let achieved = count as f64 / started.elapsed().as_secs_f64();
        // Join on the event id once every event of the phase has been applied: an event can reach
        // the projection before its writer has noted the append time.
        let appended = std::mem::take(&mut *appended.lock().await);
        let deadline = Instant::now() + Duration::from_secs(120);
        // Earlier phases were drained completely, and the consumer applies each event once.
        while applied.len() < count {
            let (id, at) = tokio::time::timeout_at(deadline.into(), applied_rx.recv())
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{name}: only {} of {count} events reached the projection",
                        applied.len()
                    )
                })?
                .ok_or_else(|| anyhow::anyhow!("the consumer stopped"))?;
            applied.insert(id, at);
        }
        let lags: Vec<Duration> = appended
            .iter()
            .map(|(id, appended_at)| {
                let at = applied
                    .get(id)
                    .ok_or_else(|| anyhow::anyhow!("event {id} was never applied"))?;
                anyhow::Ok(at.saturating_duration_since(*appended_at))
            })
            .collect::<anyhow::Result<_>>()?;
        applied.clear();
        let samples = Samples::new(lags, started.elapsed());
        println!(
            "{name:>14} {count:>8} {achieved:>11.0} | {:>8.2} {:>8.2} {:>8.2}",
            ms(samples.percentile(0.5)),
            ms(samples.percentile(0.99)),
            ms(samples.max())
        );
        results.push(json!({ "load": name, "events": count, "achieved_per_second": achieved.round(), "lag": samples.to_json() }));
    }
    stop.trigger();
    consumer_task.await?;
    relay_task.await?;
    channel
        .queue_delete(consumer.queue.as_str().into(), Default::default())
        .await?;
    channel
        .queue_delete(
            comms_bus::dead_letter_queue(&consumer.queue)
                .as_str()
                .into(),
            Default::default(),
        )
        .await?;
    channel
        .exchange_delete(consumer.exchange.as_str().into(), Default::default())
        .await?;
    db.drop_now().await?;
    Ok(Value::Array(results))
}
