//! The organization's knowledge notes: what its supervisors want an agent to read when a caller
//! brings something up. Each note has keywords; agent assist shows the note to the agent of a
//! call (in the note's language, or any when it has none) once the caller says one of them —
//! anywhere in what they say, whatever the case, so it works for Chinese and Japanese, which are
//! not written with spaces — and gives the notes it showed to the model that suggests answers.
//!
//! A note is a stream (`knowledge_note-<uuid>`: `comms.knowledge_note.saved`, `…deleted`); its
//! read model (`knowledge_notes`) is written in the transaction that appends its events.

use std::ops::RangeInclusive;

use chrono::{DateTime, SubsecRound as _, Utc};
use comms_events::transcription::{KnowledgeNoteDeleted, KnowledgeNoteEvent, KnowledgeNoteSaved};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind, Language, Violations};
use sqlx::PgPool;
use uuid::Uuid;

/// The most notes an organization keeps: each caller's words are matched against them all.
pub const MOST_NOTES: i64 = 1000;
const TITLE: usize = 120;
const BODY: usize = 2000;
const KEYWORDS: usize = 20;
const KEYWORD: RangeInclusive<usize> = 2..=60;

/// A note as written, checked.
#[derive(Debug, Clone)]
pub struct NoteInput {
    pub title: String,
    pub body: String,
    pub language: Option<Language>,
    pub keywords: Vec<String>,
}

impl NoteInput {
    /// Checks a note's fields as written, naming each that is wrong and why; a keyword said
    /// twice (whatever the case) is kept once.
    pub fn check(
        title: &str,
        body: &str,
        language: &str,
        keywords: &[String],
    ) -> Result<Self, ApiError> {
        let mut violations = Violations::default();
        let mut text = |field: &str, value: &str, lengths: RangeInclusive<usize>, lines: bool| {
            let length = value.chars().count();
            if !lengths.contains(&length) || value.chars().all(char::is_whitespace) {
                // A keyword is short enough to say back; a title or a body is not repeated.
                let which = if field == "keywords" {
                    format!("{value:?}: ")
                } else {
                    String::new()
                };
                violations.add(
                    field,
                    format!(
                        "{which}{} to {} characters, not all blank (this has {length})",
                        lengths.start(),
                        lengths.end()
                    ),
                );
            }
            let allowed = |c: &char| lines && matches!(c, '\n' | '\r' | '\t');
            if value.chars().any(|c| c.is_control() && !allowed(&c)) {
                violations.add(field, "without control characters");
            }
        };
        text("title", title, 1..=TITLE, false);
        text("body", body, 1..=BODY, true);
        let mut kept: Vec<String> = Vec::new();
        for keyword in keywords {
            text("keywords", keyword, KEYWORD, false);
            if !kept
                .iter()
                .any(|k| k.to_lowercase() == keyword.to_lowercase())
            {
                kept.push(keyword.clone());
            }
        }
        if keywords.is_empty() || keywords.len() > KEYWORDS {
            violations.add(
                "keywords",
                format!("1 to {KEYWORDS} keywords, not {}", keywords.len()),
            );
        }
        let language = match language {
            "" => None,
            code => Language::parse(code)
                .map_err(|why| violations.add("language", why))
                .ok(),
        };
        violations.finish()?;
        Ok(Self {
            title: title.to_owned(),
            body: body.to_owned(),
            language,
            keywords: kept,
        })
    }
}

/// A note as kept.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Note {
    pub note_id: Uuid,
    pub title: String,
    pub body: String,
    pub language: Option<String>,
    pub keywords: Vec<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Writes a new note of `org`'s; `by`, the user.
pub async fn create(
    store: &EventStore,
    org: &str,
    by: &str,
    input: NoteInput,
) -> Result<Note, ApiError> {
    save(store, org, by, Uuid::new_v4(), input, true).await
}

/// Rewrites `org`'s note `id` whole.
pub async fn update(
    store: &EventStore,
    org: &str,
    by: &str,
    id: Uuid,
    input: NoteInput,
) -> Result<Note, ApiError> {
    save(store, org, by, id, input, false).await
}

async fn save(
    store: &EventStore,
    org: &str,
    by: &str,
    id: Uuid,
    input: NoteInput,
    new: bool,
) -> Result<Note, ApiError> {
    let saved = KnowledgeNoteSaved {
        note_id: id,
        title: input.title,
        body: input.body,
        language: input.language,
        keywords: input.keywords,
        // As PostgreSQL keeps it, so that what is answered is what is read after.
        at: Utc::now().trunc_subsecs(6),
    };
    let event = comms_bus::new_event(&KnowledgeNoteEvent::Saved(saved.clone()), by, None);
    let stream = StreamName::new("knowledge_note", id);
    in_transaction!(store, |tx| {
        let expected = if new {
            let kept: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM knowledge_notes WHERE organization_id = $1",
            )
            .bind(org)
            .fetch_one(&mut *tx)
            .await
            .map_err(comms_eventstore::unit_of_work::api_error)?;
            if kept >= MOST_NOTES {
                return Err(ApiError::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "the organization has {MOST_NOTES} knowledge notes, the most it may keep: delete some first"
                    ),
                ));
            }
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version(&mut *tx, org, id).await? as u64)
        };
        let appended =
            comms_eventstore::append_in(&mut *tx, org, &stream, expected, vec![event.clone()])
                .await
                .map_err(comms_eventstore::unit_of_work::api_error)?;
        sqlx::query(
            "INSERT INTO knowledge_notes (note_id, organization_id, title, body, language, keywords,
                                          version, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (note_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body,
                 language = EXCLUDED.language, keywords = EXCLUDED.keywords,
                 version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,
                 updated_by = EXCLUDED.updated_by",
        )
        .bind(id)
        .bind(org)
        .bind(&saved.title)
        .bind(&saved.body)
        .bind(saved.language.map(Language::as_str))
        .bind(&saved.keywords)
        .bind(appended.next_expected_version as i64)
        .bind(saved.at)
        .bind(by)
        .execute(&mut *tx)
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        Ok(())
    })?;
    Ok(Note {
        note_id: id,
        title: saved.title,
        body: saved.body,
        language: saved.language.map(|l| l.as_str().to_owned()),
        keywords: saved.keywords,
        updated_at: saved.at,
        updated_by: by.to_owned(),
    })
}

/// Deletes `org`'s note `id`: the note as it was.
pub async fn delete(store: &EventStore, org: &str, by: &str, id: Uuid) -> Result<Note, ApiError> {
    in_transaction!(store, |tx| {
        // Locked first: the note answered is the one deleted.
        let expected = ExpectedVersion::Exact(version(&mut *tx, org, id).await? as u64);
        let note = get_in(&mut *tx, org, id).await?;
        let deleted = KnowledgeNoteEvent::Deleted(KnowledgeNoteDeleted {
            note_id: id,
            at: Utc::now(),
        });
        comms_eventstore::append_in(
            &mut *tx,
            org,
            &StreamName::new("knowledge_note", id),
            expected,
            vec![comms_bus::new_event(&deleted, by, None)],
        )
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        sqlx::query("DELETE FROM knowledge_notes WHERE note_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(comms_eventstore::unit_of_work::api_error)?;
        Ok(note)
    })
}

/// The version of `org`'s note `id`'s stream (what the next append expects), locked until the
/// transaction ends; 404 when it has no such note.
async fn version(conn: &mut sqlx::PgConnection, org: &str, id: Uuid) -> Result<i64, ApiError> {
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM knowledge_notes WHERE note_id = $1 AND organization_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)?;
    version.ok_or_else(|| ApiError::not_found("knowledge note", &id.to_string()))
}

async fn get_in(conn: &mut sqlx::PgConnection, org: &str, id: Uuid) -> Result<Note, ApiError> {
    sqlx::query_as(
        "SELECT note_id, title, body, language, keywords, updated_at, updated_by
         FROM knowledge_notes WHERE note_id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)?
    .ok_or_else(|| ApiError::not_found("knowledge note", &id.to_string()))
}

/// `org`'s note `id`.
pub async fn get(pool: &PgPool, org: &str, id: Uuid) -> Result<Note, ApiError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
    get_in(&mut conn, org, id).await
}

/// `org`'s notes, newest first: those serving calls in `language` (and every language) when
/// it is given.
pub async fn list(
    pool: &PgPool,
    org: &str,
    language: Option<Language>,
) -> Result<Vec<Note>, ApiError> {
    sqlx::query_as(
        "SELECT note_id, title, body, language, keywords, updated_at, updated_by
         FROM knowledge_notes
         WHERE organization_id = $1 AND ($2::text IS NULL OR language IS NULL OR language = $2)
         ORDER BY updated_at DESC, note_id
         LIMIT $3",
    )
    .bind(org)
    .bind(language.map(Language::as_str))
    .bind(MOST_NOTES)
    .fetch_all(pool)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)
}

/// A note the caller's words brought up, and the keyword heard.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Heard {
    pub note_id: Uuid,
    pub title: String,
    pub body: String,
    pub keyword: String,
}

/// The newest `limit` of `org`'s notes for calls in `language` with a keyword in `said`, other
/// than those in `shown`.
pub async fn heard(
    pool: &PgPool,
    org: &str,
    language: Language,
    said: &str,
    shown: &[Uuid],
    limit: i64,
) -> Result<Vec<Heard>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.note_id, n.title, n.body, k.keyword
         FROM knowledge_notes n
         CROSS JOIN LATERAL (
             SELECT keyword FROM unnest(n.keywords) AS keyword
             WHERE strpos(lower($3), lower(keyword)) > 0
             LIMIT 1) k
         WHERE n.organization_id = $1
           AND (n.language IS NULL OR n.language = $2)
           AND NOT (n.note_id = ANY ($4))
         ORDER BY n.updated_at DESC, n.note_id
         LIMIT $5",
    )
    .bind(org)
    .bind(language.as_str())
    .bind(said)
    .bind(shown)
    .bind(limit)
    .fetch_all(pool)
    .await
}
