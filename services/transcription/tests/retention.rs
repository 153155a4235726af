//! Deleting transcripts, against real PostgreSQL and RabbitMQ through the service's gRPC API: a
//! deletion erases the call's words from the log (utterances, the lexicon's reasons, the
//! summary), from search and from what is read, in one transaction with
//! `comms.call.transcript_deleted` (on the bus, valid against its schema); search rebuilt from
//! the log shows nothing of it; words heard after it are not recorded; only an administrator of
//! the call's organization deletes. An organization's retention deletes its transcripts once
//! their time has run out, and no other organization's.

mod support;

use std::sync::Arc;

use chrono::{Duration, Utc};
use comms_auth::Role;
use comms_bus::Handler as _;
use comms_events::Event as _;
use comms_events::call::{CallEvent, Transcriber, TranscriptDeleted};
use comms_eventstore::{EventStore, StreamName};
use comms_proto::Language;
use comms_proto::v1::{
    GetTranscriptRequest, GetTranscriptRetentionRequest, SearchTranscriptsRequest,
    SetTranscriptRetentionRequest,
};
use comms_transcription::Speaker;
use comms_transcription::assist::Assistant;
use comms_transcription::search::SearchIndexer;
use comms_transcription::sentiment::Scorer;
use comms_transcription::session::{Settings, Transcript};
use support::bus::{Bus, Client, Served};
use support::calls;
use support::schemas::assert_valid;
use uuid::Uuid;

const ORG: &str = "org_retention";
const OTHER_ORG: &str = "org_retention_other";
/// A word said only in the transcripts, to find it anywhere it might remain.
const WORD: &str = "zanahoria";

async fn served() -> (Bus, Served, Client) {
    let bus = Bus::tapping(&[TranscriptDeleted::TYPE]).await;
    let env = bus.env(&[("TRANSCRIBER", "off")]);
    let served = bus
        .serve(comms_transcription::Config::from_env(&env).unwrap())
        .await;
    let client = served.client().await;
    (bus, served, client)
}

fn settings(bus: &Bus) -> Arc<Settings> {
    calls::settings(
        EventStore::new(bus.db.pool.clone()),
        Scorer::Lexicon,
        Assistant::Extractive,
    )
}

/// A call of `org`'s with its agent, heard to its end: the caller upset about a carrot.
async fn transcribed_call(bus: &Bus, org: &str) -> Uuid {
    let call = Uuid::new_v4();
    calls::started(
        &EventStore::new(bus.db.pool.clone()),
        org,
        call,
        Uuid::new_v4(),
    )
    .await;
    let mut transcript = Transcript::new(
        settings(bus),
        org,
        call,
        Language::Es,
        Transcriber::Deepgram,
    );
    let lines = [
        (
            Speaker::Caller,
            "Mi zanahoria llegó podrida, estoy furioso, es terrible.",
        ),
        (Speaker::Agent, "Lo siento, le envío otra zanahoria hoy."),
    ];
    for (n, (speaker, text)) in lines.into_iter().enumerate() {
        transcript.hear(calls::said(n, speaker, text)).await;
    }
    transcript.complete(6.0).await;
    call
}

fn admin<T>(served: &Served, org: &str, message: T) -> tonic::Request<T> {
    served.ask(org, "ada-admin", Role::Admin, message)
}

fn of(call: Uuid) -> GetTranscriptRequest {
    GetTranscriptRequest {
        call_id: call.to_string(),
    }
}

async fn found(client: &mut Client, served: &Served, org: &str, word: &str) -> usize {
    let query = SearchTranscriptsRequest {
        query: word.into(),
        ..Default::default()
    };
    let hits = client
        .search_transcripts(admin(served, org, query))
        .await
        .unwrap();
    hits.into_inner().hits.len()
}

/// How many events of the database hold `word` anywhere in their data.
async fn events_saying(bus: &Bus, word: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE data::text ILIKE '%' || $1 || '%'")
        .bind(word)
        .fetch_one(&bus.db.pool)
        .await
        .unwrap()
}

/// How many events of the call's transcript hold `word`.
async fn transcript_saying(bus: &Bus, call: Uuid, word: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE stream_name = $1 AND data::text ILIKE '%' || $2 || '%'",
    )
    .bind(StreamName::new("transcript", call).as_str())
    .bind(word)
    .fetch_one(&bus.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_deleted_transcripts_words_are_gone_from_the_log_search_and_reads() {
    let (bus, served, mut client) = served().await;
    let call = transcribed_call(&bus, ORG).await;
    // Indexed for search (the consumer follows the bus).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while found(&mut client, &served, ORG, WORD).await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "never indexed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(events_saying(&bus, WORD).await >= 2);
    assert!(
        events_saying(&bus, "furioso").await >= 1,
        "the lexicon names the word it went by"
    );

    // Only the administrator of the call's organization deletes.
    for role in [Role::Supervisor, Role::Agent] {
        let refused = client
            .delete_transcript(served.ask(ORG, "someone", role, of(call)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{role}");
        assert!(
            refused.message().contains("transcripts:manage"),
            "{}",
            refused.message()
        );
    }
    let elsewhere = client
        .delete_transcript(admin(&served, OTHER_ORG, of(call)))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), tonic::Code::NotFound);
    let malformed = client
        .delete_transcript(admin(
            &served,
            ORG,
            GetTranscriptRequest {
                call_id: "carrot".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
    assert!(
        malformed.message().contains("call_id"),
        "{}",
        malformed.message()
    );
    assert!(events_saying(&bus, WORD).await >= 2, "nothing changed yet");

    let deleted = client
        .delete_transcript(admin(&served, ORG, of(call)))
        .await
        .unwrap()
        .into_inner();
    let deletion = deleted.deleted.clone().expect("deleted");
    assert_eq!(deletion.reason, "request");
    assert_eq!(deletion.deleted_by, "ada-admin");
    assert!(deleted.utterances.is_empty() && deleted.complete);

    // Nowhere in the log, search or reads; every event still valid against its schema.
    assert_eq!(events_saying(&bus, WORD).await, 0);
    assert_eq!(events_saying(&bus, "furioso").await, 0);
    assert_eq!(found(&mut client, &served, ORG, WORD).await, 0);
    let stream = EventStore::new(bus.db.pool.clone())
        .read_stream(&StreamName::new("transcript", call), 0, 100)
        .await
        .unwrap();
    for event in &stream {
        assert_valid(&event.event_type, &event.data);
    }
    let read = client
        .get_transcript(admin(&served, ORG, of(call)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, deleted);
    assert!(read.sentiment.is_some(), "what was counted stays");
    let summary = client
        .get_summary(admin(&served, ORG, of(call)))
        .await
        .unwrap_err();
    assert_eq!(summary.code(), tonic::Code::NotFound);
    assert!(
        summary.message().contains("deleted"),
        "{}",
        summary.message()
    );

    // On the bus, valid; erased: the two utterances, the window's and call's sentiment, the
    // alert, the summary.
    let envelope = bus.next().await;
    assert_eq!(envelope["type"], TranscriptDeleted::TYPE);
    assert_valid(TranscriptDeleted::TYPE, &envelope["data"]);
    assert_eq!(envelope["data"]["reason"], "request");
    let erased = envelope["data"]["erased"].as_u64().unwrap();
    assert!(erased >= 4, "{envelope}");

    // Again: nothing changes.
    let again = client
        .delete_transcript(admin(&served, ORG, of(call)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.deleted, Some(deletion));
    let deletions = stream
        .iter()
        .filter(|e| e.event_type == TranscriptDeleted::TYPE)
        .count();
    assert_eq!(deletions, 1);

    // Words heard after the deletion (the call going on) are not recorded.
    let mut late = Transcript::new(
        settings(&bus),
        ORG,
        call,
        Language::Es,
        Transcriber::Deepgram,
    );
    late.hear(calls::said(
        5,
        Speaker::Caller,
        "Otra zanahoria, por favor.",
    ))
    .await;
    late.complete(20.0).await;
    let after = EventStore::new(bus.db.pool.clone())
        .read_stream(&StreamName::new("transcript", call), 0, 100)
        .await
        .unwrap();
    assert_eq!(
        after.len(),
        stream.len(),
        "nothing recorded after the deletion"
    );
    assert_eq!(events_saying(&bus, WORD).await, 0);

    // Search rebuilt from the log: nothing of the call.
    sqlx::query("TRUNCATE transcript_lines, transcript_deletions, transcript_call_agents")
        .execute(&bus.db.pool)
        .await
        .unwrap();
    let mut conn = bus.db.pool.acquire().await.unwrap();
    let call_stream = EventStore::new(bus.db.pool.clone())
        .read_stream(&StreamName::new("call", call), 0, 100)
        .await
        .unwrap();
    for event in call_stream.iter().chain(&after) {
        SearchIndexer
            .handle(&mut conn, &comms_bus::envelope_of(event))
            .await
            .unwrap();
    }
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM transcript_lines")
        .fetch_one(&bus.db.pool)
        .await
        .unwrap();
    assert_eq!(lines, 0);
    // An utterance published before the deletion and redelivered after it is not kept.
    let original = comms_bus::new_event(
        &CallEvent::Utterance(comms_events::call::Utterance {
            call_id: call,
            speaker: Speaker::Caller,
            text: "Mi zanahoria llegó podrida".into(),
            start_seconds: 0.0,
            end_seconds: 2.5,
            confidence: 0.9,
            language: Language::Es,
            transcriber: Transcriber::Deepgram,
            at: Utc::now(),
        }),
        "system:transcription",
        None,
    );
    let mut redelivered = comms_bus::envelope_of(&after[0]);
    redelivered.id = Uuid::new_v4();
    redelivered.data = original.data;
    SearchIndexer.handle(&mut conn, &redelivered).await.unwrap();
    assert_eq!(found(&mut client, &served, ORG, WORD).await, 0);
}

#[tokio::test]
async fn an_organizations_retention_deletes_its_transcripts_once_their_time_runs_out() {
    let (bus, served, mut client) = served().await;
    let ours = transcribed_call(&bus, ORG).await;
    let theirs = transcribed_call(&bus, OTHER_ORG).await;

    // Never said: kept until deleted.
    let retention = client
        .get_transcript_retention(admin(&served, ORG, GetTranscriptRetentionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((retention.days, retention.updated_by.as_str()), (0, ""));
    let refused = client
        .set_transcript_retention(served.ask(
            ORG,
            "sam",
            Role::Supervisor,
            SetTranscriptRetentionRequest { days: 1 },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let too_long = client
        .set_transcript_retention(admin(
            &served,
            ORG,
            SetTranscriptRetentionRequest { days: 3651 },
        ))
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), tonic::Code::InvalidArgument);
    assert!(
        too_long.message().contains("days"),
        "{}",
        too_long.message()
    );

    let set = client
        .set_transcript_retention(admin(
            &served,
            ORG,
            SetTranscriptRetentionRequest { days: 30 },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((set.days, set.updated_by.as_str()), (30, "ada-admin"));
    let read = client
        .get_transcript_retention(admin(&served, ORG, GetTranscriptRetentionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, set);

    let theirs_before = transcript_saying(&bus, theirs, WORD).await;
    assert!(theirs_before >= 2);
    let store = EventStore::new(bus.db.pool.clone());
    let sweep = comms_transcription::retention::sweep;
    assert_eq!(
        sweep(&store, Utc::now() + Duration::days(29))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        sweep(&store, Utc::now() + Duration::days(31))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        sweep(&store, Utc::now() + Duration::days(31))
            .await
            .unwrap(),
        0
    );

    let swept = client
        .get_transcript(admin(&served, ORG, of(ours)))
        .await
        .unwrap()
        .into_inner();
    let deletion = swept.deleted.expect("deleted by the retention");
    assert_eq!(
        (deletion.reason.as_str(), deletion.deleted_by.as_str()),
        ("retention", "")
    );
    let kept = client
        .get_transcript(admin(&served, OTHER_ORG, of(theirs)))
        .await
        .unwrap()
        .into_inner();
    assert!(kept.deleted.is_none() && kept.utterances.len() == 2);
    assert_eq!(transcript_saying(&bus, ours, WORD).await, 0);
    assert_eq!(transcript_saying(&bus, theirs, WORD).await, theirs_before);
    let envelope = bus.next().await;
    assert_eq!(envelope["data"]["reason"], "retention");
    assert_eq!(envelope["data"]["call_id"], ours.to_string());

    // Kept until deleted again.
    let forever = client
        .set_transcript_retention(admin(
            &served,
            ORG,
            SetTranscriptRetentionRequest { days: 0 },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forever.days, 0);
    let later = transcribed_call(&bus, ORG).await;
    assert_eq!(
        sweep(&store, Utc::now() + Duration::days(4000))
            .await
            .unwrap(),
        0
    );
    let still = client
        .get_transcript(admin(&served, ORG, of(later)))
        .await
        .unwrap()
        .into_inner();
    assert!(still.deleted.is_none());
}
