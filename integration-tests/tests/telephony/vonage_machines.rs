//! Vonage's advanced machine detection on a campaign call: asked for asynchronously with the
//! beep; a machine's verdict (then its beep) hangs the call up as voicemail, never routed.

use serde_json::{Value, json};

use super::fake_vonage::{self, FakeVonage, SIGNATURE_SECRET};
use super::support::{Fleet, ORG, available_agent, json_of, until};
use super::{PATIENCE, call, call_until, campaign_calling, campaign_calling_with, only_contact};

async fn vonage_dialing_fleet(vonage: &FakeVonage) -> Fleet {
    let mut env = vonage.env();
    env.push(("DIALER_TICK_MS", "100".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Fleet::start_with("60000", &pairs).await
}

/// Vonage's signed event for the call at `event_url`, which the edge takes (204).
async fn event(vonage: &FakeVonage, fleet: &Fleet, event_url: &str, body: Value) {
    let edge = fleet.fleet.edge.to_string();
    let sent = vonage
        .send(&fleet.http, &edge, event_url, &body, SIGNATURE_SECRET, None)
        .await;
    assert_eq!(sent.status(), reqwest::StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_vonage_hears_on_a_campaign_call_is_voicemail_and_hung_up() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_dialing_fleet(&vonage).await;
    let ada = available_agent(&fleet, "Ada").await;
    let campaign = campaign_calling(&fleet, "Machine", "+14155550144").await;

    let (uuid, placed) = vonage.placed("14155550144").await;
    assert_eq!(
        placed.body["advanced_machine_detection"],
        json!({ "behavior": "continue", "mode": "default", "beep_timeout": 45 })
    );
    let event_url = placed.body["event_url"][0].as_str().unwrap().to_owned();
    let call_id = event_url.rsplit('/').nth(1).unwrap().to_owned();
    assert!(event_url.starts_with(&format!(
        "{}/webhooks/vonage/{ORG}/calls/",
        fake_vonage::PUBLIC_BASE_URL
    )));
    call_until(&fleet, &call_id, |c| c["carrier_call_id"] == uuid.as_str()).await;
    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "answered" }),
    )
    .await;
    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "machine" }),
    )
    .await;
    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "machine", "sub_state": "beep_start" }),
    )
    .await;

    let hangups = vonage
        .wait_for("PUT", &format!("/v1/calls/{uuid}"), 1)
        .await;
    assert_eq!(hangups[0].body, json!({ "action": "hangup" }));
    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "completed", "duration": "6" }),
    )
    .await;
    let contact = until(
        PATIENCE,
        || only_contact(&fleet, &campaign),
        |c| c["last_outcome"] != Value::Null,
    )
    .await;
    assert_eq!(contact["last_outcome"], "voicemail", "{contact}");
    let machine = call(&fleet, &call_id).await;
    // A machine, whether its beep came before the dialer's hang-up ended the call or after.
    assert!(
        machine["answered_by"]
            .as_str()
            .is_some_and(|verdict| verdict.starts_with("machine")),
        "{machine}"
    );
    assert_eq!(machine["agent_id"], Value::Null);
    let agent = json_of(fleet.get(&format!("/api/communications/agents/{ada}"))).await;
    assert_eq!(
        agent["status"], "available",
        "never reserved for the machine"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_waits_for_the_beep_vonage_hears_to_leave_its_message() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_dialing_fleet(&vonage).await;
    available_agent(&fleet, "Ada").await;
    let message = "Hi, it's Acme about your renewal: please call us back.";
    let settings = json!({ "name": "Message", "voicemail_message": message });
    let campaign = campaign_calling_with(&fleet, settings, "+14155550145").await;
    let (uuid, placed) = vonage.placed("14155550145").await;
    let event_url = placed.body["event_url"][0].as_str().unwrap().to_owned();
    let call_id = event_url.rsplit('/').nth(1).unwrap().to_owned();
    call_until(&fleet, &call_id, |c| c["carrier_call_id"] == uuid.as_str()).await;
    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "answered" }),
    )
    .await;
    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "machine" }),
    )
    .await;
    call_until(&fleet, &call_id, |c| c["answered_by"] == "machine_start").await;
    // Still greeting: the line is left alone for ten of the dialer's ticks (a dialer that hung
    // up now would have, in one).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let line = format!("/v1/calls/{uuid}");
    let early: Vec<_> = vonage
        .received()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path == line)
        .collect();
    assert!(early.is_empty(), "nothing before the beep: {early:?}");

    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "machine", "sub_state": "beep_start" }),
    )
    .await;
    // The message, in the campaign's language, in place of the hang-up: the call ends with it.
    let said = vonage.wait_for("PUT", &line, 1).await;
    assert_eq!(
        said[0].body,
        json!({
            "action": "transfer",
            "destination": { "type": "ncco", "ncco": [
                { "action": "talk", "text": message, "language": "en-US" },
            ] },
        })
    );
    event(
        &vonage,
        &fleet,
        &event_url,
        json!({ "uuid": uuid, "status": "completed", "duration": "14" }),
    )
    .await;
    let contact = until(
        PATIENCE,
        || only_contact(&fleet, &campaign),
        |c| c["last_outcome"] != Value::Null,
    )
    .await;
    assert_eq!(contact["last_outcome"], "voicemail", "{contact}");
    assert_eq!(
        call(&fleet, &call_id).await["answered_by"],
        "machine_end_beep"
    );
    assert_eq!(vonage.wait_for("PUT", &line, 1).await.len(), 1, "said once");
    fleet.stop().await;
}
