//! Agent assist over gRPC (`TranscriptionService/Assist`), against real PostgreSQL and RabbitMQ
//! and a fake Anthropic: the call's agent receives, in order, the caller's sentiment as it
//! changes, each suggestion's streamed pieces (`ping`s skipped; one that breaks off on an
//! `error` event marked abandoned) and at last the wrap-up summary, which ends the stream;
//! the knowledge notes the caller brings up reach the agent and the model's instructions;
//! suggestions are rate-limited per call; another agent, an administrator who is not the call's
//! agent and another organization receive nothing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use comms_auth::Role;
use comms_events::call::Transcriber;
use comms_eventstore::EventStore;
use comms_proto::Language;
use comms_proto::v1::assist_update::Update;
use comms_proto::v1::{AssistUpdate, GetTranscriptRequest, KnowledgeNoteInput};
use comms_transcription::Speaker;
use comms_transcription::assist::{Anthropic, AnthropicOptions, Assistant};
use comms_transcription::sentiment::Scorer;
use comms_transcription::session::Transcript;
use support::bus::{Bus, Client, Served};
use support::calls;
use support::fake_anthropic::{self, FakeAnthropic, Reply};
use uuid::Uuid;

const ORG: &str = "org_assist";

struct Call {
    bus: Bus,
    served: Served,
    fake: FakeAnthropic,
    id: Uuid,
    agent: Uuid,
    transcript: Option<Transcript>,
    said: u32,
}

impl Call {
    /// A call of Ada's, answered, with the service's suggestions at most every `interval`.
    async fn start(interval: &str, replies: Vec<Reply>) -> Self {
        let bus = Bus::tapping(&[]).await;
        let fake = FakeAnthropic::start(replies).await;
        let env = bus.env(&[
            ("TRANSCRIBER", "off"),
            ("ANTHROPIC_API_KEY", fake_anthropic::KEY),
            ("ANTHROPIC_BASE_URL", fake.base_url.as_str()),
            ("ANTHROPIC_MODEL", fake_anthropic::MODEL),
            ("ASSIST_INTERVAL_SECONDS", interval),
        ]);
        let served = bus
            .serve(comms_transcription::Config::from_env(&env).unwrap())
            .await;
        let (id, agent) = (Uuid::new_v4(), Uuid::new_v4());
        let store = EventStore::new(bus.db.pool.clone());
        calls::started(&store, ORG, id, agent).await;
        // The transcript as the service's transcriber would record it (the summary, too, from
        // the same fake Anthropic).
        let settings = calls::settings(
            store,
            Scorer::Lexicon,
            Assistant::Anthropic(Arc::new(Anthropic::new(AnthropicOptions {
                base_url: fake.base_url.clone(),
                api_key: fake_anthropic::KEY.into(),
                model: fake_anthropic::MODEL.into(),
                retries: 0,
                longest_wait: Duration::from_millis(10),
            }))),
        );
        let transcript = Transcript::new(settings, ORG, id, Language::Es, Transcriber::Deepgram);
        Self {
            bus,
            served,
            fake,
            id,
            agent,
            transcript: Some(transcript),
            said: 0,
        }
    }

    async fn client(&self) -> Client {
        self.served.client().await
    }

    fn request(&self, org: &str, user: &str, role: Role) -> tonic::Request<GetTranscriptRequest> {
        let call_id = self.id.to_string();
        self.ask(org, user, role, GetTranscriptRequest { call_id })
    }

    fn ask<T>(&self, org: &str, user: &str, role: Role, message: T) -> tonic::Request<T> {
        self.served.ask(org, user, role, message)
    }

    async fn say(&mut self, speaker: Speaker, text: &str) {
        let turn = calls::said(self.said as usize, speaker, text);
        self.said += 1;
        self.transcript.as_mut().unwrap().hear(turn).await;
    }

    async fn hang_up(&mut self) {
        self.transcript.take().unwrap().complete(10.0).await;
    }
}

/// The next update on the agent's stream, within half a minute.
async fn next(stream: &mut tonic::Streaming<AssistUpdate>) -> Option<Update> {
    tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .expect("an update within 30 s")
        .unwrap()
        .map(|u| u.update.unwrap())
}

/// Suggestion `number`'s pieces until its last, and whether it was abandoned; the sentiment
/// changes met meanwhile (judged beside the transcript, they may come before or after) go to
/// `moods`.
async fn suggestion(
    stream: &mut tonic::Streaming<AssistUpdate>,
    number: u32,
    moods: &mut Vec<String>,
) -> (String, bool) {
    let mut text = String::new();
    loop {
        match next(stream).await {
            Some(Update::Sentiment(mood)) => moods.push(mood.label),
            Some(Update::Suggestion(piece)) => {
                assert_eq!(piece.number, number, "{piece:?}");
                if piece.done {
                    return (text, piece.abandoned);
                }
                text.push_str(&piece.text);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_gets_sentiment_streamed_suggestions_and_the_summary_in_order() {
    let mut call = Call::start(
        "0",
        vec![
            Reply::Text(vec![
                "Lamento ",
                "las molestias; ",
                "¿me da su número de pedido?",
            ]),
            Reply::FailsMidway("overloaded_error"),
            Reply::Text(vec!["Disposition: resolved\n\nCobro doble devuelto."]),
        ],
    )
    .await;
    let agent = call.agent.to_string();
    let mut client = call.client().await;
    let mut stream = client
        .assist(call.request(ORG, &agent, Role::Agent))
        .await
        .unwrap()
        .into_inner();

    // The caller is angry: the sentiment turns negative, and the first suggestion streams in.
    let mut moods = Vec::new();
    call.say(Speaker::Caller, "Esto es inaceptable, estoy furioso.")
        .await;
    let (first, abandoned) = suggestion(&mut stream, 1, &mut moods).await;
    assert_eq!(
        (first.as_str(), abandoned),
        ("Lamento las molestias; ¿me da su número de pedido?", false)
    );

    // The agent answers; the caller calms down: a suggestion that breaks off midway.
    call.say(Speaker::Agent, "Lo siento mucho, lo reviso ahora.")
        .await;
    call.say(Speaker::Caller, "Gracias, perfecto.").await;
    let (second, abandoned) = suggestion(&mut stream, 2, &mut moods).await;
    assert_eq!((second.as_str(), abandoned), ("Disposition: res", true));

    // The call ends: the summary is the last update, and the stream ends.
    call.hang_up().await;
    let summary = loop {
        match next(&mut stream).await {
            Some(Update::Sentiment(mood)) => moods.push(mood.label),
            Some(Update::Summary(summary)) => break summary,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        (
            summary.summary.as_str(),
            summary.suggested_disposition.as_str()
        ),
        ("Cobro doble devuelto.", "resolved")
    );
    assert!(next(&mut stream).await.is_none(), "the stream ends");
    // The caller's mood as it changed: negative, then neutral.
    assert_eq!(moods, ["negative", "neutral"]);
    assert_eq!(call.fake.problems(), Vec::<String>::new());
    // The suggestions were asked from the transcript so far, in Spanish.
    let asked = call.fake.asked();
    assert_eq!(asked.len(), 3);
    let second_ask = asked[1]["messages"][0]["content"].as_str().unwrap();
    assert!(
        second_ask.ends_with("Caller: Gracias, perfecto.\n"),
        "{second_ask}"
    );
    assert!(
        asked[1]["system"]
            .as_str()
            .unwrap()
            .contains("language code is es")
    );
    drop(call.bus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suggestions_are_rate_limited_per_call_and_go_to_its_agent_only() {
    let mut call = Call::start(
        "3600",
        vec![
            Reply::Text(vec!["Una sugerencia."]),
            Reply::Text(vec!["Disposition: callback\n\nVolver a llamar."]),
        ],
    )
    .await;
    let agent = call.agent.to_string();
    let mut client = call.client().await;

    // Not the call's agent: another agent does not see the call; an administrator who is not its
    // agent is refused; another organization's administrator does not see it.
    let bob = Uuid::new_v4().to_string();
    for (org, user, role, code) in [
        (ORG, bob.as_str(), Role::Agent, tonic::Code::NotFound),
        (ORG, "admin-1", Role::Admin, tonic::Code::PermissionDenied),
        ("org_other", "admin-2", Role::Admin, tonic::Code::NotFound),
    ] {
        let refused = client
            .assist(call.request(org, user, role))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), code, "{org} {user}");
    }

    let mut stream = client
        .assist(call.request(ORG, &agent, Role::Agent))
        .await
        .unwrap()
        .into_inner();
    call.say(Speaker::Caller, "Hola, tengo una pregunta.").await;
    let mut suggestions = 0;
    while suggestions == 0 {
        if let Some(Update::Suggestion(piece)) = next(&mut stream).await
            && piece.done
        {
            suggestions += 1;
        }
    }
    // Within the interval, the caller speaks twice more: no further suggestion.
    call.say(Speaker::Caller, "¿Me oye?").await;
    call.say(Speaker::Caller, "¿Sigue ahí?").await;
    call.hang_up().await;
    loop {
        match next(&mut stream).await {
            Some(Update::Summary(summary)) => {
                assert_eq!(summary.suggested_disposition, "callback");
                break;
            }
            Some(Update::Suggestion(piece)) => panic!("a second suggestion: {piece:?}"),
            _ => {}
        }
    }
    assert_eq!(call.fake.asked().len(), 2, "one suggestion, one summary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_notes_the_caller_brings_up_reach_the_agent_and_the_models_instructions() {
    let mut call = Call::start(
        "0",
        vec![
            Reply::Text(vec!["Le devuelvo el segundo cobro ahora mismo."]),
            Reply::Text(vec!["Disposition: resolved\n\nCobro devuelto."]),
        ],
    )
    .await;
    let mut client = call.client().await;
    let note = KnowledgeNoteInput {
        title: "Cobros dobles".into(),
        body: "Devuelva el segundo cobro sin pedir aprobación.".into(),
        language: "es".into(),
        keywords: vec!["cobro doble".into()],
    };
    let note = client
        .create_knowledge_note(call.ask(ORG, "sam", Role::Supervisor, note))
        .await
        .unwrap()
        .into_inner();
    let agent = call.agent.to_string();
    let mut stream = client
        .assist(call.request(ORG, &agent, Role::Agent))
        .await
        .unwrap()
        .into_inner();

    // The note comes up as the caller says its words, before the suggestion asked with it.
    call.say(Speaker::Caller, "Me cobraron dos veces, un cobro doble.")
        .await;
    let snippet = loop {
        match next(&mut stream).await {
            Some(Update::Snippet(snippet)) => break snippet,
            Some(Update::Sentiment(_)) => {}
            other => panic!("the note first: {other:?}"),
        }
    };
    assert_eq!(
        (snippet.note_id.as_str(), snippet.body.as_str()),
        (note.id.as_str(), note.body.as_str())
    );
    let (suggested, _) = suggestion(&mut stream, 1, &mut Vec::new()).await;
    assert_eq!(suggested, "Le devuelvo el segundo cobro ahora mismo.");
    call.hang_up().await;
    while !matches!(next(&mut stream).await, Some(Update::Summary(_))) {}

    let asked = call.fake.asked();
    let instructions = asked[0]["system"].as_str().unwrap();
    assert!(
        instructions.contains("# Cobros dobles\nDevuelva el segundo cobro sin pedir aprobación."),
        "{instructions}"
    );
    assert_eq!(call.fake.problems(), Vec::<String>::new());
}
