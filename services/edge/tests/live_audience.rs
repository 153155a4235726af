//! The live feed's reach of a call's transcript, against a real event store: a transcript's
//! utterances reach the call's agent, the supervisors of that agent's team and administrators —
//! no other agent or supervisor — even when the call and the agent were first met in the log
//! before the feed started.

use comms_auth::{Identity, Role};
use comms_edge::live::audience::{Index, Viewer};
use comms_events::agent::{AgentEvent, TeamChanged};
use comms_events::call::{AgentAssigned, CallEvent, Speaker, Started, Transcriber, Utterance};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName};
use comms_testkit::TestDatabase;
use uuid::Uuid;

#[tokio::test]
async fn a_transcripts_utterances_reach_whom_its_call_reaches() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.pool.clone());
    let (call, ada, bob, team) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let now = chrono::Utc::now();
    let started = CallEvent::Started(Started {
        call_id: call,
        direction: comms_events::call::Direction::Inbound,
        to: comms_proto::PhoneNumber::parse("+14155550100").unwrap(),
        from: None,
        agent_id: None,
        campaign_id: None,
        language: comms_proto::Language::En,
        started_at: now,
        detect_machines: false,
        recording: Default::default(),
        ivr_flow: None,
        announcement: None,
    });
    let assigned = CallEvent::AgentAssigned(AgentAssigned {
        call_id: call,
        agent_id: ada,
        assigned_at: now,
    });
    let append = |stream: StreamName, event: CallEvent| {
        let store = store.clone();
        async move {
            store
                .append(
                    "org_a",
                    &stream,
                    ExpectedVersion::Any,
                    vec![comms_bus::new_event(&event, "test", None)],
                )
                .await
                .unwrap();
        }
    };
    // Ada is in the team; the call happened before the feed met either: their streams are read
    // when the transcript passes.
    let joined = AgentEvent::TeamChanged(TeamChanged {
        agent_id: ada,
        team_id: Some(team),
        changed_at: now,
    });
    store
        .append(
            "org_a",
            &StreamName::new("agent", ada),
            ExpectedVersion::Any,
            vec![comms_bus::new_event(&joined, "test", None)],
        )
        .await
        .unwrap();
    append(StreamName::new("call", call), started).await;
    append(StreamName::new("call", call), assigned).await;
    let utterance = CallEvent::Utterance(Utterance {
        call_id: call,
        speaker: Speaker::Caller,
        text: "Hello".into(),
        start_seconds: 0.0,
        end_seconds: 1.0,
        confidence: 0.9,
        language: comms_proto::Language::En,
        transcriber: Transcriber::Deepgram,
        at: now,
    });
    let transcript = StreamName::new("transcript", call);
    append(transcript.clone(), utterance).await;
    let recorded = store
        .read_stream(&transcript, 0, 1)
        .await
        .unwrap()
        .remove(0);

    let index = Index::default();
    let audience = index.audience(&store, &transcript, &recorded).await;
    assert_eq!((audience.agent, audience.team), (Some(ada), Some(team)));
    let sees = |role: Role, user: Uuid, teams: &[Uuid]| {
        let identity = Identity::new("org_a", &user.to_string(), role).unwrap();
        Viewer::new(identity, teams.iter().copied()).sees("org_a", "transcript", &audience)
    };
    assert!(sees(Role::Agent, ada, &[]), "the call's agent");
    assert!(!sees(Role::Agent, bob, &[]), "another agent");
    assert!(
        sees(Role::Supervisor, bob, &[team]),
        "the team's supervisor"
    );
    assert!(
        !sees(Role::Supervisor, bob, &[Uuid::new_v4()]),
        "another team's supervisor"
    );
    assert!(sees(Role::Admin, bob, &[]));
    // Another organization's reader, never.
    let outsider = Identity::new("org_b", &bob.to_string(), Role::Admin).unwrap();
    assert!(!Viewer::new(outsider, []).sees("org_a", "transcript", &audience));
    // The transcript's position did not become the call's: the call's own next event is learnt.
    let call_stream = StreamName::new("call", call);
    let first = store
        .read_stream(&call_stream, 1, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        index.audience(&store, &call_stream, &first).await.agent,
        Some(ada)
    );
}
