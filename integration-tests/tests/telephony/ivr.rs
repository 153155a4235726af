//! IVR flows: created, validated (each flaw named by its node), versioned, published and
//! simulated over REST; and walked by callers through both fake carriers: Twilio's TwiML (parsed
//! as XML and checked against Twilio's documented verbs by `python/twiml_check.py`) and Vonage's
//! NCCOs (checked by the Vonage SDK's own models, `python/ncco_check.py`). Pressing 1 then 2
//! reaches the billing queue in both; a version published mid-call does not change that call's
//! path; a carrier's repeated request changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_twilio::{FakeTwilio, PUBLIC_BASE_URL};
use super::fake_vonage::{FakeVonage, SIGNATURE_SECRET};
use super::support::{Fleet, ORG, fields, json_of, problem, python, until};
use super::{PATIENCE, call, call_until, fleet_on, vonage_fleet};

const NUMBER: &str = "+14155550123";
const CALLER: &str = "+14155550142";

/// Welcome, a menu (1: billing, 2: a word then sales; `swapped`: the other way round), and billing's own
/// menu (1: invoices by transfer, 2: the billing queue); no answer twice: voicemail.
fn support_flow(swapped: bool) -> Value {
    let (one, two) = if swapped {
        ("to_sales", "billing_menu")
    } else {
        ("billing_menu", "to_sales")
    };
    json!({
        "languages": ["en", "es"],
        "start": "welcome",
        "nodes": {
            "welcome": {"type": "say", "text": {"en": "Welcome to Ocelot.", "es": "Bienvenido a Ocelot."},
                        "next": "main"},
            "main": {"type": "menu", "input": ["dtmf", "speech"],
                     "text": {"en": "For billing press 1, for sales press 2.",
                              "es": "Para facturación pulse 1, para ventas pulse 2."},
                     "choices": [
                         {"digits": "1", "words": {"en": ["billing"], "es": ["facturación"]}, "next": one},
                         {"digits": "2", "words": {"en": ["sales"], "es": ["ventas"]}, "next": two}],
                     "retries": 1, "otherwise": "voicemail"},
            "billing_menu": {"type": "menu",
                             "text": {"en": "Invoices 1, payments 2.", "es": "Facturas 1, pagos 2."},
                             "choices": [{"digits": "1", "next": "invoices"}, {"digits": "2", "next": "billing"}],
                             "otherwise": "billing"},
            "billing": {"type": "queue", "skills": ["billing"], "priority": 5},
            "to_sales": {"type": "say", "text": {"en": "Connecting you to sales.", "es": "Le pasamos con ventas."},
                         "next": "sales"},
            "sales": {"type": "queue", "skills": ["sales"]},
            "invoices": {"type": "transfer", "to": "+34910000000"},
            "voicemail": {"type": "voicemail", "max_seconds": 120,
                          "text": {"en": "Leave a message after the tone.", "es": "Deje un mensaje tras la señal."}}
        }
    })
}

/// Agents with the flow's skills (offline: a queued call waits for them).
async fn agents_with_skills(fleet: &Fleet) {
    for (name, skill) in [("Bill", "billing"), ("Sal", "sales")] {
        json_of(fleet.post("/api/communications/agents").json(&json!({
            "name": name, "email": format!("{skill}@acme.test"), "languages": ["en", "es"],
            "skills": [{ "name": skill, "proficiency": 3 }],
        })))
        .await;
    }
}

/// A flow created and its version 1 published, on the organization's number.
async fn published_on_number(fleet: &Fleet) -> String {
    let flow = json_of(
        fleet
            .post("/api/communications/ivr-flows")
            .json(&json!({ "name": "Support", "definition": support_flow(false) })),
    )
    .await;
    let id = flow["id"].as_str().unwrap().to_owned();
    let published = json_of(
        fleet
            .post(&format!("/api/communications/ivr-flows/{id}/publish"))
            .json(&json!({ "version": 1 })),
    )
    .await;
    assert_eq!(published["published_version"], 1, "{published}");
    let number = json_of(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": NUMBER, "ivr_flow_id": id })),
    )
    .await;
    assert_eq!(number["ivr_flow_id"], id.as_str(), "{number}");
    id
}

/// Version 2 swaps the main menu's choices (1: sales), published: calls already in the flow
/// keep version 1. Its voicemail's callers are called back from `callbacks`, if given.
async fn publish_version_2(fleet: &Fleet, flow: &str, callbacks: Option<&str>) {
    let mut definition = support_flow(true);
    if let Some(campaign) = callbacks {
        definition["nodes"]["voicemail"]["callback_campaign_id"] = json!(campaign);
    }
    let revised = json_of(
        fleet
            .put(&format!("/api/communications/ivr-flows/{flow}"))
            .json(&json!({ "name": "Support", "definition": definition })),
    )
    .await;
    assert_eq!(revised["latest_version"], 2, "{revised}");
    let published = json_of(
        fleet
            .post(&format!("/api/communications/ivr-flows/{flow}/publish"))
            .json(&json!({ "version": 2 })),
    )
    .await;
    assert_eq!(published["published_version"], 2);
}

/// The call's IVR steps (`node`s) and whether it was queued, from its stream.
async fn walked(fleet: &Fleet, call_id: &str) -> (Vec<String>, i64) {
    let step = <comms_events::call::IvrStep as comms_events::Event>::TYPE;
    let queued = <comms_events::call::Queued as comms_events::Event>::TYPE;
    let nodes: Vec<String> = sqlx::query_scalar(
        "SELECT data ->> 'node' FROM events WHERE stream_name = $1 AND event_type = $2
         ORDER BY stream_position",
    )
    .bind(format!("call-{call_id}"))
    .bind(step)
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE stream_name = $1 AND event_type = $2",
    )
    .bind(format!("call-{call_id}"))
    .bind(queued)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    (nodes, queued)
}

/// Waits until the call waits in the agents' queue, and answers its skills and priority.
async fn waiting_with(fleet: &Fleet, call_id: &str) -> Value {
    let read = || async {
        let row: Option<(Vec<String>, i32)> = sqlx::query_as(
            "SELECT required_skills, priority FROM routing_queue WHERE call_id = $1::uuid",
        )
        .bind(call_id)
        .fetch_optional(&fleet.pool)
        .await
        .unwrap();
        json!(row.map(|(skills, priority)| json!({ "skills": skills, "priority": priority })))
    };
    until(PATIENCE, read, |row| !row.is_null()).await
}

/// The TwiML parsed as XML and checked against Twilio's documented verbs: the verbs as JSON.
async fn twiml_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let checked = tokio::task::spawn_blocking(move || python("twiml_check.py", &[&text]))
        .await
        .unwrap();
    serde_json::from_str(&checked).unwrap()
}

/// The NCCO, checked by the Vonage SDK's models.
async fn ncco_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let ncco: Value = response.json().await.unwrap();
    let text = ncco.to_string();
    let checked = tokio::task::spawn_blocking(move || python("ncco_check.py", &[&text]))
        .await
        .unwrap();
    assert_eq!(checked, "valid");
    ncco
}

fn verbs(twiml: &Value) -> Vec<&str> {
    twiml
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verb"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_are_validated_versioned_published_and_simulated() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let create = |definition: Value| {
        fleet
            .post("/api/communications/ivr-flows")
            .json(&json!({ "name": "Support", "definition": definition }))
    };

    // The skills its queues name must be some agent's: none has them yet.
    let (status, body) = problem(create(support_flow(false))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        fields(&body),
        [
            "definition.nodes.billing.skills",
            "definition.nodes.sales.skills"
        ],
        "{body}"
    );
    agents_with_skills(&fleet).await;

    // Each flaw refused, naming its node; a wrong type names the field.
    let mut unreachable = support_flow(false);
    unreachable["nodes"]["orphan"] = json!({"type": "hang_up"});
    let mut dead_end = support_flow(false);
    dead_end["nodes"]["welcome"]["next"] = json!("nowhere");
    let mut input_less_loop = support_flow(false);
    input_less_loop["nodes"]["welcome"]["next"] = json!("again");
    // Closed: back to the welcome, for ever, without asking anything.
    input_less_loop["nodes"]["again"] = json!({"type": "business_hours", "zone": "Europe/Madrid",
        "hours": [{"days": ["mon"], "from": "09:00", "to": "17:00"}],
        "if_open": "main", "if_closed": "welcome"});
    let mut untranslated = support_flow(false);
    untranslated["nodes"]["billing_menu"]["text"]
        .as_object_mut()
        .unwrap()
        .remove("es");
    let mut wrong_type = support_flow(false);
    wrong_type["nodes"]["main"]["timeout_seconds"] = json!("five");
    for (definition, field) in [
        (unreachable, "definition.nodes.orphan"),
        (dead_end, "definition.nodes.welcome.next"),
        (input_less_loop, "definition.nodes.again"),
        (untranslated, "definition.nodes.billing_menu.text"),
        (wrong_type, "definition.nodes.main.timeout_seconds"),
        (
            json!({"languages": ["en"], "start": "bye", "nodes": {"bye": {"type": "sing"}}}),
            "definition.nodes.bye.type",
        ),
    ] {
        let validated = fleet
            .post("/api/communications/ivr-flows/validate")
            .json(&json!({ "definition": definition }));
        let (status, body) = problem(validated).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(fields(&body), [field], "{body}");
        let (status, _) = problem(create(definition.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let flows = json_of(fleet.get("/api/communications/ivr-flows")).await;
    assert_eq!(flows["flows"], json!([]), "nothing half-written: {flows}");

    let valid = json_of(
        fleet
            .post("/api/communications/ivr-flows/validate")
            .json(&json!({ "definition": support_flow(false) })),
    )
    .await;
    assert_eq!(valid, json!({ "valid": true }));
    let flow = json_of(create(support_flow(false))).await;
    let id = flow["id"].as_str().unwrap();
    assert_eq!(
        (
            flow["latest_version"].as_u64(),
            flow["published_version"].is_null()
        ),
        (Some(1), true),
        "{flow}"
    );

    // A number takes only a published flow, of its own organization.
    let (status, body) = problem(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": NUMBER, "ivr_flow_id": id })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["ivr_flow_id"], "{body}");
    let (status, body) =
        problem(fleet.post("/api/communications/numbers").json(
            &json!({ "number": NUMBER, "ivr_flow_id": "00000000-0000-0000-0000-000000000001" }),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The simulator walks the latest version before one is published: 1 then 2 is billing.
    let simulated = json_of(
        fleet
            .post(&format!("/api/communications/ivr-flows/{id}/simulate"))
            .json(&json!({ "language": "es", "inputs": [{ "digits": "1" }, { "digits": "2" }] })),
    )
    .await;
    let path: Vec<&str> = simulated["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        ["welcome", "main", "billing_menu", "billing"],
        "{simulated}"
    );
    assert_eq!(simulated["heard"][0]["text"], "Bienvenido a Ocelot.");
    assert_eq!(
        simulated["heard"][1]["text"],
        "Para facturación pulse 1, para ventas pulse 2."
    );
    assert_eq!(
        simulated["outcome"],
        json!({ "kind": "queue", "skills": ["billing"], "priority": 5, "language": "es",
                "node": null, "attempt": null, "to": null }),
        "{simulated}"
    );
    // Said instead of pressed, then nothing at billing's menu, asked twice more (its default
    // retries), then billing all the same.
    let spoken = json_of(
        fleet
            .post(&format!("/api/communications/ivr-flows/{id}/simulate"))
            .json(&json!({ "inputs": [{ "speech": "Billing please" }, {}, {}, {}] })),
    )
    .await;
    assert_eq!(spoken["outcome"]["kind"], "queue", "{spoken}");
    assert_eq!(spoken["inputs_used"], 4);
    // Inputs that run out leave it at the menu.
    let waiting = json_of(
        fleet
            .post(&format!("/api/communications/ivr-flows/{id}/simulate"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(
        (
            waiting["outcome"]["kind"].as_str(),
            waiting["outcome"]["node"].as_str()
        ),
        (Some("ask"), Some("main"))
    );
    let (status, body) = problem(
        fleet
            .post(&format!("/api/communications/ivr-flows/{id}/simulate"))
            .json(
                &json!({ "inputs": [{ "digits": "1", "speech": "billing" }, { "digits": "x" }] }),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["inputs[0]", "inputs[1]"], "{body}");

    // Versions: a change is version 2; the same again changes nothing; publishing 2 then 1
    // rolls back.
    publish_version_2(&fleet, id, None).await;
    let same = json_of(
        fleet
            .put(&format!("/api/communications/ivr-flows/{id}"))
            .json(&json!({ "name": "Support", "definition": support_flow(true) })),
    )
    .await;
    assert_eq!(same["latest_version"], 2);
    let rolled_back = json_of(
        fleet
            .post(&format!("/api/communications/ivr-flows/{id}/publish"))
            .json(&json!({ "version": 1 })),
    )
    .await;
    assert_eq!(rolled_back["published_version"], 1);
    let first = json_of(fleet.get(&format!("/api/communications/ivr-flows/{id}/versions/1"))).await;
    assert_eq!(first["published"], true);
    // Kept as given, with the defaults it left out written in (a menu's timeout and retries).
    assert_eq!(
        first["definition"]["nodes"]["main"]["choices"][0]["next"],
        "billing_menu"
    );
    assert_eq!(first["definition"]["nodes"]["billing_menu"]["retries"], 2);
    let (status, body) = problem(
        fleet
            .post(&format!("/api/communications/ivr-flows/{id}/publish"))
            .json(&json!({ "version": 3 })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["version"], "{body}");
    let published_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE stream_name = $1 AND event_type = $2",
    )
    .bind(format!("ivr_flow-{id}"))
    .bind(<comms_events::ivr::IvrFlowPublished as comms_events::Event>::TYPE)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(published_events, 2);

    // A flow a number answers with is not deleted; once the number moves off it, it is.
    let number = json_of(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": NUMBER, "ivr_flow_id": id })),
    )
    .await;
    let (status, body) =
        problem(fleet.delete(&format!("/api/communications/ivr-flows/{id}"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let number_id = number["id"].as_str().unwrap();
    let off = json_of(
        fleet
            .put(&format!("/api/communications/numbers/{number_id}"))
            .json(&json!({ "ivr_flow_id": null })),
    )
    .await;
    assert!(off["ivr_flow_id"].is_null(), "{off}");
    let deleted = fleet.delete(&format!("/api/communications/ivr-flows/{id}"));
    assert_eq!(
        deleted.send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let (status, _) = problem(fleet.get(&format!("/api/communications/ivr-flows/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_twilio_caller_presses_1_then_2_and_waits_in_the_billing_queue_on_the_version_it_started()
{
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
    agents_with_skills(&fleet).await;
    let flow = published_on_number(&fleet).await;
    let voice_url = format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/inbound/voice");

    let sid = twilio.incoming();
    let params = FakeTwilio::voice_params(&sid, CALLER, NUMBER);
    let first = twiml_of(twilio.send(&edge, &voice_url, &params).await).await;
    assert_eq!(verbs(&first), ["Say", "Gather", "Redirect"], "{first}");
    assert_eq!(first[0]["text"], "Welcome to Ocelot.");
    assert_eq!(first[0]["attrs"]["language"], "en-US");
    let gather = &first[1];
    let action = gather["attrs"]["action"].as_str().unwrap().to_owned();
    let call_id = action.split("/calls/").nth(1).unwrap()[..36].to_owned();
    assert_eq!(
        action,
        format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/calls/{call_id}/ivr?node=main&attempt=1")
    );
    assert_eq!(
        (
            gather["attrs"]["input"].as_str(),
            gather["attrs"]["numDigits"].as_str(),
            gather["attrs"]["hints"].as_str(),
        ),
        (Some("dtmf speech"), Some("1"), Some("billing, sales"))
    );
    assert_eq!(gather["children"][0]["verb"], "Say");
    // Nothing heard: Twilio falls through to the same URL, which hears "no answer".
    assert_eq!(first[2]["text"], action);
    let shown = call(&fleet, &call_id).await;
    assert_eq!(
        (
            shown["ivr_flow_id"].as_str(),
            shown["ivr_flow_version"].as_u64()
        ),
        (Some(flow.as_str()), Some(1))
    );

    // Twilio repeating its webhook hears the same and records nothing more.
    let again = twiml_of(twilio.send(&edge, &voice_url, &params).await).await;
    assert_eq!(again, first);
    assert_eq!(walked(&fleet, &call_id).await.0, ["welcome", "main"]);

    // A new version is published while the caller listens: their call keeps version 1.
    // Its voicemail's callers are called back from a preview campaign; one that does not
    // exist is refused.
    let mut unknown = support_flow(true);
    unknown["nodes"]["voicemail"]["callback_campaign_id"] =
        json!("00000000-0000-0000-0000-000000000001");
    let (status, body) = problem(
        fleet
            .put(&format!("/api/communications/ivr-flows/{flow}"))
            .json(&json!({ "name": "Support", "definition": unknown })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        fields(&body),
        ["definition.nodes.voicemail.callback_campaign_id"],
        "{body}"
    );
    let callbacks = json_of(
        fleet
            .post("/api/communications/campaigns")
            .json(&json!({ "name": "Voicemail callbacks", "dialing_mode": "preview" })),
    )
    .await;
    let callbacks = callbacks["id"].as_str().unwrap().to_owned();
    publish_version_2(&fleet, &flow, Some(&callbacks)).await;
    let mut pressed = params.clone();
    pressed.push(("Digits", "1"));
    let billing = twiml_of(twilio.send(&edge, &action, &pressed).await).await;
    assert_eq!(verbs(&billing), ["Gather", "Redirect"], "{billing}");
    let billing_action = billing[0]["attrs"]["action"].as_str().unwrap().to_owned();
    assert!(
        billing_action.ends_with("/ivr?node=billing_menu&attempt=1"),
        "{billing}"
    );
    assert_eq!(billing[0]["children"][0]["text"], "Invoices 1, payments 2.");
    // The same answer again (a retried request) changes nothing: the call is at billing's menu.
    let repeated = twiml_of(twilio.send(&edge, &action, &pressed).await).await;
    assert_eq!(repeated, billing);

    let mut pressed = params.clone();
    pressed.push(("Digits", "2"));
    let queued = twiml_of(twilio.send(&edge, &billing_action, &pressed).await).await;
    assert_eq!(verbs(&queued), ["Say", "Pause", "Redirect"], "{queued}");
    assert_eq!(
        queued[2]["text"],
        format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/calls/{call_id}/answer?held=1")
    );
    assert_eq!(
        waiting_with(&fleet, &call_id).await,
        json!({ "skills": ["billing"], "priority": 5 })
    );
    assert_eq!(
        walked(&fleet, &call_id).await,
        (
            vec![
                "welcome".to_owned(),
                "main".into(),
                "billing_menu".into(),
                "billing".into()
            ],
            1
        )
    );
    assert_eq!(call(&fleet, &call_id).await["ivr_node"], "billing");

    // A second caller, on version 2: 1 at the main menu is sales now. A forged answer is 403.
    let second = twilio.incoming();
    let params = FakeTwilio::voice_params(&second, CALLER, NUMBER);
    let asked = twiml_of(twilio.send(&edge, &voice_url, &params).await).await;
    let action = asked[1]["attrs"]["action"].as_str().unwrap().to_owned();
    let second_id = action.split("/calls/").nth(1).unwrap()[..36].to_owned();
    let mut pressed = params.clone();
    pressed.push(("Digits", "1"));
    let forged = twilio
        .send_as("not-the-auth-token", &edge, &action, &pressed)
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(walked(&fleet, &second_id).await.0, ["welcome", "main"]);
    let to_sales = twiml_of(twilio.send(&edge, &action, &pressed).await).await;
    assert_eq!(
        verbs(&to_sales),
        ["Say", "Say", "Pause", "Redirect"],
        "{to_sales}"
    );
    assert_eq!(to_sales[0]["text"], "Connecting you to sales.");
    assert_eq!(
        waiting_with(&fleet, &second_id).await,
        json!({ "skills": ["sales"], "priority": 0 })
    );
    // Twilio repeating that request (our answer lost) hears the same turn, the word included.
    let again = twiml_of(twilio.send(&edge, &action, &pressed).await).await;
    assert_eq!(again, to_sales);
    let path = ["welcome", "main", "to_sales", "sales"]
        .map(String::from)
        .to_vec();
    assert_eq!(walked(&fleet, &second_id).await, (path, 1));

    // A third caller says nothing, twice: voicemail, recorded by Twilio, then the line ends.
    let third = twilio.incoming();
    let params = FakeTwilio::voice_params(&third, CALLER, NUMBER);
    let asked = twiml_of(twilio.send(&edge, &voice_url, &params).await).await;
    let action = asked[1]["attrs"]["action"].as_str().unwrap().to_owned();
    let again = twiml_of(twilio.send(&edge, &action, &params).await).await;
    let action = again[0]["attrs"]["action"].as_str().unwrap().to_owned();
    assert!(action.ends_with("node=main&attempt=2"), "{again}");
    let voicemail = twiml_of(twilio.send(&edge, &action, &params).await).await;
    assert_eq!(verbs(&voicemail), ["Say", "Record"], "{voicemail}");
    let record = &voicemail[1]["attrs"];
    assert_eq!(record["maxLength"], "120");
    let recorded = record["recordingStatusCallback"].as_str().unwrap();
    let after = record["action"].as_str().unwrap();
    assert_eq!(
        verbs(&twiml_of(twilio.send(&edge, after, &params).await).await),
        ["Hangup"]
    );
    let mut ready = params.clone();
    ready.extend([
        ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "14"),
    ]);
    let reported = twilio.send(&edge, recorded, &ready).await;
    assert_eq!(reported.status(), StatusCode::NO_CONTENT);
    let third_id = recorded.split("/calls/").nth(1).unwrap()[..36].to_owned();
    assert_eq!(call(&fleet, &third_id).await["has_recording"], true);
    // The caller is to be called back: their number joins the callback campaign, once,
    // however often Twilio repeats its callback.
    twilio.send(&edge, recorded, &ready).await;
    let contacts = || {
        fleet.get(&format!(
            "/api/communications/campaigns/{callbacks}/contacts"
        ))
    };
    let joined = until(
        PATIENCE,
        || json_of(contacts()),
        |page| page["data"].as_array().is_some_and(|rows| !rows.is_empty()),
    )
    .await;
    let rows = joined["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{joined}");
    let contact = json_of(fleet.get(&format!(
        "/api/communications/contacts/{}",
        rows[0]["contact_id"].as_str().unwrap()
    )))
    .await;
    assert_eq!(contact["phones"], json!([CALLER]), "{contact}");
    let status_url = format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/inbound/status");
    let mut hung_up = params.clone();
    hung_up[3] = ("CallStatus", "completed");
    assert_eq!(
        twilio.send(&edge, &status_url, &hung_up).await.status(),
        StatusCode::NO_CONTENT
    );

    // A fourth caller hangs up at the main menu: a drop-out there.
    let fourth = twilio.incoming();
    let params = FakeTwilio::voice_params(&fourth, CALLER, NUMBER);
    twiml_of(twilio.send(&edge, &voice_url, &params).await).await;
    let mut hung_up = params.clone();
    hung_up[3] = ("CallStatus", "completed");
    twilio.send(&edge, &status_url, &hung_up).await;

    // The flow's report: where each version's callers went and where they hung up.
    let report = json_of(fleet.get(&format!("/api/communications/ivr-flows/{flow}/report"))).await;
    let nodes = |version: usize| -> Vec<(String, i64, i64)> {
        report["versions"][version]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let node = n["node"].as_str().unwrap().to_owned();
                (
                    node,
                    n["reached"].as_i64().unwrap(),
                    n["ended_here"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let totals = |version: usize| {
        let v = &report["versions"][version];
        (
            v["version"].as_u64(),
            v["calls"].as_i64(),
            v["queued"].as_i64(),
            v["ended_in_flow"].as_i64(),
            v["in_flow"].as_i64(),
        )
    };
    assert_eq!(
        totals(0),
        (Some(1), Some(1), Some(1), Some(0), Some(0)),
        "{report}"
    );
    assert_eq!(
        nodes(0),
        [
            ("billing".into(), 1, 0),
            ("billing_menu".into(), 1, 0),
            ("main".into(), 1, 0),
            ("welcome".into(), 1, 0)
        ]
    );
    assert_eq!(
        totals(1),
        (Some(2), Some(3), Some(1), Some(2), Some(0)),
        "{report}"
    );
    assert_eq!(
        nodes(1),
        [
            ("main".into(), 3, 1),
            ("sales".into(), 1, 0),
            ("to_sales".into(), 1, 0),
            ("voicemail".into(), 1, 1),
            ("welcome".into(), 3, 0)
        ]
    );
    assert_eq!(report["versions"][1]["nodes"][0]["kind"], "menu");
    // Twilio takes this fleet's calls: no simulated callers.
    let number_id = json_of(fleet.get("/api/communications/numbers")).await["numbers"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = problem(
        fleet
            .post(&format!(
                "/api/communications/numbers/{number_id}/simulated-calls"
            ))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vonage_caller_presses_1_then_2_and_waits_in_the_billing_queue() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_fleet(&vonage).await;
    let edge = fleet.fleet.edge.to_string();
    agents_with_skills(&fleet).await;
    published_on_number(&fleet).await;
    let answer_url = format!("{PUBLIC_BASE_URL}/webhooks/vonage/{ORG}/inbound/answer");
    let uuid = uuid::Uuid::new_v4().to_string();
    let answer = json!({
        "uuid": uuid, "conversation_uuid": format!("CON-{}", uuid::Uuid::new_v4()),
        "to": NUMBER.trim_start_matches('+'), "from": CALLER.trim_start_matches('+'),
    });
    let send = |url: String, body: Value| {
        let (vonage, http, edge) = (&vonage, fleet.http.clone(), edge.clone());
        async move {
            vonage
                .send(&http, &edge, &url, &body, SIGNATURE_SECRET, None)
                .await
        }
    };

    let first = ncco_of(send(answer_url.clone(), answer.clone()).await).await;
    assert_eq!(
        first
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["talk", "talk", "input"],
        "{first}"
    );
    assert_eq!(first[0]["text"], "Welcome to Ocelot.");
    assert_eq!(first[1]["bargeIn"], true);
    let input = &first[2];
    assert_eq!(input["type"], json!(["dtmf", "speech"]));
    assert_eq!(input["dtmf"]["maxDigits"], 1);
    assert_eq!(input["speech"]["context"], json!(["billing", "sales"]));
    let event_url = input["eventUrl"][0].as_str().unwrap().to_owned();
    let call_id = event_url.split("/calls/").nth(1).unwrap()[..36].to_owned();
    assert!(
        event_url.ends_with("/ivr?node=main&attempt=1"),
        "{event_url}"
    );

    let pressed = |digits: &str| {
        json!({ "uuid": uuid, "dtmf": { "digits": digits, "timed_out": false },
                "speech": { "results": [] } })
    };
    let billing = ncco_of(send(event_url.clone(), pressed("1")).await).await;
    assert_eq!(billing[0]["text"], "Invoices 1, payments 2.");
    let next_url = billing[1]["eventUrl"][0].as_str().unwrap().to_owned();
    assert!(
        next_url.ends_with("/ivr?node=billing_menu&attempt=1"),
        "{billing}"
    );
    let held = ncco_of(send(next_url, pressed("2")).await).await;
    assert_eq!(held[0]["action"], "talk");
    assert_eq!(held[0]["loop"], 0);
    assert_eq!(
        waiting_with(&fleet, &call_id).await,
        json!({ "skills": ["billing"], "priority": 5 })
    );
    // A forged event (another secret) is 403 and walks nothing.
    let forged = vonage
        .send(
            &fleet.http,
            &edge,
            &event_url,
            &pressed("2"),
            "not-the-secret",
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(walked(&fleet, &call_id).await.1, 1);

    // A caller who says what they want: "sales", as Vonage's speech recognition heard it.
    let speaker = uuid::Uuid::new_v4().to_string();
    let mut spoken = answer.clone();
    spoken["uuid"] = json!(speaker);
    let asked = ncco_of(send(answer_url.clone(), spoken).await).await;
    let said = json!({ "uuid": speaker, "dtmf": { "digits": "", "timed_out": true },
                       "speech": { "results": [{ "text": "Sales please", "confidence": "0.91" }] } });
    let url = asked[2]["eventUrl"][0].as_str().unwrap().to_owned();
    let to_sales = ncco_of(send(url, said).await).await;
    assert_eq!(
        to_sales[0]["text"], "Connecting you to sales.",
        "{to_sales}"
    );

    // A second caller says nothing, twice: voicemail, recorded by Vonage, heard through the API.
    let second = uuid::Uuid::new_v4().to_string();
    let mut answer = answer.clone();
    answer["uuid"] = json!(second);
    let asked = ncco_of(send(answer_url, answer).await).await;
    let mut event_url = asked[2]["eventUrl"][0].as_str().unwrap().to_owned();
    let silence = json!({ "uuid": second, "dtmf": { "digits": "", "timed_out": true },
                          "speech": { "results": [] } });
    let again = ncco_of(send(event_url.clone(), silence.clone()).await).await;
    event_url = again[1]["eventUrl"][0].as_str().unwrap().to_owned();
    assert!(event_url.ends_with("node=main&attempt=2"), "{again}");
    let voicemail = ncco_of(send(event_url, silence).await).await;
    assert_eq!(voicemail[0]["text"], "Leave a message after the tone.");
    let record = &voicemail[1];
    assert_eq!(
        (
            record["action"].as_str(),
            record["timeOut"].as_u64(),
            record["beepStart"].as_bool()
        ),
        (Some("record"), Some(120), Some(true))
    );
    let recording_url = record["eventUrl"][0].as_str().unwrap().to_owned();
    let voicemail_id = recording_url.split("/calls/").nth(1).unwrap()[..36].to_owned();
    let recording = uuid::Uuid::new_v4().to_string();
    vonage.keep_recording(&recording, b"ID3 a caller's message");
    let recorded = send(recording_url, json!({
        "start_time": "2026-12-06T10:00:00Z", "end_time": "2026-12-06T10:00:14Z",
        "recording_uuid": recording, "recording_url": format!("{}/v1/files/{recording}", vonage.url),
        "size": 22, "conversation_uuid": "CON-x", "timestamp": "2026-12-06T10:00:15Z",
    }))
    .await;
    assert_eq!(recorded.status(), StatusCode::NO_CONTENT);
    assert_eq!(call(&fleet, &voicemail_id).await["has_recording"], true);
    let heard = fleet
        .get(&format!(
            "/api/communications/calls/{voicemail_id}/recording"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(heard.status(), StatusCode::OK);
    assert_eq!(heard.headers()["content-type"], "audio/mpeg");
    assert_eq!(&heard.bytes().await.unwrap()[..], b"ID3 a caller's message");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_fleet_takes_simulated_callers_through_the_flow_to_an_agent() {
    let fleet = Fleet::start("60000").await;
    agents_with_skills(&fleet).await;
    published_on_number(&fleet).await;
    let numbers = json_of(fleet.get("/api/communications/numbers")).await;
    let number = numbers["numbers"][0]["id"].as_str().unwrap().to_owned();
    let billing = json_of(fleet.get("/api/communications/agents?skill=billing")).await;
    let bill = billing["data"][0]["id"].as_str().unwrap().to_owned();
    let available = fleet
        .put(&format!("/api/communications/agents/{bill}/status"))
        .json(&json!({ "status": "available" }));
    assert_eq!(available.send().await.unwrap().status(), StatusCode::OK);
    let simulate = |body: Value| {
        fleet
            .post(&format!(
                "/api/communications/numbers/{number}/simulated-calls"
            ))
            .json(&body)
    };

    // 1 then 2: billing's queue, and Bill, who has the skill, takes the call.
    let call = json_of(simulate(
        json!({ "from": CALLER, "inputs": [{ "digits": "1" }, { "digits": "2" }] }),
    ))
    .await;
    assert_eq!(
        (
            call["direction"].as_str(),
            call["status"].as_str(),
            call["from"].as_str(),
            call["carrier"].as_str(),
            call["ivr_node"].as_str()
        ),
        (
            Some("inbound"),
            Some("answered"),
            Some(CALLER),
            Some("simulated"),
            Some("billing")
        ),
        "{call}"
    );
    let id = call["id"].as_str().unwrap().to_owned();
    call_until(&fleet, &id, |c| c["agent_id"] == bill.as_str()).await;
    assert_eq!(
        walked(&fleet, &id).await,
        (
            ["welcome", "main", "billing_menu", "billing"]
                .map(String::from)
                .to_vec(),
            1
        )
    );

    // Silence, twice: voicemail, which ends the simulated call (nothing records it here).
    let silent = json_of(simulate(json!({ "inputs": [{}, {}] }))).await;
    assert_eq!(
        (silent["status"].as_str(), silent["ivr_node"].as_str()),
        (Some("ended"), Some("voicemail")),
        "{silent}"
    );

    // Inputs are checked like the simulator's; another number is unknown.
    let (status, body) = problem(simulate(
        json!({ "inputs": [{ "digits": "1", "speech": "billing" }] }),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&body), ["inputs[0]"], "{body}");
    let (status, _) = problem(
        fleet
            .post(
                "/api/communications/numbers/00000000-0000-0000-0000-000000000001/simulated-calls",
            )
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    fleet.stop().await;
}
