//! How callers sound now, many calls at once (`TranscriptionService/GetCallSentiments`), against
//! real PostgreSQL and RabbitMQ: each call's latest judgement and its alerts, only for the calls
//! the reader reaches (an agent their own; never another organization's), calls not judged left
//! out, a malformed or oversized list refused naming `call_ids`.

mod support;

use comms_auth::{Identity, Role};
use comms_events::Event as _;
use comms_events::call::{Sentiment, Transcriber, Utterance};
use comms_eventstore::{EventStore, StreamName};
use comms_proto::Language;
use comms_proto::v1::GetCallSentimentsRequest;
use comms_transcription::Speaker;
use comms_transcription::assist::Assistant;
use comms_transcription::sentiment::Scorer;
use comms_transcription::session::Transcript;
use support::bus::{Bus, Served};
use support::calls;
use uuid::Uuid;

const ORG: &str = "org_moods";

/// A call of `org`'s answered by `agent` whose caller said `lines`, still going on.
async fn call(bus: &Bus, org: &str, agent: Uuid, lines: &[&str]) -> Uuid {
    let call = Uuid::new_v4();
    let store = EventStore::new(bus.db.pool.clone());
    calls::started(&store, org, call, agent).await;
    let settings = calls::settings(store, Scorer::Lexicon, Assistant::Extractive);
    // Not completed: the call goes on.
    let mut transcript = Transcript::new(settings, org, call, Language::En, Transcriber::Deepgram);
    for (n, text) in lines.iter().enumerate() {
        transcript.hear(calls::said(n, Speaker::Caller, text)).await;
    }
    // Judged beside the transcript: wait for the judgement of the last window.
    let stream = StreamName::new("transcript", call);
    for _ in 0..200 {
        let events = EventStore::new(bus.db.pool.clone())
            .read_stream(&stream, 0, 100)
            .await
            .unwrap();
        let judged = events
            .iter()
            .filter(|e| e.event_type == Sentiment::TYPE)
            .count();
        if judged > 0 && events.last().unwrap().event_type != Utterance::TYPE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    call
}

async fn ask(
    served: &Served,
    identity: Identity,
    calls: Vec<String>,
) -> Result<Vec<(String, String, u32)>, tonic::Status> {
    let request = served.ask(
        &identity.org_id,
        &identity.user_id,
        identity.role,
        GetCallSentimentsRequest { call_ids: calls },
    );
    let mut now: Vec<(String, String, u32)> = served
        .client()
        .await
        .get_call_sentiments(request)
        .await?
        .into_inner()
        .sentiments
        .into_iter()
        .map(|s| (s.call_id, s.label, s.alerts))
        .collect();
    now.sort();
    Ok(now)
}

#[tokio::test]
async fn each_reached_calls_caller_sounds_as_last_judged() {
    let bus = Bus::tapping(&[]).await;
    let env = bus.env(&[("TRANSCRIBER", "off")]);
    let served = bus
        .serve(comms_transcription::Config::from_env(&env).unwrap())
        .await;
    let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let upset = call(&bus, ORG, ada, &["This is terrible, I am furious."]).await;
    let pleased = call(
        &bus,
        ORG,
        bob,
        &["Thank you, that is great, wonderful service."],
    )
    .await;
    let theirs = call(
        &bus,
        "org_moods_other",
        ada,
        &["This is terrible, I am furious."],
    )
    .await;
    let silent = Uuid::new_v4();
    let asked: Vec<String> = [upset, pleased, theirs, silent]
        .iter()
        .map(Uuid::to_string)
        .collect();

    let admin = Identity::new(ORG, "admin", Role::Admin).unwrap();
    let mut expected = vec![
        (upset.to_string(), "negative".to_owned(), 1),
        (pleased.to_string(), "positive".to_owned(), 0),
    ];
    expected.sort();
    assert_eq!(
        ask(&served, admin.clone(), asked.clone()).await.unwrap(),
        expected
    );

    // Ada reaches her own call only, once search has learnt whose calls they are.
    let her = Identity::new(ORG, &ada.to_string(), Role::Agent).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let seen = ask(&served, her.clone(), asked.clone()).await.unwrap();
        if !seen.is_empty() {
            assert_eq!(seen, [(upset.to_string(), "negative".to_owned(), 1)]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "her call never reached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    for (calls, why) in [
        (vec!["nope".to_owned()], "not a UUID"),
        (vec![upset.to_string(); 201], "at most 200"),
    ] {
        let refused = ask(&served, admin.clone(), calls).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused.message().contains("call_ids") && refused.message().contains(why),
            "{}",
            refused.message()
        );
    }
    assert_eq!(ask(&served, admin, vec![]).await.unwrap(), []);
}
