//! The live feed: an event appended → on the WebSockets of 1, 100 and 1,000 connected clients of
//! the edge (its own process), beside the same events reaching a plain AMQP consumer through the
//! relay in the same run; and the edge's memory per connected client.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use comms_eventstore::{EventStore, ExpectedVersion, StreamName};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use uuid::Uuid;

use super::rest::{Fleet, start_fleet};
use super::setup::{BenchDatabase, resident_mib};
use super::stats::{Samples, ms, round, times};
use super::{Options, heading};

/// Events appended per second in each cell: a busy contact centre's whole organization.
const RATE: f64 = 50.0;

/// Who received which event when: a socket (its index) or the AMQP consumer (`None`).
type Arrival = (Option<usize>, Uuid, Instant);

/// The event id in a feed message, found without parsing the JSON (a thousand clients parse
/// nothing but this): the envelope's first field.
fn event_id(message: &str) -> Option<Uuid> {
    const BEFORE: &str = r#""event":{"id":""#;
    let start = message.find(BEFORE)? + BEFORE.len();
    Uuid::parse_str(message.get(start..start + 36)?).ok()
}

/// Connects one more socket, reporting each event it receives.
async fn connect(
    fleet: &Fleet,
    index: usize,
    arrivals: mpsc::UnboundedSender<Arrival>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let url = format!(
        "{}/api/communications/live",
        fleet.edge.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", fleet.rest_authorization.parse()?);
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "comms.live.v1".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message
                && let Some(id) = event_id(&text)
            {
                let _ = arrivals.send((Some(index), id, Instant::now()));
            }
        }
    }))
}

/// The plain AMQP consumer of `comms.call.*` on the fleet's exchange: the bus's own delivery.
async fn amqp_consumer(
    options: &Options,
    fleet: &Fleet,
    arrivals: mpsc::UnboundedSender<Arrival>,
) -> anyhow::Result<(lapin::Connection, tokio::task::JoinHandle<()>)> {
    use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
    let connection = comms_bus::connect(&options.amqp_url).await?;
    let channel = connection.create_channel().await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.name().as_str().into(),
            fleet.exchange.as_str().into(),
            comms_events::call::CallEvent::BINDING.into(),
            QueueBindOptions::default(),
            Default::default(),
        )
        .await?;
    let mut deliveries = channel
        .basic_consume(
            queue.name().as_str().into(),
            "bench-live".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await?;
    let task = tokio::spawn(async move {
        while let Some(Ok(delivery)) = deliveries.next().await {
            let id = delivery
                .properties
                .message_id()
                .as_ref()
                .and_then(|id| Uuid::parse_str(id.as_str()).ok());
            if let Some(id) = id {
                let _ = arrivals.send((None, id, Instant::now()));
            }
        }
    });
    Ok((connection, task))
}

/// Appends `count` call events at [`RATE`], noting when each committed.
async fn append(store: &EventStore, count: usize) -> anyhow::Result<HashMap<Uuid, Instant>> {
    let mut committed = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE));
    for _ in 0..count {
        ticker.tick().await;
        let call_id = Uuid::new_v4();
        let event = super::call_started(call_id);
        let id = event.event_id;
        store
            .append(
                super::rest::ORG,
                &StreamName::new("call", call_id),
                ExpectedVersion::NoStream,
                vec![event],
            )
            .await?;
        committed.insert(id, Instant::now());
    }
    Ok(committed)
}

pub async fn run(options: &Options) -> anyhow::Result<Value> {
    heading("live feed: append committed → on every WebSocket, beside a plain AMQP consumer");
    let db = BenchDatabase::create(&options.admin_database_url, 4).await?;
    let limit = ("LIVE_CONNECTIONS_PER_ORGANIZATION", "100000".to_owned());
    let mut fleet = start_fleet(options, &db, &[limit]).await?;
    let store = EventStore::new(db.pool.clone());
    let edge_pid = fleet.pid("edge");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_mib = edge_pid.and_then(resident_mib).unwrap_or_default();

    let (sender, mut arrivals) = mpsc::unbounded_channel();
    let (_amqp, amqp_task) = amqp_consumer(options, &fleet, sender.clone()).await?;
    println!(
        "{:>8} {:>7} | {:>11} {:>9} {:>9} | {:>9} {:>9} | {:>9} | {:>11}",
        "sockets",
        "events",
        "deliveries",
        "WS p50",
        "WS p99",
        "AMQP p50",
        "AMQP p99",
        "p99 ratio",
        "KiB/socket"
    );
    let mut sockets = Vec::new();
    let mut rows = Vec::new();
    for &target in &options.live_sockets {
        while sockets.len() < target {
            let index = sockets.len();
            sockets.push(connect(&fleet, index, sender.clone()).await.map_err(|e| {
                anyhow::anyhow!("socket {index} did not open ({e}); is `ulimit -n` too low?")
            })?);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mib = edge_pid.and_then(resident_mib).unwrap_or_default();
        // What came before this cell (the sockets' hello is not an event) is not its.
        while arrivals.try_recv().is_ok() {}

        let started = Instant::now();
        let committed = append(&store, options.live_events).await?;
        let expected = committed.len() * (target + 1);
        let (mut feed, mut bus) = (Vec::new(), Vec::new());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while feed.len() + bus.len() < expected {
            let (socket, id, at) = tokio::time::timeout_at(deadline, arrivals.recv())
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{target} sockets: {} of {expected} deliveries in two minutes",
                        feed.len() + bus.len()
                    )
                })?
                .ok_or_else(|| anyhow::anyhow!("every receiver stopped"))?;
            let Some(appended) = committed.get(&id) else {
                continue;
            };
            let lag = at.saturating_duration_since(*appended);
            match socket {
                Some(_) => feed.push(lag),
                None => bus.push(lag),
            }
        }
        let (feed, bus) = (
            Samples::new(feed, started.elapsed()),
            Samples::new(bus, started.elapsed()),
        );
        let ratio = times(feed.percentile(0.99), bus.percentile(0.99));
        let per_socket_kib = (mib - idle_mib).max(0.0) * 1024.0 / target as f64;
        println!(
            "{target:>8} {:>7} | {:>11} {:>9.2} {:>9.2} | {:>9.2} {:>9.2} | {:>8.2}x | {:>11.1}",
            committed.len(),
            feed.count(),
            ms(feed.percentile(0.5)),
            ms(feed.percentile(0.99)),
            ms(bus.percentile(0.5)),
            ms(bus.percentile(0.99)),
            ratio,
            per_socket_kib
        );
        rows.push(json!({
            "sockets": target, "events": committed.len(),
            "feed": feed.to_json(), "amqp": bus.to_json(),
            "p99_ratio_feed_to_amqp": round(ratio * 100.0) / 100.0,
            "edge_mib": mib, "edge_idle_mib": idle_mib,
            "kib_per_socket": round(per_socket_kib * 10.0) / 10.0,
        }));
    }
    for socket in sockets {
        socket.abort();
    }
    amqp_task.abort();
    fleet.stop(options).await?;
    db.drop_now().await?;
    Ok(Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_id_is_found_without_parsing() {
        let id = Uuid::new_v4();
        use comms_events::Event as _;
        let message = format!(
            r#"{{"type":"event","position":"1-2","event":{{"id":"{id}","type":"{}"}}}}"#,
            comms_events::call::Started::TYPE
        );
        assert_eq!(event_id(&message), Some(id));
        assert_eq!(event_id(r#"{"type":"position","position":"1-2"}"#), None);
    }
}
