//! The one error table of the fleet: every API error has a kind, and each kind has exactly one
//! gRPC code and one HTTP status. Services raise [`ApiError`]s; the edge turns the `Status` it
//! gets back into the same kind, so REST and gRPC callers see the same error.

use http::StatusCode;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt as _};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A field is malformed or missing.
    InvalidArgument,
    /// The body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// The body is not JSON.
    UnsupportedMediaType,
    /// No such resource in the caller's organization.
    NotFound,
    /// A well-formed id in the body names nothing the caller can reach (an unknown agent on a
    /// new call): 422, so that a 404 always means the path's resource. Travels over gRPC as
    /// NotFound naming the field.
    UnknownReference,
    AlreadyExists,
    /// The resource's state forbids the change (ending a call that already ended).
    FailedPrecondition,
    /// A concurrent change won; the caller may retry.
    Aborted,
    Unauthenticated,
    PermissionDenied,
    RateLimited,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

impl ErrorKind {
    /// Every kind, for tests and docs.
    pub const ALL: [Self; 14] = [
        Self::InvalidArgument,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::NotFound,
        Self::UnknownReference,
        Self::AlreadyExists,
        Self::FailedPrecondition,
        Self::Aborted,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::RateLimited,
        Self::Unavailable,
        Self::DeadlineExceeded,
        Self::Internal,
    ];

    /// The table: kind → (gRPC code, HTTP status, problem `type` slug, problem `title`).
    /// A `match`, so a new kind without a row does not compile.
    #[rustfmt::skip]
    fn row(self) -> (Code, StatusCode, &'static str, &'static str) {
        match self {
            Self::InvalidArgument      => (Code::InvalidArgument,    StatusCode::BAD_REQUEST,            "invalid-argument",        "The request is invalid"),
            Self::PayloadTooLarge      => (Code::OutOfRange,         StatusCode::PAYLOAD_TOO_LARGE,      "payload-too-large",       "The request body is too large"),
            Self::UnsupportedMediaType => (Code::InvalidArgument,    StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",  "The request body must be JSON"),
            Self::NotFound             => (Code::NotFound,           StatusCode::NOT_FOUND,              "not-found",               "Not found"),
            Self::UnknownReference     => (Code::NotFound,           StatusCode::UNPROCESSABLE_ENTITY,   "unknown-reference",       "A referenced resource does not exist"),
            Self::AlreadyExists        => (Code::AlreadyExists,      StatusCode::CONFLICT,               "already-exists",          "Already exists"),
            Self::FailedPrecondition   => (Code::FailedPrecondition, StatusCode::CONFLICT,               "conflict",                "The resource's state does not allow this"),
            Self::Aborted              => (Code::Aborted,            StatusCode::CONFLICT,               "concurrent-modification", "A concurrent change won; retry"),
            Self::Unauthenticated      => (Code::Unauthenticated,    StatusCode::UNAUTHORIZED,           "unauthenticated",         "Authentication required"),
            Self::PermissionDenied     => (Code::PermissionDenied,   StatusCode::FORBIDDEN,              "permission-denied",       "Permission denied"),
            Self::RateLimited          => (Code::ResourceExhausted,  StatusCode::TOO_MANY_REQUESTS,      "rate-limited",            "Too many requests"),
            Self::Unavailable          => (Code::Unavailable,        StatusCode::SERVICE_UNAVAILABLE,    "unavailable",             "Temporarily unavailable"),
            Self::DeadlineExceeded     => (Code::DeadlineExceeded,   StatusCode::GATEWAY_TIMEOUT,        "timeout",                 "The request timed out"),
            Self::Internal             => (Code::Internal,           StatusCode::INTERNAL_SERVER_ERROR,  "internal",                "Internal error"),
        }
    }

    pub fn grpc_code(self) -> Code {
        self.row().0
    }

    pub fn http_status(self) -> StatusCode {
        self.row().1
    }

    /// The problem+json `type`, a URI reference relative to the API's error docs.
    pub fn problem_type(self) -> String {
        format!("/errors/{}", self.row().2)
    }

    pub fn title(self) -> &'static str {
        self.row().3
    }

    /// The kind a service meant by a gRPC code (the edge-only kinds never travel over gRPC).
    pub fn from_grpc_code(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidArgument,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists => Self::AlreadyExists,
            Code::FailedPrecondition => Self::FailedPrecondition,
            Code::Aborted => Self::Aborted,
            Code::Unauthenticated => Self::Unauthenticated,
            Code::PermissionDenied => Self::PermissionDenied,
            Code::ResourceExhausted => Self::RateLimited,
            Code::Unavailable | Code::Cancelled => Self::Unavailable,
            Code::DeadlineExceeded => Self::DeadlineExceeded,
            Code::Ok | Code::Unknown | Code::DataLoss | Code::Unimplemented | Code::Internal => {
                Self::Internal
            }
        }
    }
}

/// A field that failed validation and why, e.g. `to`: "must be E.164".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// An error as callers see it. `message` is safe to show: internal causes are logged, not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub violations: Vec<FieldViolation>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// A validation error naming the field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// A validation error naming every offending field, as many as [`VIOLATIONS_BUDGET`]
    /// bytes hold (at least one), each text cut to [`MAX_VIOLATION_TEXT`] characters: they
    /// travel in gRPC's headers, which are bounded, and a body of garbage names more problems
    /// than anyone reads.
    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        let total = violations.len();
        let mut kept = Vec::new();
        let mut bytes = 0;
        for mut violation in violations {
            cut(&mut violation.field);
            cut(&mut violation.description);
            bytes += violation.field.len() + violation.description.len();
            if bytes > VIOLATIONS_BUDGET && !kept.is_empty() {
                break;
            }
            kept.push(violation);
        }
        if kept.len() < total {
            kept.push(FieldViolation {
                field: "…".into(),
                description: format!("and {} more problems", total - kept.len()),
            });
        }
        let violations = kept;
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            kind: ErrorKind::InvalidArgument,
            message,
            violations,
        }
    }

    /// A well-formed id in a body that names nothing the caller can reach, naming the field.
    pub fn unknown_reference(field: &str, description: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::UnknownReference,
            ..Self::invalid(field, description)
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} {id} not found"))
    }

    pub fn internal() -> Self {
        Self::new(ErrorKind::Internal, "internal error; see the service logs")
    }

    /// Reads an error back from a service's `Status`, field violations included.
    pub fn from_status(status: &tonic::Status) -> Self {
        let violations: Vec<FieldViolation> = status
            .get_details_bad_request()
            .map(|bad| {
                bad.field_violations
                    .into_iter()
                    .map(|v| FieldViolation {
                        field: v.field,
                        description: v.description,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let kind = match ErrorKind::from_grpc_code(status.code()) {
            // Not found naming a field: a reference in the body, not the path's resource.
            ErrorKind::NotFound if !violations.is_empty() => ErrorKind::UnknownReference,
            kind => kind,
        };
        Self {
            kind,
            message: status.message().to_owned(),
            violations,
        }
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        let code = error.kind.grpc_code();
        if error.violations.is_empty() {
            return tonic::Status::new(code, error.message);
        }
        let violations: Vec<_> = error
            .violations
            .into_iter()
            .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
            .collect();
        tonic::Status::with_error_details(
            code,
            error.message,
            ErrorDetails::with_bad_request(violations),
        )
    }
}

/// How many bytes of field names and descriptions one error carries at most.
pub const VIOLATIONS_BUDGET: usize = 2048;
/// The longest field name or description one violation carries, in characters.
pub const MAX_VIOLATION_TEXT: usize = 200;

fn cut(text: &mut String) {
    if let Some((at, _)) = text.char_indices().nth(MAX_VIOLATION_TEXT) {
        text.truncate(at);
        text.push('…');
    }
}

/// Collects every field's problem, so one response names them all.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// The value when `result` is Ok; otherwise records the field's problem.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        result.map_err(|e| self.add(field, e.to_string())).ok()
    }

    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        });
    }

    /// Ok when nothing was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.0))
        }
    }

    /// Ok when nothing was recorded; otherwise [`ErrorKind::UnknownReference`] naming the
    /// fields: for well-formed ids that name nothing the caller can reach.
    pub fn finish_as_unknown_reference(self) -> Result<(), ApiError> {
        self.finish().map_err(|error| ApiError {
            kind: ErrorKind::UnknownReference,
            ..error
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_flood_of_violations_is_cut_to_what_headers_carry() {
        let many: Vec<super::FieldViolation> = (0..1000)
            .map(|i| super::FieldViolation {
                field: format!("nodes.{}", "界".repeat(i % 300)),
                description: "x".repeat(1000),
            })
            .collect();
        let error = super::ApiError::invalid_fields(many);
        let bytes: usize = error
            .violations
            .iter()
            .map(|v| v.field.len() + v.description.len())
            .sum();
        assert!(bytes <= super::VIOLATIONS_BUDGET + 100, "{bytes}");
        let last = error.violations.last().unwrap();
        assert!(last.description.ends_with("more problems"), "{last:?}");
        assert!(error.violations[0].description.chars().count() <= super::MAX_VIOLATION_TEXT + 1);
    }

    use super::*;

    #[test]
    fn every_kind_survives_a_trip_through_grpc() {
        for kind in ErrorKind::ALL {
            if matches!(
                kind,
                ErrorKind::PayloadTooLarge | ErrorKind::UnsupportedMediaType
            ) {
                continue; // raised by the edge only, never by a service
            }
            let error = match kind {
                ErrorKind::UnknownReference => ApiError::unknown_reference("agent_id", "x"),
                kind => ApiError::new(kind, "x"),
            };
            let status: tonic::Status = error.into();
            assert_eq!(ApiError::from_status(&status).kind, kind);
        }
    }

    #[test]
    fn field_violations_travel_in_the_status_details() {
        let status: tonic::Status = ApiError::invalid("to", "must be E.164").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let back = ApiError::from_status(&status);
        assert_eq!(
            back.violations,
            vec![FieldViolation {
                field: "to".into(),
                description: "must be E.164".into()
            }]
        );
        assert_eq!(back.kind.http_status(), StatusCode::BAD_REQUEST);
    }
}
