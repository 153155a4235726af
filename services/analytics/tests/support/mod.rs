//! What the measures tests share: the analytics service consuming a real RabbitMQ into a real
//! PostgreSQL, fed by the relay from the event store, and scripted streams appended to it.

#![allow(dead_code)] // each test binary uses its part

use std::time::Duration;

use chrono::{DateTime, Utc};
use comms_analytics::{Config, run};
use comms_auth::{Identity, Role, Tokens};
use comms_bus::{Relay, RelayConfig};
use comms_events::{Event, call};
use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName};
use comms_proto::v1::analytics_service_client::AnalyticsServiceClient;
use comms_runtime::{Env, Shutdown};
use comms_testkit::{TestDatabase, amqp_url, unique_name};
use serde_json::{Value, json};
use tonic::transport::Channel;
use uuid::Uuid;

pub fn at(utc: &str) -> DateTime<Utc> {
    utc.parse().unwrap()
}

/// One stream's events (a call's or an agent's), each at its own time.
pub struct Script {
    category: &'static str,
    /// The field of each event that names the stream's call or agent.
    id_field: &'static str,
    pub id: Uuid,
    events: Vec<(&'static str, Value)>,
}

impl Script {
    /// A call started at `utc`.
    pub fn started(direction: &str, utc: &str) -> Self {
        let id = Uuid::new_v4();
        let started = json!({ "call_id": id, "direction": direction, "to": "+34910000100",
                              "language": "es", "started_at": at(utc) });
        Self {
            category: "call",
            id_field: "call_id",
            id,
            events: vec![(<call::Started as Event>::TYPE, started)],
        }
    }

    /// More of call `id`'s stream: its events come with `then`.
    pub fn call(id: Uuid) -> Self {
        Self {
            category: "call",
            id_field: "call_id",
            id,
            events: Vec::new(),
        }
    }

    /// Call `id`'s transcript stream (what the transcription service records): its events
    /// come with `then`.
    pub fn transcript(id: Uuid) -> Self {
        Self {
            category: "transcript",
            id_field: "call_id",
            id,
            events: Vec::new(),
        }
    }

    /// An agent's stream, from nothing: its events come with `then`.
    pub fn agent(id: Uuid) -> Self {
        Self {
            category: "agent",
            id_field: "agent_id",
            id,
            events: Vec::new(),
        }
    }

    /// Sets a field of the first event.
    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.events[0].1[field] = value;
        self
    }

    /// Adds an event, naming the stream's call or agent in it.
    pub fn then(mut self, event_type: &'static str, mut data: Value) -> Self {
        data[self.id_field] = json!(self.id);
        self.events.push((event_type, data));
        self
    }

    /// Answered at `utc`, then ended after `talk` seconds.
    pub fn talked(self, utc: &str, talk: i64) -> Self {
        let answered = at(utc);
        self.then(
            <call::Answered as Event>::TYPE,
            json!({ "answered_at": answered }),
        )
        .ended(answered + chrono::Duration::seconds(talk), talk)
    }

    /// Hung up at `at`, `talk` seconds after its answer.
    pub fn ended(self, at: DateTime<Utc>, talk: i64) -> Self {
        self.then(
            <call::Ended as Event>::TYPE,
            json!({ "duration": talk, "outcome": "completed", "reason": "hung up", "ended_at": at }),
        )
    }

    pub fn failed(self, outcome: &str, utc: &str) -> Self {
        self.then(
            <call::Failed as Event>::TYPE,
            json!({ "outcome": outcome, "reason": "scripted", "failed_at": at(utc) }),
        )
    }
}

/// The analytics service, its relay and a client that asks as a supervisor of `org_madrid`.
pub struct Analytics {
    pub db: TestDatabase,
    pub store: EventStore,
    pub client: AnalyticsServiceClient<Channel>,
    tokens: Tokens,
    stop: comms_runtime::ShutdownTrigger,
    service: tokio::task::JoinHandle<anyhow::Result<()>>,
    relay: tokio::task::JoinHandle<()>,
}

pub const ORG: &str = "org_madrid";

impl Analytics {
    pub async fn start() -> Self {
        let db = TestDatabase::new().await;
        let store = EventStore::new(db.pool.clone());
        let exchange = unique_name("test.events");
        let env = Env::from_pairs([
            ("DATABASE_URL", db.url.as_str()),
            ("RABBITMQ_URL", &amqp_url()),
            ("EVENTS_EXCHANGE", exchange.as_str()),
            ("ANALYTICS_QUEUE", &unique_name("test.analytics")),
            // The live figures' rounds are run by the test that wants them.
            ("METRICS_INTERVAL_SECONDS", "3600"),
        ]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, shutdown) = Shutdown::new();
        let config = Config::from_env(&env).unwrap();
        let connection = comms_testkit::amqp_connection().await;
        let channel = connection.create_channel().await.unwrap();
        comms_bus::declare_consumer(&channel, &config.consumer())
            .await
            .unwrap();
        let tokens = comms_auth::AuthConfig::ephemeral().tokens;
        let service = tokio::spawn(run(config, tokens.clone(), listener, shutdown.clone()));
        let mut relay_config = RelayConfig::new(amqp_url(), &exchange);
        relay_config.leadership_check = Duration::from_millis(100);
        let relay =
            tokio::spawn(Relay::new(store.clone(), relay_config).run(shutdown.clone().wait()));
        let client = AnalyticsServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        Self {
            db,
            store,
            client,
            tokens,
            stop,
            service,
            relay,
        }
    }

    pub async fn append(&self, org: &str, script: Script) {
        let events = script
            .events
            .into_iter()
            .map(|(ty, data)| NewEvent::new(ty, data, json!({})))
            .collect();
        let stream = StreamName::new(script.category, script.id);
        self.store
            .append(org, &stream, ExpectedVersion::Any, events)
            .await
            .unwrap();
    }

    /// `request` as a supervisor of [`ORG`] would send it.
    pub fn signed<T>(&self, request: T) -> tonic::Request<T> {
        let identity = Identity::new(ORG, "user_1", Role::Supervisor).unwrap();
        let mut request = tonic::Request::new(request);
        let token = self.tokens.internal_token(&identity).unwrap();
        comms_auth::service::attach(request.metadata_mut(), &token);
        request
    }

    pub async fn stop(self) {
        self.stop.trigger();
        self.service.await.unwrap().unwrap();
        self.relay.await.unwrap();
    }
}
