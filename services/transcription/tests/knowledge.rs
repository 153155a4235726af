//! Knowledge notes, against real PostgreSQL and RabbitMQ through the service's gRPC API:
//! supervisors and administrators write them (each change an event on the bus, valid against its
//! schema), everyone in the organization reads them, nobody outside it sees them, and every
//! malformed field is refused by name. During a call, agent assist shows its agent the notes
//! whose keywords the caller says — whatever the case, without spaces in Japanese, each note
//! once, only the notes for the call's language and organization — without an Anthropic key too.

mod support;

use std::time::Duration;

use comms_auth::Role;
use comms_events::Event as _;
use comms_events::call::Transcriber;
use comms_events::transcription::{KnowledgeNoteDeleted, KnowledgeNoteSaved};
use comms_eventstore::EventStore;
use comms_proto::v1::assist_update::Update;
use comms_proto::v1::{
    GetTranscriptRequest, KnowledgeNote, KnowledgeNoteInput, KnowledgeNoteRequest,
    ListKnowledgeNotesRequest, UpdateKnowledgeNoteRequest,
};
use comms_proto::{ApiError, Language};
use comms_transcription::Speaker;
use comms_transcription::assist::Assistant;
use comms_transcription::knowledge;
use comms_transcription::sentiment::Scorer;
use comms_transcription::session::Transcript;
use support::bus::{Bus, Client, Served};
use support::calls;
use support::schemas::assert_valid;
use uuid::Uuid;

const ORG: &str = "org_knowledge";
const OTHER_ORG: &str = "org_knowledge_other";

async fn served(tapped: &[&str]) -> (Bus, Served, Client) {
    let bus = Bus::tapping(tapped).await;
    let env = bus.env(&[("TRANSCRIBER", "off")]);
    let served = bus
        .serve(comms_transcription::Config::from_env(&env).unwrap())
        .await;
    let client = served.client().await;
    (bus, served, client)
}

/// Someone asking the service.
struct User<'a> {
    served: &'a Served,
    org: String,
    user: String,
    role: Role,
}

impl<'a> User<'a> {
    fn new(served: &'a Served, org: &str, user: &str, role: Role) -> Self {
        let (org, user) = (org.to_owned(), user.to_owned());
        Self {
            served,
            org,
            user,
            role,
        }
    }

    fn ask<T>(&self, message: T) -> tonic::Request<T> {
        self.served.ask(&self.org, &self.user, self.role, message)
    }
}

fn note(title: &str, language: &str, keywords: &[&str]) -> KnowledgeNoteInput {
    KnowledgeNoteInput {
        title: title.into(),
        body: format!("{title}: what to do, step by step."),
        language: language.into(),
        keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
    }
}

/// The fields a refusal names.
fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    ApiError::from_status(status)
        .violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervisors_write_notes_everyone_in_the_organization_reads_them() {
    let (bus, served, mut client) =
        served(&[KnowledgeNoteSaved::TYPE, KnowledgeNoteDeleted::TYPE]).await;
    let supervisor = User::new(&served, ORG, "sam-supervisor", Role::Supervisor);

    // A supervisor writes one: on the bus, valid, as answered.
    let written = client
        .create_knowledge_note(supervisor.ask(note(
            "Double charges",
            "es",
            &["cobro doble", "reembolso"],
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            written.language.as_str(),
            written.keywords.len(),
            written.updated_by.as_str()
        ),
        ("es", 2, "sam-supervisor")
    );
    let envelope = bus.next().await;
    assert_eq!(envelope["type"], KnowledgeNoteSaved::TYPE);
    assert_valid(KnowledgeNoteSaved::TYPE, &envelope["data"]);
    assert_eq!(envelope["data"]["note_id"], written.id);
    assert_eq!(envelope["data"]["keywords"][0], "cobro doble");

    // An agent reads it, alone or listed; the language filter keeps it for Spanish calls only,
    // with the notes for every language.
    let everywhere = client
        .create_knowledge_note(supervisor.ask(note("Opening hours", "", &["opening hours"])))
        .await
        .unwrap()
        .into_inner();
    let agent = User::new(&served, ORG, &Uuid::new_v4().to_string(), Role::Agent);
    let read = client
        .get_knowledge_note(agent.ask(KnowledgeNoteRequest {
            id: written.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, written);
    let listed = |language: &str| ListKnowledgeNotesRequest {
        language: language.into(),
    };
    let ids = |notes: Vec<KnowledgeNote>| notes.into_iter().map(|n| n.id).collect::<Vec<_>>();
    let all = client
        .list_knowledge_notes(agent.ask(listed("")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ids(all.notes),
        [everywhere.id.clone(), written.id.clone()],
        "newest first"
    );
    let french = client
        .list_knowledge_notes(agent.ask(listed("fr")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(french.notes), [everywhere.id.as_str()]);
    let refused = client
        .list_knowledge_notes(agent.ask(listed("xx")))
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["language"]);

    // An agent may not write one.
    let refused = client
        .create_knowledge_note(agent.ask(note("Mine", "", &["mine"])))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused.message().contains("knowledge:manage"),
        "{refused:?}"
    );

    // Another organization's administrator finds nothing, changes nothing.
    let outsider = User::new(&served, OTHER_ORG, "olga-admin", Role::Admin);
    let id = || KnowledgeNoteRequest {
        id: written.id.clone(),
    };
    let code = client
        .get_knowledge_note(outsider.ask(id()))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, tonic::Code::NotFound);
    let rewrite = UpdateKnowledgeNoteRequest {
        id: written.id.clone(),
        note: Some(note("Hijacked", "", &["anything"])),
    };
    let code = client
        .update_knowledge_note(outsider.ask(rewrite.clone()))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, tonic::Code::NotFound);
    let code = client
        .delete_knowledge_note(outsider.ask(id()))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, tonic::Code::NotFound);
    let theirs = client
        .list_knowledge_notes(outsider.ask(listed("")))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.notes.is_empty());

    // Each malformed field is named.
    let bad = [
        (note("", "", &["fine"]), "title"),
        (note(&"t".repeat(121), "", &["fine"]), "title"),
        (
            KnowledgeNoteInput {
                body: " \n ".into(),
                ..note("Blank", "", &["fine"])
            },
            "body",
        ),
        (
            KnowledgeNoteInput {
                body: "x".repeat(2001),
                ..note("Long", "", &["fine"])
            },
            "body",
        ),
        (
            KnowledgeNoteInput {
                body: "bell \u{7}".into(),
                ..note("Bell", "", &["fine"])
            },
            "body",
        ),
        (note("Title", "klingon", &["fine"]), "language"),
        (note("Title", "", &[]), "keywords"),
        (note("Title", "", &["x"]), "keywords"),
        (note("Title", "", &["   "]), "keywords"),
        (note("Title", "", &[&"k".repeat(61)]), "keywords"),
        (note("Title", "", &["tab\there"]), "keywords"),
        (note("Title", "", &["kw"; 21]), "keywords"),
    ];
    for (input, field) in bad {
        let refused = client
            .create_knowledge_note(supervisor.ask(input.clone()))
            .await
            .unwrap_err();
        assert_eq!(fields(&refused), [field], "{input:?}");
    }
    let refused = client
        .get_knowledge_note(agent.ask(KnowledgeNoteRequest { id: "nope".into() }))
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["id"]);

    // Rewritten whole (a keyword said twice kept once), then deleted: gone for everyone.
    let rewritten = client
        .update_knowledge_note(supervisor.ask(UpdateKnowledgeNoteRequest {
            id: written.id.clone(),
            note: Some(note(
                "Double charges",
                "",
                &["Refund", "refund", "charged twice"],
            )),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rewritten.keywords, ["Refund", "charged twice"]);
    assert_eq!(rewritten.language, "");
    assert_eq!(bus.next().await["type"], KnowledgeNoteSaved::TYPE); // opening hours
    let envelope = bus.next().await;
    assert_eq!(envelope["data"]["note_id"], written.id);
    assert!(envelope["data"].get("language").is_none(), "{envelope}");
    client
        .delete_knowledge_note(supervisor.ask(id()))
        .await
        .unwrap();
    let envelope = bus.next().await;
    assert_eq!(envelope["type"], KnowledgeNoteDeleted::TYPE);
    assert_valid(KnowledgeNoteDeleted::TYPE, &envelope["data"]);
    let code = client
        .get_knowledge_note(agent.ask(id()))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, tonic::Code::NotFound);
    let code = client
        .update_knowledge_note(supervisor.ask(rewrite))
        .await
        .unwrap_err()
        .code();
    assert_eq!(code, tonic::Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assist_shows_the_notes_the_caller_brings_up_once_each_without_a_model() {
    let (bus, served, mut client) = served(&[]).await;
    let mut create = async |org: &str, input: KnowledgeNoteInput| {
        let supervisor = User::new(&served, org, "sam", Role::Supervisor);
        client
            .create_knowledge_note(supervisor.ask(input))
            .await
            .unwrap()
            .into_inner()
    };
    let refunds = create(ORG, note("Double charges", "es", &["cobro doble"])).await;
    let anywhere = create(ORG, note("Escalations", "", &["supervisor"])).await;
    create(ORG, note("French only", "fr", &["cobro"])).await;
    create(OTHER_ORG, note("Not ours", "es", &["cobro doble"])).await;
    create(ORG, note("Unheard", "es", &["portabilidad"])).await;

    // A Spanish call of Ada's, transcribed without Anthropic.
    let store = EventStore::new(bus.db.pool.clone());
    let (call, ada) = (Uuid::new_v4(), Uuid::new_v4());
    calls::started(&store, ORG, call, ada).await;
    let settings = calls::settings(store.clone(), Scorer::Lexicon, Assistant::Extractive);
    let mut transcript = Transcript::new(settings, ORG, call, Language::Es, Transcriber::Deepgram);
    let mut stream = client
        .assist(
            User::new(&served, ORG, &ada.to_string(), Role::Agent).ask(GetTranscriptRequest {
                call_id: call.to_string(),
            }),
        )
        .await
        .unwrap()
        .into_inner();
    let lines = [
        (Speaker::Caller, "Me han hecho un COBRO DOBLE este mes."),
        (
            Speaker::Agent,
            "Lo siento; si quiere, le paso con mi supervisor.",
        ),
        (
            Speaker::Caller,
            "Sí, quiero hablar con un supervisor por el cobro doble.",
        ),
    ];
    for (n, (speaker, text)) in lines.into_iter().enumerate() {
        transcript.hear(calls::said(n, speaker, text)).await;
    }
    transcript.complete(9.0).await;

    // Until the summary: the Spanish note when the caller first said its words (whatever the
    // case), the note for every language when the caller (not the agent) said "supervisor";
    // each once; neither the French note, nor another organization's, nor one never said.
    let mut shown = Vec::new();
    loop {
        let update = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("an update within 30 s")
            .unwrap()
            .and_then(|u| u.update);
        match update {
            Some(Update::Snippet(snippet)) => shown.push((snippet.note_id, snippet.heard)),
            Some(Update::Summary(_)) | None => break,
            Some(_) => {}
        }
    }
    assert_eq!(
        shown,
        [
            (refunds.id, "cobro doble".to_owned()),
            (anywhere.id, "supervisor".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_keyword_is_heard_anywhere_in_what_is_said_in_japanese_and_chinese_too() {
    let bus = Bus::tapping(&[]).await;
    let store = EventStore::new(bus.db.pool.clone());
    let input = |language: &str, keyword: &str| {
        knowledge::NoteInput::check("Refunds", "How to refund.", language, &[keyword.to_owned()])
            .unwrap()
    };
    let ja = knowledge::create(&store, ORG, "sam", input("ja", "返金"))
        .await
        .unwrap();
    let zh = knowledge::create(&store, ORG, "sam", input("zh", "退款"))
        .await
        .unwrap();
    let heard = |language, said: &'static str| {
        let pool = bus.db.pool.clone();
        async move {
            knowledge::heard(&pool, ORG, language, said, &[], 3)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.note_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        heard(Language::Ja, "先月の料金を返金してほしいです").await,
        [ja.note_id]
    );
    assert_eq!(heard(Language::Zh, "我想要退款可以吗").await, [zh.note_id]);
    assert!(
        heard(Language::Ja, "料金について質問があります")
            .await
            .is_empty()
    );
    // Notes already shown are not found again.
    let again = knowledge::heard(&bus.db.pool, ORG, Language::Ja, "返金", &[ja.note_id], 3)
        .await
        .unwrap();
    assert!(again.is_empty());
}
