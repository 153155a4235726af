//! Platform mode: the Ocelot gateway authenticates users and tells us who they are in
//! `X-User-Id`, `X-Org-Id` and `X-User-Role`. With `GATEWAY_SHARED_SECRET` set, those headers
//! must also carry the gateway's signature, so a pod reached around the gateway cannot be fooled:
//!
//! ```text
//! X-Ocelot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, message)>
//! message = t "\n" METHOD "\n" path-and-query "\n" org "\n" user "\n" role
//! ```
//!
//! A signature older or newer than five minutes is refused, which bounds replay.

use comms_proto::{ApiError, ErrorKind};
use ring::hmac;

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

    /// The identity the gateway vouches for, or 401 saying what is missing or wrong.
    pub fn identify(
        &self,
        headers: GatewayHeaders<'_>,
        method: &str,
        path_and_query: &str,
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
            verify_signature(
                key,
                signature,
                method,
                path_and_query,
                org,
                user,
                platform_role,
                now_unix,
            )?;
        }
        let role = self.roles.resolve(platform_role).ok_or_else(|| {
            unauthenticated(format!(
                "X-User-Role {platform_role:?} is not mapped to a role; see PLATFORM_ROLE_MAP"
            ))
        })?;
        Identity::new(org, user, role)
    }
}

fn message(t: i64, method: &str, path: &str, org: &str, user: &str, role: &str) -> String {
    format!("{t}\n{method}\n{path}\n{org}\n{user}\n{role}")
}

/// The `X-Ocelot-Signature` value the gateway sends (for the gateway's side, and tests).
pub fn sign(
    secret: &str,
    t: i64,
    method: &str,
    path: &str,
    org: &str,
    user: &str,
    role: &str,
) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, message(t, method, path, org, user, role).as_bytes());
    format!("t={t},v1={}", crate::webhook::hex(tag.as_ref()))
}

#[allow(clippy::too_many_arguments)]
fn verify_signature(
    key: &hmac::Key,
    header: &str,
    method: &str,
    path: &str,
    org: &str,
    user: &str,
    role: &str,
    now: i64,
) -> Result<(), ApiError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = crate::webhook::unhex(value),
            _ => {}
        }
    }
    let (Some(t), Some(tag)) = (t, v1) else {
        return Err(unauthenticated(
            "X-Ocelot-Signature must be t=<unix seconds>,v1=<hex>",
        ));
    };
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(unauthenticated(
            "X-Ocelot-Signature is expired or from the future",
        ));
    }
    hmac::verify(
        key,
        message(t, method, path, org, user, role).as_bytes(),
        &tag,
    )
    .map_err(|_| unauthenticated("X-Ocelot-Signature does not match the identity headers"))
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

    #[test]
    fn unsigned_headers_are_trusted_without_a_secret() {
        let gateway = Gateway::new(RoleMap::parse("owner=admin").unwrap(), None);
        let identity = gateway.identify(headers(None), "GET", "/x", 0).unwrap();
        assert_eq!(
            (identity.org_id.as_str(), identity.role),
            ("org_1", Role::Admin)
        );
        let mut missing = headers(None);
        missing.org = None;
        assert!(gateway.identify(missing, "GET", "/x", 0).is_err());
    }

    #[test]
    fn signed_headers_must_match_and_be_fresh() {
        let gateway = Gateway::new(RoleMap::parse("owner=admin").unwrap(), Some("s3cret"));
        let now = 1_800_000_000;
        let good = sign("s3cret", now, "GET", "/x?a=1", "org_1", "u1", "owner");
        assert!(
            gateway
                .identify(headers(Some(&good)), "GET", "/x?a=1", now)
                .is_ok()
        );
        assert!(
            gateway
                .identify(headers(None), "GET", "/x?a=1", now)
                .is_err()
        );
        // Another path, another organization, another secret, or a stale one: refused.
        assert!(
            gateway
                .identify(headers(Some(&good)), "GET", "/y", now)
                .is_err()
        );
        let mut other_org = headers(Some(&good));
        other_org.org = Some("org_2");
        assert!(gateway.identify(other_org, "GET", "/x?a=1", now).is_err());
        let forged = sign("guess", now, "GET", "/x?a=1", "org_1", "u1", "owner");
        assert!(
            gateway
                .identify(headers(Some(&forged)), "GET", "/x?a=1", now)
                .is_err()
        );
        assert!(
            gateway
                .identify(headers(Some(&good)), "GET", "/x?a=1", now + 301)
                .is_err()
        );
    }
}
