//! An organization's own Twilio account (`PUT /credentials/twilio`) takes precedence over the
//! fleet's: its calls are placed and hung up on it, its callbacks are verified with its auth
//! token (and still with the fleet's, for calls placed before), its recordings are fetched with
//! it, and its agents' softphone tokens are its own, signed with its API key; another
//! organization keeps the fleet's account, and removing the credentials goes back to it. The
//! same for an organization's own Vonage account and Voice application.

use reqwest::StatusCode;
use serde_json::json;

use super::fake_twilio::{ACCOUNT_SID, FakeTwilio, OWN_ACCOUNT_SID, OWN_AUTH_TOKEN, Received};
use super::fake_vonage::{self, APPLICATION_ID, FakeVonage, SIGNATURE_SECRET};
use super::support::{Fleet, json_of, problem};
use super::{call_until, callback_url, fleet_on, place, vonage_fleet};

const ELSEWHERE: &str = "org_beta";
const OWN_API_KEY_SID: &str = "SKfeedface0123456789abcdef01234567";
const OWN_API_KEY_SECRET: &str = "own-api-key-secret-0123456789abcdef";

/// Stores the organization's own Twilio account, with `api_key` if given.
async fn store_own_account(fleet: &Fleet, api_key: Option<serde_json::Value>) {
    let mut body = json!({ "account_sid": OWN_ACCOUNT_SID, "auth_token": OWN_AUTH_TOKEN });
    if let Some(api_key) = api_key {
        body["api_key"] = api_key;
    }
    let stored = json_of(
        fleet
            .put("/api/communications/credentials/twilio")
            .json(&body),
    )
    .await;
    assert_eq!(stored["provider"], "twilio", "{stored}");
}

fn account_of(request: &Received) -> &str {
    request
        .path
        .strip_prefix("/2010-04-01/Accounts/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organizations_own_twilio_account_carries_its_calls_and_signs_their_callbacks() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
    let before = place(&fleet, "+14155550181").await;
    let (before_sid, placed_before) = twilio.placed("+14155550181").await;
    assert_eq!(account_of(&placed_before), ACCOUNT_SID);

    store_own_account(&fleet, None).await;

    let id = place(&fleet, "+14155550182").await;
    let (sid, placed) = twilio.placed("+14155550182").await;
    assert_eq!(account_of(&placed), OWN_ACCOUNT_SID);
    call_until(&fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;

    // Its callbacks are signed with its own token; the fleet's still signs the call placed on
    // the fleet's account before; another account's token signs nothing here.
    let ringing = FakeTwilio::status_params(&placed, &sid, "ringing", "1");
    let url = callback_url(&id, "status");
    let forged = twilio
        .send_as("0123456789abcdef0123456789abcdef", &edge, &url, &ringing)
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let own = twilio.send_as(OWN_AUTH_TOKEN, &edge, &url, &ringing).await;
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    call_until(&fleet, &id, |c| c["status"] == "ringing").await;
    let earlier = FakeTwilio::status_params(&placed_before, &before_sid, "ringing", "1");
    let fleets = twilio
        .send(&edge, &callback_url(&before, "status"), &earlier)
        .await;
    assert_eq!(fleets.status(), StatusCode::NO_CONTENT);

    // Hung up on its own account.
    let ended = fleet
        .delete(&format!("/api/communications/calls/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let hang_up = twilio.wait_for(&format!("/Calls/{sid}.json"), 1).await;
    assert_eq!(account_of(&hang_up[0]), OWN_ACCOUNT_SID);
    assert_eq!(hang_up[0].one("Status"), "canceled");

    // Its recordings are fetched with it.
    let recording_sid = twilio.record(b"RIFF-own-account");
    let completed = [
        ("AccountSid", OWN_ACCOUNT_SID),
        ("CallSid", sid.as_str()),
        ("RecordingSid", recording_sid.as_str()),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "3"),
    ];
    let recorded = twilio
        .send_as(
            OWN_AUTH_TOKEN,
            &edge,
            &callback_url(&id, "recording"),
            &completed,
        )
        .await;
    assert_eq!(recorded.status(), StatusCode::NO_CONTENT);
    let heard = fleet
        .get(&format!("/api/communications/calls/{id}/recording"))
        .send()
        .await
        .unwrap();
    assert_eq!(heard.status(), StatusCode::OK);
    assert_eq!(heard.bytes().await.unwrap().as_ref(), b"RIFF-own-account");
    let fetched = twilio
        .wait_for(&format!("/Recordings/{recording_sid}.wav"), 1)
        .await;
    assert_eq!(account_of(&fetched[0]), OWN_ACCOUNT_SID);

    // Its agents' softphones register with its account: without its API key there is no
    // token (the fleet's would register them with the fleet's account, which its calls never
    // reach); with it, the token is its account's, signed with its key.
    let agent = json_of(fleet.post("/api/communications/agents").json(&json!({
        "name": "Ada", "email": "ada@acme.test",
    })))
    .await;
    let token_url = format!(
        "/api/communications/agents/{}/softphone-token",
        agent["id"].as_str().unwrap()
    );
    let (code, body) = problem(fleet.post(&token_url)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("api_key"),
        "{body}"
    );
    let half = fleet.put("/api/communications/credentials/twilio").json(
        &json!({ "account_sid": OWN_ACCOUNT_SID, "auth_token": OWN_AUTH_TOKEN,
                       "api_key": { "sid": OWN_API_KEY_SID } }),
    );
    assert_eq!(problem(half).await.0, StatusCode::BAD_REQUEST);
    let api_key = json!({ "sid": OWN_API_KEY_SID, "secret": OWN_API_KEY_SECRET });
    store_own_account(&fleet, Some(api_key)).await;
    let issued = json_of(fleet.post(&token_url)).await;
    let token = issued["token"].as_str().unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    let key = jsonwebtoken::DecodingKey::from_secret(OWN_API_KEY_SECRET.as_bytes());
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .expect("signed with the organization's API key secret")
        .claims;
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str()),
        (Some(OWN_API_KEY_SID), Some(OWN_ACCOUNT_SID))
    );

    // Another organization keeps the fleet's account.
    let beta = fleet.user(ELSEWHERE, comms_auth::Role::Admin).await;
    let elsewhere = fleet
        .request(reqwest::Method::POST, "/api/communications/calls", &beta)
        .json(&json!({ "to": "+14155550183" }));
    json_of(elsewhere).await;
    let (_, placed_elsewhere) = twilio.placed("+14155550183").await;
    assert_eq!(account_of(&placed_elsewhere), ACCOUNT_SID);

    // Without its credentials, the organization's calls are the fleet's again.
    let removed = fleet
        .delete("/api/communications/credentials/twilio")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    place(&fleet, "+14155550184").await;
    let (_, placed_after) = twilio.placed("+14155550184").await;
    assert_eq!(account_of(&placed_after), ACCOUNT_SID);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organizations_own_account_is_paced_to_its_own_calls_per_second() {
    let twilio = FakeTwilio::start().await;
    // The fleet's account may place 100 calls a second; the organization's, 2.
    let fleet = fleet_on(&twilio, &[("TWILIO_CALLS_PER_SECOND", "100")]).await;
    let url = "/api/communications/credentials/twilio";
    let own = json!({ "account_sid": OWN_ACCOUNT_SID, "auth_token": OWN_AUTH_TOKEN });
    for (wrong, why) in [
        (json!(0), "from 1 to 100"),
        (json!(101), "from 1 to 100"),
        (json!("fast"), "calls_per_second"),
    ] {
        let mut body = own.clone();
        body["calls_per_second"] = wrong;
        let (code, problem) = problem(fleet.put(url).json(&body)).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{problem}");
        assert!(problem.to_string().contains(why), "{problem}");
    }
    let mut body = own.clone();
    body["calls_per_second"] = json!(2);
    let stored = json_of(fleet.put(url).json(&body)).await;
    assert!(
        stored["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("calls_per_second")),
        "{stored}"
    );

    let numbers = ["+14155550191", "+14155550192", "+14155550193"];
    for number in numbers {
        place(&fleet, number).await;
    }
    let dials = twilio.wait_for("/Calls.json", numbers.len()).await;
    assert!(dials.iter().all(|d| account_of(d) == OWN_ACCOUNT_SID));
    // A lower bound only (slots 500 ms apart, less what a request's delivery may vary): at the
    // fleet's rate they would leave 10 ms apart; a slow machine spaces them further, never closer.
    for pair in dials.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= std::time::Duration::from_millis(400),
            "dials {gap:?} apart on an account of 2 calls a second"
        );
    }
    fleet.stop().await;
}

/// Posts `body` to `url` (under the public base URL) at the edge with Vonage's `token`.
async fn post_signed(
    fleet: &Fleet,
    url: &str,
    body: &serde_json::Value,
    token: &str,
) -> StatusCode {
    let path = url.strip_prefix(fake_vonage::PUBLIC_BASE_URL).unwrap();
    let edge = fleet.fleet.edge;
    fleet
        .http
        .post(format!("http://{edge}{path}"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_organizations_own_vonage_application_carries_its_calls_and_signs_their_callbacks() {
    let vonage = FakeVonage::start().await;
    let fleet = vonage_fleet(&vonage).await;
    let own = vonage
        .another_account("0wn4pp1d", "own-signature-secret-0123456789")
        .await;
    let url = "/api/communications/credentials/vonage";
    let with = |application: serde_json::Value| json!({ "api_key": own.api_key, "api_secret": own.api_secret, "application": application });
    let not_a_key = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    for (application, field) in [
        (
            json!({ "id": "app-1", "private_key": own.private_key, "signature_secret": "s" }),
            "application_id",
        ),
        (
            json!({ "id": own.id, "private_key": not_a_key, "signature_secret": "s" }),
            "application_private_key",
        ),
        (
            json!({ "id": own.id, "private_key": own.private_key }),
            "signature_secret",
        ),
    ] {
        let (code, body) = problem(fleet.put(url).json(&with(application))).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
    let before = place(&fleet, "+14155550171").await;
    let (before_uuid, placed_before) = vonage.placed("14155550171").await;
    assert_eq!(placed_before.claims["application_id"], APPLICATION_ID);

    let application = json!({
        "id": own.id, "private_key": own.private_key, "signature_secret": own.signature_secret,
    });
    let stored = json_of(fleet.put(url).json(&with(application))).await;
    assert!(
        stored.to_string().contains("application_private_key"),
        "{stored}"
    );
    assert!(
        !stored.to_string().contains("BEGIN"),
        "never given back: {stored}"
    );

    // Placed with its own application.
    let id = place(&fleet, "+14155550172").await;
    let (uuid, placed) = vonage.placed("14155550172").await;
    assert_eq!(placed.claims["application_id"], own.id.as_str());
    call_until(&fleet, &id, |c| c["carrier_call_id"] == uuid.as_str()).await;

    // Its callbacks are signed by its own account; the fleet's still signs the call placed on
    // the fleet's application before; another account signs nothing here.
    let event_url = placed.body["event_url"][0].as_str().unwrap().to_owned();
    let ringing = json!({ "uuid": uuid, "status": "ringing" });
    let stranger = vonage
        .another_account("str4ng3r", "stranger-signature-secret-01234")
        .await;
    let forged = fake_vonage::signed_by(&stranger, &ringing.to_string()).await;
    assert_eq!(
        post_signed(&fleet, &event_url, &ringing, &forged).await,
        StatusCode::FORBIDDEN
    );
    let signed = fake_vonage::signed_by(&own, &ringing.to_string()).await;
    assert_eq!(
        post_signed(&fleet, &event_url, &ringing, &signed).await,
        StatusCode::NO_CONTENT
    );
    call_until(&fleet, &id, |c| c["status"] == "ringing").await;
    let earlier = json!({ "uuid": before_uuid, "status": "ringing" });
    let before_url = placed_before.body["event_url"][0].as_str().unwrap();
    let fleets = vonage
        .send(
            &fleet.http,
            &fleet.fleet.edge.to_string(),
            before_url,
            &earlier,
            SIGNATURE_SECRET,
            None,
        )
        .await;
    assert_eq!(fleets.status(), StatusCode::NO_CONTENT);
    call_until(&fleet, &before, |c| c["status"] == "ringing").await;

    // Hung up with its own application; its recording is fetched with it (only the
    // application that made a recording may fetch it).
    json_of(fleet.delete(&format!("/api/communications/calls/{id}"))).await;
    let hangups = vonage
        .wait_for("PUT", &format!("/v1/calls/{uuid}"), 1)
        .await;
    assert_eq!(hangups[0].claims["application_id"], own.id.as_str());
    let recording = uuid::Uuid::new_v4().to_string();
    vonage.keep_recording_of(&own.id, &recording, b"ID3 on its own account");
    let recorded = json!({
        "start_time": "2026-12-06T10:00:00Z", "end_time": "2026-12-06T10:00:09Z",
        "recording_uuid": recording, "recording_url": format!("{}/v1/files/{recording}", vonage.url),
        "conversation_uuid": "CON-own", "timestamp": "2026-12-06T10:00:10Z",
    });
    let recording_url = event_url.replace("/event", "/recording");
    let signed = fake_vonage::signed_by(&own, &recorded.to_string()).await;
    assert_eq!(
        post_signed(&fleet, &recording_url, &recorded, &signed).await,
        StatusCode::NO_CONTENT
    );
    let heard = fleet
        .get(&format!("/api/communications/calls/{id}/recording"))
        .send()
        .await
        .unwrap();
    assert_eq!(heard.status(), StatusCode::OK);
    assert_eq!(&heard.bytes().await.unwrap()[..], b"ID3 on its own account");

    // Its agents' softphones log in to its own application.
    let ada = super::support::available_agent(&fleet, "Ada").await;
    let issued =
        json_of(fleet.post(&format!("/api/communications/agents/{ada}/softphone-token"))).await;
    let users = vonage.wait_for("POST", "/v1/users", 1).await;
    assert_eq!(users[0].claims["application_id"], own.id.as_str());
    let (key, token) = (
        own.public_key.clone(),
        issued["token"].as_str().unwrap().to_owned(),
    );
    let verified: serde_json::Value = serde_json::from_str(
        &tokio::task::spawn_blocking(move || {
            super::support::python("vonage_verify.py", &[&key, &token])
        })
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(verified["claims"]["application_id"], own.id.as_str());

    // Its texts are sent from its own account, and its account's signature secret signs
    // what Vonage's SMS API sends back; another's does not.
    let ours = "+14155550174";
    let number = fleet
        .post("/api/communications/numbers")
        .json(&json!({ "number": ours }));
    json_of(number).await;
    let sent = json_of(fleet.post("/api/communications/messages").json(&json!({
        "to": "+14155550175", "from": ours, "text": "Your order has shipped."
    })))
    .await;
    assert_eq!(sent["carrier"], "vonage", "{sent}");
    let texts = vonage.wait_for("POST", "/sms/json", 1).await;
    assert_eq!(texts[0].body["api_key"], own.api_key.as_str());
    let inbound_url = format!(
        "{}/webhooks/vonage/{}/inbound/sms",
        fake_vonage::PUBLIC_BASE_URL,
        super::support::ORG
    );
    let text = [
        ("msisdn", "14155550175"),
        ("to", "14155550174"),
        ("messageId", "1A00000000000FF77"),
        ("text", "Thanks!"),
        ("type", "text"),
    ];
    let edge = fleet.fleet.edge.to_string();
    let (http, secret) = (&fleet.http, &stranger.signature_secret);
    let forged = vonage
        .send_sms_webhook_signed_with(http, &edge, &inbound_url, &text, secret)
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let secret = &own.signature_secret;
    let received = vonage
        .send_sms_webhook_signed_with(http, &edge, &inbound_url, &text, secret)
        .await;
    assert_eq!(received.status(), StatusCode::NO_CONTENT);

    // Removing the credentials returns the organization to the fleet's application.
    let removed = fleet.delete(url).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    place(&fleet, "+14155550173").await;
    let (_, after) = vonage.placed("14155550173").await;
    assert_eq!(after.claims["application_id"], APPLICATION_ID);
    fleet.stop().await;
}
