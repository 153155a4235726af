//! The fleet in one process (as `comms dev` runs it), with the means to drive it from outside:
//! an HTTP client holding a logged-in administrator's token, a tap queue on the exchange, and
//! the same signing key the fleet uses, so tests can forge and attack tokens.

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use comms_auth::{AuthConfig, Identity, PrivateKey, Role};
use comms_fleet::{DevFleet, start_dev};
use comms_runtime::{Env, Shutdown, ShutdownTrigger};
use comms_testkit::{TestDatabase, amqp_connection, amqp_url, unique_name};
use lapin::options::BasicGetOptions;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

pub const ORG: &str = "org_acme";
/// A calling window's days: all of them.
pub const EVERY_DAY: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
pub const ADMIN_EMAIL: &str = "admin@acme.test";
pub const PASSWORD: &str = "correct horse battery staple";
pub const ENCRYPTION_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The fleet's links to PostgreSQL and RabbitMQ, to cut or silence.
pub struct Links {
    pub database: comms_testkit::FaultProxy,
    pub broker: comms_testkit::FaultProxy,
}

/// A logged-in user's tokens.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
}

/// How long a test waits for a message on its tap (others may be read and skipped meanwhile).
const TAP_PATIENCE: Duration = Duration::from_secs(20);

pub struct Fleet {
    pub fleet: DevFleet,
    pub pool: PgPool,
    pub db_url: String,
    pub http: reqwest::Client,
    pub amqp: lapin::Channel,
    /// A queue of ours bound to the fleet's events (`comms.call.*`, `comms.agent.*`,
    /// `comms.campaign.*`, `comms.contact.*`), as another platform module would have.
    pub tap: String,
    /// The campaigns service's queue (its dead letters are `<queue>.dead-letter`).
    pub campaigns_queue: String,
    /// The queue the calls service schedules notifications from (its dead letters are
    /// `<queue>.dead-letter`).
    pub notifications_queue: String,
    /// The analytics service's queue.
    pub analytics_queue: String,
    /// Every consumer's queue: analytics, agents, calls, campaigns.
    pub queues: [String; 4],
    /// The events exchange the fleet publishes to and consumes from.
    pub exchange: String,
    /// The fleet's key, as a test holding a copy of `JWT_PRIVATE_KEY` would have it.
    pub private_key: PrivateKey,
    pub auth: AuthConfig,
    /// The first administrator of [`ORG`], logged in over REST.
    pub admin: Session,
    stop: ShutdownTrigger,
}

impl Fleet {
    /// Starts the fleet; the simulated provider rings after `ring_ms` (then answers 50 ms later).
    pub async fn start(ring_ms: &str) -> Self {
        Self::start_with(ring_ms, &[]).await
    }

    /// Starts the fleet with extra environment variables (e.g. `PLATFORM_MODE`).
    pub async fn start_with(ring_ms: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_reaching(ring_ms, extra, None).await
    }

    /// Starts the fleet reaching PostgreSQL and RabbitMQ through proxies the test controls
    /// (the test's own connections, its pool and its tap, go direct).
    pub async fn start_behind_proxies(ring_ms: &str, extra: &[(&str, &str)]) -> (Self, Links) {
        let db = TestDatabase::new().await;
        let links = Links {
            database: comms_testkit::FaultProxy::to(&db.url).await,
            broker: comms_testkit::FaultProxy::to(&amqp_url()).await,
        };
        let fleet = Self::start_reaching(ring_ms, extra, Some((db, &links))).await;
        (fleet, links)
    }

    async fn start_reaching(
        ring_ms: &str,
        extra: &[(&str, &str)],
        behind: Option<(TestDatabase, &Links)>,
    ) -> Self {
        // As `comms` does at start-up: a tracer (so trace context propagates) and the recorder.
        std::mem::forget(comms_telemetry::init("comms-integration-tests").unwrap());
        let (db, links) = match behind {
            Some((db, links)) => (db, Some(links)),
            None => (TestDatabase::new().await, None),
        };
        let exchange = unique_name("test.events");
        let amqp_url = amqp_url();
        let (fleet_db_url, fleet_amqp_url) = match links {
            Some(links) => (links.database.url(&db.url), links.broker.url(&amqp_url)),
            None => (db.url.clone(), amqp_url.clone()),
        };
        let queue = unique_name("test.analytics");
        let agents_queue = unique_name("test.agents");
        let calls_queue = unique_name("test.calls");
        let campaigns_queue = unique_name("test.campaigns");
        let transcription_queue = unique_name("test.transcription");
        let search_queue = unique_name("test.search");
        let private_key = PrivateKey::generate();
        let pem = private_key.to_pem();
        let mut env = Env::from_pairs([
            ("DATABASE_URL", fleet_db_url.as_str()),
            ("RABBITMQ_URL", fleet_amqp_url.as_str()),
            ("EVENTS_EXCHANGE", exchange.as_str()),
            ("ANALYTICS_QUEUE", queue.as_str()),
            ("AGENTS_QUEUE", agents_queue.as_str()),
            ("CALLS_QUEUE", calls_queue.as_str()),
            ("CAMPAIGNS_QUEUE", campaigns_queue.as_str()),
            // Followed only by a simulated transcriber (a test that asks for one).
            ("TRANSCRIPTION_QUEUE", transcription_queue.as_str()),
            ("TRANSCRIPT_SEARCH_QUEUE", search_queue.as_str()),
            ("PORT", "0"),
            ("ADMIN_PORT", "0"),
            ("TRANSCRIPTION_PORT", "0"),
            ("SIM_RING_MS", ring_ms),
            ("SIM_ANSWER_MS", "50"),
            ("SIM_TALK_MS", "60000"),
            ("SIM_OUTCOMES", "answered=1"),
            ("JWT_PRIVATE_KEY", pem.as_str()),
            ("COMMS_ADMIN_EMAIL", ADMIN_EMAIL),
            ("COMMS_ADMIN_PASSWORD", PASSWORD),
            ("COMMS_ADMIN_ORG", ORG),
            ("COMMS_ENCRYPTION_KEY", ENCRYPTION_KEY),
            // Fast hashes for tests; production keeps the default cost of 12.
            ("BCRYPT_COST", "4"),
            // The live figures' rounds append to the log on their own time: a test that wants
            // them asks for them (`extra`); the rest count the log's events undisturbed.
            ("METRICS_INTERVAL_SECONDS", "3600"),
        ]);
        // The tests publish the other modules' events, as the broker's user they connect as.
        let me = comms_bus::user_of(&amqp_url);
        env.set(
            "EVENT_PUBLISHERS",
            format!("crm.*={me},planning.*={me},tasks.*={me}"),
        );
        for (key, value) in extra {
            env.set(key, *value);
        }
        let auth = AuthConfig::from_env(&env).unwrap();
        let connection = amqp_connection().await;
        let amqp = connection.create_channel().await.unwrap();
        std::mem::forget(connection); // lives as long as the test process
        let tap = unique_name("test.tap");
        comms_bus::declare_events_exchange(&amqp, &exchange)
            .await
            .unwrap();
        let bindings = ["call", "agent", "campaign", "contact"].map(|c| format!("comms.{c}.*"));
        comms_bus::declare_queue(&amqp, &exchange, &tap, &bindings, Default::default())
            .await
            .unwrap();
        let (stop, shutdown) = Shutdown::new();
        let fleet = start_dev(&env, shutdown).await.unwrap();
        let mut this = Self {
            fleet,
            pool: db.pool,
            db_url: db.url.clone(),
            http: comms_runtime::http::client(std::time::Duration::from_secs(120)),
            amqp,
            tap,
            campaigns_queue: campaigns_queue.clone(),
            // The calls service's default: its own queue's name, then `.notifications`.
            notifications_queue: format!("{calls_queue}.notifications"),
            analytics_queue: queue.clone(),
            queues: [
                queue.clone(),
                agents_queue.clone(),
                calls_queue.clone(),
                campaigns_queue.clone(),
            ],
            exchange: exchange.clone(),
            private_key,
            auth,
            admin: Session {
                access_token: String::new(),
                refresh_token: String::new(),
            },
            stop,
        };
        if !this.auth.platform_mode {
            this.admin = this.login(ADMIN_EMAIL, PASSWORD).await;
        }
        this
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.fleet.edge)
    }

    /// `path` on the admin listener (`/health`, `/metrics`), which only the cluster reaches.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.fleet.admin)
    }

    /// Logs in over REST; panics unless it succeeds.
    pub async fn login(&self, email: &str, password: &str) -> Session {
        let response = self
            .http
            .post(self.url("/api/communications/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "login of {email}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        Session {
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A user with `role` in `org`, created as an administrator would (the first administrator
    /// of another organization comes from `comms create-admin`), then logged in over REST.
    pub async fn user(&self, org: &str, role: Role) -> Session {
        let email = format!(
            "{}.{}@{}.test",
            role.as_str(),
            uuid::Uuid::new_v4().simple(),
            org.replace('_', "-")
        );
        if org == ORG {
            let created = self
                .request(
                    reqwest::Method::POST,
                    "/api/communications/users",
                    &self.admin,
                )
                .json(&json!({ "email": email, "password": PASSWORD, "role": role.as_str() }))
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), StatusCode::CREATED);
        } else {
            let store = comms_eventstore::EventStore::new(self.pool.clone());
            let accounts = comms_edge::Accounts::new(store, self.auth.tokens.clone(), 4);
            let new = comms_edge::NewUser {
                email: email.clone(),
                password: PASSWORD.into(),
                role: role.as_str().into(),
            };
            accounts.create_user(org, "test", new).await.unwrap();
        }
        self.login(&email, PASSWORD).await
    }

    /// A new user of `role` in [`ORG`], created over REST by the administrator and logged in:
    /// their id and session.
    pub async fn user_with_id(&self, role: &str) -> (String, Session) {
        let email = format!("{role}.{}@acme.test", uuid::Uuid::new_v4().simple());
        let created = json_of(
            self.post("/api/communications/users")
                .json(&json!({ "email": email, "password": PASSWORD, "role": role })),
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        (id, self.login(&email, PASSWORD).await)
    }

    /// An access token signed with the fleet's key for any identity (what a key thief could do).
    pub fn forge(&self, org: &str, user: &str, role: Role) -> String {
        self.auth
            .tokens
            .access_token(&Identity::new(org, user, role).unwrap())
            .unwrap()
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        session: &Session,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&session.access_token)
    }

    /// As the first administrator of [`ORG`].
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, path, &self.admin)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path, &self.admin)
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::PUT, path, &self.admin)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::DELETE, path, &self.admin)
    }

    /// Messages ready on `queue`.
    pub async fn message_count(&self, queue: &str) -> u32 {
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        self.amqp
            .queue_declare(queue.into(), passive, Default::default())
            .await
            .unwrap()
            .message_count()
    }

    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The types of the next `n` messages on our tap whose type starts with `prefix`, in order.
    pub async fn next_types(&self, prefix: &str, n: usize) -> Vec<(String, Value)> {
        let mut seen = Vec::new();
        let started = std::time::Instant::now();
        while started.elapsed() < TAP_PATIENCE {
            match self
                .amqp
                .basic_get(self.tap.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                Some(message) => {
                    let kind = message
                        .properties
                        .kind()
                        .as_ref()
                        .map(|k| k.to_string())
                        .unwrap_or_default();
                    if kind.starts_with(prefix) {
                        let envelope: Value = serde_json::from_slice(&message.data).unwrap();
                        seen.push((kind, envelope));
                        if seen.len() == n {
                            return seen;
                        }
                    }
                }
                None => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
        panic!(
            "only {} {prefix}* messages arrived: {:?}",
            seen.len(),
            seen.iter().map(|s| &s.0).collect::<Vec<_>>()
        );
    }

    /// Publishes `envelope` to the fleet's exchange, as another module would.
    pub async fn publish(&self, envelope: &comms_bus::Envelope) {
        self.amqp
            .basic_publish(
                self.exchange.as_str().into(),
                envelope.event_type.as_str().into(),
                Default::default(),
                &envelope.to_json(),
                // As the broker's user the test connects as, which the broker vouches for.
                comms_bus::amqp_properties(envelope, None)
                    .with_user_id(comms_bus::user_of(&amqp_url()).as_str().into()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// The data of the next message on our tap queue of `event_type`.
    pub async fn next_data(&self, event_type: &str) -> Value {
        let message = self.next_message(event_type).await;
        let envelope: Value = serde_json::from_slice(&message.data).unwrap();
        envelope["data"].clone()
    }

    /// The next message on our tap queue of `event_type`.
    pub async fn next_message(&self, event_type: &str) -> lapin::message::BasicGetMessage {
        let started = std::time::Instant::now();
        while started.elapsed() < TAP_PATIENCE {
            if let Some(message) = self
                .amqp
                .basic_get(self.tap.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                if message.properties.kind().as_ref().map(|k| k.as_str()) == Some(event_type) {
                    return message;
                }
                continue;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no {event_type} message arrived");
    }

    pub async fn stop(self) {
        self.stop.trigger();
        tokio::time::timeout(Duration::from_secs(30), self.fleet.wait())
            .await
            .expect("the fleet drains in time")
            .unwrap();
        let _ = self
            .amqp
            .queue_delete(self.tap.as_str().into(), Default::default())
            .await;
    }
}

pub fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/events")
        .join(format!("{name}.schema.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

pub fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{instance} does not match its schema: {errors:?}"
    );
}
/// Sends the request and checks the answer is problem+json; returns its status and body.
pub async fn problem(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    (status, body)
}

pub fn fields(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// Every event in the log matches the schema of its type (and every type has one), carries the
/// trace it was made in (`traceparent`, so consumers continue it) and says who caused it
/// (`userId`: a user, or `system:<component>` when the fleet acted on its own).
pub async fn assert_events_match_their_schemas(pool: &PgPool) {
    let events: Vec<(String, Value, Value)> =
        sqlx::query_as("SELECT event_type, data, metadata FROM events ORDER BY global_position")
            .fetch_all(pool)
            .await
            .unwrap();
    assert!(!events.is_empty());
    // W3C trace context: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>.
    let is_traceparent = |value: &str| {
        let parts: Vec<&str> = value.split('-').collect();
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        parts.len() == 4
            && parts[0] == "00"
            && hex(parts[1], 32)
            && hex(parts[2], 16)
            && hex(parts[3], 2)
    };
    let mut untraced = std::collections::BTreeSet::new();
    let mut unattributed = std::collections::BTreeSet::new();
    for (event_type, data, metadata) in events {
        assert_valid(&schema(&event_type), &data);
        if !metadata["traceparent"].as_str().is_some_and(is_traceparent) {
            untraced.insert(event_type.clone());
        }
        if metadata["userId"].as_str().is_none_or(str::is_empty) {
            unattributed.insert(event_type);
        }
    }
    assert!(
        untraced.is_empty(),
        "events without a traceparent: {untraced:?}"
    );
    assert!(
        unattributed.is_empty(),
        "events without a userId: {unattributed:?}"
    );
}

/// The JSON body of a request that must succeed.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// An agent speaking English, available for calls; returns their id.
pub async fn available_agent(fleet: &Fleet, name: &str) -> String {
    available_agent_as(
        fleet,
        json!({
            "name": name, "email": format!("{}@acme.test", name.to_lowercase()), "languages": ["en"]
        }),
    )
    .await
}

/// The agent `body` creates, made available: their id.
pub async fn available_agent_as(fleet: &Fleet, body: Value) -> String {
    let agent = json_of(fleet.post("/api/communications/agents").json(&body)).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let status = fleet
        .put(&format!("/api/communications/agents/{id}/status"))
        .json(&json!({ "status": "available" }));
    assert_eq!(status.send().await.unwrap().status(), StatusCode::OK);
    id
}

/// A caller `from` ringing `number`, assigned to the organization with `skills` in English, and
/// waiting there (the simulated carrier answers inbound calls at once): the call's id.
pub async fn waiting_caller(fleet: &Fleet, number: &str, skills: &[&str], from: &str) -> String {
    let number = json_of(fleet.post("/api/communications/numbers").json(&json!({
        "number": number, "language": "en", "skills": skills
    })))
    .await;
    let number = number["id"].as_str().unwrap();
    let call = json_of(
        fleet
            .post(&format!(
                "/api/communications/numbers/{number}/simulated-calls"
            ))
            .json(&json!({ "from": from })),
    )
    .await;
    call["id"].as_str().unwrap().to_owned()
}

/// Records one utterance of the caller's in call `call`'s transcript in `org`, as the
/// transcription service would (for a fleet whose transcriber is off).
pub async fn record_utterance(fleet: &Fleet, org: &str, call: &str, text: &str) {
    use comms_events::call::{CallEvent, Speaker, Transcriber, Utterance};
    let call_id = uuid::Uuid::parse_str(call).unwrap();
    let said = CallEvent::Utterance(Utterance {
        call_id,
        speaker: Speaker::Caller,
        text: text.into(),
        start_seconds: 0.5,
        end_seconds: 2.0,
        confidence: 0.9,
        language: comms_proto::Language::En,
        transcriber: Transcriber::Deepgram,
        at: chrono::Utc::now(),
    });
    comms_eventstore::EventStore::new(fleet.pool.clone())
        .append(
            org,
            &comms_eventstore::StreamName::new("transcript", call_id),
            comms_eventstore::ExpectedVersion::Any,
            vec![comms_bus::new_event(
                &said,
                "system:transcription",
                Some(call),
            )],
        )
        .await
        .unwrap();
}

/// An envelope another platform module would publish: `event_type` from `source`, in [`ORG`].
pub fn envelope(
    event_type: &str,
    source: &str,
    data: Value,
    at: chrono::DateTime<chrono::Utc>,
) -> comms_bus::Envelope {
    serde_json::from_value(json!({
        "id": uuid::Uuid::now_v7(), "type": event_type, "source": source,
        "timestamp": at, "organizationId": ORG, "data": data,
    }))
    .unwrap()
}

/// Polls `read` until `done` holds of its value (at most `limit`).
pub async fn until<F, Fut>(limit: Duration, mut read: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let started = Instant::now();
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "gave up waiting; last seen: {value}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn create_campaign(fleet: &Fleet, body: Value) -> String {
    let campaign = json_of(fleet.post("/api/communications/campaigns").json(&body)).await;
    campaign["id"].as_str().unwrap().to_owned()
}

pub async fn import(fleet: &Fleet, campaign: &str, csv: String) -> Value {
    json_of(
        fleet
            .post(&format!(
                "/api/communications/campaigns/{campaign}/contacts/import"
            ))
            .header("content-type", "text/csv")
            .body(csv),
    )
    .await
}

pub async fn action(fleet: &Fleet, campaign: &str, verb: &str) -> reqwest::Response {
    fleet
        .post(&format!("/api/communications/campaigns/{campaign}/{verb}"))
        .send()
        .await
        .unwrap()
}

/// The reason the next message dead-lettered on `dead_letters` carries.
pub async fn next_dead_letter_reason(fleet: &Fleet, dead_letters: &str) -> Value {
    until(
        Duration::from_secs(20),
        || async {
            let got = fleet
                .amqp
                .basic_get(
                    dead_letters.into(),
                    lapin::options::BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap();
            got.map_or(Value::Null, |m| {
                let headers = m.properties.headers().clone().unwrap_or_default();
                match headers.inner().get("x-comms-dead-letter-reason") {
                    Some(lapin::types::AMQPValue::LongString(reason)) => json!(reason.to_string()),
                    other => json!(format!("no reason header: {other:?}")),
                }
            })
        },
        |v| !v.is_null(),
    )
    .await
}

/// Every row of each `tables` entry (`<table> t`, optionally with a `WHERE`), in a stable order.
pub async fn rows_of(fleet: &Fleet, tables: &[&str]) -> Value {
    let arrays: Vec<String> = tables
        .iter()
        .map(|from| format!("(SELECT json_agg(t ORDER BY t::text) FROM {from})"))
        .collect();
    let sql = format!("SELECT json_build_array({})", arrays.join(", "));
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&fleet.pool)
        .await
        .unwrap()
}

/// [`rows_of`] once two reads half a second apart agree (the consumers have caught up).
pub async fn settled_rows_of(fleet: &Fleet, tables: &[&str]) -> Value {
    let mut rows = rows_of(fleet, tables).await;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = rows_of(fleet, tables).await;
        if again == rows {
            return rows;
        }
        rows = again;
    }
}

/// Runs one of our Python checkers with the venv `scripts/test` prepares.
pub fn python(script: &str, args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let interpreter = std::env::var("TEST_PYTHON")
        .unwrap_or_else(|_| root.join(".venv/bin/python").display().to_string());
    let output = Command::new(&interpreter)
        .arg(root.join("integration-tests/python").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {interpreter} ({e}); scripts/test installs it"));
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
