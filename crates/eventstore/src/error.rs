//! Errors of the event store. Conflicts are typed so callers can retry or report them.

use crate::ExpectedVersion;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another writer changed the stream since the caller read it.
    #[error("wrong expected version on {stream}: expected {expected}, stream is at {actual}")]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        /// The stream's current version, `None` when it does not exist.
        actual: CurrentVersion,
    },
    /// Some of the event ids are already stored, but not as this exact append.
    #[error("event ids of this append are already stored elsewhere (stream {stream})")]
    EventIdConflict { stream: String },
    /// This transaction began writing before the one that appended the stream's last event:
    /// appending now would put this event before that one in global order (readers, and the
    /// bus, order by transaction). A conflict: retry in a new transaction.
    #[error("stream {stream} was appended to by a newer transaction; retry in a new one")]
    OlderTransaction { stream: String },
    /// This transaction wrote something before appending without declaring first that it
    /// appends: readers of the log may already have passed its id. A defect of the caller.
    #[error(
        "stream {stream}: this transaction wrote before declaring that it appends; begin it with \
         EventStore::begin or comms_eventstore::BEGIN_APPENDING"
    )]
    UndeclaredAppend { stream: String },
    /// The stream exists and belongs to another organization.
    #[error("stream {stream} belongs to another tenant")]
    TenantMismatch { stream: String },
    #[error("invalid stream name {0:?}: expected <category>-<uuid>")]
    InvalidStreamName(String),
    #[error("an append needs at least one event")]
    EmptyAppend,
    #[error("event store database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The version a stream was found at, printed as a number or `no stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentVersion(pub Option<u64>);

impl std::fmt::Display for CurrentVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(version) => write!(f, "{version}"),
            None => f.write_str("no stream"),
        }
    }
}
