//! What every response gets regardless of route: a deadline, security headers, CORS for the
//! configured origins only, and a problem document instead of a panic's message.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use comms_proto::{ApiError, ErrorKind};
use http::{HeaderValue, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::problem::ProblemResponse;

/// Answers 504 when a request runs past `limit` (its work is dropped with it).
pub async fn timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ProblemResponse(ApiError::new(
            ErrorKind::DeadlineExceeded,
            format!("the request took longer than {} s", limit.as_secs_f64()),
        ))
        .into_response(),
    }
}

/// Headers that keep browsers from sniffing, framing or caching API answers. The Swagger UI
/// pages need their own scripts and styles, so they get a CSP that allows this origin; the
/// console's own files, scripts and the live feed's socket, from this origin only.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let docs = path.starts_with("/docs");
    let console = path == "/console" || path.starts_with("/console/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let csp = if docs {
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    } else if console {
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    if !docs && !console && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// CORS for `origins` only; with none configured, browsers on other origins are refused.
pub fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([
            http::Method::GET,
            http::Method::POST,
            http::Method::PUT,
            http::Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            "idempotency-key".parse().expect("a header name"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

/// A panic becomes a plain 500 problem; its message goes to the log, never to the client.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = message, "a request handler panicked");
    ProblemResponse(ApiError::internal()).into_response()
}
