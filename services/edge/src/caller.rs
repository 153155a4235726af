//! The caller's identity. Until standalone JWT auth lands, it comes from the Ocelot gateway's
//! platform headers (`X-Org-Id`, `X-User-Id`, `X-User-Role`); a request without an organization
//! is refused with 401.

use axum::extract::FromRequestParts;
use comms_proto::{ApiError, ErrorKind};
use comms_runtime::Identity;
use http::request::Parts;

use crate::problem::ProblemResponse;

pub struct Caller(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ProblemResponse;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let org = header("x-org-id").ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unauthenticated,
                "missing X-Org-Id: requests come through the Ocelot gateway, which sets it",
            )
        })?;
        let identity = Identity::new(org, header("x-user-id"), header("x-user-role"))?;
        Ok(Self(identity))
    }
}

/// A gRPC request carrying the caller's identity and the current trace.
pub fn grpc_request<T>(identity: &Identity, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    identity.insert_into(request.metadata_mut());
    comms_telemetry::inject_grpc(request.metadata_mut());
    request
}
