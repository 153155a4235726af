//! Two carriers: a dial Twilio cannot take (503) is placed with Vonage, which carries the call
//! from then on, and so is a text; and each carrier's dials are paced to its calls per second.

use serde_json::json;

use super::fake_twilio::FakeTwilio;
use super::fake_vonage::FakeVonage;
use super::support::{Fleet, json_of};
use super::{call_until, place};

/// Twilio first, Vonage when Twilio cannot take a call.
async fn twilio_then_vonage(twilio: &FakeTwilio, vonage: &FakeVonage) -> Fleet {
    let mut env: Vec<(&'static str, String)> = vonage
        .env()
        .into_iter()
        .filter(|(key, _)| *key != "TELEPHONY_PROVIDER" && *key != "PUBLIC_BASE_URL")
        .collect();
    env.extend(twilio.env());
    env.push(("TELEPHONY_FAILOVER_PROVIDER", "vonage".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Fleet::start_with("60000", &pairs).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_twilio_cannot_take_is_placed_with_vonage_and_says_so() {
    let (twilio, vonage) = (FakeTwilio::start().await, FakeVonage::start().await);
    let fleet = twilio_then_vonage(&twilio, &vonage).await;

    // Twilio up: Twilio carries the call, Vonage hears nothing.
    let first = place(&fleet, "+14155550101").await;
    let (sid, _) = twilio.placed("+14155550101").await;
    call_until(&fleet, &first, |c| c["carrier_call_id"] == sid.as_str()).await;
    assert_eq!(vonage.received().len(), 0);

    // Twilio down: the next call is Vonage's, and its `comms.call.placed` names Twilio.
    twilio.go_down();
    let second = place(&fleet, "+14155550102").await;
    let (uuid, _) = vonage.placed("14155550102").await;
    let carried = call_until(&fleet, &second, |c| c["carrier_call_id"] == uuid.as_str()).await;
    assert_eq!(carried["carrier"], "vonage");
    assert_ne!(carried["status"], "failed", "{carried}");
    let placed = fleet
        .next_types(<comms_events::call::Placed as comms_events::Event>::TYPE, 2)
        .await;
    let data: Vec<_> = placed.iter().map(|(_, e)| &e["data"]).collect();
    assert_eq!(
        (data[0]["carrier"].as_str(), data[0].get("failed_over_from")),
        (Some("twilio"), None)
    );
    assert_eq!(
        (
            data[1]["carrier"].as_str(),
            data[1]["failed_over_from"].as_str()
        ),
        (Some("vonage"), Some("twilio"))
    );

    // Hanging it up goes to the carrier that carries it.
    let ended = fleet
        .delete(&format!("/api/communications/calls/{second}"))
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success());
    let hangups = vonage
        .wait_for("PUT", &format!("/v1/calls/{uuid}"), 1)
        .await;
    assert_eq!(hangups[0].body, json!({ "action": "hangup" }));
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
        metrics.contains(r#"comms_telephony_failovers_total{from="twilio",to="vonage"} 1"#),
        "{metrics}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dials_leave_no_faster_than_the_carriers_calls_per_second() {
    let twilio = FakeTwilio::start().await;
    let fleet = super::fleet_on(&twilio, &[("TWILIO_CALLS_PER_SECOND", "2")]).await;
    let numbers = ["+14155550121", "+14155550122", "+14155550123"];
    for number in numbers {
        json_of(
            fleet
                .post("/api/communications/calls")
                .json(&json!({ "to": number })),
        )
        .await;
    }
    let dials = twilio.wait_for("/Calls.json", numbers.len()).await;
    // A lower bound only (slots 500 ms apart, less what a request's delivery may vary): a slow
    // machine spaces them further, never closer.
    for pair in dials.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= std::time::Duration::from_millis(400),
            "dials {gap:?} apart at 2 per second"
        );
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_twilio_cannot_take_is_sent_through_vonage_and_says_so() {
    let (twilio, vonage) = (FakeTwilio::start().await, FakeVonage::start().await);
    let fleet = twilio_then_vonage(&twilio, &vonage).await;
    let ours = "+14155550130";
    json_of(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": ours })),
    )
    .await;
    twilio.go_down();
    let sent = json_of(fleet.post("/api/communications/messages").json(&json!({
        "to": "+14155550131", "from": ours, "text": "Your order has shipped."
    })))
    .await;
    assert_eq!(sent["carrier"], "vonage", "{sent}");
    assert_eq!(
        twilio.wait_for("/Messages.json", 1).await.len(),
        1,
        "tried first"
    );
    let request = &vonage.wait_for("POST", "/sms/json", 1).await[0];
    assert_eq!(request.body["to"], "14155550131");
    let data: serde_json::Value =
        sqlx::query_scalar("SELECT data FROM events WHERE event_type = $1")
            .bind(<comms_events::sms::Sent as comms_events::Event>::TYPE)
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(
        (data["carrier"].as_str(), data["failed_over_from"].as_str()),
        (Some("vonage"), Some("twilio"))
    );
}
