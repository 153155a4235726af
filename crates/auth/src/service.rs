//! Service-to-service identity. A caller's identity reaches a service only inside a token the
//! service can verify: the edge signs a 60-second `internal` token per request, and other
//! platform modules present a `service` token minted for them (`comms keys service-token`).
//! Bare `x-org-id`-style metadata means nothing to a service.

use comms_proto::{ApiError, ErrorKind};
use tonic::metadata::{MetadataMap, MetadataValue};

use crate::Identity;
use crate::tokens::{TokenKind, Tokens};

const AUTHORIZATION: &str = "authorization";

/// The identity of a gRPC request, from its `authorization: Bearer <token>` metadata.
pub fn identify(tokens: &Tokens, metadata: &MetadataMap) -> Result<Identity, ApiError> {
    let value = metadata
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unauthenticated,
                "missing authorization metadata: send `Bearer <token>` (a service token)",
            )
        })?;
    let token = bearer(value).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Unauthenticated,
            "authorization must be `Bearer <token>`",
        )
    })?;
    tokens
        .verify(token, &[TokenKind::Internal, TokenKind::Service])?
        .identity()
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Passes the caller's token on to a request made on their behalf, so the service it goes to
/// answers exactly as it would answer the caller.
pub fn forward(incoming: &MetadataMap, outgoing: &mut MetadataMap) {
    if let Some(authorization) = incoming.get(AUTHORIZATION) {
        outgoing.insert(AUTHORIZATION, authorization.clone());
    }
}

/// Attaches `token` to an outgoing request.
pub fn attach(metadata: &mut MetadataMap, token: &str) {
    let value = MetadataValue::try_from(format!("Bearer {token}")).expect("a JWT is ascii");
    metadata.insert(AUTHORIZATION, value);
}
