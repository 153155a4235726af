//! Loading an aggregate from its stream inside a unit of work, one way for calls, numbers and
//! IVR flows: its events in order, folded with the aggregate's `apply`, and the version the
//! next append expects. Another organization's stream is as unknown as no stream.

use comms_events::EventSet;
use comms_eventstore::{ExpectedVersion, StreamName};
use comms_proto::ApiError;
use sqlx::PgConnection;

/// The state `stream` folds to (none for an empty stream) and the version to append after;
/// `what` names the aggregate in a not-found error.
pub(crate) async fn load<E: EventSet, S>(
    tx: &mut PgConnection,
    org: &str,
    stream: &StreamName,
    what: &str,
    apply: impl Fn(Option<S>, &E) -> S,
) -> Result<(Option<S>, ExpectedVersion), ApiError> {
    let recorded = comms_eventstore::read_stream_in(tx, stream, 0, usize::MAX >> 1)
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
    let Some(last) = recorded.last() else {
        return Ok((None, ExpectedVersion::NoStream));
    };
    if recorded[0].tenant_id != org {
        return Err(ApiError::not_found(what, &stream.id().to_string()));
    }
    let mut state = None;
    for event in &recorded {
        let event = comms_bus::decode_recorded::<E>(event).map_err(|e| {
            tracing::error!(%stream, error = %e, "unreadable event in a {what} stream");
            ApiError::internal()
        })?;
        state = Some(apply(state, &event));
    }
    Ok((state, ExpectedVersion::Exact(last.stream_position as u64)))
}
