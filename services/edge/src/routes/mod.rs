//! REST routes under `/api/communications`, plus health, metrics and the JWKS.

pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod auth;
pub mod calls;
pub mod campaigns;
pub mod contacts;
pub mod credentials;
pub mod health;
pub mod ivr_flows;
pub mod knowledge;
pub mod live;
pub mod messages;
pub mod numbers;
pub mod recordings;
pub mod supervision;
pub mod teams;
pub mod transcripts;
pub mod users;

use comms_proto::ApiError;

/// A path id, which must be a UUID.
pub fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::invalid("id", format!("{id:?} is not a UUID")))
}

/// proto3's empty string as JSON's absent value.
pub fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// A query parameter's RFC 3339 time, as a timestamp; a malformed one is added to
/// `violations` under `field`.
pub fn rfc3339_param(
    violations: &mut comms_proto::Violations,
    field: &str,
    value: Option<String>,
) -> Option<prost_types::Timestamp> {
    let value = value?;
    let parsed = chrono::DateTime::parse_from_rfc3339(&value)
        .map_err(|_| format!("{value:?} is not an RFC 3339 time, e.g. 2026-01-31T09:00:00Z"));
    violations
        .check(field, parsed)
        .map(|t| comms_proto::time::to_timestamp(t.to_utc()))
}

pub fn time(ts: Option<prost_types::Timestamp>) -> Option<chrono::DateTime<chrono::Utc>> {
    ts.as_ref().and_then(comms_proto::time::from_timestamp)
}

/// A list's `page_size` query parameter: 0 (the server's default) when absent; the error is the
/// description of a `page_size` violation.
pub fn page_size(raw: Option<&str>) -> Result<u32, String> {
    match raw {
        None | Some("") => Ok(0),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| format!("{raw:?} is not a number from 1 to 200")),
    }
}

/// The token of the next page, absent on the last.
pub fn next_page_token(page: Option<comms_proto::v1::PageInfo>) -> Option<String> {
    page.and_then(|p| non_empty(p.next_page_token))
}
