//! The whole fleet in one process (as `comms dev` runs it), driven from outside: REST in, gRPC,
//! AMQP and the dashboard out, against the real PostgreSQL and RabbitMQ.

mod support;

use std::time::Duration;

use comms_proto::v1::GetCallRequest;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use lapin::types::AMQPValue;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    Fleet, ORG, assert_events_match_their_schemas, assert_valid, available_agent, envelope, fields,
    json_of, next_dead_letter_reason, problem, python, schema, until,
};

/// A W3C trace context, as the Ocelot gateway would send it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

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
    let identity =
        comms_auth::Identity::new(ORG, "planning", comms_auth::Role::Supervisor).unwrap();
    let token = fleet.auth.tokens.internal_token(&identity).unwrap();
    comms_auth::service::attach(request.metadata_mut(), &token);
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
    let me: Value = fleet
        .get("/api/communications/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        envelope["userId"], me["user_id"],
        "the acting user travels with the event"
    );
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
        .delete(&format!("/api/communications/calls/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let message = fleet.next_message("comms.call.ended").await;
    let envelope: Value = serde_json::from_slice(&message.data).unwrap();
    assert_valid(&schema("comms.call.ended"), &envelope["data"]);

    // The dashboard counts it, within a bounded wait.
    let mut dashboard = Value::Null;
    for _ in 0..1200 {
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
        .get(fleet.admin_url("/metrics"))
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
    // Metrics name organizations and campaigns: never on the public port.
    let public = fleet.http.get(fleet.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    assert_events_match_their_schemas(&fleet.pool).await;
    fleet.stop().await;
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
    let (status, p) =
        problem(fleet.get(&format!("{calls}?status=ringing,exploded&page_size=500"))).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["status", "page_size"])
    );

    // Free text with a NUL (PostgreSQL cannot store it) is a field error, not a server error.
    let nul = fleet
        .put(&format!("{calls}/{id}"))
        .json(&json!({ "notes": "a\u{0}b" }));
    let (status, p) = problem(nul).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["notes"])
    );
    let end = || fleet.delete(&format!("{calls}/{id}"));
    assert_eq!(end().send().await.unwrap().status(), StatusCode::OK);
    let before = fleet.event_count().await;
    let (status, p) = problem(end()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["detail"], "cannot end a call that is canceled");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_made_available_over_rest_is_routed_a_call_and_its_states_reach_the_bus_in_order()
{
    let fleet = Fleet::start("600000").await;
    let agent: Value = fleet
        .post("/api/communications/agents")
        .json(
            &json!({ "name": "Ada", "email": "ada@acme.test", "languages": ["en", "es"],
                       "skills": [{ "name": "billing", "proficiency": 4 }] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(agent["status"], "offline");
    let status = |body: Value| {
        fleet
            .put(&format!("/api/communications/agents/{id}/status"))
            .json(&body)
            .send()
    };
    let available: Value = status(json!({ "status": "available" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(available["status"], "available");

    // The calls service's side of routing, over gRPC with its service token.
    let identity =
        comms_auth::Identity::new(ORG, "service:calls", comms_auth::Role::Supervisor).unwrap();
    let token = fleet.auth.tokens.internal_token(&identity).unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", fleet.fleet.agents))
        .unwrap()
        .connect_lazy();
    let mut routing = comms_proto::v1::agents_service_client::AgentsServiceClient::with_interceptor(
        channel,
        move |mut request: tonic::Request<()>| {
            comms_auth::service::attach(request.metadata_mut(), &token);
            Ok(request)
        },
    );
    let call = uuid::Uuid::now_v7().to_string();
    let reservation = routing
        .reserve_agent(comms_proto::v1::ReserveAgentRequest {
            call_id: call.clone(),
            required_skills: vec!["billing".into()],
            language: "es".into(),
            priority: 0,
            connect: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reservation.agent.unwrap().id, id);
    routing
        .accept_reservation(comms_proto::v1::AcceptReservationRequest {
            agent_id: id.clone(),
            call_id: call.clone(),
        })
        .await
        .unwrap();
    let on_call: Value = fleet
        .get(&format!("/api/communications/agents/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (on_call["status"].as_str(), on_call["call_id"].as_str()),
        (Some("busy"), Some(call.as_str()))
    );
    routing
        .release_agent(comms_proto::v1::ReleaseAgentRequest {
            call_id: call.clone(),
        })
        .await
        .unwrap();
    // The agent finishes wrap-up early.
    let done: Value = status(json!({ "status": "available" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "available");

    let seen = fleet.next_types("comms.agent.", 6).await;
    let types: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "comms.agent.created",
            "comms.agent.available",
            "comms.agent.reserved",
            "comms.agent.busy",
            "comms.agent.wrap_up",
            "comms.agent.available"
        ]
    );
    for (event_type, envelope) in &seen {
        assert_valid(&schema("envelope"), envelope);
        assert_valid(&schema(event_type), &envelope["data"]);
        assert_eq!(envelope["data"]["agent_id"], id.as_str());
    }
    let listed: Value = fleet
        .get("/api/communications/agents?status=available&skill=billing&language=es")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_events_match_their_schemas(&fleet.pool).await;
    fleet.stop().await;
}

/// Polls the agent until `done` says so.
async fn agent_until(fleet: &Fleet, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut agent = Value::Null;
    for _ in 0..1200 {
        agent = fleet
            .get(&format!("/api/communications/agents/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done(&agent) {
            return agent;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("agent never reached the expected state: {agent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answered_campaign_call_is_routed_to_an_agent_who_wraps_up_when_it_ends() {
    let fleet = Fleet::start_with("50", &[("WRAP_UP_SECONDS", "1")]).await;
    let agent = available_agent(&fleet, "Ada").await;
    // A progressive campaign, open around the clock, with one contact: the dialer calls them
    // for the one free agent.
    let contact = json_of(fleet.post("/api/communications/contacts").json(&json!({
        "name": "Grace", "phones": ["+14155550100"], "time_zone": "Etc/UTC"
    })))
    .await;
    let campaign = json_of(fleet.post("/api/communications/campaigns").json(&json!({
        "name": "Renewals", "dialing_mode": "progressive",
        "window": { "start": "00:00", "end": "23:59",
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] }
    })))
    .await;
    let campaign_id = campaign["id"].as_str().unwrap().to_owned();
    let added = fleet
        .post(&format!(
            "/api/communications/campaigns/{campaign_id}/contacts"
        ))
        .json(&json!({ "contact_ids": [contact["id"]] }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    let started = fleet
        .post(&format!(
            "/api/communications/campaigns/{campaign_id}/start"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::OK);
    // Answered after ~100 ms; the campaigns service reserves the agent, connected at once.
    let on_call = agent_until(&fleet, &agent, |a| a["status"] == "busy").await;
    let call_id = on_call["call_id"].as_str().unwrap().to_owned();
    let call = json_of(fleet.get(&format!("/api/communications/calls/{call_id}"))).await;
    assert_eq!(call["campaign_id"], campaign_id.as_str());
    // The call records who took it (the calls service hears comms.agent.busy).
    let mut recorded = Value::Null;
    for _ in 0..1200 {
        recorded = fleet
            .get(&format!("/api/communications/calls/{call_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if recorded["agent_id"] == agent.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(recorded["agent_id"], agent.as_str(), "{recorded}");
    let ended = fleet
        .delete(&format!("/api/communications/calls/{call_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    agent_until(&fleet, &agent, |a| a["status"] == "wrap_up").await;
    let free = agent_until(&fleet, &agent, |a| a["status"] == "available").await;
    assert!(free["call_id"].is_null());

    let seen = fleet.next_types("comms.agent.", 6).await;
    let types: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "comms.agent.created",
            "comms.agent.available",
            "comms.agent.reserved",
            "comms.agent.busy",
            "comms.agent.wrap_up",
            "comms.agent.available"
        ]
    );
    assert_eq!(seen[5].1["data"]["reason"], "wrap_up_ended");

    // The analytics agent report shows the handled call, talk and wrap-up time.
    let mut row = Value::Null;
    for _ in 0..1200 {
        let report: Value = fleet
            .get("/api/communications/analytics/agents")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        row = report["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["agent_id"] == agent.as_str())
            .cloned()
            .unwrap_or_default();
        let seconds = |state: &str| row["seconds_by_state"][state].as_f64().unwrap_or(0.0);
        if row["calls_handled"] == 1 && seconds("busy") > 0.0 && seconds("wrap_up") > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(row["calls_handled"], 1, "{row}");
    for state in ["busy", "wrap_up"] {
        assert!(
            row["seconds_by_state"][state].as_f64().unwrap() > 0.0,
            "{state} in {row}"
        );
    }
    let handle = row["average_handle_seconds"].as_f64().unwrap();
    assert!(handle >= 1.0, "wrap-up alone lasts a second: {row}");
    // Rows name the agent, and follow a rename.
    assert_eq!(row["name"], "Ada", "{row}");
    let renamed = fleet
        .put(&format!("/api/communications/agents/{agent}"))
        .json(&json!({ "name": "Ada Lovelace" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    until(
        Duration::from_secs(30),
        || async { json_of(fleet.get("/api/communications/analytics/agents")).await },
        |report| {
            report["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["agent_id"] == agent.as_str() && r["name"] == "Ada Lovelace")
        },
    )
    .await;
    assert!((0.0..=1.0).contains(&row["occupancy"].as_f64().unwrap()));
    assert!(row["utilization"].as_f64().unwrap() > 0.0);
    let metrics = fleet
        .http
        .get(fleet.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("comms_agent_utilization{organization=\"org_acme\"}"),
        "utilization exported"
    );
    assert_events_match_their_schemas(&fleet.pool).await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_who_places_a_call_that_fails_still_gets_wrap_up() {
    let fleet = Fleet::start_with(
        "50",
        &[("WRAP_UP_SECONDS", "60"), ("SIM_OUTCOMES", "no_answer=1")],
    )
    .await;
    let agent = available_agent(&fleet, "Bo").await;
    let call: Value = fleet
        .post("/api/communications/calls")
        .json(&json!({ "to": "+14155550100", "agent_id": agent }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wrapping = agent_until(&fleet, &agent, |a| a["status"] == "wrap_up").await;
    assert_eq!(wrapping["call_id"], call["id"]);
    let seen = fleet.next_types("comms.agent.", 4).await;
    let types: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "comms.agent.created",
            "comms.agent.available",
            "comms.agent.busy",
            "comms.agent.wrap_up"
        ]
    );
    // The agent ends wrap-up when ready.
    let done: Value = fleet
        .put(&format!("/api/communications/agents/{agent}/status"))
        .json(&json!({ "status": "available" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "available");
    assert_events_match_their_schemas(&fleet.pool).await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_agent_input_is_a_precise_problem_and_appends_nothing() {
    let fleet = Fleet::start("600000").await;
    let agent = available_agent(&fleet, "Ada").await;
    let other = fleet.user("org_beta", comms_auth::Role::Admin).await;
    let their_team: Value = fleet
        .request(reqwest::Method::POST, "/api/communications/teams", &other)
        .json(&json!({ "name": "Beta" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before = fleet.event_count().await;

    let create = |body: Value| fleet.post("/api/communications/agents").json(&body);
    let (status, p) = problem(create(json!({ "name": "Bo", "email": "bo@acme.test", "languages": ["en", "klingon"],
                                              "skills": [{ "name": "billing", "proficiency": 9 }] }))).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["languages", "skills"])
    );
    assert!(
        p["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("proficiency 9 is not 1-5"),
        "{p}"
    );
    let (status, p) = problem(create(json!({ "name": "Bo", "email": "bo@acme.test", "skills": [{ "name": "billing", "proficiency": "high" }] }))).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["skills[0].proficiency"])
    );
    let (status, _) = problem(create(
        json!({ "name": "Bo", "email": "bo@acme.test", "team_id": their_team["id"] }),
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "their team is no team here"
    );
    let (status, _) = problem(
        fleet
            .post(&format!(
                "/api/communications/teams/{}/members",
                their_team["id"].as_str().unwrap()
            ))
            .json(&json!({ "agent_id": agent })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let status_of = |id: &str, body: Value| {
        fleet
            .put(&format!("/api/communications/agents/{id}/status"))
            .json(&body)
    };
    let (status, p) = problem(status_of(&agent, json!({ "status": "busy" }))).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["status"])
    );
    let (status, p) = problem(status_of(&agent, json!({ "status": "break" }))).await;
    assert_eq!(
        (status, fields(&p)),
        (StatusCode::BAD_REQUEST, vec!["reason"])
    );
    let offline = status_of(&agent, json!({ "status": "offline" }))
        .send()
        .await
        .unwrap();
    assert_eq!(offline.status(), StatusCode::OK);
    let before = before + 1;
    let (status, p) = problem(status_of(
        &agent,
        json!({ "status": "away", "reason": "meeting" }),
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an offline agent cannot go away: {p}"
    );
    let (status, _) = problem(status_of(
        &uuid::Uuid::now_v7().to_string(),
        json!({ "status": "available" }),
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, p) = problem(status_of("not-a-uuid", json!({ "status": "available" }))).await;
    assert_eq!((status, fields(&p)), (StatusCode::BAD_REQUEST, vec!["id"]));
    assert_eq!(
        fleet.event_count().await,
        before,
        "nothing appended by the refused requests"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_inbound_call_from_the_bus_is_given_an_agent() {
    let fleet = Fleet::start("600000").await;
    let agent = available_agent(&fleet, "Ina").await;
    // An inbound call, its answer and its place in the queue on the platform exchange, as the
    // fleet itself publishes them (the test connects as the fleet's broker user; anyone else
    // would be refused).
    let call = uuid::Uuid::now_v7();
    let envelope = |event_type: &str, data: Value, position: i64| {
        let mut envelope: comms_bus::Envelope = serde_json::from_value(json!({
            "id": uuid::Uuid::now_v7(), "type": event_type, "source": "comms-calls",
            "timestamp": chrono::Utc::now(), "organizationId": ORG, "data": data,
        }))
        .unwrap();
        envelope.metadata.stream_position = Some(position);
        envelope
    };
    let now = chrono::Utc::now();
    fleet
        .publish(&envelope(
            <comms_events::call::Started as comms_events::Event>::TYPE,
            json!({ "call_id": call, "direction": "inbound", "to": "+14155550100", "from": "+14155550199",
                    "agent_id": null, "campaign_id": null, "language": "en", "started_at": now }),
            0,
        ))
        .await;
    fleet
        .publish(&envelope(
            <comms_events::call::Answered as comms_events::Event>::TYPE,
            json!({ "call_id": call, "answered_at": now }),
            1,
        ))
        .await;
    fleet
        .publish(&envelope(
            <comms_events::call::Queued as comms_events::Event>::TYPE,
            json!({ "call_id": call, "skills": [], "language": "en", "priority": 0, "queued_at": now }),
            2,
        ))
        .await;
    let on_call = agent_until(&fleet, &agent, |a| a["status"] == "busy").await;
    assert_eq!(on_call["call_id"], call.to_string());
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_event_of_an_unknown_version_or_a_malformed_one_is_dead_lettered_saying_why() {
    let fleet = Fleet::start("600000").await;
    let call_id = uuid::Uuid::new_v4();
    let now = chrono::Utc::now();
    let ended = json!({
        "call_id": call_id, "duration": 5, "outcome": "completed", "reason": "", "ended_at": now
    });
    let published = |data: Value, version: Option<u32>| {
        let mut event = envelope("comms.call.ended", "communications", data, now);
        event.metadata.stream = Some(format!("call-{call_id}"));
        event.metadata.stream_position = Some(3);
        event.metadata.event_version = version;
        event
    };
    // Every consumer of call endings: analytics, the agents service and the campaigns service.
    let consumers = [&fleet.queues[0], &fleet.queues[1], &fleet.queues[3]];

    let each_dead_letters_saying = async |expected: &str| {
        for queue in consumers {
            let dead_letters = comms_bus::dead_letter_queue(queue);
            let reason = next_dead_letter_reason(&fleet, &dead_letters).await;
            assert!(
                reason.as_str().unwrap().contains(expected),
                "{queue}: {reason}"
            );
        }
    };

    fleet.publish(&published(ended.clone(), Some(2))).await;
    each_dead_letters_saying(
        "cannot read comms.call.ended (version 2): version 2 is not known here",
    )
    .await;

    let mut malformed = ended;
    malformed["duration"] = json!("five");
    fleet.publish(&published(malformed, None)).await;
    each_dead_letters_saying("(version 1): data.duration: invalid type").await;
    fleet.stop().await;
}

// Multi-threaded: the Python checker blocks a thread while the fleet answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_grpc_port_says_by_reflection_it_serves_its_own_services_only() {
    let fleet = Fleet::start("600000").await;
    let ports = [
        (
            fleet.fleet.calls,
            &["comms.v1.CallsService", "comms.v1.MessagesService"][..],
        ),
        (fleet.fleet.analytics, &["comms.v1.AnalyticsService"][..]),
        (fleet.fleet.agents, &["comms.v1.AgentsService"][..]),
        (fleet.fleet.campaigns, &["comms.v1.CampaignsService"][..]),
    ];
    let addresses: Vec<String> = ports.iter().map(|(a, _)| a.to_string()).collect();
    let args: Vec<&str> = addresses.iter().map(String::as_str).collect();
    // grpcio's own reflection client, as grpcurl and other tools ask.
    let listed: Value = serde_json::from_str(&python("grpc_reflection_check.py", &args)).unwrap();
    for (address, services) in ports {
        let mut expected = [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        .to_vec();
        expected.extend_from_slice(services);
        expected.sort_unstable();
        assert_eq!(listed[address.to_string()], json!(expected), "{listed}");
    }
    fleet.stop().await;
}

#[tokio::test]
async fn a_campaign_event_analytics_cannot_read_is_dead_lettered_saying_why() {
    let fleet = Fleet::start("600000").await;
    let (campaign_id, now) = (uuid::Uuid::new_v4(), chrono::Utc::now());
    let mut event = envelope(
        "comms.campaign.call_finished",
        "communications",
        json!({
            "campaign_id": campaign_id, "contact_id": uuid::Uuid::new_v4(),
            "call_id": uuid::Uuid::new_v4(), "outcome": "exploded", "ring_seconds": 3.0, "at": now
        }),
        now,
    );
    event.metadata.stream = Some(format!("campaign-{campaign_id}"));
    event.metadata.stream_position = Some(7);
    fleet.publish(&event).await;
    let analytics = comms_bus::dead_letter_queue(&fleet.queues[0]);
    let reason = next_dead_letter_reason(&fleet, &analytics).await;
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("cannot read comms.campaign.call_finished (version 1): data.outcome: unknown variant `exploded`"),
        "{reason}"
    );
    fleet.stop().await;
}
