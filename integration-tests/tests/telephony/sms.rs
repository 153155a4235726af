//! Texts through both fake carriers: sent with the documented fields, moved along by signed
//! delivery reports (repeats and late reports change nothing), replies threaded into the same
//! conversation, STOP in English and in Spanish putting the number on the `opted-out` list a
//! campaign then skips it by (and START lifting it), forged webhooks refused with nothing kept.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_twilio::{self, FakeTwilio, PUBLIC_BASE_URL};
use super::fake_vonage::{self, FakeVonage};
use super::support::{Fleet, ORG, create_campaign, import, json_of, problem, until};
use super::{PATIENCE, fleet_on, vonage_fleet};

const CUSTOMER: &str = "+34600000001";

async fn conversation(fleet: &Fleet, id: &str) -> Value {
    json_of(fleet.get(&format!("/api/communications/conversations/{id}"))).await
}

async fn messages(fleet: &Fleet, conversation: &str) -> Vec<Value> {
    let page = json_of(fleet.get(&format!(
        "/api/communications/conversations/{conversation}/messages"
    )))
    .await;
    page["data"].as_array().unwrap().clone()
}

/// Whether the organization's `opted-out` do-not-call list holds `number`, once the campaigns
/// service has followed the consent events to `holds`.
async fn opted_out_list_holds(fleet: &Fleet, number: &str, holds: bool) {
    until(
        PATIENCE,
        || async { json_of(fleet.get("/api/communications/do-not-call/opted-out")).await },
        |list| {
            let listed = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["phone"] == number);
            listed == holds
        },
    )
    .await;
}

/// The do-not-call status and reason a campaign shows for its one contact.
async fn campaign_verdict(fleet: &Fleet, campaign: &str) -> (String, String) {
    let page = json_of(fleet.get(&format!(
        "/api/communications/campaigns/{campaign}/contacts"
    )))
    .await;
    let contact = &page["data"][0];
    (
        contact["status"].as_str().unwrap().to_owned(),
        contact["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn texts_through_twilio_are_delivered_replied_to_and_opted_out_of_in_spanish() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
    let ours = "+14155550122";
    let number = json_of(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": ours, "language": "es" })),
    )
    .await;
    let inbound_url = format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/inbound/sms");
    assert_eq!(number["webhooks"]["twilio_sms_url"], inbound_url);

    // Bad input is refused field by field, and nothing is sent.
    let (status, body) = problem(
        fleet
            .post("/api/communications/messages")
            .json(&json!({ "to": "0600", "text": "", "from": "+14155550999" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(super::support::fields(&body), ["to", "text"], "{body}");
    let (status, body) = problem(
        fleet
            .post("/api/communications/messages")
            .json(&json!({ "to": CUSTOMER, "text": "hi", "from": "+14155550999" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(super::support::fields(&body), ["from"], "{body}");
    assert!(twilio.received().is_empty(), "{:?}", twilio.received());

    // Sent from the organization's number, in UCS-2 (á is not GSM-7): the fields Twilio
    // documents, and its own status callback.
    let text = "Hola, su cita es mañana a las 10:00. ¿Confirma? Responda sí o no, por favor.";
    let sent = json_of(fleet.post("/api/communications/messages").json(&json!({
        "to": CUSTOMER, "from": ours, "text": text
    })))
    .await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["encoding"], "ucs2");
    assert_eq!(sent["segments"], 2, "{} characters", text.chars().count());
    assert_eq!(sent["carrier"], "twilio");
    let id = sent["id"].as_str().unwrap();
    let request = &twilio.wait_for("/Messages.json", 1).await[0];
    assert_eq!(request.one("To"), CUSTOMER);
    assert_eq!(request.one("From"), ours);
    assert_eq!(request.one("Body"), text);
    let status_url = format!("{PUBLIC_BASE_URL}/webhooks/twilio/{ORG}/messages/{id}/status");
    assert_eq!(request.one("StatusCallback"), status_url);
    let sid = request.sid.clone().unwrap();
    assert_eq!(sent["carrier_message_id"], sid.as_str());

    // Delivery reports, signed by twilio-python: `sent` changes nothing, `delivered` does, a
    // repeat and a late `undelivered` change nothing; a forged one is refused.
    let report = |status: &'static str| {
        vec![
            ("AccountSid", fake_twilio::ACCOUNT_SID),
            ("ApiVersion", "2010-04-01"),
            ("From", ours),
            ("MessageSid", sid.as_str()),
            ("MessageStatus", status),
            ("SmsSid", sid.as_str()),
            ("SmsStatus", status),
            ("To", CUSTOMER),
        ]
    };
    for status in ["sent", "delivered", "delivered", "undelivered"] {
        let answered = twilio.send(&edge, &status_url, &report(status)).await;
        assert_eq!(answered.status(), StatusCode::NO_CONTENT, "{status}");
    }
    let forged = twilio
        .send_as(
            "0000000000000000000000000000000f",
            &edge,
            &status_url,
            &report("failed"),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let shown = json_of(fleet.get(&format!("/api/communications/messages/{id}"))).await;
    assert_eq!(shown["status"], "delivered", "{shown}");
    assert!(shown["failure_reason"].is_null());

    // The customer replies: the reply joins the same conversation. A repeat of the webhook is
    // the same message; a forged one is refused and kept nowhere.
    let reply = |message_sid: &'static str, body: &'static str| {
        vec![
            ("AccountSid", fake_twilio::ACCOUNT_SID),
            ("ApiVersion", "2010-04-01"),
            ("Body", body),
            ("From", CUSTOMER),
            ("FromCountry", "ES"),
            ("MessageSid", message_sid),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("SmsMessageSid", message_sid),
            ("SmsStatus", "received"),
            ("To", ours),
        ]
    };
    let first_reply = "SM00000000000000000000000000000a01";
    for _ in 0..2 {
        let answered = twilio
            .send(&edge, &inbound_url, &reply(first_reply, "Sí, confirmo"))
            .await;
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(
            answered.text().await.unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
        );
    }
    let forged = twilio
        .send_signed(
            &edge,
            &inbound_url,
            &reply("SM00000000000000000000000000000a02", "forged"),
            "c2lnbmVkIGJ5IG5vYm9keQ==",
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let conversation_id = sent["conversation_id"].as_str().unwrap();
    let thread = messages(&fleet, conversation_id).await;
    let texts: Vec<&str> = thread.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Sí, confirmo", text], "latest first");
    assert_eq!(thread[0]["direction"], "inbound");
    assert_eq!(thread[0]["status"], "received");
    let listed = json_of(fleet.get("/api/communications/conversations")).await;
    assert_eq!(listed["data"][0]["id"], conversation_id);
    assert_eq!(listed["data"][0]["message_count"], 2);
    assert_eq!(listed["data"][0]["number"], CUSTOMER);

    // A campaign that names no list calls the customer until they text BAJA.
    let campaign = create_campaign(&fleet, json!({ "name": "Recordatorios" })).await;
    let csv = format!("name,phone\nCliente,{CUSTOMER}\n");
    assert_eq!(import(&fleet, &campaign, csv).await["added_to_campaign"], 1);
    assert_ne!(campaign_verdict(&fleet, &campaign).await.0, "do_not_call");
    let opt_out = "SM00000000000000000000000000000a03";
    let answered = twilio
        .send(&edge, &inbound_url, &reply(opt_out, "Baja"))
        .await;
    assert_eq!(answered.status(), StatusCode::OK);
    let shown = conversation(&fleet, conversation_id).await;
    assert_eq!(shown["opted_out"], true, "{shown}");
    assert_eq!(shown["last_message"]["keyword"], "stop");
    let (status, body) = problem(
        fleet
            .post("/api/communications/messages")
            .json(&json!({ "to": CUSTOMER, "text": "¿Sigue ahí?" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("replied STOP"),
        "{body}"
    );
    opted_out_list_holds(&fleet, CUSTOMER, true).await;
    let (status, reason) = campaign_verdict(&fleet, &campaign).await;
    assert_eq!(status, "do_not_call");
    assert_eq!(
        reason,
        format!(
            "do not call: {CUSTOMER} opted out by text (replied STOP): on the do-not-call list \"opted-out\""
        )
    );

    // START lifts it.
    let opt_in = "SM00000000000000000000000000000a04";
    twilio
        .send(&edge, &inbound_url, &reply(opt_in, "START"))
        .await;
    assert_eq!(
        conversation(&fleet, conversation_id).await["opted_out"],
        false
    );
    opted_out_list_holds(&fleet, CUSTOMER, false).await;
    assert_ne!(campaign_verdict(&fleet, &campaign).await.0, "do_not_call");
    let again = json_of(fleet.post("/api/communications/messages").json(&json!({
        "to": CUSTOMER, "text": "Gracias"
    })))
    .await;
    assert_eq!(
        again["from"],
        fake_twilio::PHONE_NUMBER,
        "the account's own number"
    );
    assert_eq!(again["encoding"], "gsm7");
    assert_eq!(again["segments"], 1);
    assert_eq!(messages(&fleet, conversation_id).await.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn texts_through_vonage_are_signed_both_ways_and_stop_opts_out() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_fleet(&vonage).await;
    let edge = fleet.fleet.edge.to_string();
    let ours = "+447700900100";
    let customer = "+447700900555";
    json_of(
        fleet
            .post("/api/communications/numbers")
            .json(&json!({ "number": ours })),
    )
    .await;

    // Without VONAGE_PHONE_NUMBER, a text must name the organization's number to send from.
    let (status, body) = problem(
        fleet
            .post("/api/communications/messages")
            .json(&json!({ "to": customer, "text": "Hello" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("VONAGE_PHONE_NUMBER"),
        "{body}"
    );
    let text = "Your parcel arrives today between 10:00 and 12:00 😀";
    let sent = json_of(fleet.post("/api/communications/messages").json(&json!({
        "to": customer, "from": ours, "text": text
    })))
    .await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["encoding"], "ucs2");
    let id = sent["id"].as_str().unwrap();
    let request = &vonage.wait_for("POST", "/sms/json", 1).await[0];
    assert_eq!(request.body["from"], "447700900100", "no + for Vonage");
    assert_eq!(request.body["to"], "447700900555");
    assert_eq!(request.body["text"], text);
    assert_eq!(request.body["type"], "unicode");
    assert_eq!(request.body["client-ref"], id);
    let status_url = format!("{PUBLIC_BASE_URL}/webhooks/vonage/{ORG}/messages/{id}/status");
    assert_eq!(request.body["callback"], status_url);
    let vonage_id = sent["carrier_message_id"].as_str().unwrap().to_owned();

    // The delivery receipt, signed by Vonage's SDK and sent as a GET (the account's setting);
    // the same receipt altered after signing is refused.
    let receipt = [
        ("msisdn", "447700900555"),
        ("to", "447700900100"),
        ("network-code", "23410"),
        ("messageId", vonage_id.as_str()),
        ("price", "0.03330000"),
        ("status", "delivered"),
        ("scts", "2612061200"),
        ("err-code", "0"),
        ("client-ref", id),
        ("message-timestamp", "2026-12-06 12:00:00"),
    ];
    let mut altered = fake_vonage::sms_signed(fake_vonage::SIGNATURE_SECRET, &receipt).await;
    for (key, value) in &mut altered {
        if key == "status" {
            *value = "failed".into();
        }
    }
    let refused = vonage
        .send_sms_params(&fleet.http, &edge, &status_url, &altered, true)
        .await;
    let status = refused.status();
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}",
        refused.text().await.unwrap()
    );
    let answered = vonage
        .send_sms_webhook(&fleet.http, &edge, &status_url, &receipt, true)
        .await;
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);
    let shown = json_of(fleet.get(&format!("/api/communications/messages/{id}"))).await;
    assert_eq!(shown["status"], "delivered", "{shown}");

    // An inbound STOP, POSTed as a form: the number opts out. A replayed copy signed long ago
    // is refused.
    let inbound_url = format!("{PUBLIC_BASE_URL}/webhooks/vonage/{ORG}/inbound/sms");
    let stop = [
        ("msisdn", "447700900555"),
        ("to", "447700900100"),
        ("messageId", "1A00000000000FF01"),
        ("text", "STOP"),
        ("type", "text"),
        ("keyword", "STOP"),
        ("message-timestamp", "2026-12-06 12:01:00"),
    ];
    let mut stale = stop.to_vec();
    stale.push(("timestamp", "1577880000"));
    let replayed = vonage
        .send_sms_webhook(&fleet.http, &edge, &inbound_url, &stale, false)
        .await;
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
    let conversation_id = sent["conversation_id"].as_str().unwrap();
    assert_eq!(messages(&fleet, conversation_id).await.len(), 1);
    let answered = vonage
        .send_sms_webhook(&fleet.http, &edge, &inbound_url, &stop, false)
        .await;
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        conversation(&fleet, conversation_id).await["opted_out"],
        true
    );
    opted_out_list_holds(&fleet, customer, true).await;

    // A receipt for a message the organization does not have is 404.
    let unknown = uuid::Uuid::now_v7();
    let url = format!("{PUBLIC_BASE_URL}/webhooks/vonage/{ORG}/messages/{unknown}/status");
    let answered = vonage
        .send_sms_webhook(&fleet.http, &edge, &url, &receipt, true)
        .await;
    assert_eq!(answered.status(), StatusCode::NOT_FOUND);
}
