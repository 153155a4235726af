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

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
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

    /// The kind with its article, for messages: "an access", "a refresh".
    fn article(self) -> &'static str {
        match self {
            Self::Access => "an access",
            Self::Refresh => "a refresh",
            Self::Internal => "an internal",
            Self::Service => "a service",
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
///
/// An Ed25519 signature costs about 40 µs to make or check, and each REST request would pay
/// three (`comms bench --only auth`). So a token verified once is remembered by its exact text
/// until it expires (a client sends the same access token for 15 minutes), and the edge reuses
/// a service token per caller for half its life. Clones share both memories.
#[derive(Debug, Clone)]
pub struct Tokens {
    keys: KeyRing,
    /// Keys for the fleet's own service-to-service tokens only (`SERVICE_TOKEN_*_KEY`): a
    /// service that signs its calls to others (the campaigns service's dialer) holds one of
    /// these instead of the key users' access tokens are signed with, so its compromise cannot
    /// mint a user's access. They never vouch for an access or refresh token.
    service_keys: Option<KeyRing>,
    pub lifetimes: Lifetimes,
    verified: Arc<Recent<String, Claims>>,
    minted: Arc<Recent<Identity, (String, i64)>>,
}

fn sign_with(key: &crate::PrivateKey, claims: &Claims) -> Result<String, ApiError> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.public.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding)
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("signing a token: {e}")))
}

/// A bounded memory of recent results, emptied when full: losing it costs a signature
/// operation per live token, never correctness. Its contents are never printed.
struct Recent<K, V>(Mutex<HashMap<K, V>>);

const RECENT_MAX: usize = 10_000;

impl<K: Hash + Eq, V: Clone> Recent<K, V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.0.lock().expect("token memory lock").get(key).cloned()
    }

    fn put(&self, key: K, value: V) {
        let mut map = self.0.lock().expect("token memory lock");
        if map.len() >= RECENT_MAX {
            map.clear();
        }
        map.insert(key, value);
    }
}

impl<K, V> std::fmt::Debug for Recent<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recent(..)")
    }
}

fn unauthenticated(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Unauthenticated, message)
}

impl Tokens {
    pub fn new(keys: KeyRing, lifetimes: Lifetimes) -> Self {
        Self {
            keys,
            service_keys: None,
            lifetimes,
            verified: Arc::new(Recent::new()),
            minted: Arc::new(Recent::new()),
        }
    }

    /// These tokens, also trusting `ring` for service-to-service tokens (and signing them with
    /// its key, if it has one).
    pub fn with_service_keys(mut self, ring: KeyRing) -> Self {
        self.service_keys = Some(ring);
        self
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
        sign_with(key, claims)
    }

    pub fn access_token(&self, identity: &Identity) -> Result<String, ApiError> {
        self.sign(&self.claims(identity, TokenKind::Access, self.lifetimes.access))
    }

    /// A short-lived token the edge attaches to each service call on the caller's behalf.
    /// Reused for half its 60-second life, so it always has 30 seconds left when sent.
    pub fn internal_token(&self, identity: &Identity) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        if let Some((token, issued)) = self.minted.get(identity)
            && now - issued < INTERNAL_TTL.as_secs() as i64 / 2
        {
            return Ok(token);
        }
        let claims = self.claims(identity, TokenKind::Internal, INTERNAL_TTL);
        let service_key = self.service_keys.as_ref().and_then(KeyRing::signing);
        let token = match service_key {
            Some(key) => sign_with(key, &claims)?,
            None => self.sign(&claims)?,
        };
        self.minted
            .put(identity.clone(), (token.clone(), claims.iat));
        Ok(token)
    }

    /// Verifies `token` as one of `kinds`: signature by a key of the ring (EdDSA only), times,
    /// issuer and audience. Any failure is a 401 naming the reason.
    pub fn verify(&self, token: &str, kinds: &[TokenKind]) -> Result<Claims, ApiError> {
        if let Some(claims) = self.verified.get(token) {
            let now = chrono::Utc::now().timestamp();
            if kinds.contains(&claims.kind) && now <= claims.exp + LEEWAY_SECONDS as i64 {
                return Ok(claims);
            }
        }
        let claims = self.check(token, kinds).map_err(|reason| {
            tracing::debug!(%reason, "token refused");
            unauthenticated(format!("invalid token: {reason}"))
        })?;
        // Refresh tokens are used once; remembering them would only crowd the others out.
        if claims.kind != TokenKind::Refresh {
            self.verified.put(token.to_owned(), claims.clone());
        }
        Ok(claims)
    }

    fn check(&self, token: &str, kinds: &[TokenKind]) -> Result<Claims, String> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| "the token is malformed (not a JWT we could issue)".to_owned())?;
        if header.alg != Algorithm::EdDSA {
            return Err(format!(
                "its algorithm, {:?}, is not accepted (ours are EdDSA)",
                header.alg
            ));
        }
        let kid = header.kid.ok_or("the token names no key (kid)")?;
        let service_key = || self.service_keys.as_ref().and_then(|ring| ring.find(&kid));
        let (key, services_only) = match self.keys.find(&kid) {
            Some(key) => (key, false),
            None => (
                service_key().ok_or("the key it names (kid) is not one of ours")?,
                true,
            ),
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        let audiences: Vec<&str> = kinds.iter().map(|k| k.audience()).collect();
        validation.set_audience(&audiences);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|e| refusal(&e))?
            .claims;
        if !kinds.contains(&claims.kind) || claims.aud != claims.kind.audience() {
            return Err(format!(
                "{} token is not accepted here",
                claims.kind.article()
            ));
        }
        if services_only && !matches!(claims.kind, TokenKind::Internal | TokenKind::Service) {
            return Err(format!(
                "a key for service tokens cannot sign {} token",
                claims.kind.article()
            ));
        }
        Ok(claims)
    }
}

/// Why `jsonwebtoken` refused a token, in words a caller can act on (not the library's names).
fn refusal(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => {
            format!("the token has expired (clocks may differ by up to {LEEWAY_SECONDS} s)")
        }
        ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
        ErrorKind::InvalidAudience => "the token is for another audience".to_owned(),
        ErrorKind::InvalidIssuer => "the token was issued by someone else".to_owned(),
        ErrorKind::InvalidSignature => "its signature does not match its contents".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        ErrorKind::Json(_) | ErrorKind::InvalidClaimFormat(_) => {
            "its claims are not ones we issue".to_owned()
        }
        _ => "the token is malformed (not a JWT we could issue)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PrivateKey, Role};

    fn tokens() -> Tokens {
        Tokens::new(
            KeyRing::new(PrivateKey::generate(), vec![]),
            Lifetimes::default(),
        )
    }

    #[test]
    fn a_remembered_token_still_only_works_where_its_kind_does() {
        let tokens = tokens();
        let identity = Identity::new("org", "u", Role::Agent).unwrap();
        let access = tokens.access_token(&identity).unwrap();
        assert!(tokens.verify(&access, &[TokenKind::Access]).is_ok());
        assert!(
            tokens.verify(&access, &[TokenKind::Access]).is_ok(),
            "from memory"
        );
        assert!(
            tokens
                .verify(&access, &[TokenKind::Internal, TokenKind::Service])
                .is_err()
        );
    }

    #[test]
    fn a_service_token_key_signs_service_calls_and_never_vouches_for_a_user() {
        let users = PrivateKey::generate();
        let services = PrivateKey::generate();
        // The dialer's process: it verifies with the users' public key, signs its calls with
        // the service key.
        let dialer = Tokens::new(
            KeyRing::verify_only(vec![users.public.clone()]),
            Lifetimes::default(),
        )
        .with_service_keys(KeyRing::new(services.clone(), vec![]));
        // Every other service: both public keys.
        let verifier = Tokens::new(
            KeyRing::verify_only(vec![users.public.clone()]),
            Lifetimes::default(),
        )
        .with_service_keys(KeyRing::verify_only(vec![services.public.clone()]));
        let identity = Identity::system("org", "campaigns");
        let call = dialer.internal_token(&identity).unwrap();
        let claims = verifier
            .verify(&call, &[TokenKind::Internal, TokenKind::Service])
            .unwrap();
        assert_eq!(claims.sub, identity.user_id);
        // Whoever holds the service key cannot forge a user's access token with it.
        let thief = Tokens::new(KeyRing::new(services, vec![]), Lifetimes::default());
        let admin = Identity::new("org", "u", Role::Admin).unwrap();
        let forged = thief.access_token(&admin).unwrap();
        let refused = verifier.verify(&forged, &[TokenKind::Access]).unwrap_err();
        assert!(
            refused
                .message
                .contains("a key for service tokens cannot sign an access token"),
            "{}",
            refused.message
        );
        // And the dialer holds no key to sign access tokens with at all.
        assert!(dialer.access_token(&admin).is_err());
    }

    #[test]
    fn a_remembered_token_is_used_only_until_it_expires() {
        let tokens = tokens();
        let identity = Identity::new("org", "u", Role::Agent).unwrap();
        let claims = tokens.claims(&identity, TokenKind::Access, Duration::from_secs(600));
        // Plant a memory for text no signature check would pass, to see when it is used.
        tokens.verified.put("remembered".into(), claims.clone());
        assert!(tokens.verify("remembered", &[TokenKind::Access]).is_ok());
        let expired = chrono::Utc::now().timestamp() - LEEWAY_SECONDS as i64 - 1;
        tokens.verified.put(
            "remembered".into(),
            Claims {
                exp: expired,
                ..claims
            },
        );
        assert!(tokens.verify("remembered", &[TokenKind::Access]).is_err());
    }

    #[test]
    fn service_tokens_are_reused_per_caller_for_half_their_life() {
        let tokens = tokens();
        let alice = Identity::new("org", "alice", Role::Agent).unwrap();
        let bob = Identity::new("org", "bob", Role::Agent).unwrap();
        let first = tokens.internal_token(&alice).unwrap();
        assert_eq!(tokens.internal_token(&alice).unwrap(), first);
        assert_ne!(tokens.internal_token(&bob).unwrap(), first);
        let claims = tokens.verify(&first, &[TokenKind::Internal]).unwrap();
        assert_eq!(claims.sub, "alice");
    }
}
