//! The caller's sentiment, against real PostgreSQL and RabbitMQ (through the relay) and a fake
//! OpenAI: its structured answers become `comms.call.sentiment` on the exchange as the caller's
//! mood changes, with exactly one alert when it turns negative; a refusal, an answer cut off at
//! its length and rate limits fall back to the lexicon, and no utterance is lost. Without a key
//! the lexicon reads plain sentences right in all eight languages.

mod support;

use std::sync::Arc;
use std::time::Duration;

use comms_events::Event as _;
use comms_events::call::{
    Sentiment, SentimentAlert, SentimentLabel, Summarized, Transcribed, Transcriber, Utterance,
};
use comms_eventstore::{EventStore, StreamName};
use comms_proto::Language;
use comms_transcription::Speaker;
use comms_transcription::assist::Assistant;
use comms_transcription::deepgram::{Heard, Segment};
use comms_transcription::redact::Redactor;
use comms_transcription::sentiment::{OpenAi, OpenAiError, OpenAiOptions, Scorer, lexicon};
use comms_transcription::session::{Settings, Transcript};
use serde_json::Value;
use support::bus::Bus;
use support::fake_openai::{self, FakeOpenAi, Reply};
use support::schemas::assert_valid;
use uuid::Uuid;

const ORG: &str = "org_sentiment";

fn openai(fake: &FakeOpenAi, key: &str) -> OpenAi {
    OpenAi::new(OpenAiOptions {
        base_url: fake.base_url.clone(),
        api_key: key.to_owned(),
        model: fake_openai::MODEL.to_owned(),
        retries: 2,
        longest_wait: Duration::from_secs(1),
    })
}

fn said(speaker: Speaker, n: u32, text: &str) -> Heard {
    Heard::Segment(Segment {
        speaker,
        start: f64::from(n) * 4.0,
        end: f64::from(n) * 4.0 + 3.0,
        text: text.to_owned(),
        confidence: 0.9,
        speech_final: true,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openais_answers_become_the_callers_sentiment_with_one_alert_per_negative_turn() {
    let bus = Bus::tapping(&[
        Utterance::TYPE,
        Sentiment::TYPE,
        SentimentAlert::TYPE,
        Summarized::TYPE,
        Transcribed::TYPE,
    ])
    .await;
    let verdict = |label, score, reason| Reply::Verdict {
        label,
        score,
        reason,
    };
    let fake = FakeOpenAi::start(vec![
        // 1. The caller's greeting: refused, so the lexicon says neutral.
        Reply::Refusal("I'm sorry, I can't help with that."),
        // 2. Angry: negative, the one alert.
        verdict(
            "negative",
            -0.8,
            "The caller is furious about a late parcel.",
        ),
        // 3. Cut off at its length: the lexicon, still negative, nothing new.
        Reply::Truncated,
        // 4. Rate limited past the retries (three tries): the lexicon, still negative.
        Reply::RateLimited(5),
        Reply::RateLimited(5),
        Reply::RateLimited(5),
        // 5. Rate limited once, then answered: positive.
        Reply::RateLimited(5),
        verdict(
            "positive",
            0.6,
            "The caller is relieved the refund is coming.",
        ),
        // The whole call.
        verdict("positive", 0.2, "Angry at first, reassured at the end."),
    ])
    .await;
    let settings = Arc::new(Settings {
        store: EventStore::new(bus.db.pool.clone()),
        redactor: Redactor::new::<&str>(&[]).unwrap(),
        sentiment: Scorer::OpenAi(openai(&fake, fake_openai::KEY)),
        assistant: Assistant::Extractive,
    });
    let call = Uuid::new_v4();
    let mut transcript = Transcript::new(settings, ORG, call, Language::En, Transcriber::Deepgram);
    use Speaker::{Agent, Caller};
    // Each caller turn is fed once the last was asked about, so each is judged on its own.
    transcript
        .hear(said(Caller, 1, "Hello, my parcel has not arrived yet."))
        .await;
    fake.wait_for(1).await;
    transcript
        .hear(said(Agent, 2, "Let me check that for you."))
        .await;
    transcript
        .hear(said(
            Caller,
            3,
            "It has been three weeks. This is unacceptable, I am furious.",
        ))
        .await;
    fake.wait_for(2).await;
    transcript
        .hear(said(Agent, 4, "I understand, I am sorry."))
        .await;
    transcript
        .hear(said(
            Caller,
            5,
            "My card is 4111 1111 1111 1111 and I want to cancel.",
        ))
        .await;
    fake.wait_for(3).await;
    transcript.hear(said(Caller, 6, "I hate waiting.")).await;
    fake.wait_for(6).await;
    transcript
        .hear(said(Agent, 7, "The refund is on its way."))
        .await;
    transcript
        .hear(said(Caller, 8, "Oh, that is great, thank you."))
        .await;
    fake.wait_for(8).await;
    transcript.complete(40.0).await;

    // On the exchange, in order: every utterance, the sentiment as it changed, one alert.
    let mut events = Vec::new();
    loop {
        let envelope = bus.next().await;
        assert_eq!(envelope["organizationId"], ORG);
        assert_eq!(envelope["data"]["call_id"], serde_json::json!(call));
        let kind = envelope["type"].as_str().unwrap().to_owned();
        assert_valid(&kind, &envelope["data"]);
        events.push((kind.clone(), envelope["data"].clone()));
        if kind == Transcribed::TYPE {
            break;
        }
    }
    let utterances = events.iter().filter(|(k, _)| k == Utterance::TYPE).count();
    assert_eq!(utterances, 8, "no utterance lost: {events:#?}");
    let is_sentiment = |kind: &str| kind == Sentiment::TYPE || kind == SentimentAlert::TYPE;
    let judged: Vec<(&str, &str, &str, u64)> = events
        .iter()
        .filter(|(k, _)| is_sentiment(k))
        .map(|(kind, data)| {
            let label = data["label"].as_str().unwrap_or("alert");
            let scope = data["scope"].as_str().unwrap_or("-");
            (
                kind.as_str(),
                scope,
                label,
                data["utterances"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        judged,
        [
            (Sentiment::TYPE, "window", "neutral", 1),
            (Sentiment::TYPE, "window", "negative", 3),
            (SentimentAlert::TYPE, "-", "alert", 3),
            (Sentiment::TYPE, "window", "positive", 8),
            (Sentiment::TYPE, "call", "positive", 8),
        ],
        "{events:#?}"
    );
    let sentiments: Vec<&Value> = events
        .iter()
        .filter(|(k, _)| is_sentiment(k))
        .map(|(_, data)| data)
        .collect();
    // The refusal was judged by the lexicon, which says so and why.
    assert_eq!(sentiments[0]["scorer"], "lexicon");
    assert!(sentiments[0].get("model").is_none());
    let reason = sentiments[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("OpenAI refused: I'm sorry"), "{reason}");
    // OpenAI's verdicts carry its model, score and reason.
    assert_eq!(
        (
            &sentiments[1]["scorer"],
            &sentiments[1]["model"],
            &sentiments[1]["score"],
            &sentiments[1]["reason"]
        ),
        (
            &serde_json::json!("openai"),
            &serde_json::json!(fake_openai::MODEL),
            &serde_json::json!(-0.8),
            &serde_json::json!("The caller is furious about a late parcel.")
        )
    );
    assert_eq!(sentiments[2]["score"], -0.8);
    assert_eq!(
        sentiments[4]["reason"],
        "Angry at first, reassured at the end."
    );

    // OpenAI was asked the documented way every time, nine requests in all, each the caller's
    // latest words only, never a card number; the whole call last.
    assert_eq!(fake.problems(), Vec::<String>::new());
    assert_eq!(fake.replies_left(), 0);
    let asked = fake.asked();
    assert_eq!(asked.len(), 9, "{asked:#?}");
    assert!(asked.iter().all(|a| !a.contains("4111")), "{asked:#?}");
    assert!(
        asked.iter().all(|a| !a.contains("refund is on its way")),
        "{asked:#?}"
    );
    assert_eq!(asked[0], "Hello, my parcel has not arrived yet.");
    assert_eq!(asked[8].lines().count(), 5, "the whole call: {}", asked[8]);

    // The transcript stream holds the same, in the same order.
    let store = EventStore::new(bus.db.pool.clone());
    let recorded = store
        .read_stream(&StreamName::new("transcript", call), 0, 1_000)
        .await
        .unwrap();
    let types: Vec<&str> = recorded.iter().map(|e| e.event_type.as_str()).collect();
    let on_the_bus: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(types, on_the_bus);
}

#[tokio::test]
async fn a_wrong_key_is_refused_once_and_named() {
    let fake = FakeOpenAi::start(vec![]).await;
    let error = openai(&fake, "sk-wrong")
        .judge(Language::En, "Hello")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        OpenAiError::Status {
            status: 401,
            message: "Incorrect API key provided.".into()
        }
    );
    assert_eq!(fake.asked().len(), 0, "refused before it was read");
    // The scorer falls back to the lexicon, saying why.
    let judged = Scorer::OpenAi(openai(&fake, "sk-wrong"))
        .judge(Language::En, "Thank you, that was helpful.")
        .await;
    assert_eq!(judged.label, SentimentLabel::Positive);
    assert!(
        judged.reason.starts_with("OpenAI answered 401"),
        "{judged:?}"
    );
}

/// Plain sentences a caller might say, and what anyone would call them.
#[test]
fn without_a_key_the_lexicon_reads_plain_sentences_right_in_all_eight_languages() {
    use SentimentLabel::{Negative, Positive};
    let table = [
        (
            Language::En,
            "Thank you so much, that was really helpful!",
            Positive,
        ),
        (
            Language::En,
            "This is unacceptable, I am very angry.",
            Negative,
        ),
        (Language::En, "I'm not happy with this at all.", Negative),
        (
            Language::Es,
            "Muchas gracias, ha sido muy amable.",
            Positive,
        ),
        (
            Language::Es,
            "Es un servicio pésimo, estoy muy enfadado.",
            Negative,
        ),
        (
            Language::Es,
            "No estoy contento con la respuesta.",
            Negative,
        ),
        (Language::Fr, "Merci beaucoup, c'est parfait.", Positive),
        (
            Language::Fr,
            "C'est inadmissible, je suis furieux.",
            Negative,
        ),
        (Language::Fr, "Je ne suis pas satisfait.", Negative),
        (
            Language::De,
            "Vielen Dank, das war sehr hilfreich.",
            Positive,
        ),
        (
            Language::De,
            "Das ist eine Frechheit, ich bin wütend und enttäuscht.",
            Negative,
        ),
        (Language::De, "Ich bin gar nicht zufrieden.", Negative),
        (
            Language::It,
            "Grazie mille, è stato gentilissimo, perfetto.",
            Positive,
        ),
        (
            Language::It,
            "Servizio pessimo, sono molto arrabbiato.",
            Negative,
        ),
        (Language::Pt, "Muito obrigado, foi ótimo.", Positive),
        (
            Language::Pt,
            "Isso é um absurdo, estou muito irritado.",
            Negative,
        ),
        (Language::Zh, "非常感谢，你们的服务很好。", Positive),
        (Language::Zh, "我很生气，这太糟糕了。", Negative),
        (Language::Zh, "我对这个结果不满意。", Negative),
        (
            Language::Ja,
            "本当にありがとうございます、助かりました。",
            Positive,
        ),
        (Language::Ja, "最悪です、本当にひどい対応です。", Negative),
        (Language::Ja, "この対応には満足していないです。", Negative),
    ];
    for (language, sentence, expected) in table {
        let reading = lexicon::read(language, sentence);
        assert_eq!(
            reading.label, expected,
            "{language:?} {sentence}: {reading:?}"
        );
    }
    // Nothing either way is neutral.
    let reading = lexicon::read(Language::En, "My order number is 1234.");
    assert_eq!(reading.label, SentimentLabel::Neutral, "{reading:?}");
}
