//! Outbound campaigns' rules, pure and synchronous: the calling window in the contact's local
//! time, where a number is in time, whether a contact may be dialed and why not, retries, and
//! how many calls to place.

pub mod campaign;
pub mod contact;
pub mod dialing;
pub mod do_not_call;
pub mod pacing;
pub mod time_zones;
pub mod window;

/// Why a command or a setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("cannot {action} a campaign that is {status}")]
    IllegalTransition {
        action: &'static str,
        status: &'static str,
    },
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// The field a refusal names and why, for reports that list problems row by row.
pub fn field_problem(error: &DomainError) -> (String, String) {
    match error {
        DomainError::Invalid { field, reason } => ((*field).to_owned(), reason.clone()),
        other => (String::new(), other.to_string()),
    }
}
