//! The relay: publishes the log, in global order, to the events exchange.
//!
//! The log is the outbox. The relay publishes with publisher confirms and persistent delivery,
//! and advances its checkpoint only over the contiguous prefix the broker confirmed, so every
//! event reaches the exchange at least once. One relay is active per deployment: it holds a
//! session advisory lock; other instances wait as hot standbys and take over when it is gone.

use std::time::Duration;

use anyhow::Context as _;
use comms_eventstore::{Checkpoint, EventStore, Filter, LeaderLock, RecordedEvent, Subscription};
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt as _, StreamExt as _};
use lapin::Channel;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::declare_events_exchange;

/// How often the relay polls a quiet log, whose appends are in other processes: the most an
/// event waits before it is published. A poll of a quiet log is one index read; at the
/// subscription's default 100 ms, a call's utterance waited 50 ms on average to be published
/// (`comms bench --only transcription`).
const QUIET_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub amqp_url: String,
    pub exchange: String,
    /// Events published per round trip of confirms.
    pub batch_size: usize,
    /// How often a standby tries to become active (the active relay keeps its lock as
    /// [`LeaderLock`] describes).
    pub leadership_check: Duration,
}

impl RelayConfig {
    pub fn new(amqp_url: impl Into<String>, exchange: impl Into<String>) -> Self {
        Self {
            amqp_url: amqp_url.into(),
            exchange: exchange.into(),
            batch_size: 500,
            leadership_check: Duration::from_secs(1),
        }
    }

    fn checkpoint_name(&self) -> String {
        format!("relay:{}", self.exchange)
    }
}

pub struct Relay {
    store: EventStore,
    config: RelayConfig,
    /// The RabbitMQ user it publishes as (from the URL), set as each message's `user_id`.
    user: String,
    active: watch::Sender<bool>,
}

impl Relay {
    pub fn new(store: EventStore, config: RelayConfig) -> Self {
        Self {
            store,
            user: crate::user_of(&config.amqp_url),
            config,
            active: watch::Sender::new(false),
        }
    }

    /// True while this instance is the one publishing.
    pub fn active(&self) -> watch::Receiver<bool> {
        self.active.subscribe()
    }

    /// Runs until `shutdown` resolves: waits for leadership, publishes, and on any broker or
    /// database failure steps down and starts over from the saved checkpoint. On shutdown it
    /// awaits the confirms in flight and saves their checkpoint first.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = std::pin::pin!(shutdown.fuse());
        loop {
            let outcome = tokio::select! {
                () = &mut shutdown => return,
                lock = self.acquire_leadership() => lock,
            };
            let lock = match outcome {
                Ok(lock) => lock,
                Err(error) => {
                    warn!(error = %format!("{error:#}"), "relay cannot reach the database");
                    tokio::time::sleep(self.config.leadership_check).await;
                    continue;
                }
            };
            info!(exchange = %self.config.exchange, "relay is active");
            self.active.send_replace(true);
            metrics::gauge!("comms_relay_active").set(1.0);
            let result = self.publish_while_leader(lock, shutdown.as_mut()).await;
            self.active.send_replace(false);
            metrics::gauge!("comms_relay_active").set(0.0);
            match result {
                Ok(()) => return,
                Err(error) => {
                    warn!(error = %format!("{error:#}"), "relay stepped down; retrying");
                    tokio::time::sleep(self.config.leadership_check).await;
                }
            }
        }
    }

    /// Waits until this instance holds the relay lock.
    async fn acquire_leadership(&self) -> Result<LeaderLock, sqlx::Error> {
        let name = format!("comms-relay:{}", self.config.exchange);
        loop {
            if let Some(lock) = LeaderLock::try_acquire(self.store.pool(), &name).await? {
                return Ok(lock);
            }
            tokio::time::sleep(self.config.leadership_check).await;
        }
    }

    /// Publishes until shutdown, or until the lock can no longer be vouched for: then the
    /// publishing stops at once, before a standby can take over.
    async fn publish_while_leader(
        &self,
        mut lock: LeaderLock,
        shutdown: std::pin::Pin<&mut futures::future::Fuse<impl Future<Output = ()>>>,
    ) -> anyhow::Result<()> {
        let result = tokio::select! {
            result = self.publish(shutdown) => result,
            lost = lock.lost() => Err(anyhow::Error::new(lost).context("the relay lost its lock")),
        };
        lock.release().await;
        result
    }

    /// Reads the log and publishes it, pipelined: the next batch is read and published while
    /// earlier confirms are outstanding (up to [`MAX_IN_FLIGHT`]). Confirms resolve in order, so
    /// the checkpoint — saved when the last event of a batch is confirmed — only ever covers the
    /// contiguous confirmed prefix.
    async fn publish(
        &self,
        mut shutdown: std::pin::Pin<&mut futures::future::Fuse<impl Future<Output = ()>>>,
    ) -> anyhow::Result<()> {
        let connection = crate::connect(&self.config.amqp_url)
            .await
            .context("connecting to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        declare_events_exchange(&channel, &self.config.exchange).await?;

        let mut conn = self.store.pool().acquire().await?;
        let from = Checkpoint::load(&mut conn, &self.config.checkpoint_name()).await?;
        drop(conn);
        let subscription = self
            .store
            .subscribe("relay", from, Filter::All)
            .with_batch_size(self.config.batch_size)
            .with_max_idle_wait(QUIET_POLL);
        let mut reading = read_next(subscription);
        let mut in_flight: FuturesOrdered<BoxFuture<'static, InFlight>> = FuturesOrdered::new();
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                (subscription, batch) = &mut reading => {
                    self.publish_batch(&channel, &batch?, &mut in_flight).await?;
                    reading = read_next(subscription);
                    // Let confirms catch up before reading more.
                    while in_flight.len() >= MAX_IN_FLIGHT {
                        self.confirm_next(&mut in_flight).await?;
                    }
                }
                Some(confirmed) = in_flight.next(), if !in_flight.is_empty() => self.confirmed(confirmed).await?,
            }
        }
        // Shutting down: flush what is in flight, so its checkpoint is saved.
        while !in_flight.is_empty() {
            self.confirm_next(&mut in_flight).await?;
        }
        let _ = connection.close(200, "shutting down".into()).await;
        Ok(())
    }

    async fn confirm_next(
        &self,
        in_flight: &mut FuturesOrdered<BoxFuture<'static, InFlight>>,
    ) -> anyhow::Result<()> {
        match in_flight.next().await {
            Some(confirmed) => self.confirmed(confirmed).await,
            None => Ok(()),
        }
    }

    /// Records one confirm; saves the checkpoint when it completes a batch.
    async fn confirmed(
        &self,
        (checkpoint, last_of_batch, confirmation): InFlight,
    ) -> anyhow::Result<()> {
        match confirmation {
            Ok(Confirmation::Ack(_)) => {}
            Ok(other) => anyhow::bail!("the broker did not confirm an event: {other:?}"),
            Err(error) => return Err(anyhow::Error::new(error).context("waiting for a confirm")),
        }
        metrics::counter!("comms_relay_published_total").increment(1);
        if last_of_batch {
            let mut conn = self.store.pool().acquire().await?;
            checkpoint
                .save(&mut conn, &self.config.checkpoint_name())
                .await?;
        }
        Ok(())
    }

    /// Publishes a batch; each event's confirm joins the in-flight queue, in order.
    async fn publish_batch(
        &self,
        channel: &Channel,
        batch: &[RecordedEvent],
        in_flight: &mut FuturesOrdered<BoxFuture<'static, InFlight>>,
    ) -> anyhow::Result<()> {
        for (index, event) in batch.iter().enumerate() {
            let envelope = crate::envelope_of(event);
            let traceparent = event.metadata.get("traceparent").and_then(|v| v.as_str());
            let confirm = channel
                .basic_publish(
                    self.config.exchange.as_str().into(),
                    event.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &envelope.to_json(),
                    // The broker vouches for `user_id`: consumers believe `comms.*` only from it.
                    crate::amqp_properties(&envelope, traceparent)
                        .with_user_id(self.user.as_str().into()),
                )
                .await
                .with_context(|| format!("publishing event {}", event.event_id))?;
            let checkpoint = event.checkpoint();
            let last_of_batch = index + 1 == batch.len();
            in_flight.push_back(
                confirm
                    .map(move |result| (checkpoint, last_of_batch, result))
                    .boxed(),
            );
        }
        Ok(())
    }
}

/// An event's checkpoint, whether it ends its batch, and the broker's answer.
type InFlight = (Checkpoint, bool, lapin::Result<Confirmation>);

/// Published events whose confirms may be outstanding at once.
const MAX_IN_FLIGHT: usize = 5_000;

/// The subscription's next batch, as an owned future (it hands the subscription back).
fn read_next(
    mut subscription: Subscription,
) -> BoxFuture<'static, (Subscription, comms_eventstore::Result<Vec<RecordedEvent>>)> {
    async move {
        let batch = subscription.next_batch().await;
        (subscription, batch)
    }
    .boxed()
}
