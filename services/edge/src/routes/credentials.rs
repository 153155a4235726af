//! `/api/communications/credentials`: provider credentials, write-only (admins only).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_auth::Permission;
use serde::{Deserialize, Serialize};
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

/// Twilio's account SID and auth token: the organization's calls are placed, verified and
/// recorded on this account from then on.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioCredentials {
    /// `AC` and 32 hexadecimal digits.
    #[schema(pattern = "^AC[0-9a-fA-F]{32}$")]
    pub account_sid: String,
    #[schema(value_type = Secret)]
    pub auth_token: String,
    /// The account's API key, which signs the organization's agents' softphone tokens
    /// (stored as `api_key_sid` and `api_key_secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<TwilioApiKey>,
    /// How many calls a second Twilio lets the account place: its dials are paced to it,
    /// apart from the fleet's and other organizations'. By default 1, Twilio's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub calls_per_second: Option<u32>,
}

/// A Twilio API key.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioApiKey {
    /// `SK` and 32 hexadecimal digits.
    #[schema(pattern = "^SK[0-9a-fA-F]{32}$")]
    pub sid: String,
    #[schema(value_type = Secret)]
    pub secret: String,
}

/// Vonage's API key and secret and, to carry the organization's calls on its own account, its
/// Voice application.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VonageCredentials {
    #[schema(value_type = Secret)]
    pub api_key: String,
    #[schema(value_type = Secret)]
    pub api_secret: String,
    /// The account's Voice application: the organization's calls are placed, verified and
    /// recorded on it from then on (stored as `application_id`, `application_private_key` and
    /// `application_signature_secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<VonageApplication>,
}

/// A Vonage Voice application, and the account's signature secret, which signs its callbacks.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VonageApplication {
    /// The application's UUID.
    #[schema(format = Uuid)]
    pub id: String,
    /// The application's RSA private key, PEM (its lines as they are).
    #[schema(value_type = PrivateKey)]
    pub private_key: String,
    #[schema(value_type = Secret)]
    pub signature_secret: String,
}

/// An API key (Deepgram, OpenAI, Anthropic).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCredentials {
    #[schema(value_type = Secret)]
    pub api_key: String,
}

/// A credential's value: not blank, no control characters.
#[derive(ToSchema)]
#[schema(
    min_length = 1,
    max_length = 4096,
    pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
)]
#[allow(dead_code)] // describes credential values in the OpenAPI document only
pub struct Secret(String);

/// A private key in PEM: lines, from `-----BEGIN` to `-----END`.
#[derive(ToSchema)]
#[schema(
    min_length = 1,
    max_length = 4096,
    pattern = r"^-----BEGIN [A-Z ]+-----"
)]
#[allow(dead_code)] // describes a credential value in the OpenAPI document only
pub struct PrivateKey(String);

/// A PUT and a DELETE per provider, so the document states each provider's body exactly (a
/// body that depended on the `{provider}` in its path could not be described).
macro_rules! provider_credentials {
    ($put:ident, $remove:ident, $path:literal, $body:ty, $what:literal) => {
        #[doc = concat!("Set ", $what, " (replacing any).")]
        #[utoipa::path(put, path = $path, tag = "credentials", request_body = $body,
            security(("bearer" = ["credentials:manage"])),
            responses(
                (status = 200, body = ProviderCredentials),
                (status = 400, body = Problem, content_type = "application/problem+json"),
                (status = 401, body = Problem, content_type = "application/problem+json"),
                (status = 403, body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "No COMMS_ENCRYPTION_KEY is configured", body = Problem, content_type = "application/problem+json"),
            )
        )]
        pub async fn $put(
            State(state): State<AppState>,
            caller: Caller,
            Json(body): Json<$body>,
        ) -> Result<axum::Json<ProviderCredentials>> {
            store(&state, &caller, provider_of($path), &body).await
        }

        #[doc = concat!("Remove ", $what, ".")]
        #[utoipa::path(delete, path = $path, tag = "credentials",
            security(("bearer" = ["credentials:manage"])),
            responses(
                (status = 204),
                (status = 401, body = Problem, content_type = "application/problem+json"),
                (status = 403, body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "None are set", body = Problem, content_type = "application/problem+json"),
            )
        )]
        pub async fn $remove(State(state): State<AppState>, caller: Caller) -> Result<StatusCode> {
            remove(&state, &caller, provider_of($path)).await
        }
    };
}

provider_credentials!(
    put_twilio,
    remove_twilio,
    "/api/communications/credentials/twilio",
    TwilioCredentials,
    "the organization's own Twilio account, which then carries its calls in place of the fleet's (docs/telephony.md)"
);
provider_credentials!(
    put_vonage,
    remove_vonage,
    "/api/communications/credentials/vonage",
    VonageCredentials,
    "Vonage's credentials"
);
provider_credentials!(
    put_deepgram,
    remove_deepgram,
    "/api/communications/credentials/deepgram",
    ApiKeyCredentials,
    "Deepgram's API key"
);
provider_credentials!(
    put_openai,
    remove_openai,
    "/api/communications/credentials/openai",
    ApiKeyCredentials,
    "OpenAI's API key"
);
provider_credentials!(
    put_anthropic,
    remove_anthropic,
    "/api/communications/credentials/anthropic",
    ApiKeyCredentials,
    "Anthropic's API key"
);

fn provider_of(path: &str) -> &str {
    path.rsplit('/').next().expect("a path")
}

/// A PUT to a provider we do not know: 404 naming the ones we do (not in the document).
pub async fn put_unknown(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
) -> Result<axum::Json<ProviderCredentials>> {
    store(
        &state,
        &caller,
        &provider,
        &BTreeMap::<String, String>::new(),
    )
    .await
}

/// A DELETE of a provider we do not know: 404 naming the ones we do (not in the document).
pub async fn remove_unknown(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
) -> Result<StatusCode> {
    remove(&state, &caller, &provider).await
}

async fn store(
    state: &AppState,
    caller: &Caller,
    provider: &str,
    body: &impl Serialize,
) -> Result<axum::Json<ProviderCredentials>> {
    caller.require(Permission::CredentialsManage)?;
    let values = stored_fields(serde_json::to_value(body).expect("credentials serialise"));
    let identity = &caller.identity;
    let stored = state
        .auth
        .credentials
        .store(&identity.org_id, &identity.user_id, provider, values)
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

async fn remove(state: &AppState, caller: &Caller, provider: &str) -> Result<StatusCode> {
    caller.require(Permission::CredentialsManage)?;
    let identity = &caller.identity;
    state
        .auth
        .credentials
        .remove(&identity.org_id, &identity.user_id, provider)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A body's string fields as they are stored, a nested object's named `{object}_{field}`
/// (Twilio's `api_key.sid` is `api_key_sid`).
fn stored_fields(body: serde_json::Value) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    for (name, value) in body.as_object().into_iter().flatten() {
        match value {
            serde_json::Value::Object(nested) => {
                for (inner, value) in nested {
                    let value = value.as_str().expect("credentials are string fields");
                    fields.insert(format!("{name}_{inner}"), value.to_owned());
                }
            }
            // A figure (Twilio's calls per second) is kept as its text.
            serde_json::Value::Number(number) => {
                fields.insert(name.clone(), number.to_string());
            }
            value => {
                let value = value
                    .as_str()
                    .expect("credentials are string or number fields");
                fields.insert(name.clone(), value.to_owned());
            }
        }
    }
    fields
}
