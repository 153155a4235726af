//! The campaigns service's storage: each change appended to its stream and written to its read
//! model in one transaction; a command takes the aggregate's lock (`lock_order`), decides on the
//! state in its read-model row, and appends with the row's version as the expected version (as
//! in the agents service, ADR 7). It fails with [`Failure`], never the API's errors.

pub mod campaigns;
pub mod contacts;
pub mod do_not_call;

use comms_events::EventSet;
use comms_eventstore::unit_of_work::Failure;
use comms_eventstore::{Error as StoreError, ExpectedVersion, StreamName};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::DomainError;

/// An aggregate as its read model holds it.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// What storage code fails with: the store's failures and the domain's refusals; the API's terms
/// come from the service's error table (`grpc`).
pub type Result<T> = std::result::Result<T, Failure<DomainError>>;

/// The aggregate's refusal of a command on `what` `id`.
fn refused(error: DomainError, what: &'static str, id: Uuid) -> Failure<DomainError> {
    let id = id.to_string();
    match error {
        DomainError::NotFound => Failure::NotFound { what, id },
        DomainError::AlreadyExists => Failure::AlreadyExists { what, id },
        other => Failure::Refused(other),
    }
}

/// Appends `events` to the `category` stream of `id` at `expected`; returns the stream's new
/// version. A concurrent create (the only writer the lock does not order) fails as a lost race,
/// and the unit of work's retry finds the aggregate.
async fn append<E: EventSet>(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    (category, id): (&'static str, Uuid),
    expected: ExpectedVersion,
    events: &[E],
) -> Result<u64> {
    let events = events
        .iter()
        .map(|event| comms_bus::new_event(event, actor, None))
        .collect();
    let stream = StreamName::new(category, id);
    let appended = comms_eventstore::append_in(tx, org, &stream, expected, events)
        .await
        .map_err(|e| match e {
            StoreError::TenantMismatch { .. } => Failure::not_found(category, id),
            other => Failure::Store(other),
        })?;
    Ok(appended.next_expected_version)
}

fn expected(version: Option<u64>) -> ExpectedVersion {
    version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact)
}
