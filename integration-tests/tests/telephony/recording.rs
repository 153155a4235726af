//! Recording with Twilio (`ENABLE_RECORDING`): the dial asks for it, Twilio's signed recording
//! callback records it, and the edge streams the audio from Twilio to whoever may hear it.

use reqwest::StatusCode;
use serde_json::Value;

use super::fake_twilio::{self, FakeTwilio};
use super::support::{ORG, json_of, problem};
use super::{call_until, callback_url, fleet_on, place, status};

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
        ["completed", "absent"]
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
    let recording_sid = twilio.record(AUDIO);
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
