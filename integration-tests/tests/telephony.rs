//! Calls carried by Twilio and by Vonage, against fakes on loopback written from each one's
//! documentation (`telephony/fake_twilio.rs`, `telephony/fake_vonage.rs`). With Twilio: the
//! fleet places a call with the documented fields, signed status callbacks (signed by
//! twilio-python) move it along over REST, repeated, reordered, forged and misdirected callbacks
//! change nothing, hanging up reaches Twilio (retried while it fails), the watchdog asks Twilio
//! about a call whose callbacks stopped, and a campaign's calls are screened for answering
//! machines. Calls to the organization's numbers: `telephony/inbound.rs`; agents' softphone
//! tokens: `telephony/softphones.rs`; failover between carriers and pacing:
//! `telephony/failover.rs`; Vonage's machine detection: `telephony/vonage_machines.rs`;
//! recordings: `telephony/recording.rs`; organizations' own Twilio accounts:
//! `telephony/own_accounts.rs`; IVR flows walked through both carriers: `telephony/ivr.rs`;
//! texts both ways, opt-outs included: `telephony/sms.rs`; the platform's task and project events
//! as texts: `telephony/notifications.rs`; answered calls' audio streamed to transcription:
//! `telephony/transcription.rs`.

#[path = "telephony/failover.rs"]
mod failover;
#[path = "telephony/fake_twilio.rs"]
mod fake_twilio;
#[path = "telephony/fake_vonage.rs"]
mod fake_vonage;
#[path = "telephony/inbound.rs"]
mod inbound;
#[path = "telephony/ivr.rs"]
mod ivr;
#[path = "telephony/notifications.rs"]
mod notifications;
#[path = "telephony/own_accounts.rs"]
mod own_accounts;
#[path = "telephony/recording.rs"]
mod recording;
#[path = "telephony/sms.rs"]
mod sms;
#[path = "telephony/softphones.rs"]
mod softphones;
mod support;
#[path = "telephony/transcription.rs"]
mod transcription;
#[path = "telephony/twilio_supervisors.rs"]
mod twilio_supervisors;
#[path = "telephony/vonage_bridge.rs"]
mod vonage_bridge;
#[path = "telephony/vonage_machines.rs"]
mod vonage_machines;
#[path = "telephony/vonage_supervisors.rs"]
mod vonage_supervisors;

use std::time::Duration;

use fake_twilio::{FakeTwilio, PUBLIC_BASE_URL, Received};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    EVERY_DAY, Fleet, ORG, action, available_agent, create_campaign, fields, import, json_of,
    problem, until,
};

const PATIENCE: Duration = Duration::from_secs(20);

async fn fleet_on(twilio: &FakeTwilio, extra: &[(&str, &str)]) -> Fleet {
    let env = twilio.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend_from_slice(extra);
    Fleet::start_with("60000", &pairs).await
}

/// An agent who logs in as a new user, in `team`: their id (the user's) and session.
async fn agent_user(fleet: &Fleet, name: &str, team: &str) -> (String, support::Session) {
    let (id, session) = fleet.user_with_id("agent").await;
    json_of(fleet.post("/api/communications/agents").json(&json!({
        "name": name, "email": format!("{}@acme.test", uuid::Uuid::new_v4().simple()),
        "user_id": id, "team_id": team,
    })))
    .await;
    (id, session)
}

/// A team led by a new supervisor: its id and the supervisor's session.
async fn team_led(fleet: &Fleet, name: &str) -> (String, support::Session) {
    let (lead, session) = fleet.user_with_id("supervisor").await;
    let team = json_of(
        fleet
            .post("/api/communications/teams")
            .json(&json!({ "name": name, "supervisor_id": lead })),
    )
    .await;
    (team["id"].as_str().unwrap().to_owned(), session)
}

async fn place(fleet: &Fleet, to: &str) -> String {
    let created = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": to })),
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn call(fleet: &Fleet, id: &str) -> Value {
    json_of(fleet.get(&format!("/api/communications/calls/{id}"))).await
}

async fn call_until(fleet: &Fleet, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    until(PATIENCE, || call(fleet, id), done).await
}

/// `POST /calls/{call}/monitor` as `supervisor`, in `mode`.
async fn monitor(
    fleet: &Fleet,
    supervisor: &support::Session,
    call: &str,
    mode: &str,
) -> reqwest::Response {
    fleet
        .request(
            reqwest::Method::POST,
            &format!("/api/communications/calls/{call}/monitor"),
            supervisor,
        )
        .json(&json!({ "mode": mode }))
        .send()
        .await
        .unwrap()
}

fn callback_url(id: &str, what: &str) -> String {
    format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/calls/{id}/{what}")
}

/// Sends Twilio's status callback for `status` about the call, and answers its status code.
async fn status(
    twilio: &FakeTwilio,
    fleet: &Fleet,
    placed: &Received,
    sid: &str,
    status: &str,
) -> StatusCode {
    let url = placed.one("StatusCallback");
    let params = FakeTwilio::status_params(placed, sid, status, "1");
    twilio
        .send(&fleet.fleet.edge.to_string(), url, &params)
        .await
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_is_placed_with_twilio_and_moved_along_by_its_signed_callbacks() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
    let id = place(&fleet, "+14155550100").await;

    // The documented fields, exactly; StatusCallbackEvent repeated as Twilio's SDK sends lists.
    let (sid, placed) = twilio.placed("+14155550100").await;
    assert_eq!(placed.one("From"), fake_twilio::PHONE_NUMBER);
    assert_eq!(placed.one("Url"), callback_url(&id, "answer"));
    assert_eq!(placed.one("Method"), "POST");
    assert_eq!(placed.one("StatusCallback"), callback_url(&id, "status"));
    assert_eq!(placed.one("StatusCallbackMethod"), "POST");
    assert_eq!(
        placed.all("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );
    let carried = call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    assert_eq!(carried["carrier"], "twilio");

    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "initiated").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "ringing").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&fleet, &id).await["status"], "ringing");
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "in-progress").await,
        StatusCode::NO_CONTENT
    );
    let answered = call(&fleet, &id).await;
    assert_eq!(answered["status"], "answered");

    // Repeated, late and port-variant callbacks change nothing.
    let events = fleet.event_count().await;
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "in-progress").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "ringing").await,
        StatusCode::NO_CONTENT
    );
    let with_port = placed
        .one("StatusCallback")
        .replace("comms.example.test", "comms.example.test:443");
    let params = FakeTwilio::status_params(&placed, &sid, "ringing", "3");
    let signature =
        fake_twilio::python_signature(fake_twilio::AUTH_TOKEN, &with_port, &params).await;
    let sent = twilio
        .send_signed(&edge, placed.one("StatusCallback"), &params, &signature)
        .await;
    assert_eq!(sent.status(), StatusCode::NO_CONTENT, "signed with :443");
    assert_eq!(fleet.event_count().await, events);
    assert_eq!(call(&fleet, &id).await["version"], answered["version"]);

    // The answer URL: the caller is held, in the call's language, until an agent is assigned.
    let url = placed.one("Url");
    let params = [
        ("CallSid", sid.as_str()),
        ("CallStatus", "in-progress"),
        ("AccountSid", fake_twilio::ACCOUNT_SID),
    ];
    let answer = twilio.send(&edge, url, &params).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let twiml = answer.text().await.unwrap();
    assert!(
        twiml.contains(r#"<Say language="en-US">Please hold while we connect you.</Say>"#)
            && twiml.contains(&format!(
                "<Redirect method=\"POST\">{url}?held=1</Redirect>"
            )),
        "{twiml}"
    );

    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "completed").await,
        StatusCode::NO_CONTENT
    );
    let ended = call(&fleet, &id).await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["end_reason"], "remote hang-up");
    // A terminal call never leaves its state.
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "busy").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&fleet, &id).await["status"], "ended");

    // Twilio answers with the fleet's credentials, until they are rotated.
    let health = fleet
        .http
        .get(fleet.url("/health/twilio"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    twilio.rotate_auth_token();
    let health = fleet
        .http
        .get(fleet.url("/health/twilio"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let detail: Value = health.json().await.unwrap();
    assert!(
        detail["detail"]
            .as_str()
            .unwrap()
            .contains("refuses the credentials"),
        "{detail}"
    );

    let placed_events = fleet
        .next_types(<comms_events::call::Placed as comms_events::Event>::TYPE, 1)
        .await;
    assert_eq!(placed_events[0].1["data"]["carrier_call_id"], sid.as_str());
    support::assert_events_match_their_schemas(&fleet.pool).await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_misdirected_and_malformed_callbacks_are_refused_with_nothing_recorded() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
    let id = place(&fleet, "+14155550100").await;
    let (sid, placed) = twilio.placed("+14155550100").await;
    call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    let events = fleet.event_count().await;
    let url = placed.one("StatusCallback");
    let answered = FakeTwilio::status_params(&placed, &sid, "in-progress", "2");

    // Signed with another account's token; no signature; a signature for another URL, sent
    // with that URL's Host (a spoofed Host header does not choose what is verified).
    let forged =
        fake_twilio::python_signature("0123456789abcdef0123456789abcdef", url, &answered).await;
    let refused = twilio.send_signed(&edge, url, &answered, &forged).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("X-Twilio-Signature"),
        "{body}"
    );
    assert_eq!(
        twilio.send_signed(&edge, url, &answered, "").await.status(),
        StatusCode::FORBIDDEN
    );
    let elsewhere = url.replace(PUBLIC_BASE_URL, "https://evil.test");
    let signature =
        fake_twilio::python_signature(fake_twilio::AUTH_TOKEN, &elsewhere, &answered).await;
    let spoofed = fleet
        .http
        .clone()
        .post(format!(
            "http://{edge}{}",
            url.strip_prefix(PUBLIC_BASE_URL).unwrap()
        ))
        .header("host", "evil.test")
        .header("x-forwarded-host", "evil.test")
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(serde_urlencoded::to_string(&answered).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), StatusCode::FORBIDDEN);
    // Altered after signing.
    let signature = fake_twilio::python_signature(fake_twilio::AUTH_TOKEN, url, &answered).await;
    let mut altered = answered.clone();
    altered[3] = ("CallStatus", "completed");
    assert_eq!(
        twilio
            .send_signed(&edge, url, &altered, &signature)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Validly signed, but about a call this organization does not have, or not this call.
    let other_org = url.replace(&format!("/{ORG}/"), "/org_other/");
    let (status, _) = problem(
        fleet
            .http
            .clone()
            .post(format!(
                "http://{edge}{}",
                other_org.strip_prefix(PUBLIC_BASE_URL).unwrap()
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "x-twilio-signature",
                fake_twilio::python_signature(fake_twilio::AUTH_TOKEN, &other_org, &answered).await,
            )
            .body(serde_urlencoded::to_string(&answered).unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = callback_url(&uuid::Uuid::new_v4().to_string(), "status");
    assert_eq!(
        twilio.send(&edge, &unknown, &answered).await.status(),
        StatusCode::NOT_FOUND
    );
    let another_sid = "CAffffffffffffffffffffffffffffffff";
    let mut crossed = answered.clone();
    crossed[2] = ("CallSid", another_sid);
    let sent = twilio.send(&edge, url, &crossed).await;
    assert_eq!(sent.status(), StatusCode::BAD_REQUEST);
    let body: Value = sent.json().await.unwrap();
    assert_eq!(fields(&body), ["carrier_call_id"], "{body}");
    // A line Twilio says is this call's but is not (a dial that timed out but was placed) is
    // hung up rather than left ringing.
    let stray = twilio
        .wait_for(&format!("/Calls/{another_sid}.json"), 1)
        .await;
    assert_eq!(stray[0].one("Status"), "completed");

    // Signed but malformed: a status Twilio does not have, required parameters missing.
    let mut exploded = answered.clone();
    exploded[3] = ("CallStatus", "exploded");
    let sent = twilio.send(&edge, url, &exploded).await;
    assert_eq!(sent.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&sent.json().await.unwrap()), ["status"]);
    let sent = twilio
        .send(&edge, url, &[("AccountSid", fake_twilio::ACCOUNT_SID)])
        .await;
    assert_eq!(sent.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        fields(&sent.json().await.unwrap()),
        ["CallSid", "CallStatus"]
    );
    let json_body = fleet
        .http
        .clone()
        .post(format!(
            "http://{edge}{}",
            url.strip_prefix(PUBLIC_BASE_URL).unwrap()
        ))
        .header("content-type", "application/json")
        .header("x-twilio-signature", "x")
        .body(r#"{"CallStatus":"completed"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(fleet.event_count().await, events, "nothing was recorded");
    assert_eq!(call(&fleet, &id).await["status"], "initiated");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hanging_up_reaches_twilio_and_is_retried_while_twilio_fails() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;

    // Answered: Status=completed, after two 500s.
    let id = place(&fleet, "+14155550100").await;
    let (sid, placed) = twilio.placed("+14155550100").await;
    call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    twilio.set_status(&sid, "in-progress");
    status(&twilio, &fleet, &placed, &sid, "in-progress").await;
    twilio.fail_next_updates(&[500, 500]);
    let ended = json_of(fleet.delete(&format!("/api/communications/calls/{id}"))).await;
    assert_eq!(ended["status"], "ended");
    let updates = twilio.wait_for(&format!("/Calls/{sid}.json"), 3).await;
    assert!(
        updates.iter().all(|u| u.one("Status") == "completed"),
        "{updates:?}"
    );

    // Never answered: Status=canceled, which Twilio takes for a ringing call.
    let id = place(&fleet, "+14155550122").await;
    let (sid, _) = twilio.placed("+14155550122").await;
    call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    twilio.set_status(&sid, "ringing");
    let canceled = json_of(fleet.delete(&format!("/api/communications/calls/{id}"))).await;
    assert_eq!(canceled["status"], "canceled");
    let updates = twilio.wait_for(&format!("/Calls/{sid}.json"), 1).await;
    assert_eq!(updates[0].one("Status"), "canceled");

    // Answered at Twilio before its callback reached us: canceled does not end it, so the
    // call is completed too.
    let id = place(&fleet, "+14155550133").await;
    let (sid, _) = twilio.placed("+14155550133").await;
    call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    twilio.set_status(&sid, "in-progress");
    json_of(fleet.delete(&format!("/api/communications/calls/{id}"))).await;
    let updates = twilio.wait_for(&format!("/Calls/{sid}.json"), 2).await;
    let asked: Vec<&str> = updates.iter().map(|u| u.one("Status")).collect();
    assert_eq!(asked, ["canceled", "completed"]);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_twilio_refuses_fails_with_twilios_reason() {
    let twilio = FakeTwilio::start().await;
    twilio.refuse_calls_to("+14155550199");
    let fleet = fleet_on(&twilio, &[]).await;
    let id = place(&fleet, "+14155550199").await;
    let failed = call_until(&fleet, &id, |c| c["status"] == "failed").await;
    let reason = failed["end_reason"].as_str().unwrap();
    assert!(
        reason.contains("is not a valid phone number") && reason.contains("21211"),
        "{reason}"
    );
    assert_eq!(failed["carrier"], Value::Null);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watchdog_asks_twilio_about_a_call_whose_callbacks_stopped() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[("UNANSWERED_TIMEOUT_SECONDS", "1")]).await;
    // Answered at Twilio, its callbacks lost: the watchdog learns it from Twilio.
    let id = place(&fleet, "+14155550100").await;
    let (sid, _) = twilio.placed("+14155550100").await;
    twilio.set_status(&sid, "in-progress");
    let answered = call_until(&fleet, &id, |c| c["status"] != "initiated").await;
    assert_eq!(answered["status"], "answered");
    assert_eq!(answered["carrier_call_id"], sid.as_str());

    // Still ringing at Twilio past the limit: failed here, and hung up there.
    let id = place(&fleet, "+14155550122").await;
    let (sid, _) = twilio.placed("+14155550122").await;
    twilio.set_status(&sid, "ringing");
    let failed = call_until(&fleet, &id, |c| c["status"] == "failed").await;
    assert!(
        failed["end_reason"]
            .as_str()
            .unwrap()
            .contains("no answer or outcome")
    );
    let updates = twilio.wait_for(&format!("/Calls/{sid}.json"), 1).await;
    assert_eq!(updates[0].one("Status"), "canceled");
    fleet.stop().await;
}

/// A campaign over one contact, started; answers its id.
async fn campaign_calling(fleet: &Fleet, name: &str, phone: &str) -> String {
    campaign_calling_with(fleet, json!({ "name": name }), phone).await
}

/// A campaign with `settings` (its name among them) over one contact, calling at any hour,
/// started; answers its id.
async fn campaign_calling_with(fleet: &Fleet, mut settings: Value, phone: &str) -> String {
    let name = settings["name"].as_str().unwrap().to_owned();
    settings["window"] = json!({ "start": "00:00", "end": "23:59", "days": EVERY_DAY });
    let campaign = create_campaign(fleet, settings).await;
    import(
        fleet,
        &campaign,
        format!("name,phone,time_zone\n{name},{phone},Etc/UTC"),
    )
    .await;
    assert_eq!(
        action(fleet, &campaign, "start").await.status(),
        StatusCode::OK
    );
    campaign
}

async fn only_contact(fleet: &Fleet, campaign: &str) -> Value {
    let page = json_of(fleet.get(&format!(
        "/api/communications/campaigns/{campaign}/contacts"
    )))
    .await;
    page["data"][0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_on_a_campaign_call_is_voicemail_hung_up_and_never_given_an_agent() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[("DIALER_TICK_MS", "100")]).await;
    let edge = fleet.fleet.edge.to_string();
    let ada = available_agent(&fleet, "Ada").await;

    let campaign = campaign_calling(&fleet, "Machine", "+14155550144").await;
    let (sid, placed) = twilio.placed("+14155550144").await;
    assert_eq!(placed.one("MachineDetection"), "DetectMessageEnd");
    assert_eq!(placed.one("AsyncAmd"), "true");
    let machine_url = placed.one("AsyncAmdStatusCallback");
    let call_id = machine_url.rsplit('/').nth(1).unwrap().to_owned();
    assert_eq!(machine_url, callback_url(&call_id, "machine"));
    assert_eq!(placed.one("AsyncAmdStatusCallbackMethod"), "POST");
    call_until(&fleet, &call_id, |c| c["carrier_call_id"] == sid.as_str()).await;

    // Answered: nobody is put on it until the detector says who answered.
    twilio.set_status(&sid, "in-progress");
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "in-progress").await,
        StatusCode::NO_CONTENT
    );
    let awaiting = || async {
        let row: Option<bool> = sqlx::query_scalar(
            "SELECT awaiting_verdict FROM campaign_calls WHERE call_id = $1::uuid",
        )
        .bind(&call_id)
        .fetch_optional(&fleet.pool)
        .await
        .unwrap();
        json!(row)
    };
    until(PATIENCE, awaiting, |waiting| *waiting == json!(true)).await;
    assert_eq!(call(&fleet, &call_id).await["agent_id"], Value::Null);
    let verdict = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("AnsweredBy", "machine_end_beep"),
        ("CallSid", sid.as_str()),
        ("MachineDetectionDuration", "4210"),
    ];
    assert_eq!(
        twilio.send(&edge, machine_url, &verdict).await.status(),
        StatusCode::NO_CONTENT
    );

    // Hung up at Twilio; when Twilio says it completed, the contact's outcome is voicemail,
    // with voicemail's retry.
    let updates = twilio.wait_for(&format!("/Calls/{sid}.json"), 1).await;
    assert_eq!(updates[0].one("Status"), "completed");
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "completed").await,
        StatusCode::NO_CONTENT
    );
    let contact = until(
        PATIENCE,
        || only_contact(&fleet, &campaign),
        |c| c["last_outcome"] != Value::Null,
    )
    .await;
    assert_eq!(contact["last_outcome"], "voicemail", "{contact}");
    assert_eq!(contact["status"], "waiting", "{contact}");
    assert!(contact["retry_at"].is_string(), "{contact}");
    let done = json_of(fleet.get(&format!("/api/communications/campaigns/{campaign}"))).await;
    assert_eq!(done["progress"]["abandoned"], 0, "{done}");
    let call = call(&fleet, &call_id).await;
    assert_eq!(
        (call["answered_by"].as_str(), call["agent_id"].as_str()),
        (Some("machine_end_beep"), None)
    );
    let agent = json_of(fleet.get(&format!("/api/communications/agents/{ada}"))).await;
    assert_eq!(
        agent["status"], "available",
        "never reserved for the machine"
    );

    // A person: routed to the agent once the detector says so.
    campaign_calling(&fleet, "Person", "+14155550155").await;
    let (sid, placed) = twilio.placed("+14155550155").await;
    let machine_url = placed.one("AsyncAmdStatusCallback");
    let call_id = machine_url.rsplit('/').nth(1).unwrap().to_owned();
    call_until(&fleet, &call_id, |c| c["carrier_call_id"] == sid.as_str()).await;
    status(&twilio, &fleet, &placed, &sid, "in-progress").await;
    let verdict = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("AnsweredBy", "human"),
        ("CallSid", sid.as_str()),
        ("MachineDetectionDuration", "1830"),
    ];
    assert_eq!(
        twilio.send(&edge, machine_url, &verdict).await.status(),
        StatusCode::NO_CONTENT
    );
    let routed = call_until(&fleet, &call_id, |c| c["agent_id"].is_string()).await;
    assert_eq!(routed["agent_id"], ada.as_str());
    assert_eq!(routed["answered_by"], "human");
    // Sent to its instructions again at once, which now bridge the caller to Ada's softphone.
    let redirected = twilio.wait_for(&format!("/Calls/{sid}.json"), 1).await;
    assert_eq!(redirected[0].one("Url"), callback_url(&call_id, "answer"));
    let bridge = [("CallSid", sid.as_str()), ("CallStatus", "in-progress")];
    let twiml = twilio
        .send(&edge, placed.one("Url"), &bridge)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        twiml.contains(&format!(">comms-{call_id}</Conference></Dial>")),
        "{twiml}"
    );
    // Ada's softphone is asked into the call's conference.
    let ada_joins = twilio.participants(1).await.remove(0);
    assert_eq!(ada_joins.one("To"), format!("client:{ada}"));
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_leaves_its_voicemail_message_after_the_beep() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[("DIALER_TICK_MS", "100")]).await;
    let edge = fleet.fleet.edge.to_string();
    available_agent(&fleet, "Ada").await;
    let (code, body) = problem(fleet.post("/api/communications/campaigns").json(&json!({
        "name": "Too long", "voicemail_message": "a".repeat(501),
    })))
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("voicemail_message"), "{body}");

    let message = "Hi, it's Acme & Co. about <your renewal>: please call us back.";
    let settings = json!({ "name": "Message", "voicemail_message": message });
    let campaign = campaign_calling_with(&fleet, settings, "+14155550177").await;
    let shown = json_of(fleet.get(&format!("/api/communications/campaigns/{campaign}"))).await;
    assert_eq!(shown["voicemail_message"], message);
    let (sid, placed) = twilio.placed("+14155550177").await;
    let machine_url = placed.one("AsyncAmdStatusCallback");
    let call_id = machine_url.rsplit('/').nth(1).unwrap().to_owned();
    call_until(&fleet, &call_id, |c| c["carrier_call_id"] == sid.as_str()).await;
    twilio.set_status(&sid, "in-progress");
    status(&twilio, &fleet, &placed, &sid, "in-progress").await;
    let verdict = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("AnsweredBy", "machine_end_beep"),
        ("CallSid", sid.as_str()),
    ];
    assert_eq!(
        twilio.send(&edge, machine_url, &verdict).await.status(),
        StatusCode::NO_CONTENT
    );
    // The line is given the message (escaped), then hung up, in one request: not hung up first.
    let updates = twilio.wait_for(&format!("/Calls/{sid}.json"), 1).await;
    assert!(updates[0].all("Status").is_empty(), "{:?}", updates[0].form);
    assert_eq!(
        updates[0].one("Twiml"),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-US">Hi, it&apos;s Acme &amp; Co. about &lt;your renewal&gt;: please call us back.</Say><Hangup/></Response>"#
    );
    // Twilio hangs up once it was said: voicemail, as without a message.
    status(&twilio, &fleet, &placed, &sid, "completed").await;
    let contact = until(
        PATIENCE,
        || only_contact(&fleet, &campaign),
        |c| c["last_outcome"] != Value::Null,
    )
    .await;
    assert_eq!(contact["last_outcome"], "voicemail", "{contact}");
    // Said once: the dialer's ticks until the outcome found the call ended.
    assert_eq!(
        twilio
            .wait_for(&format!("/Calls/{sid}.json"), 1)
            .await
            .len(),
        1
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_call_the_dialer_abandons_is_hung_up_at_twilio() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(
        &twilio,
        &[("DIALER_TICK_MS", "100"), ("ABANDON_HOLD_MS", "1")],
    )
    .await;
    let edge = fleet.fleet.edge.to_string();
    // An agent, so the dialer dials; a hold of 1 ms, which no answered call can be routed in.
    available_agent(&fleet, "Ada").await;
    // Its calls are recorded from the answer, though the fleet's default is on demand.
    let settings = json!({ "name": "Late", "recording": "always" });
    let campaign = campaign_calling_with(&fleet, settings, "+14155550166").await;
    let shown = json_of(fleet.get(&format!("/api/communications/campaigns/{campaign}"))).await;
    assert_eq!(shown["recording"], "always");
    let (sid, placed) = twilio.placed("+14155550166").await;
    assert_eq!(placed.one("Record"), "true");
    let machine_url = placed.one("AsyncAmdStatusCallback");
    let call_id = machine_url.rsplit('/').nth(1).unwrap().to_owned();
    call_until(&fleet, &call_id, |c| c["carrier_call_id"] == sid.as_str()).await;
    twilio.set_status(&sid, "in-progress");
    status(&twilio, &fleet, &placed, &sid, "in-progress").await;
    let verdict = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("AnsweredBy", "human"),
        ("CallSid", sid.as_str()),
    ];
    assert_eq!(
        twilio.send(&edge, machine_url, &verdict).await.status(),
        StatusCode::NO_CONTENT
    );
    // Not routed within the hold: abandoned, ended here and hung up there.
    let ended = call_until(&fleet, &call_id, |c| c["status"] == "ended").await;
    assert_eq!(ended["end_reason"], "abandoned: no agent was free");
    let updates = twilio.wait_for(&format!("/Calls/{sid}.json"), 1).await;
    assert_eq!(updates[0].one("Status"), "completed");
    let contact = until(
        PATIENCE,
        || only_contact(&fleet, &campaign),
        |c| c["last_outcome"] != Value::Null,
    )
    .await;
    assert_eq!(contact["last_outcome"], "abandoned");
    fleet.stop().await;
}

async fn vonage_fleet(vonage: &fake_vonage::FakeVonage) -> Fleet {
    let env = vonage.env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Fleet::start_with("60000", &pairs).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_is_placed_with_vonage_and_moved_along_by_its_signed_events() {
    use fake_vonage::SIGNATURE_SECRET;
    let vonage = fake_vonage::FakeVonage::start().await;
    let fleet = vonage_fleet(&vonage).await;
    let edge = fleet.fleet.edge.to_string();
    let created = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": "+14155550100", "from": "+14155550111" })),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();

    // JSON with numbers without `+`, the callback URLs, and an application JWT PyJWT verified.
    let (uuid, placed) = vonage.placed("14155550100").await;
    assert_eq!(
        placed.body["from"],
        json!({ "type": "phone", "number": "14155550111" })
    );
    let base = format!(
        "{}/webhooks/vonage/{ORG}/calls/{id}",
        fake_vonage::PUBLIC_BASE_URL
    );
    assert_eq!(placed.body["answer_url"], json!([format!("{base}/answer")]));
    assert_eq!(placed.body["event_url"], json!([format!("{base}/event")]));
    assert_eq!(
        (
            placed.body["answer_method"].as_str(),
            placed.body["event_method"].as_str()
        ),
        (Some("POST"), Some("POST"))
    );
    assert!(placed.claims["exp"].as_i64().unwrap() > placed.claims["iat"].as_i64().unwrap());
    let carried = call_until(&fleet, &id, |c| c["carrier_call_id"] == uuid.as_str()).await;
    assert_eq!(carried["carrier"], "vonage");
    let health = fleet
        .http
        .get(fleet.url("/health/vonage"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "Vonage takes the application's JWT"
    );
    let health = fleet
        .http
        .get(fleet.url("/health/twilio"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        StatusCode::NOT_FOUND,
        "no Twilio account here"
    );

    let event = |status: &str| {
        json!({
            "uuid": uuid, "conversation_uuid": "CON-1", "status": status, "direction": "outbound",
            "from": "14155550111", "to": "14155550100", "timestamp": "2026-12-06T05:00:00.000Z",
        })
    };
    let event_url = format!("{base}/event");
    let send = |body: Value, secret: &'static str, iat: Option<i64>| {
        let (vonage, http, edge, url) = (
            vonage.clone(),
            fleet.http.clone(),
            edge.clone(),
            event_url.clone(),
        );
        async move {
            vonage
                .send(&http, &edge, &url, &body, secret, iat)
                .await
                .status()
        }
    };
    assert_eq!(
        send(event("started"), SIGNATURE_SECRET, None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(event("ringing"), SIGNATURE_SECRET, None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&fleet, &id).await["status"], "ringing");
    assert_eq!(
        send(event("answered"), SIGNATURE_SECRET, None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&fleet, &id).await["status"], "answered");

    // Forged, replayed, altered and unsigned callbacks: 403, nothing recorded.
    let events = fleet.event_count().await;
    let hung_up = json!({ "uuid": uuid, "status": "completed", "duration": "17" });
    assert_eq!(
        send(hung_up.clone(), "not-the-signature-secret-at-all", None).await,
        StatusCode::FORBIDDEN
    );
    let ten_minutes_ago = chrono::Utc::now().timestamp() - 600;
    assert_eq!(
        send(hung_up.clone(), SIGNATURE_SECRET, Some(ten_minutes_ago)).await,
        StatusCode::FORBIDDEN
    );
    let token = fake_vonage::signed(SIGNATURE_SECRET, &hung_up.to_string(), None).await;
    let path = event_url
        .strip_prefix(fake_vonage::PUBLIC_BASE_URL)
        .unwrap();
    let altered = fleet
        .http
        .post(format!("http://{edge}{path}"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(json!({ "uuid": uuid, "status": "completed", "duration": "9999" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(altered.status(), StatusCode::FORBIDDEN);
    let detail: Value = altered.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("payload_hash"),
        "{detail}"
    );
    let unsigned = fleet
        .http
        .post(format!("http://{edge}{path}"))
        .json(&hung_up)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    assert_eq!(fleet.event_count().await, events);

    // The NCCO while the caller waits for an agent: the hold message.
    let answer = vonage
        .send(
            &fleet.http,
            &edge,
            &format!("{base}/answer"),
            &json!({ "uuid": uuid, "to": "14155550100", "from": "14155550111" }),
            SIGNATURE_SECRET,
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let ncco: Value = answer.json().await.unwrap();
    assert_eq!(ncco[0]["action"], "talk");
    assert_eq!(ncco[0]["language"], "en-US");

    assert_eq!(
        send(hung_up, SIGNATURE_SECRET, None).await,
        StatusCode::NO_CONTENT
    );
    let ended = call(&fleet, &id).await;
    assert_eq!(
        (ended["status"].as_str(), ended["end_reason"].as_str()),
        (Some("ended"), Some("remote hang-up"))
    );

    // Hanging up another call: Vonage's {"action": "hangup"}.
    let other = place(&fleet, "+14155550122").await;
    let (uuid, _) = vonage.placed("14155550122").await;
    call_until(&fleet, &other, |c| c["carrier_call_id"] == uuid.as_str()).await;
    json_of(fleet.delete(&format!("/api/communications/calls/{other}"))).await;
    let hangups = vonage
        .wait_for("PUT", &format!("/v1/calls/{uuid}"), 1)
        .await;
    assert_eq!(hangups[0].body, json!({ "action": "hangup" }));
    support::assert_events_match_their_schemas(&fleet.pool).await;
    fleet.stop().await;
}
