//! Vonage's advanced machine detection on a campaign call: asked for asynchronously with the
//! beep; a machine's verdict (then its beep) hangs the call up as voicemail, never routed.

use serde_json::{Value, json};

use super::fake_vonage::{self, FakeVonage, SIGNATURE_SECRET};
use super::support::{Fleet, ORG, available_agent, json_of, until};
use super::{PATIENCE, call, call_until, campaign_calling, only_contact};

async fn vonage_dialing_fleet(vonage: &FakeVonage) -> Fleet {
    let mut env = vonage.env();
    env.push(("DIALER_TICK_MS", "100".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Fleet::start_with("60000", &pairs).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_vonage_hears_on_a_campaign_call_is_voicemail_and_hung_up() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_dialing_fleet(&vonage).await;
    let http = fleet.http.clone();
    let edge = fleet.fleet.edge.to_string();
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
    let event = |body: Value| {
        let (http, edge, url) = (http.clone(), edge.clone(), event_url.clone());
        let vonage = vonage.clone();
        async move {
            let sent = vonage
                .send(&http, &edge, &url, &body, SIGNATURE_SECRET, None)
                .await;
            assert_eq!(sent.status(), reqwest::StatusCode::NO_CONTENT, "{body}");
        }
    };
    event(json!({ "uuid": uuid, "status": "answered" })).await;
    event(json!({ "uuid": uuid, "status": "machine" })).await;
    event(json!({ "uuid": uuid, "status": "machine", "sub_state": "beep_start" })).await;

    let hangups = vonage
        .wait_for("PUT", &format!("/v1/calls/{uuid}"), 1)
        .await;
    assert_eq!(hangups[0].body, json!({ "action": "hangup" }));
    event(json!({ "uuid": uuid, "status": "completed", "duration": "6" })).await;
    let contact = until(
        PATIENCE,
        || only_contact(&fleet, &campaign),
        |c| c["last_outcome"] != Value::Null,
    )
    .await;
    assert_eq!(contact["last_outcome"], "voicemail", "{contact}");
    let machine = call(&fleet, &call_id).await;
    assert_eq!(
        (
            machine["answered_by"].as_str(),
            machine["agent_id"].as_str()
        ),
        (Some("machine_start"), None)
    );
    let agent = json_of(fleet.get(&format!("/api/communications/agents/{ada}"))).await;
    assert_eq!(
        agent["status"], "available",
        "never reserved for the machine"
    );
    fleet.stop().await;
}
