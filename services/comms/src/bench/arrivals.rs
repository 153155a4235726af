//! When events reach the exchange: a queue of the bench's own bound to one event type, read as
//! deliveries arrive, each delivery noted under a key its envelope gives (a call, a call's
//! second); and how long each thing the bench sent took to arrive.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::Value;

use super::setup::unique;
use super::stats::Samples;

/// When each key was sent (by the bench) or arrived (on the exchange).
pub type Times<K> = Arc<Mutex<HashMap<K, Instant>>>;

pub struct Arrivals<K> {
    arrived: Times<K>,
    reader: tokio::task::JoinHandle<()>,
    channel: lapin::Channel,
    queue: String,
    _connection: lapin::Connection,
}

impl<K: Eq + Hash + Clone + Send + 'static> Arrivals<K> {
    /// Reads the `event_type` events published to `exchange`, each noted under `key(envelope)`.
    pub async fn tap(
        amqp_url: &str,
        exchange: &str,
        event_type: &str,
        key: fn(&Value) -> Option<K>,
    ) -> anyhow::Result<Self> {
        let connection = comms_bus::connect(amqp_url).await?;
        let channel = connection.create_channel().await?;
        comms_bus::declare_events_exchange(&channel, exchange).await?;
        let queue = unique("bench.arrivals");
        let bindings = [event_type.to_owned()];
        comms_bus::declare_queue(&channel, exchange, &queue, &bindings, Default::default()).await?;
        let mut deliveries = channel
            .basic_consume(
                queue.as_str().into(),
                "bench".into(),
                lapin::options::BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await?;
        let arrived = Times::<K>::default();
        let reader = {
            let arrived = arrived.clone();
            tokio::spawn(async move {
                while let Some(Ok(delivery)) = deliveries.next().await {
                    let at = Instant::now();
                    let envelope: Value =
                        serde_json::from_slice(&delivery.data).unwrap_or_default();
                    if let Some(key) = key(&envelope) {
                        arrived.lock().expect("not poisoned").insert(key, at);
                    }
                }
            })
        };
        Ok(Self {
            arrived,
            reader,
            channel,
            queue,
            _connection: connection,
        })
    }

    /// How long each of `sent` took to arrive (every one of them, however long the relay takes:
    /// a minute at most); `what` names them when some never do.
    pub async fn since(&self, sent: &Times<K>, what: &str) -> anyhow::Result<Samples> {
        let sent = sent.lock().expect("not poisoned").clone();
        let started = Instant::now();
        loop {
            let lags: Vec<Duration> = {
                let arrived = self.arrived.lock().expect("not poisoned");
                sent.iter()
                    .filter_map(|(key, at)| Some(arrived.get(key)?.saturating_duration_since(*at)))
                    .collect()
            };
            if lags.len() == sent.len() {
                return Ok(Samples::new(lags, started.elapsed()));
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "only {} of {} {what} reached the exchange",
                lags.len(),
                sent.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops reading and deletes the queue.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.reader.abort();
        self.channel
            .queue_delete(self.queue.as_str().into(), Default::default())
            .await?;
        Ok(())
    }
}
