//! Platform mode: the Ocelot gateway authenticates users and tells us who they are in
//! `X-User-Id`, `X-Org-Id` and `X-User-Role`, with its signature over them and the request, so
//! a pod reached around the gateway cannot be fooled and a signed request cannot be re-pointed
//! at another path or given another body:
//!
//! ```text
//! X-Ocelot-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256(GATEWAY_SHARED_SECRET, message)>
//! message = t "\n" METHOD "\n" path-and-query "\n" hex(SHA-256(body)) "\n" org "\n" user "\n" role
//! ```
//!
//! A signature older or newer than five minutes is refused, which bounds replay. (Scheme `v1`
//! did not cover the body; it is refused with a message saying so.) Without a secret the
//! headers are believed as they come, which the edge allows only when
//! `PLATFORM_TRUST_UNSIGNED_HEADERS=true` says the network lets nothing else reach it.

use comms_proto::{ApiError, ErrorKind};
use ring::{digest, hmac};

use crate::Identity;
use crate::permissions::RoleMap;

pub const ORG_HEADER: &str = "x-org-id";
pub const USER_HEADER: &str = "x-user-id";
pub const ROLE_HEADER: &str = "x-user-role";
pub const SIGNATURE_HEADER: &str = "x-ocelot-signature";
const TOLERANCE_SECONDS: i64 = 300;

/// What the gateway sent, before it is believed.
#[derive(Debug, Clone, Copy)]
pub struct GatewayHeaders<'a> {
    pub org: Option<&'a str>,
    pub user: Option<&'a str>,
    pub role: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// The request a signature covers besides the identity.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    /// Hex SHA-256 of the body as received ([`body_sha256`]).
    pub body_sha256: &'a str,
}

/// The hex SHA-256 of a request body, as the signature covers it.
pub fn body_sha256(body: &[u8]) -> String {
    crate::webhook::hex(digest::digest(&digest::SHA256, body).as_ref())
}

#[derive(Clone)]
pub struct Gateway {
    pub roles: RoleMap,
    secret: Option<hmac::Key>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("roles", &self.roles)
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

fn unauthenticated(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Unauthenticated, message)
}

impl Gateway {
    pub fn new(roles: RoleMap, shared_secret: Option<&str>) -> Self {
        Self {
            roles,
            secret: shared_secret.map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes())),
        }
    }

    /// True when the gateway's headers must carry its signature.
    pub fn signed(&self) -> bool {
        self.secret.is_some()
    }

    /// The identity the gateway vouches for, or 401 saying what is missing or wrong.
    pub fn identify(
        &self,
        headers: GatewayHeaders<'_>,
        request: SignedRequest<'_>,
        now_unix: i64,
    ) -> Result<Identity, ApiError> {
        let org = headers
            .org
            .ok_or_else(|| unauthenticated("missing X-Org-Id (set by the Ocelot gateway)"))?;
        let user = headers
            .user
            .ok_or_else(|| unauthenticated("missing X-User-Id (set by the Ocelot gateway)"))?;
        let platform_role = headers
            .role
            .ok_or_else(|| unauthenticated("missing X-User-Role (set by the Ocelot gateway)"))?;
        if let Some(key) = &self.secret {
            let signature = headers
                .signature
                .ok_or_else(|| unauthenticated("missing X-Ocelot-Signature"))?;
            let identity = [org, user, platform_role];
            verify_signature(key, signature, request, identity, now_unix)?;
        }
        let role = self.roles.resolve(platform_role).ok_or_else(|| {
            unauthenticated(format!(
                "X-User-Role {platform_role:?} is not mapped to a role; see PLATFORM_ROLE_MAP"
            ))
        })?;
        Identity::new(org, user, role)
    }
}

/// The signed message; `identity` is org, user and role.
fn message(t: i64, request: SignedRequest<'_>, [org, user, role]: [&str; 3]) -> String {
    let SignedRequest {
        method,
        path_and_query,
        body_sha256,
    } = request;
    format!("{t}\n{method}\n{path_and_query}\n{body_sha256}\n{org}\n{user}\n{role}")
}

/// The `X-Ocelot-Signature` value the gateway sends for `identity` (org, user, role) on
/// `request` (for the gateway's side, and tests).
pub fn sign(secret: &str, t: i64, request: SignedRequest<'_>, identity: [&str; 3]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, message(t, request, identity).as_bytes());
    format!("t={t},v2={}", crate::webhook::hex(tag.as_ref()))
}

fn verify_signature(
    key: &hmac::Key,
    header: &str,
    request: SignedRequest<'_>,
    identity: [&str; 3],
    now: i64,
) -> Result<(), ApiError> {
    let (mut t, mut v2, mut v1) = (None, None, false);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v2", value)) => v2 = crate::webhook::unhex(value),
            Some(("v1", _)) => v1 = true,
            _ => {}
        }
    }
    if v1 && v2.is_none() {
        return Err(unauthenticated(
            "X-Ocelot-Signature v1 is no longer accepted: sign v2, which also covers the body's SHA-256",
        ));
    }
    let (Some(t), Some(tag)) = (t, v2) else {
        return Err(unauthenticated(
            "X-Ocelot-Signature must be t=<unix seconds>,v2=<hex>",
        ));
    };
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(unauthenticated(
            "X-Ocelot-Signature is expired or from the future",
        ));
    }
    hmac::verify(key, message(t, request, identity).as_bytes(), &tag).map_err(|_| {
        unauthenticated("X-Ocelot-Signature does not match the identity headers, path or body")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn headers<'a>(signature: Option<&'a str>) -> GatewayHeaders<'a> {
        GatewayHeaders {
            org: Some("org_1"),
            user: Some("u1"),
            role: Some("owner"),
            signature,
        }
    }

    const IDENTITY: [&str; 3] = ["org_1", "u1", "owner"];

    fn request<'a>(method: &'a str, path: &'a str, digest: &'a str) -> SignedRequest<'a> {
        SignedRequest {
            method,
            path_and_query: path,
            body_sha256: digest,
        }
    }

    #[test]
    fn unsigned_headers_are_believed_without_a_secret() {
        let gateway = Gateway::new(RoleMap::parse("owner=admin").unwrap(), None);
        let empty = body_sha256(b"");
        let get = request("GET", "/x", &empty);
        let identity = gateway.identify(headers(None), get, 0).unwrap();
        assert_eq!(
            (identity.org_id.as_str(), identity.role),
            ("org_1", Role::Admin)
        );
        let mut missing = headers(None);
        missing.org = None;
        assert!(gateway.identify(missing, get, 0).is_err());
    }

    #[test]
    fn signed_headers_must_match_the_identity_the_request_and_its_body_and_be_fresh() {
        let gateway = Gateway::new(RoleMap::parse("owner=admin").unwrap(), Some("s3cret"));
        let now = 1_800_000_000;
        let body = body_sha256(br#"{"to":"+14155550100"}"#);
        let post = request("POST", "/x?a=1", &body);
        let good = sign("s3cret", now, post, IDENTITY);
        assert!(gateway.identify(headers(Some(&good)), post, now).is_ok());
        assert!(gateway.identify(headers(None), post, now).is_err());
        // Another path, another body, another organization, another secret, or a stale one.
        let other_path = request("POST", "/y", &body);
        assert!(
            gateway
                .identify(headers(Some(&good)), other_path, now)
                .is_err()
        );
        let tampered = body_sha256(br#"{"to":"+19005550100"}"#);
        let other_body = request("POST", "/x?a=1", &tampered);
        let error = gateway
            .identify(headers(Some(&good)), other_body, now)
            .unwrap_err();
        assert!(error.message.contains("body"), "{}", error.message);
        let mut other_org = headers(Some(&good));
        other_org.org = Some("org_2");
        assert!(gateway.identify(other_org, post, now).is_err());
        let forged = sign("guess", now, post, IDENTITY);
        assert!(gateway.identify(headers(Some(&forged)), post, now).is_err());
        assert!(
            gateway
                .identify(headers(Some(&good)), post, now + 301)
                .is_err()
        );
        // The old scheme, which did not cover the body, is named in the refusal.
        let v1 = good.replace("v2=", "v1=");
        let error = gateway.identify(headers(Some(&v1)), post, now).unwrap_err();
        assert!(
            error.message.contains("v1 is no longer accepted"),
            "{}",
            error.message
        );
    }
}
