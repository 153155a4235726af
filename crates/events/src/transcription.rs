//! How long an organization keeps its calls' transcripts: stream `transcript_retention-<uuid>`
//! (one per organization), published as `comms.transcript_retention.*`, kept by the
//! transcription service, which deletes the transcripts whose time has run out.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
