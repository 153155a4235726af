//! The wrap-up summary, against real PostgreSQL and a fake Anthropic: when a call's transcript
//! completes, Anthropic's streamed answer (read across chunks that cut events and characters,
//! `ping`s ignored) becomes `comms.call.summarized` with the disposition it suggests, before
//! `comms.call.transcribed`; an overload is tried again; an `error` event mid-stream falls back
//! to the extractive summary, saying so; a card number never reaches Anthropic.

mod support;

use std::sync::Arc;
use std::time::Duration;

use comms_events::Event as _;
use comms_events::call::{Summarized, Transcribed, Transcriber};
use comms_eventstore::{EventStore, StreamName};
use comms_proto::Language;
use comms_testkit::TestDatabase;
use comms_transcription::Speaker;
use comms_transcription::assist::{Anthropic, AnthropicOptions, Assistant};
use comms_transcription::sentiment::Scorer;
use comms_transcription::session::Transcript;
use serde_json::Value;
use support::calls;
use support::fake_anthropic::{self, FakeAnthropic, Reply};
use support::schemas::assert_valid;
use uuid::Uuid;

const ORG: &str = "org_summary";

/// A call heard through to its end with Anthropic at `fake`: its transcript stream's events'
/// types, and the summary's data.
async fn summarized_call(db: &TestDatabase, fake: &FakeAnthropic) -> (Vec<String>, Value) {
    let settings = calls::settings(
        EventStore::new(db.pool.clone()),
        Scorer::Lexicon,
        Assistant::Anthropic(Arc::new(Anthropic::new(AnthropicOptions {
            base_url: fake.base_url.clone(),
            api_key: fake_anthropic::KEY.into(),
            model: fake_anthropic::MODEL.into(),
            retries: 2,
            longest_wait: Duration::from_millis(50),
        }))),
    );
    let call = Uuid::new_v4();
    let mut transcript = Transcript::new(settings, ORG, call, Language::Es, Transcriber::Deepgram);
    let lines = [
        (
            Speaker::Caller,
            "Me cobraron dos veces, la tarjeta 4111 1111 1111 1111.",
        ),
        (Speaker::Agent, "Lo siento, ya le devolví el segundo cargo."),
    ];
    for (n, (speaker, text)) in lines.into_iter().enumerate() {
        transcript.hear(calls::said(n, speaker, text)).await;
    }
    transcript.complete(6.0).await;
    let events = EventStore::new(db.pool.clone())
        .read_stream(&StreamName::new("transcript", call), 0, 100)
        .await
        .unwrap();
    let types: Vec<String> = events.iter().map(|e| e.event_type.clone()).collect();
    let summary = events
        .iter()
        .find(|e| e.event_type == Summarized::TYPE)
        .map(|e| e.data.clone())
        .unwrap_or_else(|| panic!("no summary in {types:?}"));
    assert_valid(Summarized::TYPE, &summary);
    (types, summary)
}

#[tokio::test]
async fn anthropics_streamed_summary_is_recorded_with_its_disposition() {
    let db = TestDatabase::new().await;
    let fake = FakeAnthropic::start(vec![
        Reply::Overloaded,
        Reply::Text(vec![
            "Disposition: res",
            "olved\n\nEl cliente recibió un cobro doble; ",
            "se devolvió el segundo cargo. ¿Algo más? Nada pendiente.",
        ]),
    ])
    .await;
    let (types, summary) = summarized_call(&db, &fake).await;
    // The summary, then the transcript's completion, after the utterances and sentiment.
    let at = |t: &str| types.iter().position(|x| x == t).unwrap();
    assert_eq!(at(Summarized::TYPE) + 1, at(Transcribed::TYPE), "{types:?}");
    assert_eq!(summary["summarizer"], "anthropic");
    assert_eq!(summary["model"], fake_anthropic::MODEL);
    assert_eq!(summary["suggested_disposition"], "resolved");
    assert_eq!(
        summary["summary"],
        "El cliente recibió un cobro doble; se devolvió el segundo cargo. ¿Algo más? Nada pendiente."
    );
    assert_eq!(summary["language"], "es");
    // Asked twice (the overload, then the answer), the documented way, without the card number.
    assert_eq!(fake.problems(), Vec::<String>::new());
    let asked = fake.asked();
    assert_eq!(asked.len(), 2);
    let transcript = asked[1]["messages"][0]["content"].as_str().unwrap();
    assert!(!transcript.contains("4111"), "{transcript}");
    assert!(
        transcript.starts_with("Caller: Me cobraron dos veces"),
        "{transcript}"
    );
    assert!(transcript.contains("\nAgent: Lo siento"), "{transcript}");
}

#[tokio::test]
async fn an_error_mid_stream_falls_back_to_the_extractive_summary() {
    let db = TestDatabase::new().await;
    let fake = FakeAnthropic::start(vec![Reply::FailsMidway("overloaded_error")]).await;
    let (_, summary) = summarized_call(&db, &fake).await;
    assert_eq!(summary["summarizer"], "extractive");
    assert!(summary.get("model").is_none() && summary.get("suggested_disposition").is_none());
    assert_eq!(
        summary["summary"],
        "Caller: Me cobraron dos veces, la tarjeta [redacted].\nAgent: Lo siento, ya le devolví el segundo cargo."
    );
    assert_eq!(
        fake.asked().len(),
        1,
        "an error mid-stream is not tried again"
    );
}
