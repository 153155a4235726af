//! `/api/communications/credentials`: provider credentials, write-only (admins only).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_auth::Permission;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::auth::credentials::StoredCredentials;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// Which credentials are set; their values are never returned.
#[derive(Serialize, ToSchema)]
pub struct ProviderCredentials {
    /// twilio, vonage, deepgram, openai or anthropic.
    pub provider: String,
    /// The fields that are set, e.g. `account_sid`, `auth_token`.
    pub fields: Vec<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<StoredCredentials> for ProviderCredentials {
    fn from(stored: StoredCredentials) -> Self {
        Self {
            provider: stored.provider,
            fields: stored.fields,
            updated_at: stored.updated_at,
            updated_by: stored.updated_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CredentialsList {
    pub data: Vec<ProviderCredentials>,
}

/// Set a provider's credentials (replacing any). Twilio takes `account_sid` and `auth_token`;
/// Vonage `api_key` and `api_secret`; Deepgram, OpenAI and Anthropic `api_key`.
#[utoipa::path(put, path = "/api/communications/credentials/{provider}", tag = "credentials",
    params(("provider" = String, Path, pattern = "^(twilio|vonage|deepgram|openai|anthropic)$")),
    request_body(content = BTreeMap<String, String>, example = json!({"account_sid": "AC0123", "auth_token": "…"})),
    security(("bearer" = ["credentials:manage"])),
    responses(
        (status = 200, body = ProviderCredentials),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown provider", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No COMMS_ENCRYPTION_KEY is configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
    Json(values): Json<BTreeMap<String, String>>,
) -> Result<axum::Json<ProviderCredentials>> {
    caller.require(Permission::CredentialsManage)?;
    let identity = &caller.identity;
    let stored = state
        .auth
        .credentials
        .store(&identity.org_id, &identity.user_id, &provider, values)
        .await?;
    Ok(axum::Json(stored.into()))
}

/// Which providers have credentials set.
#[utoipa::path(get, path = "/api/communications/credentials", tag = "credentials",
    security(("bearer" = ["credentials:manage"])),
    responses(
        (status = 200, body = CredentialsList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<CredentialsList>> {
    caller.require(Permission::CredentialsManage)?;
    let stored = state.auth.credentials.list(&caller.identity.org_id).await?;
    Ok(axum::Json(CredentialsList {
        data: stored.into_iter().map(Into::into).collect(),
    }))
}

/// Remove a provider's credentials.
#[utoipa::path(delete, path = "/api/communications/credentials/{provider}", tag = "credentials",
    params(("provider" = String, Path, pattern = "^(twilio|vonage|deepgram|openai|anthropic)$")),
    security(("bearer" = ["credentials:manage"])),
    responses(
        (status = 204),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
) -> Result<StatusCode> {
    caller.require(Permission::CredentialsManage)?;
    let identity = &caller.identity;
    state
        .auth
        .credentials
        .remove(&identity.org_id, &identity.user_id, &provider)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
