//! The live feed: the organization's events as they are appended, over a WebSocket, filtered by
//! the reader's reach and resumable from a position (docs/live.md). Each edge follows the log
//! itself (ADR 0016): one reader of the event store per edge, its events fanned out to every
//! socket through a bounded broadcast, so a slow socket falls behind alone and is dropped.

pub mod audience;
pub mod socket;
pub mod tickets;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use comms_eventstore::{Checkpoint, EventStore, Filter, RecordedEvent, StreamName};
use comms_runtime::shutdown::Drain;
use comms_runtime::{ConfigError, Env, Shutdown};
use tokio::sync::broadcast;

use audience::{Audience, Index};

/// How often the edge's reader polls a quiet log: the most a new event waits before it is read.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Events a socket may fall behind the log before it is dropped as too slow.
    pub buffer: usize,
    /// Open sockets per organization on one edge.
    pub per_organization: usize,
    /// Between server pings; a socket that answers none of two is closed.
    pub ping: Duration,
    /// Longest one message may take to go out before the socket is dropped as too slow.
    pub send_timeout: Duration,
}

impl LiveConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let at_least_one = |variable: &str, value: u64| {
            if value == 0 {
                Err(ConfigError {
                    variable: variable.into(),
                    value: "0".into(),
                    reason: "must be at least 1".into(),
                })
            } else {
                Ok(value)
            }
        };
        Ok(Self {
            buffer: at_least_one("LIVE_BUFFER_EVENTS", env.parse("LIVE_BUFFER_EVENTS", 4096)?)?
                as usize,
            per_organization: at_least_one(
                "LIVE_CONNECTIONS_PER_ORGANIZATION",
                env.parse("LIVE_CONNECTIONS_PER_ORGANIZATION", 1000)?,
            )? as usize,
            ping: Duration::from_secs(at_least_one(
                "LIVE_PING_SECONDS",
                env.parse("LIVE_PING_SECONDS", 20)?,
            )?),
            send_timeout: Duration::from_secs(at_least_one(
                "LIVE_SEND_TIMEOUT_SECONDS",
                env.parse("LIVE_SEND_TIMEOUT_SECONDS", 10)?,
            )?),
        })
    }
}

/// An event as the feed carries it: where it is in the log, whose it is, and its message.
#[derive(Debug)]
pub struct LiveEvent {
    pub position: Checkpoint,
    pub org: String,
    /// The stream category, when it is one the feed carries.
    pub category: Option<&'static str>,
    pub audience: Audience,
    /// `{"type":"event","position":…,"event":<the bus envelope>}`; none off the feed.
    pub message: Option<Utf8Bytes>,
}

/// A position as clients see it: `<transaction>-<position>`, ordered as the log is.
pub fn format_position(position: Checkpoint) -> String {
    format!("{}-{}", position.tx_id, position.global_position)
}

pub fn parse_position(text: &str) -> Option<Checkpoint> {
    let (tx_id, global_position) = text.split_once('-')?;
    let number = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    Some(Checkpoint {
        tx_id: number(tx_id)?,
        global_position: number(global_position)?,
    })
}

/// The edge's one reader of the log and what its sockets share.
pub struct Live {
    pub store: EventStore,
    pub config: LiveConfig,
    /// Sockets close once the edge stops answering ready, not before: until then the load
    /// balancer may still send a reconnecting client back here.
    pub drain: Drain,
    pub index: Index,
    /// The broadcast and the position of its last event, changed together so a new socket
    /// knows exactly where its subscription starts.
    feed: std::sync::Mutex<(broadcast::Sender<Arc<LiveEvent>>, Checkpoint)>,
    connections: std::sync::Mutex<HashMap<String, usize>>,
}

/// A socket's place among its organization's connections, given back when dropped.
pub struct Slot {
    live: Arc<Live>,
    org: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut connections = self.live.connections.lock().expect("not poisoned");
        if let Some(count) = connections.get_mut(&self.org) {
            *count -= 1;
            if *count == 0 {
                connections.remove(&self.org);
            }
        }
        metrics::gauge!("comms_live_clients").decrement(1.0);
    }
}

impl Live {
    /// Starts following the log from its end now.
    pub async fn start(
        store: EventStore,
        config: LiveConfig,
        shutdown: Shutdown,
        drain: Drain,
    ) -> anyhow::Result<Arc<Self>> {
        let head = Checkpoint::visible_head(&mut *store.pool().acquire().await?).await?;
        let (sender, _) = broadcast::channel(config.buffer);
        let live = Arc::new(Self {
            store,
            config,
            drain,
            index: Index::default(),
            feed: std::sync::Mutex::new((sender, head)),
            connections: Default::default(),
        });
        tokio::spawn(live.clone().follow(head, shutdown));
        Ok(live)
    }

    /// The live events after the returned position.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<LiveEvent>>, Checkpoint) {
        let feed = self.feed.lock().expect("not poisoned");
        (feed.0.subscribe(), feed.1)
    }

    /// A place for one more socket of `org`, unless it has as many as allowed.
    pub fn take_slot(self: &Arc<Self>, org: &str) -> Option<Slot> {
        let mut connections = self.connections.lock().expect("not poisoned");
        let count = connections.entry(org.to_owned()).or_default();
        if *count >= self.config.per_organization {
            return None;
        }
        *count += 1;
        metrics::gauge!("comms_live_clients").increment(1.0);
        Some(Slot {
            live: self.clone(),
            org: org.to_owned(),
        })
    }

    /// The feed's form of a stored event.
    pub async fn event_of(&self, recorded: &RecordedEvent) -> LiveEvent {
        let stream = StreamName::parse(&recorded.stream_name).ok();
        let category = stream
            .as_ref()
            .and_then(|s| audience::permission_of(s.category()))
            .map(|(category, _)| category);
        let (audience, message) = match (&stream, category) {
            (Some(stream), Some(_)) => {
                let envelope = comms_bus::envelope_of(recorded).to_json();
                let message = format!(
                    r#"{{"type":"event","position":"{}","event":{}}}"#,
                    format_position(recorded.checkpoint()),
                    String::from_utf8(envelope).expect("JSON is UTF-8")
                );
                let audience = self.index.audience(&self.store, stream, recorded).await;
                (audience, Some(Utf8Bytes::from(message)))
            }
            _ => (Audience::default(), None),
        };
        LiveEvent {
            position: recorded.checkpoint(),
            org: recorded.tenant_id.clone(),
            category,
            audience,
            message,
        }
    }

    /// Reads the log from `head` and broadcasts every event, until shutdown. A failed read is
    /// retried from the same position: sockets see a pause, never a gap.
    async fn follow(self: Arc<Self>, head: Checkpoint, shutdown: Shutdown) {
        let mut log = self
            .store
            .subscribe("live", head, Filter::All)
            .with_max_idle_wait(POLL);
        loop {
            let batch = tokio::select! {
                () = shutdown.clone().closing(self.drain) => return,
                batch = log.next_batch() => batch,
            };
            match batch {
                Ok(batch) => {
                    for recorded in &batch {
                        let event = Arc::new(self.event_of(recorded).await);
                        let mut feed = self.feed.lock().expect("not poisoned");
                        feed.1 = event.position;
                        // No receivers is not an error: nobody is watching.
                        let _ = feed.0.send(event);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "the live feed could not read the log; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_back_as_written_and_nothing_else() {
        let position = Checkpoint {
            tx_id: 912,
            global_position: 40,
        };
        assert_eq!(format_position(position), "912-40");
        assert_eq!(parse_position("912-40"), Some(position));
        for bad in [
            "",
            "912",
            "912-",
            "-40",
            "912-40-1",
            "+912-40",
            "912--40",
            "a-1",
            "1-99999999999999999999",
        ] {
            assert_eq!(parse_position(bad), None, "{bad:?}");
        }
    }
}
