//! Idempotent consumers: apply a message and record its id in one transaction, acknowledge after
//! the commit, and dead-letter (with the reason) what cannot be processed.

use std::time::Duration;

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt as _};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, Consumer};
use sqlx::{PgConnection, PgPool, Postgres};
use tracing::{Instrument as _, info, warn};

use crate::envelope::traceparent_header;
use crate::outage::{Outage, answered_in_time, wait_for_database};
use crate::{Envelope, Publishers, QueueType, dead_letter_queue, declare_consumer};

/// Why a message was not applied.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The message can never be applied (invalid data, an unknown event): dead-letter it.
    #[error("{0}")]
    Reject(String),
    /// This message failed, and a later attempt may succeed (a concurrent change won, it arrived
    /// before what it follows): tried again with backoff, then dead-lettered with the reason.
    #[error(transparent)]
    Retry(anyhow::Error),
    /// Something every message needs is down (the database, another service): the consumer
    /// holds its messages, without counting attempts against them, until it is back; after
    /// ten seconds it gives them back to the queue (for replicas whose database answers)
    /// and consumes again once its database answers.
    #[error(transparent)]
    Unavailable(anyhow::Error),
}

impl From<sqlx::Error> for HandleError {
    /// Data and integrity errors (SQLSTATE classes 22 and 23) will fail again on redelivery: the
    /// message is rejected. Losing the database (a connection error, an exhausted pool, a server
    /// shutting down) holds every message alike. Anything else (serialization failures,
    /// deadlocks) is this message's passing failure.
    fn from(error: sqlx::Error) -> Self {
        if comms_eventstore::is_database_unavailable(&error) {
            return Self::Unavailable(error.into());
        }
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

impl From<comms_events::DecodeError> for HandleError {
    /// A payload that does not parse, or an event or version this code does not know, will not
    /// parse on redelivery either: dead-lettered with the reason, which names the field.
    fn from(error: comms_events::DecodeError) -> Self {
        Self::Reject(error.to_string())
    }
}

impl HandleError {
    /// A service's refusal of the work a message asked for, where the handler has no better
    /// judgement: a service that is down holds every message; anything else is this message's
    /// passing failure, tried again and then dead-lettered with `what` and the service's words.
    pub fn from_api(what: &str, error: comms_proto::ApiError) -> Self {
        let unavailable = error.kind == comms_proto::ErrorKind::Unavailable;
        let error = anyhow::anyhow!("{what}: {}", error.message);
        if unavailable {
            Self::Unavailable(error)
        } else {
            Self::Retry(error)
        }
    }
}

/// Applies messages inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    /// Whether applying a message may append events. The consumer's transaction then declares
    /// it (`comms_eventstore::BEGIN_APPENDING`) and readers of the log wait for it while it runs;
    /// a handler that only writes read models says `false`, so a slow batch of its holds back
    /// no one's events.
    const APPENDS: bool = true;

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
    pub retry: RetryPolicy,
    /// Who may publish the events consumed; the rest are dead-lettered with the reason.
    pub publishers: Publishers,
}

/// How a message that fails with [`HandleError::Retry`] is tried again: at once, then after a
/// delay that doubles from `first_delay` up to `max_delay`, at most `max_attempts` times in all, then
/// dead-lettered with the last error. The message stays in hand meanwhile (neither requeued nor
/// redelivered), so the messages behind it wait and per-stream order holds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Ten attempts over about a minute (at once, then 0.25 s, 0.5 s, … 15 s, 15 s between).
    fn default() -> Self {
        Self {
            max_attempts: 10,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The pause after the `failures`-th failure (1-based). The first try again is at once:
    /// the usual failure is a lost race (a concurrent append to the same stream), which a new
    /// transaction resolves.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures <= 1 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(failures.saturating_sub(2).min(20));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// The longest connecting, declaring and starting to consume may take before it is tried again.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a consumer waiting for deliveries checks that its connection still stands.
const LIVENESS_CHECK: Duration = Duration::from_secs(1);
/// The longest an acknowledgement or a dead letter's confirm may take: lapin may leave either
/// waiting forever once the connection is gone, and the consumer would never reconnect.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// `request` to the broker, failed (so the consumer reconnects) if unanswered in
/// [`BROKER_TIMEOUT`].
async fn with_broker<T, E: Into<anyhow::Error>>(
    what: &str,
    request: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(BROKER_TIMEOUT, request).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => anyhow::bail!(
            "RabbitMQ did not take the {what} within {} s",
            BROKER_TIMEOUT.as_secs()
        ),
    }
}

/// Consumes until `shutdown` resolves, reconnecting after broker failures. The message in hand
/// at shutdown is finished and acknowledged first. Meanwhile the consumer's records of applied
/// messages older than [`crate::dedup::DEDUP_WINDOW`] are pruned.
pub async fn run_consumer<H: Handler>(
    pool: PgPool,
    config: ConsumerConfig,
    handler: H,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let consuming = async {
        loop {
            let result = consume(&pool, &config, &handler, shutdown.as_mut()).await;
            match result {
                Ok(Flow::Released) => {
                    if !wait_for_database(&pool, &config.queue, shutdown.as_mut()).await {
                        return;
                    }
                }
                Ok(_) => return,
                Err(error) => {
                    warn!(queue = %config.queue, error = %format!("{error:#}"), "consumer failed; reconnecting");
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    };
    tokio::select! {
        () = consuming => {}
        () = crate::dedup::keep_pruning(&pool, &config.consumer_name) => {}
    }
}

/// Whether the consumer goes on after a batch; or stopped for shutdown while waiting to retry;
/// or gave its messages back because its database has been unreachable too long (other
/// replicas, whose database answers, take them). Stopped or released, its messages are
/// unacknowledged when its connection closes, and the broker redelivers them.
enum Flow {
    Continue,
    Stopped,
    Released,
}

/// What a consumer needs to process deliveries.
struct Context<'a, H, S> {
    pool: &'a PgPool,
    config: &'a ConsumerConfig,
    handler: &'a H,
    dead_letters: &'a Channel,
    shutdown: std::pin::Pin<&'a mut S>,
}

async fn consume<H: Handler, S: Future<Output = ()>>(
    pool: &PgPool,
    config: &ConsumerConfig,
    handler: &H,
    mut shutdown: std::pin::Pin<&mut S>,
) -> anyhow::Result<Flow> {
    // Shutdown may come while the broker is slow to answer (a quorum queue being created); a
    // broker that never answers (a connection accepted, then silence) is tried again.
    let (connection, dead_letters, mut deliveries) = tokio::select! {
        () = &mut shutdown => return Ok(Flow::Stopped),
        subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribe(config)) => {
            subscribed.map_err(|_| anyhow::anyhow!(
                "RabbitMQ did not answer within {} s while subscribing",
                SUBSCRIBE_TIMEOUT.as_secs()
            ))??
        }
    };
    // lapin may leave a consumer's stream open after its connection is lost (amqp-rs/lapin
    // #187, #283): the connection's own status is checked as well.
    let mut liveness = tokio::time::interval(LIVENESS_CHECK);
    info!(queue = %config.queue, "consuming");
    let mut context = Context {
        pool,
        config,
        handler,
        dead_letters: &dead_letters,
        shutdown,
    };
    loop {
        let delivery = tokio::select! {
            () = &mut context.shutdown => {
                let _ = connection.close(200, "shutting down".into()).await;
                return Ok(Flow::Stopped);
            }
            delivery = deliveries.next() => delivery,
            _ = liveness.tick() => {
                if connection.status().connected() {
                    continue;
                }
                anyhow::bail!("the connection to RabbitMQ was lost");
            }
        };
        let Some(delivery) = delivery else {
            anyhow::bail!("the broker closed the consumer");
        };
        // Whatever else has already arrived (up to the prefetch) is applied with it.
        let mut batch = vec![delivery?];
        while let Some(Some(next)) = deliveries.next().now_or_never() {
            batch.push(next?);
        }
        match context.process_batch(batch).await? {
            Flow::Continue => {}
            ended => {
                let _ = connection.close(200, "shutting down".into()).await;
                return Ok(ended);
            }
        }
    }
}

/// Connects, declares the queue and starts consuming from it; returns the connection, a channel
/// for dead letters (with confirms) and the deliveries.
async fn subscribe(config: &ConsumerConfig) -> anyhow::Result<(Connection, Channel, Consumer)> {
    let connection = crate::connect(&config.amqp_url)
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    declare_consumer(&channel, config).await?;
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

impl<H: Handler, S: Future<Output = ()>> Context<'_, H, S> {
    /// Applies a batch of deliveries in one transaction and acknowledges them with one frame
    /// after the commit. Bodies that are not envelopes, and events from a publisher not allowed
    /// to send them, are dead-lettered first. If the handler
    /// rejects the batch or one of its messages needs another try, the messages are processed
    /// one by one, so the healthy ones are applied and only the culprit waits or is
    /// dead-lettered. While the database (or a service) is down, the batch is held and tried
    /// again as it comes back.
    async fn process_batch(&mut self, deliveries: Vec<Delivery>) -> anyhow::Result<Flow> {
        let mut parsed = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let believed = Envelope::parse(&delivery.data)
                .map_err(|reason| reason.to_string())
                .and_then(|envelope| {
                    let publishers = &self.config.publishers;
                    publishers.check(&envelope.event_type, &delivery.properties)?;
                    Ok(envelope)
                });
            match believed {
                Ok(envelope) => parsed.push((delivery, envelope)),
                Err(reason) => self.dead_letter(delivery, &reason).await?,
            }
        }
        if parsed.len() <= 1 {
            return match parsed.pop() {
                Some((delivery, envelope)) => self.process(delivery, &envelope).await,
                None => Ok(Flow::Continue),
            };
        }
        let queue = self.config.queue.clone();
        let span = tracing::info_span!("consume_batch", queue = %queue, messages = parsed.len());
        comms_telemetry::continue_trace(
            &span,
            traceparent_header(&parsed[0].0.properties).as_deref(),
        );
        let envelopes: Vec<Envelope> = parsed.iter().map(|(_, e)| e.clone()).collect();
        let mut outage = Outage::default();
        loop {
            let attempt = std::time::Instant::now();
            let outcome = answered_in_time(apply_batch(
                self.pool,
                self.config,
                self.handler,
                &envelopes,
            ))
            .instrument(span.clone())
            .await;
            match outcome {
                Ok(applied) => {
                    outage.over(&queue);
                    let (last, _) = parsed.last().expect("a batch of two or more");
                    with_broker(
                        "acknowledgement",
                        last.acker.ack(BasicAckOptions { multiple: true }),
                    )
                    .await?;
                    count(&queue, "applied", applied);
                    count(&queue, "duplicate", envelopes.len() - applied);
                    return Ok(Flow::Continue);
                }
                Err(HandleError::Unavailable(error)) => {
                    let pause = outage.failed(&queue, &error, self.config.retry, attempt);
                    if outage.held_too_long() {
                        return Ok(Flow::Released);
                    }
                    if self.pause(pause).await {
                        return Ok(Flow::Stopped);
                    }
                }
                Err(error) => {
                    outage.over(&queue);
                    info!(queue = %queue, reason = %format!("{error:#}"), "batch not applied; applying its messages one by one");
                    for (delivery, envelope) in parsed {
                        match self.process(delivery, &envelope).await? {
                            Flow::Continue => {}
                            ended => return Ok(ended),
                        }
                    }
                    return Ok(Flow::Continue);
                }
            }
        }
    }

    /// Applies one message: acknowledged once applied (or found applied before), dead-lettered
    /// when rejected or when its tries run out, held while what it needs is down.
    async fn process(&mut self, delivery: Delivery, envelope: &Envelope) -> anyhow::Result<Flow> {
        let queue = self.config.queue.clone();
        let span = tracing::info_span!("consume", queue = %queue, event_type = %envelope.event_type, event_id = %envelope.id);
        comms_telemetry::continue_trace(&span, traceparent_header(&delivery.properties).as_deref());
        let policy = self.config.retry;
        let (mut failures, mut outage) = (0, Outage::default());
        loop {
            let attempt = std::time::Instant::now();
            let outcome = answered_in_time(apply(self.pool, self.config, self.handler, envelope))
                .instrument(span.clone())
                .await;
            let error = match outcome {
                Ok(applied) => {
                    outage.over(&queue);
                    with_broker(
                        "acknowledgement",
                        delivery.acker.ack(BasicAckOptions::default()),
                    )
                    .await?;
                    count(&queue, if applied { "applied" } else { "duplicate" }, 1);
                    return Ok(Flow::Continue);
                }
                Err(HandleError::Reject(reason)) => {
                    self.dead_letter(delivery, &reason).await?;
                    return Ok(Flow::Continue);
                }
                Err(HandleError::Unavailable(error)) => {
                    let pause = outage.failed(&queue, &error, policy, attempt);
                    if outage.held_too_long() {
                        return Ok(Flow::Released);
                    }
                    if self.pause(pause).await {
                        return Ok(Flow::Stopped);
                    }
                    continue;
                }
                Err(HandleError::Retry(error)) => error,
            };
            outage.over(&queue);
            failures += 1;
            if failures >= policy.max_attempts {
                let reason = format!("gave up after {failures} attempts: {error:#}");
                self.dead_letter(delivery, &reason).await?;
                return Ok(Flow::Continue);
            }
            let pause = policy.delay(failures);
            info!(queue = %queue, event_id = %envelope.id, attempt = failures, retry_in_ms = pause.as_millis() as u64, error = %format!("{error:#}"), "message will be tried again");
            count(&queue, "retried", 1);
            if self.pause(pause).await {
                return Ok(Flow::Stopped);
            }
        }
    }

    /// Waits `duration`; true if shutdown came first.
    async fn pause(&mut self, duration: Duration) -> bool {
        tokio::select! {
            () = &mut self.shutdown => true,
            () = tokio::time::sleep(duration) => false,
        }
    }

    async fn dead_letter(&self, delivery: Delivery, reason: &str) -> anyhow::Result<()> {
        dead_letter(self.config, self.dead_letters, delivery, reason).await
    }
}

fn count(queue: &str, outcome: &'static str, messages: usize) {
    metrics::counter!("comms_consumer_messages_total", "queue" => queue.to_owned(), "outcome" => outcome)
        .increment(messages as u64);
}

/// Begins the transaction that applies messages: declared as appending if the handler may.
async fn begin<H: Handler>(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    if H::APPENDS {
        pool.begin_with(comms_eventstore::BEGIN_APPENDING).await
    } else {
        pool.begin().await
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
    let mut tx = begin::<H>(pool).await?;
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

/// Records the message id and applies it in one transaction; a message already recorded is a
/// redelivery and is acknowledged without being applied again. True when it was applied.
async fn apply<H: Handler>(
    pool: &PgPool,
    config: &ConsumerConfig,
    handler: &H,
    envelope: &Envelope,
) -> Result<bool, HandleError> {
    let mut tx = begin::<H>(pool).await?;
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
    // Published again by the fleet's user, keeping the first publisher for a replay.
    let properties = config.publishers.republished(&delivery.properties);
    let mut headers = properties.headers().clone().unwrap_or_default();
    let note = |headers: &mut FieldTable, key: &str, value: &str| {
        headers.insert(key.into(), AMQPValue::LongString(LongString::from(value)));
    };
    note(&mut headers, "x-comms-dead-letter-reason", reason);
    note(&mut headers, "x-comms-consumer", &config.consumer_name);
    // A replayed message (`comms dead-letters replay`) already names where it first came from.
    if !headers.contains_key("x-comms-original-routing-key") {
        note(
            &mut headers,
            "x-comms-original-exchange",
            delivery.exchange.as_str(),
        );
        let routing_key = delivery.routing_key.as_str();
        note(&mut headers, "x-comms-original-routing-key", routing_key);
    }
    let properties: BasicProperties = properties.with_headers(headers);
    let queue = dead_letter_queue(&config.queue);
    with_broker(
        "dead letter",
        crate::publish_to_queue(channel, &queue, &delivery.data, properties),
    )
    .await?;
    with_broker(
        "acknowledgement",
        delivery.acker.ack(BasicAckOptions::default()),
    )
    .await?;
    count(&config.queue, "dead_lettered", 1);
    Ok(())
}
