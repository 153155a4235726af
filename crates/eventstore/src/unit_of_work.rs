//! Use cases as units of work: one transaction, retried from the start when a concurrent writer
//! won. Storage code fails in its own terms ([`Failure`]); each service's domain errors and
//! [`api_error`] turn those into the API's, in one place.

use comms_proto::{ApiError, ErrorKind};

use crate::Error;

/// How many times a unit of work runs before a lost race is reported as `ABORTED`.
pub const MAX_ATTEMPTS: usize = 5;

/// A lost race that a fresh attempt resolves: a concurrent append, an append that would have
/// landed behind a newer transaction's, a serialization failure, a deadlock.
pub fn is_conflict(error: &Error) -> bool {
    match error {
        Error::WrongExpectedVersion { .. } | Error::OlderTransaction { .. } => true,
        Error::Database(sqlx::Error::Database(e)) => {
            matches!(e.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Why storage code could not do what a use case asked, in the store's and the domain's terms:
/// `D` is the service's domain error. The API's terms come from `From<Failure<D>> for ApiError`,
/// with `D`'s own conversion (each service's error table).
#[derive(Debug, thiserror::Error)]
pub enum Failure<D> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Refused(D),
    /// No such `what` in the organization (another organization's reads as absent).
    #[error("no {what} {id}")]
    NotFound { what: &'static str, id: String },
    /// A create found the `what` there already.
    #[error("{what} {id} already exists")]
    AlreadyExists { what: &'static str, id: String },
    /// A concurrent writer got there first in a way only the caller can tell (a unique row it
    /// meant to insert); a fresh attempt resolves it, as it does a store conflict.
    #[error("a concurrent {0} won")]
    LostRace(&'static str),
    /// The store failed, or a concurrent writer won (which a fresh attempt resolves).
    #[error(transparent)]
    Store(#[from] Error),
}

impl<D> Failure<D> {
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

impl<D> From<sqlx::Error> for Failure<D> {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

impl<D: Into<ApiError>> From<Failure<D>> for ApiError {
    fn from(failure: Failure<D>) -> Self {
        match failure {
            Failure::Refused(error) => error.into(),
            Failure::NotFound { what, id } => ApiError::not_found(what, &id),
            Failure::AlreadyExists { what, id } => ApiError::new(
                ErrorKind::AlreadyExists,
                format!("{what} {id} already exists"),
            ),
            Failure::LostRace(what) => ApiError::new(
                ErrorKind::Aborted,
                format!("a concurrent {what} won; retry"),
            ),
            Failure::Store(error) => api_error(error),
        }
    }
}

/// True when `error` says the database cannot be reached for this attempt, rather than that it
/// refused the work: connection failures, a pool that could not hand out a connection, and the
/// server ending the session — its connection-exception (08) and shutdown (57P01–57P05) codes,
/// and a transaction left idle past its limit (25P03), as happens when the link went silent
/// mid-transaction. A fresh attempt on a fresh connection may succeed.
pub fn is_database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P0") || code == "25P03"
        }),
        _ => false,
    }
}

/// A storage failure as the API reports it: unavailable (retry shortly), aborted (a concurrent
/// change won; retry), or internal (logged here, never shown).
pub fn api_error(error: impl Into<Error>) -> ApiError {
    let error = error.into();
    match &error {
        Error::Database(e) if is_database_unavailable(e) => {
            tracing::error!(error = %e, "database unavailable");
            ApiError::new(
                ErrorKind::Unavailable,
                "the database is unavailable; retry shortly",
            )
        }
        _ if is_conflict(&error) => {
            ApiError::new(ErrorKind::Aborted, "a concurrent change won; retry")
        }
        other => {
            tracing::error!(error = %other, "storage error");
            ApiError::internal()
        }
    }
}

/// Runs `$body` (a block yielding `Result<_, ApiError>`) with `$tx` bound to a fresh transaction
/// of `$store` (an [`EventStore`](crate::EventStore)), committed after; from the start again when
/// a concurrent writer won (an `ABORTED` error, a serialization failure or a deadlock), up to
/// [`MAX_ATTEMPTS`] times. A macro, not a function taking a closure: the body borrows from its
/// surroundings across awaits, which async closures cannot yet do with `Send` futures.
#[macro_export]
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut transaction = $store
                .begin()
                .await
                .map_err($crate::unit_of_work::api_error)?;
            let result: Result<_, comms_proto::ApiError> = {
                let $tx = transaction.conn();
                async { $body }.await
            };
            let retry = attempt < $crate::unit_of_work::MAX_ATTEMPTS;
            match result {
                Ok(value) => match transaction.commit().await {
                    Ok(()) => break Ok(value),
                    Err(e) if retry && $crate::unit_of_work::is_conflict(&e) => continue,
                    Err(e) => break Err($crate::unit_of_work::api_error(e)),
                },
                Err(e) if retry && e.kind == comms_proto::ErrorKind::Aborted => continue,
                Err(e) => break Err(e),
            }
        }
    }};
}
