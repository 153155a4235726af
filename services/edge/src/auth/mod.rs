//! Who is calling the edge, and proof of it for the services behind.
//!
//! Standalone mode: `Authorization: Bearer <access token>` (or a machine API key `ock_…`);
//! identity headers are ignored, so a forged `X-Org-Id` changes nothing. Platform mode: the
//! Ocelot gateway's `X-User-Id`, `X-Org-Id` and `X-User-Role`, signed with
//! `GATEWAY_SHARED_SECRET` over the request and its body (`comms_auth::platform`). Either way the services see only a 60-second token the edge
//! signs for the request.

pub mod accounts;
pub mod api_keys;
pub mod credentials;
pub mod rate_limit;

use std::sync::Arc;
use tracing::Instrument as _;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse as _, Response};
use comms_auth::platform::{self, GatewayHeaders, SignedRequest};
use comms_auth::{AuthConfig, Identity, Permission, Scope, TokenKind};
use comms_eventstore::EventStore;
use comms_proto::{ApiError, ErrorKind};
use http::request::Parts;

use crate::problem::{ProblemResponse, too_many_requests};
use crate::state::AppState;
use accounts::Accounts;
use api_keys::ApiKeys;
use credentials::Credentials;
use rate_limit::RateLimiter;

/// Everything the edge needs to authenticate, authorize and keep accounts.
pub struct Auth {
    pub config: AuthConfig,
    pub accounts: Accounts,
    pub api_keys: ApiKeys,
    pub credentials: Credentials,
    /// Requests per organization.
    pub per_organization: RateLimiter,
    /// Login attempts per account (email) and per client address.
    pub logins_per_account: RateLimiter,
    pub logins_per_address: RateLimiter,
}

impl Auth {
    /// Opens the accounts, creates the first administrator when configured, and sets the limits:
    /// per organization as configured, logins in bursts of 5 per account and 20 per address.
    pub async fn start(config: &crate::Config, store: EventStore) -> anyhow::Result<Self> {
        let accounts = Accounts::new(
            store.clone(),
            config.auth.tokens.clone(),
            config.bcrypt_cost,
        );
        if let Some(admin) = &config.admin {
            let span = tracing::info_span!("create_first_admin");
            match accounts
                .ensure_admin(&admin.org_id, &admin.email, &admin.password)
                .instrument(span)
                .await
            {
                Ok(true) => {
                    tracing::info!(email = %admin.email, org = %admin.org_id, "created the first administrator")
                }
                Ok(false) => tracing::debug!(email = %admin.email, "the administrator exists"),
                Err(e) => anyhow::bail!("creating the first administrator: {}", e.message),
            }
        }
        let per_minute = config.rate_limit_per_minute;
        Ok(Self {
            accounts,
            api_keys: ApiKeys::new(store.clone()),
            credentials: Credentials::new(store, config.encryption_key.clone()),
            per_organization: RateLimiter::per_minute(per_minute, per_minute),
            logins_per_account: RateLimiter::per_minute(5, 5),
            logins_per_address: RateLimiter::per_minute(20, 20),
            config: config.auth.clone(),
        })
    }

    /// Refuses account endpoints in platform mode, where the gateway owns users.
    pub fn standalone_only(&self) -> Result<(), ApiError> {
        if self.config.platform_mode {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                "users and logins are the Ocelot gateway's in platform mode (PLATFORM_MODE=true)",
            ));
        }
        Ok(())
    }
}

/// Appends `event`, caused by `actor`, to `stream` in the unit of work's transaction `tx`.
pub(crate) async fn append_event<E: comms_events::EventSet>(
    tx: &mut sqlx::PgConnection,
    org: &str,
    actor: &str,
    stream: &comms_eventstore::StreamName,
    expected: comms_eventstore::ExpectedVersion,
    event: &E,
) -> Result<(), ApiError> {
    let event = comms_bus::new_event(event, actor, None);
    comms_eventstore::append_in(tx, org, stream, expected, vec![event])
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
    Ok(())
}

/// A storage failure of users, keys or credentials: logged, and answered as a plain 500.
pub(crate) fn store_error(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "auth storage failed");
    ApiError::internal()
}

/// The hex SHA-256 of the request's body, which the gateway's signature covers.
#[derive(Clone)]
struct BodyDigest(String);

/// In platform mode with signatures: reads the body (up to the most any endpoint accepts) and
/// notes its digest, so the signature is checked against the very body the handler reads.
pub async fn digest_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let limit = crate::routes::contacts::MAX_CSV_BYTES;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("the body exceeds {limit} bytes, or could not be read"),
            );
            return ProblemResponse(error).into_response();
        }
    };
    let digest = BodyDigest(platform::body_sha256(&bytes));
    let mut request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    request.extensions_mut().insert(digest);
    next.run(request).await
}

/// The authenticated caller of a request.
pub struct Caller {
    pub identity: Identity,
    auth: Arc<Auth>,
}

impl Caller {
    /// The fleet itself acting in an organization, for a carrier's verified callback.
    pub fn system(auth: Arc<Auth>, org_id: &str, component: &str) -> Self {
        Self {
            identity: Identity::system(org_id, component),
            auth,
        }
    }

    /// A caller authenticated otherwise than by the request's headers (a live feed's ticket).
    pub fn of(auth: Arc<Auth>, identity: Identity) -> Self {
        Self { identity, auth }
    }

    /// 403 naming the permission, unless the caller's role holds it.
    pub fn require(&self, permission: Permission) -> Result<Scope, ProblemResponse> {
        Ok(self.identity.require(permission)?)
    }

    /// A gRPC request on the caller's behalf: a service token for them, and the current trace.
    pub fn grpc<T>(&self, message: T) -> Result<tonic::Request<T>, ProblemResponse> {
        let token = self.auth.config.tokens.internal_token(&self.identity)?;
        let mut request = tonic::Request::new(message);
        comms_auth::service::attach(request.metadata_mut(), &token);
        comms_telemetry::inject_grpc(request.metadata_mut());
        Ok(request)
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Who sent the request: standalone, by its `Authorization`; in platform mode, by the gateway's
/// headers.
pub(crate) async fn authenticate(auth: &Auth, parts: &Parts) -> Result<Identity, ApiError> {
    if auth.config.platform_mode {
        let headers = GatewayHeaders {
            org: header(parts, platform::ORG_HEADER),
            user: header(parts, platform::USER_HEADER),
            role: header(parts, platform::ROLE_HEADER),
            signature: header(parts, platform::SIGNATURE_HEADER),
        };
        let request = SignedRequest {
            method: parts.method.as_str(),
            path_and_query: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            // Unsigned headers (explicitly trusted) have no body digest to check.
            body_sha256: parts
                .extensions
                .get::<BodyDigest>()
                .map_or("", |digest| digest.0.as_str()),
        };
        let now = chrono::Utc::now().timestamp();
        return auth.config.gateway.identify(headers, request, now);
    }
    let authorization = header(parts, "authorization").ok_or_else(|| {
        ApiError::new(
            ErrorKind::Unauthenticated,
            "missing Authorization: send `Bearer <access token>` from POST /api/communications/auth/login",
        )
    })?;
    let token = comms_auth::service::bearer(authorization).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Unauthenticated,
            "Authorization must be `Bearer <token>`",
        )
    })?;
    identify_bearer(auth, token).await
}

/// Who a bearer token is: a machine API key's or an access token's holder.
pub(crate) async fn identify_bearer(auth: &Auth, token: &str) -> Result<Identity, ApiError> {
    if token.starts_with(api_keys::API_KEY_PREFIX) {
        return auth.api_keys.identify(token).await;
    }
    auth.config
        .tokens
        .verify(token, &[TokenKind::Access])?
        .identity()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let identity = authenticate(&state.auth, parts)
            .await
            .map_err(|e| ProblemResponse(e).into_response())?;
        if let Err(wait) = state.auth.per_organization.check(&identity.org_id) {
            return Err(too_many_requests(
                "the organization's request rate limit is reached",
                wait,
            ));
        }
        Ok(Self {
            identity,
            auth: state.auth.clone(),
        })
    }
}
