//! `comms dead-letters list|replay`: what the consumers could not apply, with the reasons, and
//! re-driving it once the cause is fixed. Each consumer queue `<queue>` has its dead letters in
//! `<queue>.dead-letter` (`comms_bus::dead_letter_queue`).

use anyhow::Context as _;
use comms_bus::{ConsumerConfig, Publishers};
use lapin::Channel;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use uuid::Uuid;

use crate::fleet::consumers;
use comms_runtime::Env;

#[derive(Debug, clap::Subcommand)]
pub enum DeadLettersCommand {
    /// Show each consumer queue's dead letters, oldest first, without removing them: message
    /// id, event type and why it was dead-lettered.
    List {
        /// Only this consumer queue (e.g. `comms.calls`).
        #[arg(long)]
        queue: Option<String>,
        /// At most this many messages per queue.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Put dead letters back on their consumer queue, to be applied again: all of them, or only
    /// those named with `--id`.
    Replay {
        /// Only this consumer queue (e.g. `comms.calls`).
        #[arg(long)]
        queue: Option<String>,
        /// Only the message with this id (repeat for several).
        #[arg(long = "id")]
        ids: Vec<Uuid>,
    },
}

/// Headers the consumer adds when it dead-letters, and those the broker adds (`x-death`, …):
/// a replayed message goes back as it first arrived. (The original exchange and routing key
/// stay, so a second dead-lettering still names them.)
fn added_by_dead_lettering(header: &str) -> bool {
    matches!(
        header,
        "x-comms-dead-letter-reason" | "x-comms-consumer" | "x-death"
    ) || header.starts_with("x-first-death-")
        || header.starts_with("x-last-death-")
}

pub async fn run(command: DeadLettersCommand, env: &Env) -> anyhow::Result<()> {
    let (DeadLettersCommand::List { queue, .. } | DeadLettersCommand::Replay { queue, .. }) =
        &command;
    let all = consumers(env)?;
    let selected: Vec<ConsumerConfig> = match queue {
        Some(name) => {
            let known: Vec<&str> = all.iter().map(|c| c.queue.as_str()).collect();
            let one = all.iter().find(|c| &c.queue == name).with_context(|| {
                format!("--queue {name}: not a consumer queue of the fleet (those are {known:?})")
            })?;
            vec![one.clone()]
        }
        None => all,
    };
    let url = &selected[0].amqp_url;
    let connection = comms_bus::connect(url)
        .await
        .with_context(|| format!("cannot reach RabbitMQ at RABBITMQ_URL={url}"))?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut found = Vec::new();
    for consumer in &selected {
        match &command {
            DeadLettersCommand::List { limit, .. } => {
                list(&channel, &consumer.queue, *limit).await?
            }
            DeadLettersCommand::Replay { ids, .. } => {
                let publishers = &consumer.publishers;
                found.extend(replay(&channel, publishers, &consumer.queue, ids).await?);
            }
        }
    }
    let _ = connection.close(200, "done".into()).await;
    if let DeadLettersCommand::Replay { ids, .. } = &command {
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !found.contains(id))
            .map(Uuid::to_string)
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "--id: no dead letter {} (see `comms dead-letters list`)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Prints up to `limit` dead letters of `queue`, then returns them all to the dead-letter queue.
async fn list(channel: &Channel, queue: &str, limit: u32) -> anyhow::Result<()> {
    let dead_letters = comms_bus::dead_letter_queue(queue);
    let waiting = message_count(channel, &dead_letters).await?;
    println!("{dead_letters}: {waiting} message(s)");
    let mut last_tag = None;
    for _ in 0..waiting.min(limit) {
        let Some(message) = get(channel, &dead_letters).await? else {
            break;
        };
        last_tag = Some(message.delivery_tag);
        println!("  {}", describe(&message.delivery));
    }
    if waiting > limit {
        println!("  … and {} more (--limit)", waiting - limit);
    }
    // Peeked, not taken: everything goes back, in its order.
    if let Some(tag) = last_tag {
        let requeue = BasicNackOptions {
            multiple: true,
            requeue: true,
        };
        channel.basic_nack(tag, requeue).await?;
    }
    Ok(())
}

/// Moves the dead letters of `queue` (those of `ids`, or all) back onto it: each is published
/// to the queue, confirmed by the broker, and only then removed from the dead-letter queue.
/// Returns the ids of the messages replayed.
async fn replay(
    channel: &Channel,
    publishers: &Publishers,
    queue: &str,
    ids: &[Uuid],
) -> anyhow::Result<Vec<Uuid>> {
    let dead_letters = comms_bus::dead_letter_queue(queue);
    let waiting = message_count(channel, &dead_letters).await?;
    let (mut replayed, mut kept, mut found) = (0, Vec::new(), Vec::new());
    for _ in 0..waiting {
        let Some(message) = get(channel, &dead_letters).await? else {
            break;
        };
        let id = message_id(&message.delivery);
        if !ids.is_empty() && !id.is_some_and(|id| ids.contains(&id)) {
            kept.push(message);
            continue;
        }
        found.extend(id);
        republish(channel, publishers, queue, &message.delivery).await?;
        message.acker.ack(BasicAckOptions::default()).await?;
        println!("  {}", describe(&message.delivery));
        replayed += 1;
    }
    for message in kept {
        let requeue = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        message.acker.nack(requeue).await?;
    }
    println!("{dead_letters}: {replayed} message(s) replayed to {queue}");
    Ok(found)
}

async fn republish(
    channel: &Channel,
    publishers: &Publishers,
    queue: &str,
    delivery: &lapin::message::Delivery,
) -> anyhow::Result<()> {
    // Published by the fleet's user, which the broker insists on; the consumer believes the
    // first publisher the message keeps (`comms_bus::Publishers`).
    let republished = publishers.republished(&delivery.properties);
    let mut headers = FieldTable::default();
    if let Some(original) = republished.headers() {
        for (key, value) in original.inner() {
            if !added_by_dead_lettering(key.as_str()) {
                headers.insert(key.clone(), value.clone());
            }
        }
    }
    let properties = republished.with_headers(headers);
    comms_bus::publish_to_queue(channel, queue, &delivery.data, properties)
        .await
        .context("the replayed message stays dead-lettered")?;
    Ok(())
}

async fn message_count(channel: &Channel, queue: &str) -> anyhow::Result<u32> {
    let options = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let declared = channel
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .with_context(|| format!("{queue} does not exist; run `comms migrate` first"))?;
    Ok(declared.message_count())
}

async fn get(
    channel: &Channel,
    queue: &str,
) -> anyhow::Result<Option<lapin::message::BasicGetMessage>> {
    let options = BasicGetOptions { no_ack: false };
    Ok(channel.basic_get(queue.into(), options).await?)
}

fn message_id(delivery: &lapin::message::Delivery) -> Option<Uuid> {
    let id = delivery.properties.message_id().as_ref()?;
    Uuid::parse_str(id.as_str()).ok()
}

/// One line: the message id, its event type, and why it was dead-lettered.
fn describe(delivery: &lapin::message::Delivery) -> String {
    let header = |key: &str| comms_bus::header_text(&delivery.properties, key);
    let id = message_id(delivery).map_or_else(|| "(no message id)".to_owned(), |id| id.to_string());
    let event_type = delivery
        .properties
        .kind()
        .as_ref()
        .map(|kind| kind.to_string())
        .or_else(|| header("x-comms-original-routing-key"))
        .unwrap_or_else(|| "(no type)".to_owned());
    let reason = header("x-comms-dead-letter-reason")
        .or_else(|| {
            header("x-first-death-reason").map(|why| format!("dead-lettered by the broker: {why}"))
        })
        .unwrap_or_else(|| "(no reason recorded)".to_owned());
    format!("{id}  {event_type}  {reason}")
}
