//! Errors as `application/problem+json` (RFC 9457), from the one error table.

use axum::response::{IntoResponse, Response};
use comms_proto::{ApiError, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem document. Validation errors list each offending field.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem, e.g. `/errors/invalid-argument`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field, as named in the request (`to`, `page_size`).
    pub field: String,
    pub message: String,
}

/// An [`ApiError`] on its way out as problem+json.
#[derive(Debug)]
pub struct ProblemResponse(pub ApiError);

impl From<ApiError> for ProblemResponse {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

/// 405 for a path served with other methods (axum adds the `Allow` header naming them). Not in
/// the error table: no service ever answers it, only the router.
pub fn method_not_allowed() -> Response {
    router_problem(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "/errors/method-not-allowed",
        "this endpoint does not take this method; see /docs for the ones it takes",
    )
}

/// 426 for a plain request to a WebSocket endpoint, naming the protocol to upgrade to. Not in
/// the error table either: it is HTTP's, between the client and the edge.
pub fn upgrade_required(protocol: &'static str, detail: &str) -> Response {
    let mut response = router_problem(
        http::StatusCode::UPGRADE_REQUIRED,
        "/errors/upgrade-required",
        detail,
    );
    response.headers_mut().insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static(protocol),
    );
    response
}

fn router_problem(status: http::StatusCode, problem_type: &str, detail: &str) -> Response {
    let problem = Problem {
        problem_type: problem_type.into(),
        title: status.canonical_reason().unwrap_or_default().into(),
        status: status.as_u16(),
        detail: detail.into(),
        errors: Vec::new(),
    };
    let body = serde_json::to_vec(&problem).expect("a problem always serialises");
    (
        status,
        [(http::header::CONTENT_TYPE, "application/problem+json")],
        body,
    )
        .into_response()
}

/// `Retry-After` (seconds) on a 503: outages the fleet rides out (a database or broker
/// restarting) last seconds, and clients retrying sooner would only add load.
const UNAVAILABLE_RETRY_AFTER: &str = "2";

/// 429 with `Retry-After`, in whole seconds rounded up.
pub fn too_many_requests(detail: &str, retry_after: std::time::Duration) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let mut response = ProblemResponse(ApiError::new(
        ErrorKind::RateLimited,
        format!("{detail}; retry in {seconds} s"),
    ))
    .into_response();
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, seconds.max(1).into());
    response
}

impl From<tonic::Status> for ProblemResponse {
    fn from(status: tonic::Status) -> Self {
        let error = ApiError::from_status(&status);
        if error.kind == ErrorKind::Internal || error.kind == ErrorKind::Unavailable {
            tracing::warn!(code = ?status.code(), message = status.message(), "service call failed");
        }
        if status.code() == tonic::Code::Unavailable {
            return Self(ApiError::new(
                ErrorKind::Unavailable,
                "a backing service is unavailable; retry shortly",
            ));
        }
        Self(error)
    }
}

impl IntoResponse for ProblemResponse {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = error.kind.http_status();
        let problem = Problem {
            problem_type: error.kind.problem_type(),
            title: error.kind.title().to_owned(),
            status: status.as_u16(),
            detail: error.message,
            errors: error
                .violations
                .into_iter()
                .map(|v| ProblemField {
                    field: v.field,
                    message: v.description,
                })
                .collect(),
        };
        let body = serde_json::to_vec(&problem).expect("a problem always serialises");
        let mut response = (
            status,
            [(http::header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        // A backing service or the database is down for now: say when to try again.
        if status == http::StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
            );
        }
        if status == http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"comms\""),
            );
        }
        response
    }
}
