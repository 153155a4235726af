//! Idempotent consumers: apply a message and record its id in one transaction, acknowledge after
//! the commit, and dead-letter (with the reason) what cannot be processed.

use std::time::Duration;

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt as _};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, Consumer};
use sqlx::{PgConnection, PgPool};
use tracing::{Instrument as _, info, warn};

use crate::envelope::traceparent_header;
use crate::{Envelope, QueueType, dead_letter_queue, declare_events_exchange, declare_queue};

/// Why a message was not applied.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The message can never be applied (invalid data, an unknown event): dead-letter it.
    #[error("{0}")]
    Reject(String),
    /// A passing failure (the database is down): redeliver it later.
    #[error(transparent)]
    Retry(anyhow::Error),
}

impl From<sqlx::Error> for HandleError {
    /// Data and integrity errors (SQLSTATE classes 22 and 23) will fail again on redelivery;
    /// anything else (connections, timeouts, serialization) may not.
    fn from(error: sqlx::Error) -> Self {
        let permanent = error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code.starts_with("22") || code.starts_with("23"));
        if permanent {
            Self::Reject(format!("database rejected the message's data: {error}"))
        } else {
            Self::Retry(error.into())
        }
    }
}

/// Applies messages inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> impl Future<Output = Result<(), HandleError>> + Send;

    /// Applies several messages, in delivery order, in one transaction. Override it when the
    /// effect of many can be written at once; a rejection rejects the batch, and the consumer
    /// then retries its messages one by one to find the culprit.
    fn handle_batch(
        &self,
        conn: &mut PgConnection,
        envelopes: &[Envelope],
    ) -> impl Future<Output = Result<(), HandleError>> + Send {
        async move {
            for envelope in envelopes {
                self.handle(conn, envelope).await?;
            }
            Ok(())
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub amqp_url: String,
    pub exchange: String,
    /// Durable queue name; its dead-letter queue is `<queue>.dead-letter`.
    pub queue: String,
    /// Topic patterns the queue is bound with, e.g. `comms.call.*`.
    pub bindings: Vec<String>,
    /// Names this consumer in `processed_messages`: redeliveries to it are not applied twice.
    pub consumer_name: String,
    pub prefetch: u16,
    pub queue_type: QueueType,
}

/// Consumes until `shutdown` resolves, reconnecting after broker failures. The message in hand
/// at shutdown is finished and acknowledged first.
pub async fn run_consumer<H: Handler>(
    pool: PgPool,
    config: ConsumerConfig,
    handler: H,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let result = consume(&pool, &config, &handler, shutdown.as_mut()).await;
        match result {
            Ok(()) => return,
            Err(error) => {
                warn!(queue = %config.queue, error = %format!("{error:#}"), "consumer failed; reconnecting");
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn consume<H: Handler>(
    pool: &PgPool,
    config: &ConsumerConfig,
    handler: &H,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> anyhow::Result<()> {
    // Shutdown may come while the broker is slow to answer (a quorum queue being created).
    let (connection, dead_letters, mut deliveries) = tokio::select! {
        () = &mut shutdown => return Ok(()),
        subscribed = subscribe(config) => subscribed?,
    };
    info!(queue = %config.queue, "consuming");
    loop {
        let delivery = tokio::select! {
            () = &mut shutdown => {
                let _ = connection.close(200, "shutting down".into()).await;
                return Ok(());
            }
            delivery = deliveries.next() => delivery,
        };
        let Some(delivery) = delivery else {
            anyhow::bail!("the broker closed the consumer");
        };
        // Whatever else has already arrived (up to the prefetch) is applied with it.
        let mut batch = vec![delivery?];
        while let Some(Some(next)) = deliveries.next().now_or_never() {
            batch.push(next?);
        }
        process_batch(pool, config, handler, &dead_letters, batch).await?;
    }
}

/// Connects, declares the queue and starts consuming from it; returns the connection, a channel
/// for dead letters (with confirms) and the deliveries.
async fn subscribe(config: &ConsumerConfig) -> anyhow::Result<(Connection, Channel, Consumer)> {
    let connection = crate::connect(&config.amqp_url)
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    declare_events_exchange(&channel, &config.exchange).await?;
    declare_queue(
        &channel,
        &config.exchange,
        &config.queue,
        &config.bindings,
        config.queue_type,
    )
    .await?;
    channel
        .basic_qos(config.prefetch, BasicQosOptions::default())
        .await?;
    let dead_letters = connection.create_channel().await?;
    dead_letters
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let deliveries = channel
        .basic_consume(
            config.queue.as_str().into(),
            config.consumer_name.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((connection, dead_letters, deliveries))
}

/// Applies a batch of deliveries in one transaction and acknowledges them with one frame after
/// the commit. Bodies that are not envelopes are dead-lettered first; if the handler rejects
/// the batch, its messages are processed one by one so only the culprit is dead-lettered.
async fn process_batch<H: Handler>(
    pool: &PgPool,
    config: &ConsumerConfig,
    handler: &H,
    dead_letters: &Channel,
    deliveries: Vec<Delivery>,
) -> anyhow::Result<()> {
    if deliveries.len() == 1 {
        let delivery = deliveries.into_iter().next().expect("one delivery");
        return process(pool, config, handler, dead_letters, delivery).await;
    }
    let mut parsed = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match Envelope::parse(&delivery.data) {
            Ok(envelope) => parsed.push((delivery, envelope)),
            Err(reason) => dead_letter(config, dead_letters, delivery, &reason.to_string()).await?,
        }
    }
    let Some((last, _)) = parsed.last() else {
        return Ok(());
    };
    let span = tracing::info_span!("consume_batch", queue = %config.queue, messages = parsed.len());
    comms_telemetry::continue_trace(
        &span,
        traceparent_header(&parsed[0].0.properties).as_deref(),
    );
    let envelopes: Vec<Envelope> = parsed.iter().map(|(_, e)| e.clone()).collect();
    match apply_batch(pool, config, handler, &envelopes)
        .instrument(span)
        .await
    {
        Ok(applied) => {
            let multiple = BasicAckOptions { multiple: true };
            last.acker.ack(multiple).await?;
            let queue = config.queue.clone();
            metrics::counter!("comms_consumer_messages_total", "queue" => queue.clone(), "outcome" => "applied").increment(applied as u64);
            metrics::counter!("comms_consumer_messages_total", "queue" => queue, "outcome" => "duplicate").increment((envelopes.len() - applied) as u64);
            Ok(())
        }
        Err(HandleError::Reject(reason)) => {
            warn!(queue = %config.queue, reason, "batch rejected; applying its messages one by one");
            for (delivery, _) in parsed {
                process(pool, config, handler, dead_letters, delivery).await?;
            }
            Ok(())
        }
        Err(HandleError::Retry(error)) => {
            warn!(queue = %config.queue, error = %format!("{error:#}"), "batch will be redelivered");
            tokio::time::sleep(Duration::from_millis(500)).await;
            let requeue = BasicNackOptions {
                multiple: true,
                requeue: true,
            };
            last.acker.nack(requeue).await?;
            Ok(())
        }
    }
}

/// Records the batch's message ids and applies those not seen before, in one transaction;
/// returns how many were applied.
async fn apply_batch<H: Handler>(
    pool: &PgPool,
    config: &ConsumerConfig,
    handler: &H,
    envelopes: &[Envelope],
) -> Result<usize, HandleError> {
    let mut tx = pool.begin().await?;
    let ids: Vec<uuid::Uuid> = envelopes.iter().map(|e| e.id).collect();
    let fresh: Vec<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO processed_messages (consumer, message_id)
         SELECT $1, id FROM UNNEST($2::uuid[]) AS id
         ON CONFLICT DO NOTHING RETURNING message_id",
    )
    .bind(&config.consumer_name)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    // A message redelivered within the batch itself is applied once: the first copy counts.
    let mut fresh: std::collections::HashSet<uuid::Uuid> = fresh.into_iter().collect();
    let new: Vec<Envelope> = envelopes
        .iter()
        .filter(|e| fresh.remove(&e.id))
        .cloned()
        .collect();
    handler.handle_batch(&mut tx, &new).await?;
    tx.commit().await?;
    Ok(new.len())
}

async fn process<H: Handler>(
    pool: &PgPool,
    config: &ConsumerConfig,
    handler: &H,
    dead_letters: &Channel,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let envelope = match Envelope::parse(&delivery.data) {
        Ok(envelope) => envelope,
        Err(reason) => {
            return dead_letter(config, dead_letters, delivery, &reason.to_string()).await;
        }
    };
    let span = tracing::info_span!("consume", queue = %config.queue, event_type = %envelope.event_type, event_id = %envelope.id);
    comms_telemetry::continue_trace(&span, traceparent_header(&delivery.properties).as_deref());
    let outcome = apply(pool, config, handler, &envelope)
        .instrument(span)
        .await;
    match outcome {
        Ok(applied) => {
            delivery.acker.ack(BasicAckOptions::default()).await?;
            let outcome = if applied { "applied" } else { "duplicate" };
            metrics::counter!("comms_consumer_messages_total", "queue" => config.queue.clone(), "outcome" => outcome).increment(1);
            Ok(())
        }
        Err(HandleError::Reject(reason)) => {
            dead_letter(config, dead_letters, delivery, &reason).await
        }
        Err(HandleError::Retry(error)) => {
            warn!(event_id = %envelope.id, error = %format!("{error:#}"), "message will be redelivered");
            tokio::time::sleep(Duration::from_millis(500)).await;
            let requeue = BasicNackOptions {
                requeue: true,
                ..Default::default()
            };
            delivery.acker.nack(requeue).await?;
            Ok(())
        }
    }
}

/// Records the message id and applies it in one transaction; a message already recorded is a
/// redelivery and is acknowledged without being applied again. True when it was applied.
async fn apply<H: Handler>(
    pool: &PgPool,
    config: &ConsumerConfig,
    handler: &H,
    envelope: &Envelope,
) -> Result<bool, HandleError> {
    let mut tx = pool.begin().await?;
    let first_time = sqlx::query(
        "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(&config.consumer_name)
    .bind(envelope.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first_time {
        return Ok(false);
    }
    handler.handle(&mut tx, envelope).await?;
    tx.commit().await?;
    Ok(true)
}

/// Publishes the message to the dead-letter queue with the reason, waits for the broker's
/// confirm, then acknowledges the original: nothing is dropped silently.
async fn dead_letter(
    config: &ConsumerConfig,
    channel: &Channel,
    delivery: Delivery,
    reason: &str,
) -> anyhow::Result<()> {
    warn!(queue = %config.queue, reason, "dead-lettering a message");
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    let mut note = |key: &str, value: &str| {
        headers.insert(key.into(), AMQPValue::LongString(LongString::from(value)));
    };
    note("x-comms-dead-letter-reason", reason);
    note("x-comms-consumer", &config.consumer_name);
    note("x-comms-original-exchange", delivery.exchange.as_str());
    note(
        "x-comms-original-routing-key",
        delivery.routing_key.as_str(),
    );
    let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
    let confirm = channel
        .basic_publish(
            "".into(),
            dead_letter_queue(&config.queue).as_str().into(),
            BasicPublishOptions::default(),
            &delivery.data,
            properties,
        )
        .await?
        .await?;
    anyhow::ensure!(
        matches!(confirm, Confirmation::Ack(_)),
        "the broker did not confirm the dead letter"
    );
    delivery.acker.ack(BasicAckOptions::default()).await?;
    metrics::counter!("comms_consumer_messages_total", "queue" => config.queue.clone(), "outcome" => "dead_lettered").increment(1);
    Ok(())
}
