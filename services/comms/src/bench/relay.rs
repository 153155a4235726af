//! Relay throughput (log → RabbitMQ with confirms) against a bare publish-with-confirms loop of
//! the same messages with the same window of outstanding confirms.

use std::time::{Duration, Instant};

use comms_bus::{Envelope, QueueType, Relay, RelayConfig};
use comms_eventstore::{Checkpoint, EventStore, ExpectedVersion, Filter, StreamName};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeleteOptions};
use lapin::{BasicProperties, Confirmation};
use serde_json::{Value, json};
use uuid::Uuid;

use super::setup::{BenchDatabase, unique};
use super::stats::{percent, round};
use super::{Options, heading};

const BATCH: usize = 500;

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading("relay: log → RabbitMQ with confirms, against a bare publish-with-confirms loop");
    let db = BenchDatabase::create(&options.admin_database_url, 8).await?;
    let store = EventStore::new(db.pool.clone());
    let (exchange, queue) = (unique("bench.events"), unique("bench.relay"));
    let connection = comms_bus::connect(&options.amqp_url).await?;
    let channel = connection.create_channel().await?;
    comms_bus::declare_events_exchange(&channel, &exchange).await?;
    comms_bus::declare_queue(
        &channel,
        &exchange,
        &queue,
        &["#".to_owned()],
        QueueType::default(),
    )
    .await?;

    for chunk in 0..options.relay_events.div_ceil(100) {
        let events = (0..100.min(options.relay_events - chunk * 100))
            .map(|_| super::call_started(Uuid::new_v4()))
            .collect();
        store
            .append(
                "org_bench",
                &StreamName::new("call", Uuid::new_v4()),
                ExpectedVersion::NoStream,
                events,
            )
            .await?;
    }
    let last = loop {
        let tail = store
            .read_all(Checkpoint::START, &Filter::All, usize::MAX >> 1)
            .await?;
        if tail.len() == options.relay_events {
            break tail.last().expect("events were appended").clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let sample = comms_bus::envelope_of(&last);

    let mut config = RelayConfig::new(&options.amqp_url, &exchange);
    config.batch_size = BATCH;
    let relay = Relay::new(store.clone(), config);
    let mut active = relay.active();
    let (stop, shutdown) = comms_runtime::Shutdown::new();
    let task = tokio::spawn(relay.run(shutdown.wait()));
    active.wait_for(|a| *a).await?;
    let started = Instant::now();
    loop {
        let mut conn = db.pool.acquire().await?;
        if Checkpoint::load(&mut conn, &format!("relay:{exchange}")).await? == last.checkpoint() {
            break;
        }
        drop(conn);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let relay_seconds = started.elapsed().as_secs_f64();
    stop.trigger();
    task.await?;

    // A channel of its own: the topology channel is not in confirm mode.
    let publisher = connection.create_channel().await?;
    let ceiling_seconds =
        bare_publish(&publisher, &exchange, &sample, options.relay_events).await?;
    let (relay_rate, bare_rate) = (
        options.relay_events as f64 / relay_seconds,
        options.relay_events as f64 / ceiling_seconds,
    );
    let ratio = percent(relay_rate, bare_rate);
    println!(
        "{:>8} {:>7} | {:>10} | {:>10} | {:>6}",
        "events", "bytes", "relay ev/s", "bare ev/s", "ratio"
    );
    println!(
        "{:>8} {:>7} | {relay_rate:>10.0} | {bare_rate:>10.0} | {ratio:>5.0}%",
        options.relay_events,
        sample.to_json().len()
    );

    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    channel
        .exchange_delete(exchange.as_str().into(), Default::default())
        .await?;
    db.drop_now().await?;
    Ok(json!({
        "events": options.relay_events, "message_bytes": sample.to_json().len(), "batch": BATCH, "window": WINDOW,
        "relay_events_per_second": round(relay_rate), "bare_publish_per_second": round(bare_rate),
        "ratio_percent": ratio,
    }))
}

/// Publishes `count` copies of the envelope with up to [`WINDOW`] confirms outstanding, awaited
/// in order: the relay's own pipelining without reading the log. Returns seconds taken.
async fn bare_publish(
    channel: &lapin::Channel,
    exchange: &str,
    sample: &Envelope,
    count: usize,
) -> anyhow::Result<f64> {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let body = sample.to_json();
    let properties: BasicProperties = comms_bus::amqp_properties(sample, None);
    let started = Instant::now();
    let mut in_flight = std::collections::VecDeque::with_capacity(WINDOW);
    for _ in 0..count {
        if in_flight.len() == WINDOW {
            let confirm: lapin::PublisherConfirm = in_flight.pop_front().expect("a full window");
            anyhow::ensure!(
                matches!(confirm.await?, Confirmation::Ack(_)),
                "the broker refused a message"
            );
        }
        let confirm = channel
            .basic_publish(
                exchange.into(),
                sample.event_type.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                properties.clone(),
            )
            .await?;
        in_flight.push_back(confirm);
    }
    for confirm in in_flight {
        anyhow::ensure!(
            matches!(confirm.await?, Confirmation::Ack(_)),
            "the broker refused a message"
        );
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Confirms outstanding at once in the bare loop: the relay's own limit.
const WINDOW: usize = 5_000;
