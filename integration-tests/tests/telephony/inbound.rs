//! Calls to the organization's numbers: Twilio's signed voice webhook starts the inbound call,
//! which hears the hold message in the number's language, waits in the agents' queue for an
//! agent with the number's language and skills, and is bridged to that agent's softphone; a
//! caller who hangs up first leaves the queue. With Vonage: the answer webhook's NCCO and the
//! application's events.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_twilio::{self, FakeTwilio, PUBLIC_BASE_URL};
use super::fake_vonage::{self, FakeVonage, SIGNATURE_SECRET};
use super::support::{Fleet, ORG, json_of, problem, until};
use super::{PATIENCE, call, call_until, fleet_on, vonage_fleet};

const NUMBER: &str = "+14155550199";
const CALLER: &str = "+14155550142";
const OTHER_ORG: &str = "org_beta";

fn voice_url() -> String {
    format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/inbound/voice")
}

fn status_url() -> String {
    format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/inbound/status")
}

/// The call id in the TwiML's redirect to the call's answer URL.
fn call_id_in(twiml: &str) -> String {
    let after = twiml
        .split("/calls/")
        .nth(1)
        .unwrap_or_else(|| panic!("no call URL in {twiml}"));
    after[..36].to_owned()
}

/// Waits until the call is (`true`) or is not (`false`) waiting in the agents' queue.
async fn queued(fleet: &Fleet, call_id: &str, waiting: bool) {
    let count = || async {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM routing_queue WHERE call_id = $1::uuid")
                .bind(call_id)
                .fetch_one(&fleet.pool)
                .await
                .unwrap();
        json!(count)
    };
    until(PATIENCE, count, |n| (*n == json!(1)) == waiting).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_to_a_number_waits_for_an_agent_who_speaks_its_language_and_is_bridged_to_them() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
    let number = json_of(fleet.post("/api/communications/numbers").json(&json!({
        "number": NUMBER, "language": "fr", "skills": ["billing"]
    })))
    .await;
    assert_eq!(number["skills"], json!(["billing"]), "{number}");
    assert_eq!(number["webhooks"]["twilio_voice_url"], voice_url());
    assert_eq!(number["webhooks"]["twilio_status_url"], status_url());

    // A first caller: held in French, queued (nobody speaks French yet), then hangs up.
    let first = twilio.incoming();
    let params = FakeTwilio::voice_params(&first, CALLER, NUMBER);
    let answered = twilio.send(&edge, &voice_url(), &params).await;
    assert_eq!(answered.status(), StatusCode::OK);
    let twiml = answered.text().await.unwrap();
    assert!(
        twiml.contains(r#"<Say language="fr-FR">Veuillez patienter"#),
        "{twiml}"
    );
    let first_id = call_id_in(&twiml);
    // Recorded on demand (no ENABLE_RECORDING, nothing on the number): not from the answer.
    assert!(!twiml.contains("<Start>"), "{twiml}");
    assert!(twiml.contains(&format!(
        "<Redirect method=\"POST\">{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/calls/{first_id}/answer?held=1</Redirect>"
    )), "{twiml}");
    let shown = call(&fleet, &first_id).await;
    assert_eq!(
        (
            shown["direction"].as_str(),
            shown["status"].as_str(),
            shown["from"].as_str(),
            shown["to"].as_str(),
            shown["language"].as_str(),
            shown["carrier_call_id"].as_str(),
        ),
        (
            Some("inbound"),
            Some("answered"),
            Some(CALLER),
            Some(NUMBER),
            Some("fr"),
            Some(first.as_str())
        )
    );
    // Twilio asking again (a retried webhook) is the same call.
    let again = twilio.send(&edge, &voice_url(), &params).await;
    assert_eq!(call_id_in(&again.text().await.unwrap()), first_id);
    queued(&fleet, &first_id, true).await;

    let mut hung_up = params.clone();
    hung_up[3] = ("CallStatus", "completed");
    let sent = twilio.send(&edge, &status_url(), &hung_up).await;
    assert_eq!(sent.status(), StatusCode::NO_CONTENT);
    let ended = call_until(&fleet, &first_id, |c| c["status"] == "ended").await;
    assert_eq!(ended["direction"], "inbound");
    queued(&fleet, &first_id, false).await;

    // The number's calls are recorded from now on, from their answer.
    let number_id = number["id"].as_str().unwrap();
    let always = json_of(
        fleet
            .put(&format!("/api/communications/numbers/{number_id}"))
            .json(&json!({ "recording": "always" })),
    )
    .await;
    assert_eq!(always["recording"], "always");
    let (code, body) = problem(
        fleet
            .put(&format!("/api/communications/numbers/{number_id}"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "a change of nothing: {body}");

    // A second caller waits until an agent with French and billing is free, and is bridged to
    // their softphone: Twilio is told to fetch the call's instructions again, which dial them.
    let second = twilio.incoming();
    let params = FakeTwilio::voice_params(&second, CALLER, NUMBER);
    let twiml = twilio
        .send(&edge, &voice_url(), &params)
        .await
        .text()
        .await
        .unwrap();
    let second_id = call_id_in(&twiml);
    assert!(
        twiml.contains(&format!(
            r#"<Response><Start><Recording channels="dual" recordingStatusCallback="{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/calls/{second_id}/recording" recordingStatusCallbackMethod="POST" recordingStatusCallbackEvent="in-progress completed absent"/></Start><Say"#
        )),
        "{twiml}"
    );
    assert_eq!(call(&fleet, &second_id).await["recording_policy"], "always");
    let agent = json_of(fleet.post("/api/communications/agents").json(&json!({
        "name": "Amélie", "email": "amelie@acme.test", "languages": ["fr"],
        "skills": [{ "name": "billing", "proficiency": 4 }],
    })))
    .await;
    let agent_id = agent["id"].as_str().unwrap();
    let available = fleet
        .put(&format!("/api/communications/agents/{agent_id}/status"))
        .json(&json!({ "status": "available" }));
    assert_eq!(available.send().await.unwrap().status(), StatusCode::OK);
    call_until(&fleet, &second_id, |c| c["agent_id"] == agent_id).await;
    let redirected = twilio.wait_for(&format!("/Calls/{second}.json"), 1).await;
    let answer_url = format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/calls/{second_id}/answer");
    assert_eq!(redirected[0].one("Url"), answer_url);
    let mut in_progress = params.clone();
    in_progress[3] = ("CallStatus", "in-progress");
    let bridged = twilio
        .send(&edge, &answer_url, &in_progress)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        bridged.contains(&format!(">comms-{second_id}</Conference></Dial>")),
        "{bridged}"
    );
    let joins = twilio.participants(1).await.remove(0);
    assert_eq!(joins.one("To"), format!("client:{agent_id}"));
    // The recording goes on through the bridge: it is not started twice.
    assert!(!bridged.contains("<Start>"), "{bridged}");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn numbers_are_one_organizations_and_calls_to_others_are_refused() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
    json_of(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": NUMBER })),
    )
    .await;

    // Twice, here or in another organization: 409, and nothing recorded.
    let beta = fleet.user(OTHER_ORG, comms_auth::Role::Admin).await;
    let (status, body) = problem(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": NUMBER, "language": "de" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("assigned already")
    );
    let taken = fleet
        .request(reqwest::Method::POST, "/api/communications/numbers", &beta)
        .json(&json!({ "number": NUMBER }))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let betas = fleet
        .request(reqwest::Method::POST, "/api/communications/numbers", &beta)
        .json(&json!({ "number": "+14155550198" }))
        .send()
        .await
        .unwrap();
    assert_eq!(betas.status(), StatusCode::CREATED);
    let (status, body) = problem(fleet.post("/api/communications/numbers").json(
        &json!({ "number": "4155550100", "language": "xx", "skills": ["billing", "billing"] }),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["language", "number", "skills"], "{body}");
    let assigned: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(<comms_events::number::NumberAssigned as comms_events::Event>::TYPE)
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(assigned, 2, "ours and beta's, nothing of the refused");

    // A call to a number the organization does not have (another's, or none), or forged: no
    // call is made.
    for to in ["+14155550198", "+14155550111"] {
        let sid = twilio.incoming();
        let params = FakeTwilio::voice_params(&sid, CALLER, to);
        let refused = twilio.send(&edge, &voice_url(), &params).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{to}");
    }
    let sid = twilio.incoming();
    let params = FakeTwilio::voice_params(&sid, CALLER, NUMBER);
    let forged =
        fake_twilio::python_signature("not-the-auth-token-000000", &voice_url(), &params).await;
    let refused = twilio
        .send_signed(&edge, &voice_url(), &params, &forged)
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let calls = json_of(fleet.get("/api/communications/calls")).await;
    assert_eq!(calls["data"], json!([]), "no call was made");

    // Released, the number may be someone else's; its calls are no longer answered.
    let listed = json_of(fleet.get("/api/communications/numbers")).await;
    let id = listed["numbers"][0]["id"].as_str().unwrap().to_owned();
    let released = fleet
        .delete(&format!("/api/communications/numbers/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), StatusCode::NO_CONTENT);
    let gone = fleet
        .get(&format!("/api/communications/numbers/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let sid = twilio.incoming();
    let params = FakeTwilio::voice_params(&sid, CALLER, NUMBER);
    let refused = twilio.send(&edge, &voice_url(), &params).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let reassigned = fleet
        .request(reqwest::Method::POST, "/api/communications/numbers", &beta)
        .json(&json!({ "number": NUMBER }))
        .send()
        .await
        .unwrap();
    assert_eq!(reassigned.status(), StatusCode::CREATED);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_to_a_vonage_number_is_answered_with_an_ncco_and_followed_by_its_events() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_fleet(&vonage).await;
    let http = fleet.http.clone();
    let edge = fleet.fleet.edge.to_string();
    json_of(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": NUMBER, "language": "ja" })),
    )
    .await;
    let base = format!(
        "{}/webhooks/vonage/{ORG}/inbound",
        fake_vonage::PUBLIC_BASE_URL
    );
    let uuid = uuid::Uuid::new_v4().to_string();
    // As Vonage sends it: numbers without `+`.
    let ringing = json!({
        "to": "14155550199", "from": "14155550142", "uuid": uuid,
        "conversation_uuid": format!("CON-{}", uuid::Uuid::new_v4()),
    });
    let answered = vonage
        .send(
            &http,
            &edge,
            &format!("{base}/answer"),
            &ringing,
            SIGNATURE_SECRET,
            None,
        )
        .await;
    assert_eq!(answered.status(), StatusCode::OK);
    let ncco: Value = answered.json().await.unwrap();
    assert_eq!(ncco[0]["action"], "talk", "{ncco}");
    assert_eq!(ncco[0]["language"], "ja-JP");
    assert_eq!(ncco[0]["loop"], 0, "held until a transfer: {ncco}");
    let calls = json_of(fleet.get("/api/communications/calls")).await;
    let id = calls["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(calls["data"][0]["from"], CALLER);
    assert_eq!(calls["data"][0]["carrier_call_id"], uuid.as_str());

    let completed = json!({ "uuid": uuid, "status": "completed", "duration": "0" });
    let sent = vonage
        .send(
            &http,
            &edge,
            &format!("{base}/event"),
            &completed,
            SIGNATURE_SECRET,
            None,
        )
        .await;
    assert_eq!(sent.status(), StatusCode::NO_CONTENT);
    let ended = until(
        PATIENCE,
        || call(&fleet, &id),
        |c| c["status"] != "answered",
    )
    .await;
    assert_eq!(ended["status"], "ended", "{ended}");
    fleet.stop().await;
}
