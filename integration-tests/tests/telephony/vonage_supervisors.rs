//! A supervisor on a Vonage call joins its named conversation on a leg of their own (their app
//! user): heard by nobody to listen, by the agent's leg alone to whisper, by everyone to barge;
//! a change of mode moves their leg, leaving hangs it up, and their softphone hanging up takes
//! them off the call. Whispering waits for the agent to answer their own leg, which is recorded.

use comms_events::Event as _;
use comms_events::call::{AgentLegAnswered, MonitoringChanged};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_vonage::{FakeVonage, Received};
use super::monitor;
use super::support::{available_agent_as, json_of};
use super::vonage_bridge::{answered_call, fleet, sdk_accepts, send};

/// The one `PUT` the fake Vonage received for leg `uuid` beyond the first `seen`.
async fn next_put(vonage: &FakeVonage, uuid: &str, seen: usize) -> Received {
    vonage
        .wait_for("PUT", &format!("/v1/calls/{uuid}"), seen + 1)
        .await
        .remove(seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_listens_whispers_barges_and_leaves_a_vonage_call_on_a_leg_of_their_own() {
    let vonage = FakeVonage::start().await;
    let fleet = fleet(&vonage, &[]).await;
    let (lead_id, lead) = fleet.user_with_id("supervisor").await;
    let team = json_of(
        fleet
            .post("/api/communications/teams")
            .json(&json!({ "name": "Floor", "supervisor_id": lead_id })),
    )
    .await;
    let ada = available_agent_as(
        &fleet,
        json!({ "name": "Ada", "email": "ada@acme.test", "languages": ["en"], "team_id": team["id"] }),
    )
    .await;
    let (id, _, base) = answered_call(&vonage, &fleet, "+14155550181", &ada).await;
    let conversation = format!("comms-{id}");
    let agent_uuid = vonage.legs("app", 1).await.remove(0).body["__uuid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Before Ada answers her leg there is nobody to whisper to: refused, nothing recorded.
    let refused = monitor(&fleet, &lead, &id, "whisper").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("whisper"),
        "{body}"
    );
    assert_eq!(vonage.legs("app", 1).await.len(), 1, "no leg for the lead");

    // Her leg answers: recorded once, whatever Vonage repeats.
    let answered = json!({ "uuid": agent_uuid, "status": "answered" });
    for _ in 0..2 {
        let status = send(&vonage, &fleet, &format!("{base}/agent/event"), &answered).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let leg = fleet.next_data(AgentLegAnswered::TYPE).await;
    assert_eq!(leg["carrier_call_id"], agent_uuid.as_str());
    assert_eq!(leg["agent_id"], ada.as_str());

    // Listening: a leg to the lead's app user, in the conversation, heard by nobody and not
    // ending it; its events at a URL of its own.
    let listening = monitor(&fleet, &lead, &id, "listen").await;
    assert_eq!(listening.status(), StatusCode::OK);
    let shown: Value = listening.json().await.unwrap();
    assert_eq!(
        shown["monitors"],
        json!([{ "supervisor_id": lead_id, "mode": "listen" }])
    );
    let lead_leg = vonage.legs("app", 2).await.remove(1);
    assert_eq!(
        lead_leg.body["to"],
        json!([{ "type": "app", "user": lead_id }])
    );
    let listens = json!([{ "action": "conversation", "name": conversation, "canSpeak": [] }]);
    assert_eq!(lead_leg.body["ncco"], listens);
    assert_eq!(sdk_accepts(&lead_leg.body["ncco"]).await, "valid");
    assert_eq!(
        lead_leg.body["event_url"],
        json!([format!("{base}/supervisor/event")])
    );
    let lead_uuid = lead_leg.body["__uuid"].as_str().unwrap().to_owned();
    let changed = fleet.next_data(MonitoringChanged::TYPE).await;
    assert_eq!(
        (
            &changed["mode"],
            &changed["audio"],
            &changed["carrier_call_id"]
        ),
        (&json!("listen"), &json!(true), &json!(lead_uuid))
    );

    // Whispering and barging move the lead's leg into the conversation again, heard by Ada's
    // leg alone, then by everyone; no new leg.
    let heard_by = [
        ("whisper", json!({ "canSpeak": [agent_uuid] })),
        ("barge", json!({})),
    ];
    for (seen, (mode, speaks)) in heard_by.into_iter().enumerate() {
        assert_eq!(
            monitor(&fleet, &lead, &id, mode).await.status(),
            StatusCode::OK
        );
        let mut action = json!({ "action": "conversation", "name": conversation });
        action
            .as_object_mut()
            .unwrap()
            .extend(speaks.as_object().unwrap().clone());
        let put = next_put(&vonage, &lead_uuid, seen).await;
        assert_eq!(
            put.body,
            json!({ "action": "transfer", "destination": { "type": "ncco", "ncco": [action] } })
        );
        assert_eq!(sdk_accepts(&put.body["destination"]["ncco"]).await, "valid");
        let changed = fleet.next_data(MonitoringChanged::TYPE).await;
        assert_eq!(changed["mode"], mode);
        assert_eq!(changed["carrier_call_id"], lead_uuid.as_str());
    }
    assert_eq!(vonage.legs("app", 2).await.len(), 2);

    // Leaving hangs the lead's leg up.
    assert_eq!(
        monitor(&fleet, &lead, &id, "stopped").await.status(),
        StatusCode::OK
    );
    let put = next_put(&vonage, &lead_uuid, 2).await;
    assert_eq!(put.body, json!({ "action": "hangup" }));
    let left = fleet.next_data(MonitoringChanged::TYPE).await;
    assert_eq!(left["mode"], "stopped");
    assert!(left.get("carrier_call_id").is_none(), "{left}");

    // Listening again takes a new leg; the lead hanging their softphone up takes them off the
    // call (a forged event does not), and nothing is asked of Vonage for it.
    assert_eq!(
        monitor(&fleet, &lead, &id, "listen").await.status(),
        StatusCode::OK
    );
    let again = vonage.legs("app", 3).await.remove(2);
    let again_uuid = again.body["__uuid"].as_str().unwrap().to_owned();
    fleet.next_data(MonitoringChanged::TYPE).await;
    let events = format!("{base}/supervisor/event");
    let completed = json!({ "uuid": again_uuid, "status": "completed", "duration": "12" });
    let edge = fleet.fleet.edge.to_string();
    let forged = vonage
        .send(
            &fleet.http,
            &edge,
            &events,
            &completed,
            "not-the-secret-0123456789",
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let still = json_of(fleet.get(&format!("/api/communications/calls/{id}"))).await;
    assert_eq!(still["monitors"][0]["mode"], "listen");
    assert_eq!(
        send(&vonage, &fleet, &events, &completed).await,
        StatusCode::NO_CONTENT
    );
    let hung_up = fleet.next_data(MonitoringChanged::TYPE).await;
    assert_eq!(
        (&hung_up["supervisor_id"], &hung_up["mode"]),
        (&json!(lead_id), &json!("stopped"))
    );
    let shown = json_of(fleet.get(&format!("/api/communications/calls/{id}"))).await;
    assert_eq!(shown["monitors"], json!([]));
    let again_puts = vonage
        .received()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path == format!("/v1/calls/{again_uuid}"))
        .count();
    assert_eq!(again_puts, 0);
    // The caller's line was never touched by any of it.
    assert_eq!(
        json_of(fleet.get(&format!("/api/communications/calls/{id}"))).await["status"],
        "answered"
    );
    fleet.stop().await;
}
