//! `/api/communications/api-keys`: machine API keys (admins only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_auth::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::auth::api_keys::ApiKey as StoredKey;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for, e.g. `nightly export`.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// The role the key acts with: admin, supervisor or agent.
    #[schema(pattern = "^(admin|supervisor|agent)$")]
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The key itself, shown only in the answer to its creation: send it as
    /// `Authorization: Bearer <key>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl ApiKey {
    fn new(stored: StoredKey, key: Option<String>) -> Self {
        Self {
            id: stored.key_id.to_string(),
            name: stored.name,
            role: stored.role,
            created_at: stored.created_at,
            created_by: stored.created_by,
            key,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKey>,
}

/// Create an API key. Its secret is in this answer and nowhere else.
#[utoipa::path(post, path = "/api/communications/api-keys", tag = "api-keys", request_body = CreateApiKey,
    security(("bearer" = ["credentials:manage"])),
    responses(
        (status = 201, body = ApiKey),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateApiKey>,
) -> Result<(StatusCode, axum::Json<ApiKey>)> {
    caller.require(Permission::CredentialsManage)?;
    let identity = &caller.identity;
    let (stored, secret) = state
        .auth
        .api_keys
        .create(&identity.org_id, &identity.user_id, &body.name, &body.role)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiKey::new(stored, Some(secret))),
    ))
}

/// The organization's active API keys (without their secrets).
#[utoipa::path(get, path = "/api/communications/api-keys", tag = "api-keys",
    security(("bearer" = ["credentials:manage"])),
    responses(
        (status = 200, body = ApiKeyList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<ApiKeyList>> {
    caller.require(Permission::CredentialsManage)?;
    let keys = state.auth.api_keys.list(&caller.identity.org_id).await?;
    Ok(axum::Json(ApiKeyList {
        data: keys.into_iter().map(|k| ApiKey::new(k, None)).collect(),
    }))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/api/communications/api-keys/{id}", tag = "api-keys", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["credentials:manage"])),
    responses(
        (status = 204),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Permission::CredentialsManage)?;
    let id = crate::routes::parse_id(&id)?;
    let identity = &caller.identity;
    state
        .auth
        .api_keys
        .revoke(&identity.org_id, &identity.user_id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
