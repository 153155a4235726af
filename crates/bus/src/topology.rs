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

/// Declares a durable `queue` bound to `exchange` by each of `bindings` (topic patterns such as
/// `comms.call.*`), and its dead-letter queue. A message rejected without requeue also lands
/// there, through RabbitMQ's own dead-lettering.
pub async fn declare_queue(
    channel: &Channel,
    exchange: &str,
    queue: &str,
    bindings: &[String],
) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let dead_letters = dead_letter_queue(queue);
    channel
        .queue_declare(dead_letters.as_str().into(), durable, FieldTable::default())
        .await?;
    let mut arguments = FieldTable::default();
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
