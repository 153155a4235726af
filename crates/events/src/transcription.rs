//! What the transcription service keeps besides transcripts: how long an organization keeps its
//! calls' transcripts (stream `transcript_retention-<uuid>`, one per organization, published as
//! `comms.transcript_retention.*`; the service deletes the transcripts whose time has run out),
//! and the organization's knowledge notes that agent assist shows (`knowledge_note-<uuid>`,
//! `comms.knowledge_note.*`).

use chrono::{DateTime, Utc};
use comms_proto::Language;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of an organization's transcript retention stream.
    pub enum TranscriptRetentionEvent bound as "comms.transcript_retention.*" {
        Changed(RetentionChanged),
    }
}

/// The longest a retention may be: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// How long the organization's transcripts are now kept, from their call's first words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionChanged {
    /// Days; absent: kept until deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub days: Option<u32>,
    pub at: DateTime<Utc>,
}

crate::events! {
    RetentionChanged => "comms.transcript_retention.changed", version 1, "how long the organization keeps its calls' transcripts changed";
}

crate::event_set! {
    /// Every event of a knowledge note's stream (`knowledge_note-<uuid>`): the organization's
    /// notes that agent assist shows an agent when the caller says one of a note's keywords.
    pub enum KnowledgeNoteEvent bound as "comms.knowledge_note.*" {
        Saved(KnowledgeNoteSaved),
        Deleted(KnowledgeNoteDeleted),
    }
}

/// A note written or rewritten: the whole note as it now reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KnowledgeNoteSaved {
    pub note_id: Uuid,
    #[schemars(length(min = 1, max = 120))]
    pub title: String,
    #[schemars(length(min = 1, max = 2000))]
    pub body: String,
    /// The calls' language it serves; absent: calls in every language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Words or phrases: the caller saying any of them (whatever the case) shows the note.
    #[schemars(length(min = 1, max = 20), inner(length(min = 2, max = 60)))]
    pub keywords: Vec<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KnowledgeNoteDeleted {
    pub note_id: Uuid,
    pub at: DateTime<Utc>,
}

crate::events! {
    KnowledgeNoteSaved => "comms.knowledge_note.saved", version 1, "a knowledge note was written or rewritten";
    KnowledgeNoteDeleted => "comms.knowledge_note.deleted", version 1, "a knowledge note was deleted";
}
