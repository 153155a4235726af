//! The whole fleet in one process (as `comms dev` runs it), driven from outside: REST in, gRPC,
//! AMQP and the dashboard out, against the real PostgreSQL and RabbitMQ.

use std::path::Path;
use std::time::Duration;

use comms_fleet::{DevFleet, start_dev};
use comms_proto::v1::GetCallRequest;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_runtime::{Env, Shutdown, ShutdownTrigger};
use comms_testkit::{TestDatabase, amqp_connection, amqp_url, unique_name};
use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

const ORG: &str = "org_acme";
/// A W3C trace context, as the Ocelot gateway would send it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

struct Fleet {
    fleet: DevFleet,
    pool: PgPool,
    http: reqwest::Client,
    amqp: lapin::Channel,
    /// A queue of ours bound to `comms.call.*`, as another platform module would have.
    tap: String,
    stop: ShutdownTrigger,
}

impl Fleet {
    /// Starts the fleet; the simulated provider rings after `ring_ms` (then answers 50 ms later).
    async fn start(ring_ms: &str) -> Self {
        // As `comms` does at start-up: a tracer (so trace context propagates) and the recorder.
        std::mem::forget(comms_telemetry::init("comms-integration-tests").unwrap());
        let db = TestDatabase::new().await;
        let exchange = unique_name("test.events");
        let amqp_url = amqp_url();
        let queue = unique_name("test.analytics");
        let env = Env::from_pairs([
            ("DATABASE_URL", db.url.as_str()),
            ("RABBITMQ_URL", amqp_url.as_str()),
            ("EVENTS_EXCHANGE", exchange.as_str()),
            ("ANALYTICS_QUEUE", queue.as_str()),
            ("PORT", "0"),
            ("SIM_RING_MS", ring_ms),
            ("SIM_ANSWER_MS", "50"),
            ("SIM_TALK_MS", "60000"),
            ("SIM_OUTCOMES", "answered=1"),
        ]);
        let connection = amqp_connection().await;
        let amqp = connection.create_channel().await.unwrap();
        std::mem::forget(connection); // lives as long as the test process
        let tap = unique_name("test.tap");
        comms_bus::declare_events_exchange(&amqp, &exchange)
            .await
            .unwrap();
        comms_bus::declare_queue(&amqp, &exchange, &tap, &["comms.call.*".to_owned()])
            .await
            .unwrap();
        let (stop, shutdown) = Shutdown::new();
        let fleet = start_dev(&env, shutdown).await.unwrap();
        Self {
            fleet,
            pool: db.pool,
            http: reqwest::Client::new(),
            amqp,
            tap,
            stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.fleet.edge)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("x-org-id", ORG)
            .header("x-user-id", "user_1")
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).header("x-org-id", ORG)
    }

    async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The next message on our tap queue of `event_type`.
    async fn next_message(&self, event_type: &str) -> lapin::message::BasicGetMessage {
        for _ in 0..400 {
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

    async fn stop(self) {
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

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/events")
        .join(format!("{name}.schema.json"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{instance} does not match its schema: {errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_posted_over_rest_is_stored_published_and_counted() {
    let fleet = Fleet::start("50").await;
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    let response = fleet
        .post("/api/communications/calls")
        .header("traceparent", &traceparent)
        .json(&json!({ "to": "+14155550100", "language": "es" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let call: Value = response.json().await.unwrap();
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(call["status"], "initiated");
    assert_eq!(call["organization_id"], ORG);

    // The same call through the calls service's own gRPC API.
    let mut grpc = CallsServiceClient::connect(format!("http://{}", fleet.fleet.calls))
        .await
        .unwrap();
    let mut request = tonic::Request::new(GetCallRequest { id: id.clone() });
    request
        .metadata_mut()
        .insert("x-org-id", ORG.parse().unwrap());
    let got = grpc.get_call(request).await.unwrap().into_inner();
    assert_eq!(
        (got.id.as_str(), got.language.as_str()),
        (id.as_str(), "es")
    );

    // comms.call.started on the exchange, in the platform envelope, continuing the REST trace.
    let message = fleet.next_message("comms.call.started").await;
    let envelope: Value = serde_json::from_slice(&message.data).unwrap();
    assert_valid(&schema("envelope"), &envelope);
    assert_valid(&schema("comms.call.started"), &envelope["data"]);
    assert_eq!(envelope["data"]["call_id"], id.as_str());
    assert_eq!(envelope["organizationId"], ORG);
    assert_eq!(envelope["userId"], "user_1");
    assert_eq!(envelope["metadata"]["stream"], format!("call-{id}"));
    assert_eq!(envelope["metadata"]["streamPosition"], 0);
    let properties = &message.properties;
    assert_eq!(
        properties.message_id().as_ref().unwrap().as_str(),
        envelope["id"].as_str().unwrap()
    );
    assert_eq!(
        properties.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(*properties.delivery_mode(), Some(2));
    let headers = properties.headers().as_ref().unwrap();
    let Some(AMQPValue::LongString(header)) = headers.inner().get("traceparent") else {
        panic!("no traceparent header")
    };
    let header = String::from_utf8_lossy(header.as_bytes()).into_owned();
    assert_eq!(
        comms_telemetry::trace_id_of(&header),
        Some(TRACE_ID),
        "one trace from REST to the bus"
    );

    // The simulated provider moves the call on; each step is published and matches its schema.
    for event_type in ["comms.call.ringing", "comms.call.answered"] {
        let message = fleet.next_message(event_type).await;
        let envelope: Value = serde_json::from_slice(&message.data).unwrap();
        assert_valid(&schema("envelope"), &envelope);
        assert_valid(&schema(event_type), &envelope["data"]);
    }
    let ended = fleet
        .http
        .delete(fleet.url(&format!("/api/communications/calls/{id}")))
        .header("x-org-id", ORG)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let message = fleet.next_message("comms.call.ended").await;
    let envelope: Value = serde_json::from_slice(&message.data).unwrap();
    assert_valid(&schema("comms.call.ended"), &envelope["data"]);

    // The dashboard counts it, within a bounded wait.
    let mut dashboard = Value::Null;
    for _ in 0..200 {
        dashboard = fleet
            .get("/api/communications/analytics/dashboard")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if dashboard["calls_by_status"]["ended"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(dashboard["total_calls"], 1, "{dashboard}");
    assert_eq!(dashboard["calls_by_status"]["ended"], 1, "{dashboard}");
    assert_eq!(dashboard["answer_rate"], 1.0);

    let metrics = fleet
        .http
        .get(fleet.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "comms_calls_total",
        "comms_calls_active",
        "comms_call_duration_seconds_count",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    fleet.stop().await;
}

/// Sends the request and checks the answer is problem+json; returns its status and body.
async fn problem(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
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

fn fields(body: &Value) -> Vec<&str> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_precise_problem_and_appends_nothing() {
    // The provider stays silent: calls remain initiated, so hanging up cancels them.
    let fleet = Fleet::start("600000").await;
    let created: Value = fleet
        .post("/api/communications/calls")
        .json(&json!({ "to": "+14155550100" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let calls = "/api/communications/calls";
    let body = |raw: &'static str| {
        fleet
            .post(calls)
            .header("content-type", "application/json")
            .body(raw)
    };

    let (status, p) = problem(body("{\"to\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        p["detail"].as_str().unwrap().starts_with("malformed JSON"),
        "{p}"
    );

    let (_, p) = problem(body("{}")).await;
    assert_eq!(fields(&p), ["to"]);
    let (_, p) = problem(body(r#"{"to": 14155550100}"#)).await;
    assert_eq!(fields(&p), ["to"]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{p}"
    );
    let (_, p) = problem(body(r#"{"to": "+14155550100", "too": 1}"#)).await;
    assert_eq!(fields(&p), ["too"]);
    let (_, p) = problem(body(r#"{"to": "415-555-0100", "language": "xx"}"#)).await;
    assert_eq!(fields(&p), ["to", "language"]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("E.164")
    );
    let (_, p) = problem(body(r#"{"to": "+14155550100", "agent_id": "agent-7"}"#)).await;
    assert_eq!(fields(&p), ["agent_id"]);

    let huge = format!(
        r#"{{"to": "+14155550100", "language": "{}"}}"#,
        "x".repeat(100_000)
    );
    let (status, _) = problem(
        fleet
            .post(calls)
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = problem(fleet.post(calls).body("to=+14155550100")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = problem(
        fleet
            .http
            .post(fleet.url(calls))
            .json(&json!({ "to": "+14155550100" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let unknown = uuid::Uuid::new_v4();
    let (status, _) = problem(fleet.get(&format!("{calls}/{unknown}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, p) = problem(fleet.get(&format!("{calls}/not-a-uuid"))).await;
    assert_eq!((status, fields(&p)), (StatusCode::BAD_REQUEST, vec!["id"]));
    // Another organization's call is not found, not forbidden.
    let (status, _) = problem(
        fleet
            .http
            .get(fleet.url(&format!("{calls}/{id}")))
            .header("x-org-id", "org_other"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, p) =
        problem(fleet.get(&format!("{calls}?status=ringing,exploded&page_size=500"))).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["status", "page_size"])
    );

    // Free text with a NUL (PostgreSQL cannot store it) is a field error, not a server error.
    let nul = fleet
        .http
        .put(fleet.url(&format!("{calls}/{id}")))
        .header("x-org-id", ORG)
        .json(&json!({ "notes": "a\u{0}b" }));
    let (status, p) = problem(nul).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["notes"])
    );
    let end = |org: &'static str| {
        fleet
            .http
            .delete(fleet.url(&format!("{calls}/{id}")))
            .header("x-org-id", org)
    };
    assert_eq!(end(ORG).send().await.unwrap().status(), StatusCode::OK);
    let before = fleet.event_count().await;
    let (status, p) = problem(end(ORG)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["detail"], "cannot end a call that is canceled");
    let (status, _) = problem(end("org_other")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = problem(fleet.get("/api/communications/nothing-here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        fleet.event_count().await,
        before,
        "no rejected request appended anything"
    );

    let openapi: Value = fleet
        .http
        .get(fleet.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/api/communications/calls"]["post"].is_object());
    let docs = fleet.http.get(fleet.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "Swagger UI served from vendored assets"
    );
    fleet.stop().await;
}
