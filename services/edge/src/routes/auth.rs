//! `/api/communications/auth/*` (standalone mode) and `/.well-known/jwks.json`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::auth::accounts::TokenPair;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse, too_many_requests};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct Tokens {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Exchange at `/auth/refresh` for the next pair; each works once.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<TokenPair> for Tokens {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub organization_id: String,
    /// admin, supervisor or agent.
    pub role: String,
    /// Absent for users the gateway vouches for (platform mode) and for API keys.
    pub email: Option<String>,
    /// What the role may do, e.g. `calls:read`.
    pub permissions: Vec<String>,
    /// The caller's agent record, when they are an agent of the organization (an agent's id is
    /// their user id).
    pub agent_id: Option<String>,
    /// The language they chose for what the platform tells them (their notification
    /// preferences), when they chose one.
    pub language: Option<String>,
}

/// The TCP peer, when the server recorded it.
pub struct Peer(Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// The client's address: the peer, or with `TRUST_X_FORWARDED_FOR=true` the last address the
/// proxy in front of us appended.
fn client_address(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if state.trust_forwarded_for {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        if let Some(address) = forwarded {
            return address.to_owned();
        }
    }
    peer.map_or_else(|| "unknown".to_owned(), |p| p.ip().to_string())
}

/// Log in with email and password. Attempts are limited per account and per address.
#[utoipa::path(post, path = "/api/communications/auth/login", tag = "auth", request_body = Login, security(()),
    responses(
        (status = 200, body = Tokens),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown email or wrong password (the same answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> Response {
    if let Err(e) = state.auth.standalone_only() {
        return ProblemResponse(e).into_response();
    }
    let address = client_address(&state, &headers, peer);
    let account = body.email.trim().to_lowercase();
    if let Err(wait) = state.auth.logins_per_address.check(&address) {
        return too_many_requests("too many login attempts from this address", wait);
    }
    if let Err(wait) = state.auth.logins_per_account.check(&account) {
        return too_many_requests("too many login attempts for this account", wait);
    }
    match state.auth.accounts.login(&body.email, &body.password).await {
        Ok(pair) => axum::Json(Tokens::from(pair)).into_response(),
        Err(e) => ProblemResponse(e).into_response(),
    }
}

/// Exchange a refresh token for a new pair. Refresh tokens rotate: using one twice revokes the
/// session, and every token of it stops working.
#[utoipa::path(post, path = "/api/communications/auth/refresh", tag = "auth", request_body = Refresh, security(()),
    responses(
        (status = 200, body = Tokens),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<Refresh>,
) -> Result<axum::Json<Tokens>, ProblemResponse> {
    state.auth.standalone_only()?;
    Ok(axum::Json(
        state
            .auth
            .accounts
            .refresh(&body.refresh_token)
            .await?
            .into(),
    ))
}

/// End the session of a refresh token; its access tokens expire on their own within minutes.
#[utoipa::path(post, path = "/api/communications/auth/logout", tag = "auth", request_body = Refresh, security(()),
    responses(
        (status = 204),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    Json(body): Json<Refresh>,
) -> Result<StatusCode, ProblemResponse> {
    state.auth.standalone_only()?;
    state.auth.accounts.logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is, and what their role allows.
#[utoipa::path(get, path = "/api/communications/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Me>, ProblemResponse> {
    let agent = state
        .agents
        .clone()
        .get_agent(caller.grpc(v1::GetAgentRequest {
            id: caller.identity.user_id.clone(),
        })?)
        .await;
    let preferences = state
        .messages
        .clone()
        .get_notification_preferences(caller.grpc(v1::GetNotificationPreferencesRequest {
            user_id: caller.identity.user_id.clone(),
        })?)
        .await;
    let identity = caller.identity;
    let email = match uuid::Uuid::parse_str(&identity.user_id) {
        Ok(id) if !state.auth.config.platform_mode => {
            Some(state.auth.accounts.get(&identity.org_id, id).await?.email)
        }
        _ => None,
    };
    let permissions = comms_auth::Permission::ALL
        .into_iter()
        .filter(|p| comms_auth::permissions::grant(identity.role, *p).is_some())
        .map(|p| p.as_str().to_owned())
        .collect();
    Ok(axum::Json(Me {
        user_id: identity.user_id,
        organization_id: identity.org_id,
        role: identity.role.as_str().to_owned(),
        email,
        permissions,
        // Not an agent, or not one they may read: no desk (a failure of its own is a 5xx).
        agent_id: optional(agent)?.map(|a| a.id),
        language: optional(preferences)?
            .map(|p| p.language)
            .filter(|l| !l.is_empty()),
    }))
}

/// A lookup's answer, `None` when there is nothing to find or nothing the caller may read.
fn optional<T>(
    answer: Result<tonic::Response<T>, tonic::Status>,
) -> Result<Option<T>, ProblemResponse> {
    match answer {
        Ok(found) => Ok(Some(found.into_inner())),
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::NotFound
                    | tonic::Code::PermissionDenied
                    | tonic::Code::InvalidArgument
            ) =>
        {
            Ok(None)
        }
        Err(status) => Err(status.into()),
    }
}

/// The public keys tokens are signed with (RFC 7517), newest first.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", security(()), responses((status = 200)))]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(http::header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.auth.config.tokens.keys().jwks()),
    )
}
