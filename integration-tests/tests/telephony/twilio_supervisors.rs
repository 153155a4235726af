//! A Twilio call is bridged to its agent in the call's conference: the caller's TwiML enters
//! it (ending it on leaving), the agent's softphone is added as a participant (ending it too).
//! A supervisor joins as a participant of their own: muted to listen, coaching the agent's call
//! to whisper, neither to barge; a change of mode updates their participant, leaving hangs
//! their call up, and their softphone hanging up takes them off the call. The agent's
//! participant failing hangs the caller up.

use comms_events::Event as _;
use comms_events::call::{AgentLegAnswered, MonitoringChanged};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_twilio::{self, FakeTwilio, PHONE_NUMBER, Received};
use super::support::{Fleet, available_agent_as, json_of, python};
use super::{call_until, callback_url, fleet_on, monitor, status};

/// A participant's status callback, as Twilio sends a call's.
async fn participant_status(
    twilio: &FakeTwilio,
    fleet: &Fleet,
    joined: &Received,
    status: &str,
) -> StatusCode {
    let sid = joined.sid.as_deref().unwrap();
    let params = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("CallSid", sid),
        ("CallStatus", status),
    ];
    let edge = fleet.fleet.edge.to_string();
    twilio
        .send(&edge, joined.one("StatusCallback"), &params)
        .await
        .status()
}

/// A call to `to` with `agent`, answered: its id, its SID and its placing request.
async fn answered_call(
    twilio: &FakeTwilio,
    fleet: &Fleet,
    to: &str,
    agent: &str,
) -> (String, String, Received) {
    let created = json_of(
        fleet
            .post("/api/communications/calls")
            .json(&json!({ "to": to, "agent_id": agent })),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (sid, placed) = twilio.placed(to).await;
    call_until(fleet, &id, |c| c["carrier_call_id"] == sid.as_str()).await;
    assert_eq!(
        status(twilio, fleet, &placed, &sid, "in-progress").await,
        StatusCode::NO_CONTENT
    );
    call_until(fleet, &id, |c| c["status"] == "answered").await;
    (id, sid, placed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_listens_whispers_barges_and_leaves_a_twilio_call_as_a_participant() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let edge = fleet.fleet.edge.to_string();
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
    let (id, sid, placed) = answered_call(&twilio, &fleet, "+14155550191", &ada).await;
    let conference = format!("comms-{id}");

    // The caller's TwiML: into the call's conference, which starts at once and ends when they
    // leave; every verb and attribute is one Twilio documents.
    let answered = [("CallSid", sid.as_str()), ("CallStatus", "in-progress")];
    let twiml = twilio
        .send(&edge, placed.one("Url"), &answered)
        .await
        .text()
        .await
        .unwrap();
    let verbs: Value = serde_json::from_str(
        &tokio::task::spawn_blocking(move || python("twiml_check.py", &[&twiml]))
            .await
            .unwrap(),
    )
    .unwrap();
    let room = &verbs[0]["children"][0];
    assert_eq!(
        (&verbs[0]["verb"], &room["verb"]),
        (&json!("Dial"), &json!("Conference"))
    );
    assert_eq!(room["text"], conference.as_str());
    assert_eq!(room["attrs"]["endConferenceOnExit"], "true");
    assert_eq!(room["attrs"]["startConferenceOnEnter"], "true");

    // Ada's softphone, added to it from the fleet's number, ending it when she leaves.
    let ada_joins = twilio.participants(1).await.remove(0);
    assert_eq!(
        ada_joins.path,
        format!(
            "/2010-04-01/Accounts/{}/Conferences/{conference}/Participants.json",
            fake_twilio::ACCOUNT_SID
        )
    );
    assert_eq!(ada_joins.one("To"), format!("client:{ada}"));
    assert_eq!(ada_joins.one("From"), PHONE_NUMBER);
    assert_eq!(ada_joins.one("EndConferenceOnExit"), "true");
    assert_eq!(
        ada_joins.one("StatusCallback"),
        callback_url(&id, "agent/status")
    );
    assert_eq!(
        ada_joins.all("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );
    let ada_sid = ada_joins.sid.clone().unwrap();

    // Before Ada answers there is nobody to whisper to: refused, nothing asked of Twilio.
    let refused = monitor(&fleet, &lead, &id, "whisper").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("whisper"),
        "{body}"
    );
    assert_eq!(twilio.participants(1).await.len(), 1);

    // She answers (ringing first): recorded once.
    for progress in ["ringing", "in-progress", "in-progress"] {
        assert_eq!(
            participant_status(&twilio, &fleet, &ada_joins, progress).await,
            StatusCode::NO_CONTENT
        );
    }
    let leg = fleet.next_data(AgentLegAnswered::TYPE).await;
    assert_eq!(leg["carrier_call_id"], ada_sid.as_str());
    assert_eq!(
        call_until(&fleet, &id, |_| true).await["carrier_call_id"],
        sid.as_str(),
        "Ada's call is not the call's line"
    );

    // Listening: the lead's softphone added muted, not ending the conference.
    assert_eq!(
        monitor(&fleet, &lead, &id, "listen").await.status(),
        StatusCode::OK
    );
    let lead_joins = twilio.participants(2).await.remove(1);
    assert_eq!(lead_joins.one("To"), format!("client:{lead_id}"));
    assert_eq!(lead_joins.one("Muted"), "true");
    assert!(lead_joins.all("EndConferenceOnExit").is_empty());
    assert!(lead_joins.all("Coaching").is_empty());
    assert_eq!(
        lead_joins.one("StatusCallback"),
        callback_url(&id, "supervisor/status")
    );
    let lead_sid = lead_joins.sid.clone().unwrap();
    let changed = fleet.next_data(MonitoringChanged::TYPE).await;
    assert_eq!(
        (
            &changed["mode"],
            &changed["audio"],
            &changed["carrier_call_id"]
        ),
        (&json!("listen"), &json!(true), &json!(lead_sid))
    );

    // Whispering coaches Ada's call; barging un-mutes and stops coaching: the same participant,
    // updated under the conference's SID.
    let heard = [
        ("whisper", false, true, json!(ada_sid)),
        ("barge", false, false, Value::Null),
        ("listen", true, false, Value::Null),
    ];
    for (mode, muted, coaching, coached) in heard {
        assert_eq!(
            monitor(&fleet, &lead, &id, mode).await.status(),
            StatusCode::OK
        );
        fleet.next_data(MonitoringChanged::TYPE).await;
        let now = twilio.participant(&lead_sid).unwrap();
        assert_eq!(
            (&now["muted"], &now["coaching"]),
            (&json!(muted), &json!(coaching)),
            "{mode}: {now}"
        );
        if coaching {
            assert_eq!(now["call_sid_to_coach"], coached, "{now}");
        }
    }
    assert_eq!(twilio.participants(2).await.len(), 2, "no new participant");

    // Leaving hangs the lead's call up.
    assert_eq!(
        monitor(&fleet, &lead, &id, "stopped").await.status(),
        StatusCode::OK
    );
    let hung_up = twilio.wait_for(&format!("/Calls/{lead_sid}.json"), 1).await;
    assert_eq!(hung_up[0].one("Status"), "completed");
    let left = fleet.next_data(MonitoringChanged::TYPE).await;
    assert_eq!(left["mode"], "stopped");

    // Listening again adds a new participant; the lead hanging up their softphone takes them
    // off the call (a callback signed with another token does not).
    assert_eq!(
        monitor(&fleet, &lead, &id, "listen").await.status(),
        StatusCode::OK
    );
    let again = twilio.participants(3).await.remove(2);
    fleet.next_data(MonitoringChanged::TYPE).await;
    let again_sid = again.sid.clone().unwrap();
    let completed = [
        ("AccountSid", fake_twilio::ACCOUNT_SID),
        ("CallSid", again_sid.as_str()),
        ("CallStatus", "completed"),
    ];
    let forged = twilio
        .send_as(
            "not-the-auth-token-0123456789abcd",
            &edge,
            again.one("StatusCallback"),
            &completed,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        call_until(&fleet, &id, |_| true).await["monitors"][0]["mode"],
        "listen"
    );
    assert_eq!(
        participant_status(&twilio, &fleet, &again, "completed").await,
        StatusCode::NO_CONTENT
    );
    let off = fleet.next_data(MonitoringChanged::TYPE).await;
    assert_eq!(
        (&off["supervisor_id"], &off["mode"]),
        (&json!(lead_id), &json!("stopped"))
    );
    let shown = call_until(&fleet, &id, |c| c["monitors"] == json!([])).await;
    assert_eq!(shown["status"], "answered", "the call goes on");
    assert!(
        twilio.received().iter().all(|r| r.path
            != format!(
                "/2010-04-01/Accounts/{}/Calls/{again_sid}.json",
                fake_twilio::ACCOUNT_SID
            )),
        "nothing asked of Twilio for a call already over"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agents_participant_failing_hangs_the_twilio_caller_up() {
    let twilio = FakeTwilio::start().await;
    let fleet = fleet_on(&twilio, &[]).await;
    let ada = available_agent_as(
        &fleet,
        json!({ "name": "Ada", "email": "ada@acme.test", "languages": ["en"] }),
    )
    .await;
    let (_, sid, _) = answered_call(&twilio, &fleet, "+14155550192", &ada).await;
    let ada_joins = twilio.participants(1).await.remove(0);
    let caller_line = format!("/Calls/{sid}.json");
    assert_eq!(
        participant_status(&twilio, &fleet, &ada_joins, "ringing").await,
        StatusCode::NO_CONTENT
    );
    assert!(
        twilio
            .received()
            .iter()
            .all(|r| !r.path.ends_with(&caller_line)),
        "ringing changes nothing"
    );
    // Her softphone did not answer: the caller is hung up on.
    assert_eq!(
        participant_status(&twilio, &fleet, &ada_joins, "no-answer").await,
        StatusCode::NO_CONTENT
    );
    let hung_up = twilio.wait_for(&caller_line, 1).await;
    assert_eq!(hung_up[0].one("Status"), "completed");
    fleet.stop().await;
}
