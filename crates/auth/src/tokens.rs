//! Issuing and verifying the fleet's JWTs. Four kinds, each with its own audience, so no token
//! can stand in for another:
//!
//! | kind       | audience         | who holds it                        | lifetime        |
//! |------------|------------------|-------------------------------------|-----------------|
//! | `access`   | `comms-api`      | a user, for REST                    | 15 min (config) |
//! | `refresh`  | `comms-refresh`  | a user, to get the next pair        | 7 days (config) |
//! | `internal` | `comms-services` | the edge, per request, to a service | 60 s            |
//! | `service`  | `comms-services` | another platform module, for gRPC   | minted by admin |
//!
//! Only EdDSA is accepted, `kid` must name a key of the ring, and `exp`, `nbf`, `iat`, `iss`,
//! `aud`, `sub` and `org` are required.

use std::time::Duration;

use comms_proto::{ApiError, ErrorKind};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{Identity, KeyRing, Role};

pub const ISSUER: &str = "comms";
/// Clock skew tolerated between the fleet's machines.
const LEEWAY_SECONDS: u64 = 30;
const INTERNAL_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
    Internal,
    Service,
}

impl TokenKind {
    pub fn audience(self) -> &'static str {
        match self {
            Self::Access => "comms-api",
            Self::Refresh => "comms-refresh",
            Self::Internal | Self::Service => "comms-services",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user (or service account) id.
    pub sub: String,
    pub org: String,
    pub role: Role,
    #[serde(rename = "typ")]
    pub kind: TokenKind,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// Unique per token; a refresh token's id is what rotation tracks.
    pub jti: String,
    /// The refresh-token family (one per login); only in refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

impl Claims {
    pub fn identity(&self) -> Result<Identity, ApiError> {
        Identity::new(&self.org, &self.sub, self.role)
    }
}

/// Lifetimes of user tokens.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: Duration,
    pub refresh: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access: Duration::from_secs(15 * 60),
            refresh: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Signs and verifies tokens with a [`KeyRing`].
#[derive(Debug, Clone)]
pub struct Tokens {
    keys: KeyRing,
    pub lifetimes: Lifetimes,
}

fn unauthenticated(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Unauthenticated, message)
}

impl Tokens {
    pub fn new(keys: KeyRing, lifetimes: Lifetimes) -> Self {
        Self { keys, lifetimes }
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Claims of a new token of `kind` for `identity`, valid from now for `ttl`.
    pub fn claims(&self, identity: &Identity, kind: TokenKind, ttl: Duration) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: ISSUER.to_owned(),
            aud: kind.audience().to_owned(),
            sub: identity.user_id.clone(),
            org: identity.org_id.clone(),
            role: identity.role,
            kind,
            iat: now,
            nbf: now,
            exp: now + ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            fam: None,
        }
    }

    /// Signs `claims` with the newest key.
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let key = self.keys.signing().ok_or_else(|| {
            ApiError::new(
                ErrorKind::Internal,
                "this process has no signing key (only JWT_PUBLIC_KEY was given)",
            )
        })?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.public.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| ApiError::new(ErrorKind::Internal, format!("signing a token: {e}")))
    }

    pub fn access_token(&self, identity: &Identity) -> Result<String, ApiError> {
        self.sign(&self.claims(identity, TokenKind::Access, self.lifetimes.access))
    }

    /// A short-lived token the edge attaches to each service call on the caller's behalf.
    pub fn internal_token(&self, identity: &Identity) -> Result<String, ApiError> {
        self.sign(&self.claims(identity, TokenKind::Internal, INTERNAL_TTL))
    }

    /// Verifies `token` as one of `kinds`: signature by a key of the ring (EdDSA only), times,
    /// issuer and audience. Any failure is a 401 naming the reason.
    pub fn verify(&self, token: &str, kinds: &[TokenKind]) -> Result<Claims, ApiError> {
        self.check(token, kinds).map_err(|reason| {
            tracing::debug!(%reason, "token refused");
            unauthenticated(format!("invalid token: {reason}"))
        })
    }

    fn check(&self, token: &str, kinds: &[TokenKind]) -> Result<Claims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed ({e})"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(format!("algorithm {:?} is not accepted", header.alg));
        }
        let kid = header.kid.ok_or("no kid")?;
        let key = self.keys.find(&kid).ok_or("unknown kid")?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        let audiences: Vec<&str> = kinds.iter().map(|k| k.audience()).collect();
        validation.set_audience(&audiences);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|e| format!("{e}"))?
            .claims;
        if !kinds.contains(&claims.kind) || claims.aud != claims.kind.audience() {
            return Err(format!("a {:?} token is not accepted here", claims.kind));
        }
        Ok(claims)
    }
}
