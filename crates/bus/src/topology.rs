//! Exchanges and queues: durable, declared idempotently by whoever needs them.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

/// Declares the durable topic exchange events are published to.
pub async fn declare_events_exchange(channel: &Channel, exchange: &str) -> lapin::Result<()> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
}

/// The queue where `queue`'s unprocessable messages go, with the reason in a header.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead-letter")
}

/// The kind of RabbitMQ queue the fleet's consumers use (`RABBITMQ_QUEUE_TYPE`).
///
/// Quorum queues are replicated across a cluster by Raft and survive the loss of a minority of
/// nodes: what production runs (the manifests set it). Classic queues (the default) live on one
/// node and cost little: right for a developer's single broker and the test suite's hundreds of
/// short-lived queues. A queue's type is fixed when it is first declared: redeclaring an
/// existing queue with the other type is refused by the broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueType {
    #[default]
    Classic,
    Quorum,
}

impl QueueType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

impl std::str::FromStr for QueueType {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "classic" => Ok(Self::Classic),
            "quorum" => Ok(Self::Quorum),
            _ => Err("expected classic or quorum".to_owned()),
        }
    }
}

/// Declares a durable `queue` of `queue_type` bound to `exchange` by each of `bindings` (topic
/// patterns such as `comms.call.*`), and its dead-letter queue. A message rejected without
/// requeue also lands there, through RabbitMQ's own dead-lettering.
pub async fn declare_queue(
    channel: &Channel,
    exchange: &str,
    queue: &str,
    bindings: &[String],
    queue_type: QueueType,
) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let typed = || {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from(queue_type.as_str())),
        );
        arguments
    };
    let dead_letters = dead_letter_queue(queue);
    channel
        .queue_declare(dead_letters.as_str().into(), durable, typed())
        .await?;
    let mut arguments = typed();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from("")),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from(dead_letters.as_str())),
    );
    channel
        .queue_declare(queue.into(), durable, arguments)
        .await?;
    for binding in bindings {
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                binding.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Declares what `consumer` reads from: the events exchange, its queue (and dead-letter queue)
/// and its bindings. A consumer declares it when it subscribes; `comms migrate` beforehand.
pub async fn declare_consumer(
    channel: &Channel,
    consumer: &crate::ConsumerConfig,
) -> lapin::Result<()> {
    declare_events_exchange(channel, &consumer.exchange).await?;
    declare_queue(
        channel,
        &consumer.exchange,
        &consumer.queue,
        &consumer.bindings,
        consumer.queue_type,
    )
    .await
}
