//! The campaigns service's storage: each change appended to its stream and written to its read
//! model in one transaction; a command locks the read-model row, decides on the state in it, and
//! appends with the row's version as the expected version (as in the agents service, ADR 7).

pub mod campaigns;
pub mod contacts;
pub mod do_not_call;

use comms_events::EventSet;
use comms_eventstore::{Error as StoreError, ExpectedVersion, StreamName};
use comms_proto::{ApiError, ErrorKind};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::DomainError;

pub use comms_eventstore::unit_of_work::api_error as store_error;

/// An aggregate as its read model holds it.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

pub fn domain_error(error: DomainError, what: &str, id: Uuid) -> ApiError {
    match &error {
        DomainError::NotFound => ApiError::not_found(what, &id.to_string()),
        DomainError::AlreadyExists => ApiError::new(
            ErrorKind::AlreadyExists,
            format!("{what} {id} already exists"),
        ),
        DomainError::IllegalTransition { .. } => {
            ApiError::new(ErrorKind::FailedPrecondition, error.to_string())
        }
        DomainError::Invalid { field, reason } => ApiError::invalid(*field, reason.clone()),
    }
}

/// Appends `events` to `stream` at `expected`; returns the stream's new version.
async fn append<E: EventSet>(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    stream: StreamName,
    expected: ExpectedVersion,
    events: &[E],
) -> Result<u64, ApiError> {
    let what = stream.category().to_owned();
    let id = stream.id();
    let events = events
        .iter()
        .map(|event| comms_bus::new_event(event, Some(actor), None))
        .collect();
    let appended = comms_eventstore::append_in(tx, org, &stream, expected, events)
        .await
        .map_err(|e| match e {
            StoreError::TenantMismatch { .. } => ApiError::not_found(&what, &id.to_string()),
            // Only a concurrent create gets here (the row lock orders every other writer); the
            // retry finds the aggregate.
            StoreError::WrongExpectedVersion { .. } => {
                ApiError::new(ErrorKind::Aborted, "concurrent create")
            }
            other => store_error(other),
        })?;
    Ok(appended.next_expected_version)
}

fn expected(version: Option<u64>) -> ExpectedVersion {
    version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact)
}
