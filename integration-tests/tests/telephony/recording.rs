//! Recording with Twilio. `ENABLE_RECORDING` (policy `always`): the dial asks for it, Twilio's
//! signed recording callbacks say it began and finished, and the edge streams the audio from
//! Twilio to whoever may hear it. Policy `on_demand`: someone on the call starts, pauses,
//! resumes and stops it, each at Twilio before it is an event; a Twilio that fails changes
//! nothing. Deleting a recording deletes it at Twilio; a late callback does not bring it back.
//! Vonage: a call recorded `always` is recorded by the NCCO that bridges its agent, and streamed
//! from Vonage's files API; what Vonage cannot do (start, pause, delete) is refused, saying so.

use reqwest::StatusCode;
use serde_json::Value;

use serde_json::json;

use super::fake_twilio::{self, FakeTwilio, Received};
use super::support::{Fleet, ORG, json_of, problem};
use super::{call, call_until, callback_url, fleet_on, place, status};

/// A few bytes standing for the WAV Twilio keeps.
const AUDIO: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00";

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_call_is_streamed_from_twilio_to_those_who_may_hear_it() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[("ENABLE_RECORDING", "true")]).await;
    let edge = fleet.fleet.edge.to_string();
    let id = place(&fleet, "+14155550133").await;
    let (sid, placed) = twilio.placed("+14155550133").await;
    assert_eq!(placed.one("Record"), "true");
    assert_eq!(placed.one("RecordingChannels"), "dual");
    assert_eq!(
        placed.one("RecordingStatusCallback"),
        callback_url(&id, "recording")
    );
    assert_eq!(
        placed.all("RecordingStatusCallbackEvent"),
        ["in-progress", "completed", "absent"]
    );
    call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    let recording_url = format!("/api/communications/calls/{id}/recording");
    let (status_code, body) = problem(fleet.get(&recording_url)).await;
    assert_eq!(
        status_code,
        StatusCode::NOT_FOUND,
        "no recording yet: {body}"
    );

    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "in-progress").await,
        StatusCode::NO_CONTENT
    );
    twilio.set_status(&sid, "in-progress");
    // Twilio says the recording began: the call shows it, repeated or not.
    for _ in 0..2 {
        assert_eq!(
            recording_callback(&twilio, &fleet, &id, &sid, "in-progress").await,
            StatusCode::NO_CONTENT
        );
    }
    let recording = call_until(&fleet, &id, |c| c["recording_state"] == "recording").await;
    assert_eq!(recording["recording_policy"], "always");
    // Started already: starting it changes nothing and asks nothing of Twilio. A card number
    // read aloud pauses it.
    let started = json_of(control(&fleet, &id, "start")).await;
    assert_eq!(started["recording_state"], "recording");
    assert!(recording_requests(&twilio, &sid).is_empty());
    assert_eq!(
        json_of(control(&fleet, &id, "pause")).await["recording_state"],
        "paused"
    );
    assert_eq!(twilio.recording_status(&sid).as_deref(), Some("paused"));
    assert_eq!(
        json_of(control(&fleet, &id, "resume")).await["recording_state"],
        "recording"
    );
    assert_eq!(
        twilio.recording_status(&sid).as_deref(),
        Some("in-progress")
    );

    let recording_sid = twilio.finish_recording(&sid, AUDIO);
    let media = format!(
        "{}/2010-04-01/Accounts/{}/Recordings/{recording_sid}",
        twilio.url,
        fake_twilio::ACCOUNT_SID
    );
    let callback = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("CallSid", sid.as_str()),
        ("RecordingSid", recording_sid.as_str()),
        ("RecordingUrl", media.as_str()),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "42"),
        ("RecordingChannels", "2"),
        ("RecordingSource", "OutboundAPI"),
    ];
    let url = callback_url(&id, "recording");
    for _ in 0..2 {
        // Twilio may send it twice: one recording, one event.
        assert_eq!(
            twilio.send(&edge, &url, &callback).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(<comms_events::call::RecordingAvailable as comms_events::Event>::TYPE)
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 1);
    let forged = twilio.send_signed(&edge, &url, &callback, "Zm9yZ2Vk").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The administrator hears it, through the edge: the bytes are Twilio's, Twilio's URL is not
    // in the answer.
    let heard = fleet.get(&recording_url).send().await.unwrap();
    assert_eq!(heard.status(), StatusCode::OK);
    assert_eq!(heard.headers()["content-type"], "audio/x-wav");
    assert_eq!(heard.bytes().await.unwrap().as_ref(), AUDIO);

    // An agent not on the call is refused; another organization does not see the call.
    let agent = fleet.user(ORG, comms_auth::Role::Agent).await;
    let refused = fleet
        .request(reqwest::Method::GET, &recording_url, &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let beta = fleet.user("org_beta", comms_auth::Role::Admin).await;
    let unknown = fleet
        .request(reqwest::Method::GET, &recording_url, &beta)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let call: Value = json_of(fleet.get(&format!("/api/communications/calls/{id}"))).await;
    assert!(!call.to_string().contains(&twilio.url), "{call}");
    fleet.stop().await;
}

/// The call's recording control, as its administrator.
fn control(fleet: &Fleet, id: &str, action: &str) -> reqwest::RequestBuilder {
    fleet
        .post(&format!("/api/communications/calls/{id}/recording"))
        .json(&json!({ "action": action }))
}

/// Twilio's signed recording callback about the call's current recording.
async fn recording_callback(
    twilio: &FakeTwilio,
    fleet: &Fleet,
    id: &str,
    call_sid: &str,
    status: &str,
) -> StatusCode {
    let callback = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("CallSid", call_sid),
        ("RecordingSid", "RE0000000000000000000000000000ffff"),
        ("RecordingStatus", status),
        ("RecordingChannels", "2"),
        ("RecordingSource", "StartCallRecordingAPI"),
    ];
    let edge = fleet.fleet.edge.to_string();
    twilio
        .send(&edge, &callback_url(id, "recording"), &callback)
        .await
        .status()
}

/// What the fleet asked of Twilio about the call's recordings, in order.
fn recording_requests(twilio: &FakeTwilio, call_sid: &str) -> Vec<Received> {
    twilio
        .received()
        .into_iter()
        .filter(|r| r.path.contains(&format!("/Calls/{call_sid}/Recordings")))
        .collect()
}

async fn events_of_type(fleet: &Fleet, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&fleet.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_on_demand_is_controlled_at_twilio_first_and_deleted_there_too() {
    let twilio = FakeTwilio::start().await;
    // Without ENABLE_RECORDING the policy is on_demand: nothing is recorded until asked.
    let fleet = fleet_on(&twilio, &[]).await;
    let id = place(&fleet, "+14155550134").await;
    let (sid, placed) = twilio.placed("+14155550134").await;
    assert!(placed.all("Record").is_empty(), "{:?}", placed.form);
    call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    // Not before the answer.
    let (code, body) = problem(control(&fleet, &id, "start")).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("not answered"),
        "{body}"
    );
    assert_eq!(
        status(&twilio, &fleet, &placed, &sid, "in-progress").await,
        StatusCode::NO_CONTENT
    );
    twilio.set_status(&sid, "in-progress");
    call_until(&fleet, &id, |c| c["status"] == "answered").await;

    // Bad input names its field.
    let (code, body) = problem(control(&fleet, &id, "rewind")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("action"), "{body}");

    let started = json_of(control(&fleet, &id, "start")).await;
    assert_eq!(started["recording_policy"], "on_demand");
    assert_eq!(started["recording_state"], "recording");
    let asked = recording_requests(&twilio, &sid);
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].path.ends_with("/Recordings.json"),
        "{}",
        asked[0].path
    );
    assert_eq!(asked[0].one("RecordingChannels"), "dual");
    assert_eq!(
        asked[0].one("RecordingStatusCallback"),
        callback_url(&id, "recording")
    );
    assert_eq!(
        asked[0].all("RecordingStatusCallbackEvent"),
        ["in-progress", "completed", "absent"]
    );

    // Twilio fails the pause: the answer says so and the recording is still going, at Twilio
    // and on the call; nothing was recorded as paused.
    twilio.fail_next_updates(&[503, 503]);
    let (code, body) = problem(control(&fleet, &id, "pause")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(call(&fleet, &id).await["recording_state"], "recording");
    let changed = <comms_events::call::RecordingChanged as comms_events::Event>::TYPE;
    assert_eq!(events_of_type(&fleet, changed).await, 1);
    twilio.fail_next_updates(&[]);

    let paused = json_of(control(&fleet, &id, "pause")).await;
    assert_eq!(paused["recording_state"], "paused");
    let last = recording_requests(&twilio, &sid).pop().unwrap();
    assert!(
        last.path.ends_with("/Recordings/Twilio.CURRENT.json"),
        "{}",
        last.path
    );
    assert_eq!(last.one("Status"), "paused");
    // Asked again: nothing more is asked of Twilio.
    let before = recording_requests(&twilio, &sid).len();
    assert_eq!(
        json_of(control(&fleet, &id, "pause")).await["recording_state"],
        "paused"
    );
    assert_eq!(recording_requests(&twilio, &sid).len(), before);
    // Twilio's late word that the recording began does not undo the pause.
    assert_eq!(
        recording_callback(&twilio, &fleet, &id, &sid, "in-progress").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&fleet, &id).await["recording_state"], "paused");

    // An agent not on the call may not touch it.
    let agent = fleet.user(ORG, comms_auth::Role::Agent).await;
    let refused = fleet
        .request(
            reqwest::Method::POST,
            &format!("/api/communications/calls/{id}/recording"),
            &agent,
        )
        .json(&json!({ "action": "resume" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        json_of(control(&fleet, &id, "stop")).await["recording_state"],
        "stopped"
    );
    assert_eq!(twilio.recording_status(&sid).as_deref(), Some("stopped"));
    let (code, body) = problem(control(&fleet, &id, "start")).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");

    // Twilio finished it; a supervisor may hear it but not delete it; the administrator does,
    // at Twilio too.
    let recording_sid = twilio.finish_recording(&sid, AUDIO);
    let completed = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("CallSid", sid.as_str()),
        ("RecordingSid", recording_sid.as_str()),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "17"),
    ];
    let edge = fleet.fleet.edge.to_string();
    let url = callback_url(&id, "recording");
    assert_eq!(
        twilio.send(&edge, &url, &completed).await.status(),
        StatusCode::NO_CONTENT
    );
    call_until(&fleet, &id, |c| c["has_recording"] == true).await;
    let recording_url = format!("/api/communications/calls/{id}/recording");
    let supervisor = fleet.user(ORG, comms_auth::Role::Supervisor).await;
    let refused = fleet
        .request(reqwest::Method::DELETE, &recording_url, &supervisor)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(twilio.keeps(&recording_sid));
    let deleted = fleet.delete(&recording_url).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(!twilio.keeps(&recording_sid), "deleted at Twilio");
    let (code, _) = problem(fleet.get(&recording_url)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = problem(fleet.delete(&recording_url)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // Twilio repeats its callback: the recording stays deleted.
    assert_eq!(
        twilio.send(&edge, &url, &completed).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(&fleet, &id).await["has_recording"], false);
    let deleted = <comms_events::call::RecordingDeleted as comms_events::Event>::TYPE;
    assert_eq!(events_of_type(&fleet, deleted).await, 1);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_placed_with_policy_never_is_not_recorded() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[("ENABLE_RECORDING", "true")]).await;
    let (code, body) = problem(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": "+14155550135", "recording": "sometimes" })),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("recording"), "{body}");
    let created = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": "+14155550135", "recording": "never" })),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["recording_policy"], "never");
    let (sid, placed) = twilio.placed("+14155550135").await;
    assert!(placed.all("Record").is_empty(), "{:?}", placed.form);
    status(&twilio, &fleet, &placed, &sid, "in-progress").await;
    twilio.set_status(&sid, "in-progress");
    call_until(&fleet, &id, |c| c["status"] == "answered").await;
    let (code, body) = problem(control(&fleet, &id, "start")).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("never"), "{body}");
    assert!(recording_requests(&twilio, &sid).is_empty());
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vonage_call_recorded_always_is_recorded_from_its_agents_bridge() {
    use super::fake_vonage::{FakeVonage, SIGNATURE_SECRET};
    let vonage = FakeVonage::start().await;
    let mut env = vonage.env();
    env.push(("ENABLE_RECORDING", "true".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let fleet = Fleet::start_with("60000", &pairs).await;
    let edge = fleet.fleet.edge.to_string();
    let ada = super::support::available_agent(&fleet, "Ada").await;
    let created = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": "+14155550134", "agent_id": ada })),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (uuid, placed) = vonage.placed("14155550134").await;
    call_until(&fleet, &id, |c| c["carrier_call_id"] == uuid.as_str()).await;
    let send = |url: String, body: Value| {
        let (vonage, http, edge) = (vonage.clone(), fleet.http.clone(), edge.clone());
        async move {
            vonage
                .send(&http, &edge, &url, &body, SIGNATURE_SECRET, None)
                .await
        }
    };
    let answer_url = placed.body["answer_url"][0].as_str().unwrap().to_owned();
    let event_url = placed.body["event_url"][0].as_str().unwrap().to_owned();
    let answered = send(event_url, json!({ "uuid": uuid, "status": "answered" })).await;
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);

    // Recorded from the bridge to Ada (the call's conversation, which her leg joins), each
    // party in their own channel, as the Vonage SDK's own models accept it.
    let answer = send(answer_url.clone(), json!({ "uuid": uuid })).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let ncco: Value = answer.json().await.unwrap();
    let text = ncco.to_string();
    let checked =
        tokio::task::spawn_blocking(move || super::support::python("ncco_check.py", &[&text]))
            .await
            .unwrap();
    assert_eq!(checked, "valid", "{ncco}");
    let recording_to = format!(
        "{}/webhooks/vonage/{ORG}/calls/{id}/recording",
        fake_vonage_base()
    );
    assert_eq!(
        ncco,
        json!([
            { "action": "record", "split": "conversation", "channels": 2, "format": "mp3",
              "eventUrl": [recording_to], "eventMethod": "POST" },
            { "action": "conversation", "name": format!("comms-{id}"), "endOnExit": true },
        ])
    );

    // Vonage's record event: the call's recording, streamed from Vonage's files API.
    let recording = uuid::Uuid::new_v4().to_string();
    vonage.keep_recording(&recording, b"ID3 Ada and the caller");
    let recorded = send(recording_to, json!({
        "start_time": "2026-12-06T10:00:00Z", "end_time": "2026-12-06T10:03:20Z",
        "recording_uuid": recording, "recording_url": format!("{}/v1/files/{recording}", vonage.url),
        "size": 22, "conversation_uuid": "CON-r", "timestamp": "2026-12-06T10:03:21Z",
    }))
    .await;
    assert_eq!(recorded.status(), StatusCode::NO_CONTENT);
    let shown = call_until(&fleet, &id, |c| c["has_recording"] == true).await;
    assert_eq!(shown["recording_policy"], "always");
    let recording_url = format!("/api/communications/calls/{id}/recording");
    let heard = fleet.get(&recording_url).send().await.unwrap();
    assert_eq!(heard.status(), StatusCode::OK);
    assert_eq!(heard.headers()["content-type"], "audio/mpeg");
    assert_eq!(&heard.bytes().await.unwrap()[..], b"ID3 Ada and the caller");
    // A later answer (Vonage asking again) does not record the call a second time.
    let again: Value = send(answer_url, json!({ "uuid": uuid }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again[0]["action"], "conversation", "{again}");

    // Vonage has no request that deletes a recording: refused, and the recording stays.
    let (code, body) = problem(fleet.delete(&recording_url)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_eq!(call(&fleet, &id).await["has_recording"], true);

    // Nor one that starts a recording of a call in progress: 409 saying so, nothing recorded.
    let on_demand = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": "+14155550135", "agent_id": ada, "recording": "on_demand" })),
    )
    .await;
    let other = on_demand["id"].as_str().unwrap().to_owned();
    let (uuid, placed) = vonage.placed("14155550135").await;
    call_until(&fleet, &other, |c| c["carrier_call_id"] == uuid.as_str()).await;
    let event_url = placed.body["event_url"][0].as_str().unwrap().to_owned();
    let answered = send(event_url, json!({ "uuid": uuid, "status": "answered" })).await;
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);
    let events = fleet.event_count().await;
    let (code, body) = problem(control(&fleet, &other, "start")).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("Vonage cannot start"), "{body}");
    assert_eq!(fleet.event_count().await, events);
    fleet.stop().await;
}

fn fake_vonage_base() -> &'static str {
    super::fake_vonage::PUBLIC_BASE_URL
}
