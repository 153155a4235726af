//! The simulated transcriber (`TRANSCRIBER=simulated`, what `comms dev` runs without Deepgram)
//! against real PostgreSQL and RabbitMQ: an answered call is heard as its language's scripted
//! conversation through the same transcript as Deepgram's — utterances in order, the card
//! number redacted, the caller's sentiment judged by the lexicon (upset, alerted once, then
//! pleased) — and its end completes the transcript.

mod support;

use comms_events::Event as _;
use comms_events::call::{
    Answered, CallEvent, Ended, EndedOutcome, Sentiment, SentimentAlert, Started, Transcribed,
    Utterance,
};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName};
use comms_proto::Language;
use comms_testkit::unique_name;
use comms_transcription::simulated::conversation;
use support::bus::Bus;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answered_call_is_heard_as_its_languages_conversation_until_it_ends() {
    let bus = Bus::tapping(&[
        Utterance::TYPE,
        Sentiment::TYPE,
        SentimentAlert::TYPE,
        Transcribed::TYPE,
    ])
    .await;
    let store = EventStore::new(bus.db.pool.clone());
    let queue = unique_name("test.transcription");
    let env = bus.env(&[
        ("TRANSCRIBER", "simulated"),
        ("TRANSCRIPTION_QUEUE", queue.as_str()),
        ("SIM_TRANSCRIPT_LINE_MS", "50"),
    ]);
    let config = comms_transcription::Config::from_env(&env).unwrap();
    // Its queue exists before anything is published, as `comms migrate` makes it in a fleet.
    let comms_transcription::Engine::Simulated(simulation) = &config.engine else {
        panic!("{config:?}")
    };
    comms_bus::declare_consumer(&bus.amqp, &simulation.consumer)
        .await
        .unwrap();
    let addr = bus.serve(config).await.media;

    // A Japanese caller answered.
    let call = Uuid::new_v4();
    let now = chrono::Utc::now();
    let stream = StreamName::new("call", call);
    let append = |event: CallEvent| {
        let (store, stream) = (store.clone(), stream.clone());
        async move {
            let new = comms_bus::new_event(&event, "test", None);
            store
                .append("org_sim", &stream, ExpectedVersion::Any, vec![new])
                .await
                .unwrap();
        }
    };
    append(CallEvent::Started(Started {
        call_id: call,
        direction: comms_events::call::Direction::Inbound,
        to: comms_proto::PhoneNumber::parse("+815012345678").unwrap(),
        from: None,
        agent_id: None,
        campaign_id: None,
        language: Language::Ja,
        started_at: now,
        detect_machines: false,
        recording: Default::default(),
        ivr_flow: None,
        announcement: None,
    }))
    .await;
    append(CallEvent::Answered(Answered {
        call_id: call,
        answered_at: now,
        campaign_id: None,
        awaiting_machine_detection: false,
    }))
    .await;

    // The data of the next event on the tap of `wanted` type; the sentiment judged meanwhile
    // (beside the transcript, so between any two utterances) is kept aside.
    let judged = std::cell::RefCell::new(Vec::new());
    let next = |wanted: &'static str| {
        let (bus, judged) = (&bus, &judged);
        async move {
            loop {
                let envelope = bus.next().await;
                let kind = envelope["type"].as_str().unwrap();
                if kind == Sentiment::TYPE || kind == SentimentAlert::TYPE {
                    let data = &envelope["data"];
                    let label = data["label"].as_str().unwrap_or("alert");
                    judged.borrow_mut().push((
                        kind.to_owned(),
                        data["scope"].as_str().unwrap_or("-").to_owned(),
                        label.to_owned(),
                    ));
                    continue;
                }
                assert_eq!(kind, wanted, "{envelope}");
                return envelope["data"].clone();
            }
        }
    };
    let script = conversation(Language::Ja);
    for (n, (speaker, _)) in script.iter().enumerate() {
        let said = next(Utterance::TYPE).await;
        assert_eq!(said["speaker"], serde_json::to_value(speaker).unwrap());
        assert_eq!(said["transcriber"], "simulated");
        assert_eq!(said["language"], "ja");
        let text = said["text"].as_str().unwrap();
        match n {
            2 => assert_eq!(text, "カードは[redacted]です。"),
            _ => assert_eq!(text, script[n].1),
        }
    }
    // The call ends: the transcript is complete, with all five, after the call's sentiment.
    append(CallEvent::Ended(Ended {
        call_id: call,
        duration: 1,
        outcome: EndedOutcome::Completed,
        reason: "hung up".into(),
        ended_at: now,
        campaign_id: None,
    }))
    .await;
    let transcribed = next(Transcribed::TYPE).await;
    assert_eq!(
        (
            transcribed["utterances"].as_u64(),
            transcribed["transcriber"].as_str()
        ),
        (Some(5), Some("simulated"))
    );
    let judged: Vec<(String, String, String)> = judged.into_inner();
    let judged: Vec<(&str, &str, &str)> = judged
        .iter()
        .map(|(k, s, l)| (k.as_str(), s.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        judged,
        [
            (Sentiment::TYPE, "window", "negative"),
            (SentimentAlert::TYPE, "-", "alert"),
            (Sentiment::TYPE, "window", "positive"),
            (Sentiment::TYPE, "call", "positive"),
        ]
    );
    // It reads no audio, and says so.
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{addr}/media/twilio/org_sim/{call}/t"))
            .await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(response.status(), 503);
}
