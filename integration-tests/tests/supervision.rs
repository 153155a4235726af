//! Supervisor controls over REST against the whole fleet: forcing an agent's state, pulling a
//! waiting call to an agent, re-routing a waiting call to another queue and listening to,
//! whispering to or barging into a call with its agent are
//! permission-checked (an agent 403, another team's supervisor 404), say which field or state is
//! wrong, and appear on the bus with who did it and why.

mod support;

use comms_auth::Role;
use comms_events::Event as _;
use comms_events::agent::{Available, Break, OnCall};
use comms_events::call::{AgentAssigned, MonitoringChanged, Rerouted};
use reqwest::StatusCode;
use serde_json::{Value, json};

use support::*;

async fn team(fleet: &Fleet, name: &str, supervisor: &str) -> String {
    let team = json_of(
        fleet
            .post("/api/communications/teams")
            .json(&json!({ "name": name, "supervisor_id": supervisor })),
    )
    .await;
    team["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervisors_force_their_agents_states_and_pull_waiting_calls_to_them() {
    let fleet = Fleet::start("600000").await;
    let (lead_id, lead) = fleet.user_with_id("supervisor").await;
    let (other_lead_id, other_lead) = fleet.user_with_id("supervisor").await;
    let agent_user = fleet.user(ORG, Role::Agent).await;
    let floor = team(&fleet, "Floor", &lead_id).await;
    team(&fleet, "Night", &other_lead_id).await;
    // Ada, on the lead's team, speaks English but has no billing skill.
    let ada = available_agent_as(
        &fleet,
        json!({ "name": "Ada", "email": "ada@acme.test", "languages": ["en"], "team_id": floor }),
    )
    .await;
    // A caller to the billing line waits: nobody has the skill, and nobody to listen to yet.
    let call = waiting_caller(&fleet, "+14155550123", &["billing"], "+14155550199").await;
    let listen = fleet
        .request(
            reqwest::Method::POST,
            &format!("/api/communications/calls/{call}/monitor"),
            &lead,
        )
        .json(&json!({ "mode": "listen" }));
    let (status, body) = problem(listen).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("not connected to an agent"),
        "{body}"
    );

    let force = |session: &Session, agent: &str, body: Value| {
        fleet
            .request(
                reqwest::Method::POST,
                &format!("/api/communications/agents/{agent}/forced-status"),
                session,
            )
            .json(&body)
    };
    let pull = |session: &Session, call: &str, agent: &str| {
        fleet
            .request(
                reqwest::Method::POST,
                &format!("/api/communications/calls/{call}/pull"),
                session,
            )
            .json(&json!({ "agent_id": agent }))
    };
    let coaching = json!({ "status": "break", "reason": "coaching" });

    // An agent may do neither; another team's supervisor does not see Ada.
    let (status, body) = problem(force(&agent_user, &ada, coaching.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("agents:supervise"),
        "{body}"
    );
    let (status, _) = problem(pull(&agent_user, &call, &ada)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = problem(force(&other_lead, &ada, coaching.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = problem(pull(&other_lead, &call, &ada)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Bad bodies name their field.
    for (body, field) in [
        (json!({ "status": "break" }), "reason"),
        (
            json!({ "status": "break", "reason": "Coaching!" }),
            "reason",
        ),
        (json!({ "status": "busy", "reason": "x" }), "status"),
    ] {
        let (status, problem_body) = problem(force(&lead, &ada, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem_body}");
        assert!(fields(&problem_body).contains(&field), "{problem_body}");
    }

    // The lead sends Ada to coaching: on the bus with who and why.
    let forced = json_of(force(&lead, &ada, coaching)).await;
    assert_eq!(forced["status"], "break");
    let event = fleet.next_data(<Break as comms_events::Event>::TYPE).await;
    assert_eq!(
        (&event["agent_id"], &event["reason"], &event["forced_by"]),
        (&json!(ada), &json!("coaching"), &json!(lead_id))
    );
    // On a break, she cannot be pulled to: 409 saying so.
    let (status, body) = problem(pull(&lead, &call, &ada)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("break"), "{body}");

    // Back, and still not offered the billing call; the lead pulls it to her.
    json_of(force(
        &lead,
        &ada,
        json!({ "status": "available", "reason": "coached" }),
    ))
    .await;
    let event = fleet
        .next_data(<Available as comms_events::Event>::TYPE)
        .await;
    assert_eq!(event["forced_by"], json!(lead_id));
    let on_call = json_of(pull(&lead, &call, &ada)).await;
    assert_eq!(
        (&on_call["status"], &on_call["call_id"]),
        (&json!("busy"), &json!(call))
    );
    let busy = fleet.next_data(<OnCall as comms_events::Event>::TYPE).await;
    assert_eq!(
        (&busy["agent_id"], &busy["call_id"]),
        (&json!(ada), &json!(call))
    );
    let assigned = fleet
        .next_data(<AgentAssigned as comms_events::Event>::TYPE)
        .await;
    assert_eq!(assigned["agent_id"], json!(ada));
    // Taken, it waits no more.
    let (status, body) = problem(pull(&lead, &call, &ada)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // On the call with Ada, her lead listens, whispers, then leaves: each on the bus with who
    // and how (no audio: the simulated carrier carries none). An agent may not; another team's
    // supervisor does not see the call; an unknown mode is named.
    let monitor = |session: &Session, mode: &str| {
        fleet
            .request(
                reqwest::Method::POST,
                &format!("/api/communications/calls/{call}/monitor"),
                session,
            )
            .json(&json!({ "mode": mode }))
    };
    let (status, body) = problem(monitor(&agent_user, "listen")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("agents:supervise")
    );
    let (status, _) = problem(monitor(&other_lead, "listen")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = problem(monitor(&lead, "eavesdrop")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(fields(&body).contains(&"mode"), "{body}");
    for mode in ["listen", "whisper"] {
        let on = json_of(monitor(&lead, mode)).await;
        assert_eq!(
            on["monitors"],
            json!([{ "supervisor_id": lead_id, "mode": mode }])
        );
        let event = fleet.next_data(MonitoringChanged::TYPE).await;
        assert_eq!(
            (
                &event["call_id"],
                &event["supervisor_id"],
                &event["mode"],
                &event["audio"]
            ),
            (&json!(call), &json!(lead_id), &json!(mode), &json!(false))
        );
    }
    let left = json_of(monitor(&lead, "stopped")).await;
    assert_eq!(left["monitors"], json!([]));
    let event = fleet.next_data(MonitoringChanged::TYPE).await;
    assert_eq!(event["mode"], "stopped");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervisors_reroute_a_waiting_call_to_another_queue_where_an_agent_takes_it() {
    let fleet = Fleet::start("600001").await;
    let (lead_id, lead) = fleet.user_with_id("supervisor").await;
    let agent_user = fleet.user(ORG, Role::Agent).await;
    // Bea speaks Spanish and works support; nobody works billing in English.
    let bea = available_agent_as(
        &fleet,
        json!({
            "name": "Bea", "email": "bea@acme.test", "languages": ["es"],
            "skills": [{ "name": "support", "proficiency": 3 }],
        }),
    )
    .await;
    let call = waiting_caller(&fleet, "+14155550124", &["billing"], "+14155550198").await;
    let reroute = |session: &Session, call: &str, body: Value| {
        fleet
            .request(
                reqwest::Method::POST,
                &format!("/api/communications/calls/{call}/reroute"),
                session,
            )
            .json(&body)
    };
    let to_support = json!({ "skills": ["support"], "language": "es", "reason": "wrong_language" });

    let (status, body) = problem(reroute(&agent_user, &call, to_support.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, _) = problem(reroute(&lead, &unknown, to_support.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (body, field) in [
        (
            json!({ "skills": ["support"], "language": "xx", "reason": "r" }),
            "language",
        ),
        (
            json!({ "skills": ["Support Desk"], "language": "es", "reason": "r" }),
            "skills",
        ),
        (
            json!({ "skills": ["support"], "language": "es", "reason": "Wrong!" }),
            "reason",
        ),
        (json!({ "skills": ["support"], "language": "es" }), "reason"),
    ] {
        let (status, problem_body) = problem(reroute(&lead, &call, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem_body}");
        assert!(fields(&problem_body).contains(&field), "{problem_body}");
    }
    // The queue it is in already: nothing changes, nothing is recorded.
    let same = json!({ "skills": ["billing"], "language": "en", "reason": "no_change" });
    let unchanged = json_of(reroute(&lead, &call, same)).await;
    assert_eq!(
        (&unchanged["agent_id"], &unchanged["language"]),
        (&Value::Null, &json!("en"))
    );

    // To Spanish support, where Bea takes it at once.
    let rerouted = json_of(reroute(&lead, &call, to_support.clone())).await;
    assert_eq!(rerouted["language"], "es");
    let event = fleet
        .next_data(<Rerouted as comms_events::Event>::TYPE)
        .await;
    assert_eq!(
        (&event["call_id"], &event["skills"], &event["language"]),
        (&json!(call), &json!(["support"]), &json!("es"))
    );
    assert_eq!(
        (&event["reason"], &event["rerouted_by"]),
        (&json!("wrong_language"), &json!(lead_id))
    );
    let assigned = fleet
        .next_data(<AgentAssigned as comms_events::Event>::TYPE)
        .await;
    assert_eq!(
        (&assigned["call_id"], &assigned["agent_id"]),
        (&json!(call), &json!(bea))
    );
    // With its agent, it waits no more: 409 naming her.
    let (status, body) = problem(reroute(&lead, &call, to_support)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains(&bea), "{body}");
    fleet.stop().await;
}
