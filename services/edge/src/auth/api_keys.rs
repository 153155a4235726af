//! Machine API keys: for scripts and integrations that cannot log in. A key is shown once, at
//! creation; only its SHA-256 digest is stored. A key acts with the role it was given, inside
//! the organization that created it, until revoked.

use super::{append_event, store_error};
use chrono::{DateTime, Utc};
use comms_auth::{Identity, Role};
use comms_events::account::{ApiKeyCreated, ApiKeyEvent, ApiKeyRevoked};
use comms_eventstore::unit_of_work::api_error;
use comms_eventstore::{EventStore, ExpectedVersion, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind, Violations};
use uuid::Uuid;

/// How a machine API key begins, telling it from an access token.
pub const API_KEY_PREFIX: &str = "ock_";
const STREAMS: &str = "apikey";
const MAX_NAME: usize = 100;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKey {
    pub key_id: Uuid,
    pub org_id: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

pub struct ApiKeys {
    store: EventStore,
}

impl ApiKeys {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    /// Creates a key; returns it with the one copy of its secret.
    pub async fn create(
        &self,
        org_id: &str,
        actor: &str,
        name: &str,
        role: &str,
    ) -> Result<(ApiKey, String), ApiError> {
        let mut violations = Violations::default();
        if name.trim().is_empty()
            || name.chars().count() > MAX_NAME
            || name.chars().any(char::is_control)
        {
            violations.add(
                "name",
                format!("1-{MAX_NAME} characters, no control characters"),
            );
        }
        let role = violations.check(
            "role",
            Role::parse(role).ok_or_else(|| format!("{role:?} is not admin, supervisor or agent")),
        );
        violations.finish()?;
        let role = role.expect("validated");
        let (secret, digest) = comms_auth::secrets::new_secret(API_KEY_PREFIX);
        let key = ApiKey {
            key_id: Uuid::new_v4(),
            org_id: org_id.to_owned(),
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            created_at: Utc::now(),
            created_by: actor.to_owned(),
        };
        let created = ApiKeyEvent::Created(ApiKeyCreated {
            key_id: key.key_id,
            name: key.name.clone(),
            role,
            created_at: key.created_at,
        });
        in_transaction!(self.store, |tx| {
            let stream = StreamName::new(STREAMS, key.key_id);
            append_event(
                tx,
                org_id,
                actor,
                &stream,
                ExpectedVersion::NoStream,
                &created,
            )
            .await?;
            sqlx::query(
                "INSERT INTO api_keys (key_id, org_id, name, role, digest, created_at, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(key.key_id)
            .bind(&key.org_id)
            .bind(&key.name)
            .bind(&key.role)
            .bind(&digest)
            .bind(key.created_at)
            .bind(actor)
            .execute(&mut *tx)
            .await
            .map_err(api_error)?;
            Ok(())
        })?;
        Ok((key, secret))
    }

    pub async fn list(&self, org_id: &str) -> Result<Vec<ApiKey>, ApiError> {
        sqlx::query_as(
            "SELECT key_id, org_id, name, role, created_at, created_by FROM api_keys
             WHERE org_id = $1 AND revoked_at IS NULL ORDER BY created_at, key_id",
        )
        .bind(org_id)
        .fetch_all(self.store.pool())
        .await
        .map_err(store_error)
    }

    pub async fn revoke(&self, org_id: &str, actor: &str, key_id: Uuid) -> Result<(), ApiError> {
        let revoked = ApiKeyEvent::Revoked(ApiKeyRevoked { key_id });
        in_transaction!(self.store, |tx| {
            let updated = sqlx::query(
                "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND org_id = $2 AND revoked_at IS NULL",
            )
            .bind(key_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await
            .map_err(api_error)?;
            if updated.rows_affected() == 0 {
                return Err(ApiError::not_found("API key", &key_id.to_string()));
            }
            let stream = StreamName::new(STREAMS, key_id);
            append_event(tx, org_id, actor, &stream, ExpectedVersion::Any, &revoked).await?;
            Ok(())
        })
    }

    /// Who a presented key acts as; an unknown or revoked key is 401.
    pub async fn identify(&self, secret: &str) -> Result<Identity, ApiError> {
        let digest = comms_auth::secrets::secret_digest(secret);
        let row: Option<(Uuid, String, String)> = sqlx::query_as(
            "SELECT key_id, org_id, role FROM api_keys WHERE digest = $1 AND revoked_at IS NULL",
        )
        .bind(&digest)
        .fetch_optional(self.store.pool())
        .await
        .map_err(store_error)?;
        let (key_id, org_id, role) = row.ok_or_else(|| {
            ApiError::new(ErrorKind::Unauthenticated, "unknown or revoked API key")
        })?;
        let role = Role::parse(&role).ok_or_else(ApiError::internal)?;
        Identity::new(&org_id, &format!("apikey:{key_id}"), role)
    }
}
