//! Who may use the fleet, as the edge records it: users (`user-<uuid>`), login sessions
//! (`session-<uuid>`), providers' credentials and machine API keys. No event carries a secret:
//! password hashes, keys and credential values stay in their tables.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// A user's stream.
    pub enum UserEvent bound as "comms.user.*" {
        Created(UserCreated),
    }
}

crate::event_set! {
    /// A login session's stream: a family of refresh tokens, one usable at a time.
    pub enum SessionEvent bound as "comms.session.*" {
        Started(SessionStarted),
        Refreshed(SessionRefreshed),
        Revoked(SessionRevoked),
    }
}

crate::event_set! {
    /// An organization's credentials for one provider.
    pub enum CredentialsEvent bound as "comms.credentials.*" {
        Stored(CredentialsStored),
        Removed(CredentialsRemoved),
    }
}

crate::event_set! {
    /// A machine API key's stream.
    pub enum ApiKeyEvent bound as "comms.api_key.*" {
        Created(ApiKeyCreated),
        Revoked(ApiKeyRevoked),
    }
}

/// The fleet's roles. Platform roles are mapped onto these by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Agent,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Admin, Self::Supervisor, Self::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The providers whose credentials an organization may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Twilio,
    Vonage,
    Deepgram,
    Openai,
    Anthropic,
}

impl Provider {
    pub const ALL: [Self; 5] = [
        Self::Twilio,
        Self::Vonage,
        Self::Deepgram,
        Self::Openai,
        Self::Anthropic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Vonage => "vonage",
            Self::Deepgram => "deepgram",
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

/// A user was created (standalone mode). The password hash is never in the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserCreated {
    pub user_id: Uuid,
    #[schemars(length(max = 254))]
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A user logged in: a new refresh-token family whose first token is `token_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionStarted {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub token_id: Uuid,
}

/// A refresh token was exchanged; `token_id` is the only one that may be used next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionRefreshed {
    pub session_id: Uuid,
    pub token_id: Uuid,
    pub previous_token_id: Uuid,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokedBecause {
    Logout,
    RefreshTokenReused,
}

/// A session ended: logout, or a refresh token was used twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionRevoked {
    pub session_id: Uuid,
    pub reason: RevokedBecause,
}

/// A provider's credentials were set or replaced. Names the fields, never their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialsStored {
    pub provider: Provider,
    pub fields: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

/// A provider's credentials were removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialsRemoved {
    pub provider: Provider,
}

/// A machine API key was created. The key itself is never in the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyCreated {
    pub key_id: Uuid,
    #[schemars(length(max = 400))]
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A machine API key was revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyRevoked {
    pub key_id: Uuid,
}

crate::events! {
    UserCreated => "comms.user.created", version 1, "an administrator created a user (standalone mode)";
    SessionStarted => "comms.session.started", version 1, "a user logged in";
    SessionRefreshed => "comms.session.refreshed", version 1, "a refresh token was exchanged for the next";
    SessionRevoked => "comms.session.revoked", version 1, "logout, or a refresh token used twice";
    CredentialsStored => "comms.credentials.stored", version 1, "a provider's credentials were set (field names only)";
    CredentialsRemoved => "comms.credentials.removed", version 1, "a provider's credentials were removed";
    ApiKeyCreated => "comms.api_key.created", version 1, "a machine API key was created (never the key)";
    ApiKeyRevoked => "comms.api_key.revoked", version 1, "a machine API key was revoked";
}
