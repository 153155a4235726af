//! REST routes under `/api/communications`, plus health, metrics and the JWKS.

pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod auth;
pub mod calls;
pub mod credentials;
pub mod health;
pub mod teams;
pub mod users;

use comms_proto::ApiError;

/// A path id, which must be a UUID.
pub fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::invalid("id", format!("{id:?} is not a UUID")))
}
