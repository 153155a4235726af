//! RabbitMQ for the fleet (DESIGN.md §4): the platform's event envelope, the relay that publishes
//! the log to the `EVENTS_EXCHANGE` topic exchange, and idempotent consumers that dead-letter
//! what they cannot process.

mod consumer;
pub mod dedup;
mod envelope;
mod outage;
mod publishers;
mod relay;
mod topology;

pub use comms_events::envelope::{ENVELOPE_VERSION, Envelope, EnvelopeError, EnvelopeMetadata};
pub use consumer::{ConsumerConfig, HandleError, Handler, RetryPolicy, run_consumer};
pub use envelope::{amqp_properties, decode_recorded, envelope_of, header_text, new_event};
pub use publishers::{DEFAULT_EVENT_PUBLISHERS, ORIGINAL_USER_HEADER, Publishers, user_of};
pub use relay::{Relay, RelayConfig};
pub use topology::{
    QueueType, dead_letter_queue, declare_consumer, declare_events_exchange, declare_queue,
};

/// The exchange shared with the other platform modules, unless `EVENTS_EXCHANGE` says otherwise.
pub const DEFAULT_EXCHANGE: &str = "platform.events";

/// Connects to RabbitMQ.
pub async fn connect(url: &str) -> Result<lapin::Connection, lapin::Error> {
    let properties = lapin::ConnectionProperties::default().with_connection_name("comms".into());
    lapin::Connection::connect(url, properties).await
}

/// Publishes `body` to `queue` through the default exchange and waits for the broker's confirm
/// (`channel` is in confirm mode): how a message moves between queues without being lost, the
/// original acknowledged only after this returns.
pub async fn publish_to_queue(
    channel: &lapin::Channel,
    queue: &str,
    body: &[u8],
    properties: lapin::BasicProperties,
) -> anyhow::Result<()> {
    let confirm = channel
        .basic_publish(
            "".into(),
            queue.into(),
            lapin::options::BasicPublishOptions::default(),
            body,
            properties,
        )
        .await?
        .await?;
    anyhow::ensure!(
        matches!(confirm, lapin::Confirmation::Ack(_)),
        "the broker did not confirm the message to {queue}"
    );
    Ok(())
}
