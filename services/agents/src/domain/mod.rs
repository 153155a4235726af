//! The Agent and Team aggregates: pure and synchronous. `handle(state, command)` decides which
//! events happen; `apply(state, event)` folds them into state. The time and ids come in the
//! command, so every transition is tested without a database.

mod agent;
#[cfg(test)]
mod agent_tests;
mod events;
pub mod profile;
pub mod team;

pub use agent::{Agent, AgentState, Command, apply, fold, handle};
pub use events::AgentEvent;
pub use profile::{Profile, ProfileChange, Skill};
pub use team::{Team, TeamCommand, TeamEvent};

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{what} already exists")]
    AlreadyExists { what: &'static str },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("cannot {action} an agent who is {state}")]
    IllegalTransition {
        action: &'static str,
        state: &'static str,
    },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}
