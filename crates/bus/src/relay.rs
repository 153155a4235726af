//! The relay: publishes the log, in global order, to the events exchange.
//!
//! The log is the outbox. The relay publishes with publisher confirms and persistent delivery,
//! and advances its checkpoint only over the contiguous prefix the broker confirmed, so every
//! event reaches the exchange at least once. One relay is active per deployment: it holds a
//! session advisory lock; other instances wait as hot standbys and take over when it is gone.

use std::time::Duration;

use anyhow::Context as _;
use comms_eventstore::{Checkpoint, EventStore, Filter, RecordedEvent};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use lapin::Channel;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use sqlx::{Connection as _, PgConnection};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::{Envelope, declare_events_exchange};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub amqp_url: String,
    pub exchange: String,
    /// Events published per round trip of confirms.
    pub batch_size: usize,
    /// How often a standby tries to become active, and the active relay checks it still is.
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
    active: watch::Sender<bool>,
}

impl Relay {
    pub fn new(store: EventStore, config: RelayConfig) -> Self {
        Self {
            store,
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
    /// finishes the batch in flight (awaiting its confirms and saving the checkpoint) first.
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

    /// Waits until this instance holds the relay lock; returns the connection that holds it.
    ///
    /// The connection is detached from the pool: if this relay dies, dropping it closes the
    /// session and PostgreSQL releases the lock for a standby.
    async fn acquire_leadership(&self) -> anyhow::Result<PgConnection> {
        loop {
            let mut conn = self.store.pool().acquire().await?.detach();
            let acquired: bool =
                sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                    .bind(self.lock_name())
                    .fetch_one(&mut conn)
                    .await?;
            if acquired {
                return Ok(conn);
            }
            drop(conn);
            tokio::time::sleep(self.config.leadership_check).await;
        }
    }

    fn lock_name(&self) -> String {
        format!("comms-relay:{}", self.config.exchange)
    }

    async fn publish_while_leader(
        &self,
        mut lock: PgConnection,
        mut shutdown: std::pin::Pin<&mut futures::future::Fuse<impl Future<Output = ()>>>,
    ) -> anyhow::Result<()> {
        let result = async {
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
            let mut subscription = self
                .store
                .subscribe("relay", from, Filter::All)
                .with_batch_size(self.config.batch_size);
            let mut heartbeat = tokio::time::interval(self.config.leadership_check);
            loop {
                let next: BoxFuture<'_, _> = subscription.next_batch().boxed();
                tokio::select! {
                    () = &mut shutdown => {
                        let _ = connection.close(200, "shutting down".into()).await;
                        return Ok(());
                    }
                    _ = heartbeat.tick() => {
                        // Losing the lock's connection means another relay may take over.
                        lock.ping().await.context("relay lock connection lost")?;
                    }
                    batch = next => self.publish_batch(&channel, batch?).await?,
                }
            }
        }
        .await;
        // Closing the session releases the lock at once.
        let _ = lock.close().await;
        result
    }

    /// Publishes a batch, awaits every confirm, and saves the checkpoint after the last event of
    /// the contiguous confirmed prefix. Fails if any event was not confirmed.
    async fn publish_batch(
        &self,
        channel: &Channel,
        batch: Vec<RecordedEvent>,
    ) -> anyhow::Result<()> {
        let mut confirms = Vec::with_capacity(batch.len());
        for event in &batch {
            let envelope = Envelope::from_recorded(event);
            let traceparent = event.metadata.get("traceparent").and_then(|v| v.as_str());
            let confirm = channel
                .basic_publish(
                    self.config.exchange.as_str().into(),
                    event.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &envelope.to_json(),
                    envelope.amqp_properties(traceparent),
                )
                .await;
            match confirm {
                Ok(confirm) => confirms.push(confirm),
                Err(error) => {
                    warn!(%error, event_id = %event.event_id, "publish failed");
                    break;
                }
            }
        }
        let mut confirmed: usize = 0;
        for confirm in confirms {
            match confirm.await {
                Ok(Confirmation::Ack(_)) => confirmed += 1,
                Ok(other) => {
                    warn!(?other, "broker did not confirm an event");
                    break;
                }
                Err(error) => {
                    warn!(%error, "waiting for a confirm failed");
                    break;
                }
            }
        }
        if let Some(last) = confirmed.checked_sub(1).map(|i| &batch[i]) {
            let mut conn = self.store.pool().acquire().await?;
            last.checkpoint()
                .save(&mut conn, &self.config.checkpoint_name())
                .await?;
            metrics::counter!("comms_relay_published_total").increment(confirmed as u64);
        }
        anyhow::ensure!(
            confirmed == batch.len(),
            "{} of {} events were not confirmed",
            batch.len() - confirmed,
            batch.len()
        );
        Ok(())
    }
}
