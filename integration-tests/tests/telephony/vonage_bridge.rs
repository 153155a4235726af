//! A Vonage call is bridged to its agent in the call's named conversation: the caller's NCCO
//! joins it, the agent's leg (their app user, showing the customer's number) is asked to, and
//! with `ENABLE_TRANSCRIPTION` each party's audio goes to a media socket of its own that hears
//! that party alone. The agent's leg failing hangs the call up. Every NCCO asked for passes the
//! Vonage SDK's own models.

use comms_auth::media_tokens::MediaTokens;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::call_until;
use super::fake_vonage::{FakeVonage, PUBLIC_BASE_URL, Received, SIGNATURE_SECRET};
use super::support::{Fleet, ORG, available_agent, json_of};

const MEDIA_BASE_URL: &str = "wss://media.comms.example";
const SECRET: &str = "the fleet's media token secret, 32+";

pub(super) async fn fleet(vonage: &FakeVonage, extra: &[(&str, &str)]) -> Fleet {
    let env = vonage.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend(extra);
    Fleet::start_with("60000", &pairs).await
}

/// A call to `to` with `agent`, answered: its id, its leg's uuid and its callbacks' base URL.
pub(super) async fn answered_call(
    vonage: &FakeVonage,
    fleet: &Fleet,
    to: &str,
    agent: &str,
) -> (String, String, String) {
    let created = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": to, "agent_id": agent })),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (uuid, _) = vonage.placed(to.trim_start_matches('+')).await;
    call_until(fleet, &id, |c| c["carrier_call_id"] == uuid.as_str()).await;
    let base = format!("{PUBLIC_BASE_URL}/webhooks/vonage/{ORG}/calls/{id}");
    let answered = json!({ "uuid": uuid, "status": "answered" });
    assert_eq!(
        send(vonage, fleet, &format!("{base}/event"), &answered).await,
        StatusCode::NO_CONTENT
    );
    call_until(fleet, &id, |c| c["status"] == "answered").await;
    (id, uuid, base)
}

pub(super) async fn send(
    vonage: &FakeVonage,
    fleet: &Fleet,
    url: &str,
    body: &Value,
) -> StatusCode {
    let edge = fleet.fleet.edge.to_string();
    vonage
        .send(&fleet.http, &edge, url, body, SIGNATURE_SECRET, None)
        .await
        .status()
}

/// Whether the Vonage SDK's models accept `ncco`.
pub(super) async fn sdk_accepts(ncco: &Value) -> String {
    let text = ncco.to_string();
    tokio::task::spawn_blocking(move || super::support::python("ncco_check.py", &[&text]))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vonage_call_is_bridged_in_its_conversation_with_each_partys_audio_on_its_own_socket() {
    let vonage = FakeVonage::start().await;
    let fleet = fleet(
        &vonage,
        &[
            ("ENABLE_TRANSCRIPTION", "true"),
            ("MEDIA_BASE_URL", MEDIA_BASE_URL),
            ("MEDIA_TOKEN_SECRET", SECRET),
        ],
    )
    .await;
    let ada = available_agent(&fleet, "Ada").await;
    let (id, uuid, base) = answered_call(&vonage, &fleet, "+14155550171", &ada).await;
    let conversation = format!("comms-{id}");

    // The caller's NCCO: into the call's conversation, which ends when they or Ada leave.
    let answer = vonage
        .send(
            &fleet.http,
            &fleet.fleet.edge.to_string(),
            &format!("{base}/answer"),
            &json!({ "uuid": uuid }),
            SIGNATURE_SECRET,
            None,
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let ncco: Value = answer.json().await.unwrap();
    // It ends when either leaves, taking the media sockets with it.
    assert_eq!(
        ncco,
        json!([{ "action": "conversation", "name": conversation, "endOnExit": true }])
    );
    assert_eq!(sdk_accepts(&ncco).await, "valid", "{ncco}");

    // Ada's leg: her app user, showing the customer's number, joining the conversation and
    // ending it when she leaves; its events at a URL of its own.
    let agent_leg = vonage.legs("app", 1).await.remove(0);
    assert_eq!(
        agent_leg.body["to"],
        json!([{ "type": "app", "user": ada }])
    );
    assert_eq!(
        agent_leg.body["from"],
        json!({ "type": "phone", "number": "14155550171" })
    );
    let joins = json!([{ "action": "conversation", "name": conversation, "endOnExit": true }]);
    assert_eq!(agent_leg.body["ncco"], joins);
    assert_eq!(sdk_accepts(&agent_leg.body["ncco"]).await, "valid");
    assert_eq!(
        agent_leg.body["event_url"],
        json!([format!("{base}/agent/event")])
    );
    let agent_uuid = agent_leg.body["__uuid"].as_str().unwrap().to_owned();

    // Two media sockets, one a party, each hearing that party alone and heard by nobody.
    let sockets = vonage.legs("websocket", 2).await;
    let tokens = MediaTokens::new(SECRET.as_bytes());
    let now = chrono::Utc::now().timestamp();
    let call: uuid::Uuid = id.parse().unwrap();
    for (party, hears) in [("caller", &uuid), ("agent", &agent_uuid)] {
        let socket: &Received = sockets
            .iter()
            .find(|s| s.body["ncco"][0]["canHear"] == json!([hears]))
            .unwrap_or_else(|| panic!("no socket hears the {party}: {sockets:?}"));
        let to = &socket.body["to"][0];
        assert_eq!(to["content-type"], "audio/l16;rate=16000");
        assert_eq!(to["headers"], json!({ "language": "en" }));
        let uri = to["uri"].as_str().unwrap();
        let prefix = format!("{MEDIA_BASE_URL}/media/vonage/{ORG}/{id}/{party}/");
        let token = uri.strip_prefix(&prefix).unwrap_or_else(|| panic!("{uri}"));
        assert_eq!(tokens.verify(token, ORG, call, now), Ok(()));
        assert_eq!(
            socket.body["ncco"],
            json!([{ "action": "conversation", "name": conversation,
                     "canHear": [hears], "canSpeak": [] }])
        );
        assert_eq!(sdk_accepts(&socket.body["ncco"]).await, "valid");
        assert_eq!(
            socket.body["event_url"],
            json!([format!("{base}/audio/event")])
        );
        // Its events are taken and change nothing of the call.
        let event = json!({ "uuid": socket.body["__uuid"], "status": "answered" });
        assert_eq!(
            send(&vonage, &fleet, &format!("{base}/audio/event"), &event).await,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        call_until(&fleet, &id, |_| true).await["carrier_call_id"],
        uuid.as_str()
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agents_leg_failing_hangs_the_vonage_call_up_and_its_other_events_change_nothing() {
    let vonage = FakeVonage::start().await;
    let fleet = fleet(&vonage, &[]).await;
    let ada = available_agent(&fleet, "Ada").await;
    let (id, uuid, base) = answered_call(&vonage, &fleet, "+14155550172", &ada).await;
    let agent_leg = vonage.legs("app", 1).await.remove(0);
    let agent_uuid = agent_leg.body["__uuid"].as_str().unwrap().to_owned();
    // Without transcription, no media sockets.
    assert!(
        vonage
            .received()
            .iter()
            .all(|r| r.body["to"][0]["type"] != "websocket")
    );

    let agent_events = format!("{base}/agent/event");
    let caller_line = format!("/v1/calls/{uuid}");
    let hang_ups = || {
        vonage
            .received()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path == caller_line)
            .count()
    };
    for status in ["started", "ringing", "answered"] {
        let event = json!({ "uuid": agent_uuid, "status": status });
        assert_eq!(
            send(&vonage, &fleet, &agent_events, &event).await,
            StatusCode::NO_CONTENT
        );
    }
    // Forged: refused, nothing done.
    let edge = fleet.fleet.edge.to_string();
    let unanswered = json!({ "uuid": agent_uuid, "status": "unanswered" });
    let forged = vonage
        .send(
            &fleet.http,
            &edge,
            &agent_events,
            &unanswered,
            "not-the-secret-0123456789",
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let shown = call_until(&fleet, &id, |c| c["status"] == "answered").await;
    assert_eq!(
        shown["carrier_call_id"],
        uuid.as_str(),
        "the agent's leg is not the call's"
    );
    assert_eq!(hang_ups(), 0);

    // Ada's softphone did not answer: the caller is hung up on at Vonage.
    assert_eq!(
        send(&vonage, &fleet, &agent_events, &unanswered).await,
        StatusCode::NO_CONTENT
    );
    let put = vonage.wait_for("PUT", &caller_line, 1).await;
    assert_eq!(put[0].body, json!({ "action": "hangup" }));
    fleet.stop().await;
}
