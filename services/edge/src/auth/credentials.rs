//! Provider credentials of an organization (Twilio, Vonage, Deepgram, OpenAI, Anthropic),
//! sealed with AES-256-GCM before they touch the database and never returned by the API: a
//! reader learns which fields are set and when, not their values. Each change is an event
//! (`comms.credentials.stored|removed`) naming the provider and fields, never the values.

use super::{append_event, store_error};
use chrono::{DateTime, Utc};
use comms_auth::credentials::{MAX_CALLS_PER_SECOND, context};
use comms_auth::secrets::Sealer;
use comms_events::account::{CredentialsEvent, CredentialsRemoved, CredentialsStored, Provider};
use comms_eventstore::unit_of_work::api_error;
use comms_eventstore::{EventStore, ExpectedVersion, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind, Violations};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

const STREAMS: &str = "credentials";
const MAX_SECRET: usize = 4096;

/// The providers we hold credentials for, the fields each needs, and the groups of fields it
/// may have besides (each group all or none).
pub const PROVIDERS: [(Provider, Fields, Groups); 5] = [
    // The API key signs the organization's agents' softphone tokens; the account's calls per
    // second pace its dials.
    (
        Provider::Twilio,
        &["account_sid", "auth_token"],
        &[&["api_key_sid", "api_key_secret"], &["calls_per_second"]],
    ),
    // The Voice application carries the organization's calls on its own account.
    (
        Provider::Vonage,
        &["api_key", "api_secret"],
        &[&[
            "application_id",
            "application_private_key",
            "application_signature_secret",
        ]],
    ),
    (Provider::Deepgram, &["api_key"], &[]),
    (Provider::Openai, &["api_key"], &[]),
    (Provider::Anthropic, &["api_key"], &[]),
];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCredentials {
    pub provider: String,
    pub fields: Vec<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

pub struct Credentials {
    store: EventStore,
    /// Absent without `COMMS_ENCRYPTION_KEY`: then credentials cannot be stored at all.
    sealer: Option<Arc<Sealer>>,
}

type Fields = &'static [&'static str];
type Groups = &'static [Fields];

/// The provider `provider` names, the fields its credentials have, and those they may have.
fn fields_of(provider: &str) -> Result<(Provider, Fields, Groups), ApiError> {
    PROVIDERS
        .iter()
        .find(|(known, _, _)| known.as_str() == provider)
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = PROVIDERS.iter().map(|(p, _, _)| p.as_str()).collect();
            ApiError::new(
                ErrorKind::NotFound,
                format!("no provider {provider:?}; one of {}", known.join(", ")),
            )
        })
}

/// One stream per organization and provider, named by a UUID derived from both.
fn stream(org_id: &str, provider: &str) -> StreamName {
    StreamName::new(
        STREAMS,
        Uuid::new_v5(&Uuid::NAMESPACE_URL, context(org_id, provider).as_bytes()),
    )
}

impl Credentials {
    pub fn new(store: EventStore, sealer: Option<Arc<Sealer>>) -> Self {
        Self { store, sealer }
    }

    fn sealer(&self) -> Result<&Sealer, ApiError> {
        self.sealer.as_deref().ok_or_else(|| {
            ApiError::new(
                ErrorKind::FailedPrecondition,
                "credentials cannot be stored: the fleet has no COMMS_ENCRYPTION_KEY",
            )
        })
    }

    /// Replaces the provider's credentials; `values` must hold exactly the provider's fields.
    pub async fn store(
        &self,
        org_id: &str,
        actor: &str,
        provider: &str,
        values: BTreeMap<String, String>,
    ) -> Result<StoredCredentials, ApiError> {
        let (known, required, groups) = fields_of(provider)?;
        let mut violations = Violations::default();
        let given_groups = groups
            .iter()
            .filter(|group| group.iter().any(|f| values.contains_key(*f)));
        let expected: Vec<&str> = required
            .iter()
            .chain(given_groups.clone().copied().flatten())
            .copied()
            .collect();
        for field in &expected {
            match values.get(*field) {
                None if !required.contains(field) => {
                    let group = given_groups.clone().find(|g| g.contains(field));
                    let group = group.map(|g| g.join(", ")).unwrap_or_default();
                    violations.add(field, format!("with {group}: all or none"))
                }
                None => violations.add(field, "required"),
                Some(v) if v.trim().is_empty() => violations.add(field, "must not be empty"),
                Some(v) if v.chars().count() > MAX_SECRET => {
                    violations.add(field, format!("at most {MAX_SECRET} characters"))
                }
                // A PEM key is lines; nothing else is.
                Some(v) if *field == "application_private_key" => {
                    if let Err(e) = jsonwebtoken::EncodingKey::from_rsa_pem(v.as_bytes()) {
                        violations.add(
                            field,
                            format!("the application's RSA private key in PEM: {e}"),
                        )
                    }
                }
                Some(v) if v.chars().any(char::is_control) => {
                    violations.add(field, "must not contain control characters")
                }
                Some(v) if *field == "application_id" && uuid::Uuid::parse_str(v).is_err() => {
                    violations.add(field, "the Vonage application's id: a UUID")
                }
                // It goes into the paths of Twilio's API.
                Some(v)
                    if known == Provider::Twilio
                        && *field == "account_sid"
                        && !comms_runtime::carriers::is_sid(v, "AC") =>
                {
                    violations.add(field, "a Twilio account SID: AC and 32 hexadecimal digits")
                }
                Some(v)
                    if known == Provider::Twilio
                        && *field == "api_key_sid"
                        && !comms_runtime::carriers::is_sid(v, "SK") =>
                {
                    violations.add(field, "a Twilio API key SID: SK and 32 hexadecimal digits")
                }
                Some(v)
                    if *field == "calls_per_second"
                        && !v
                            .parse::<u32>()
                            .is_ok_and(|cps| (1..=MAX_CALLS_PER_SECOND).contains(&cps)) =>
                {
                    violations.add(
                        field,
                        format!("a whole number of calls from 1 to {MAX_CALLS_PER_SECOND}"),
                    )
                }
                Some(_) => {}
            }
        }
        let known_fields: Vec<&str> = required
            .iter()
            .chain(groups.iter().copied().flatten())
            .copied()
            .collect();
        for field in values
            .keys()
            .filter(|k| !known_fields.contains(&k.as_str()))
        {
            violations.add(
                field,
                format!(
                    "unknown field; {provider} takes {}",
                    known_fields.join(", ")
                ),
            );
        }
        violations.finish()?;
        let sealer = self.sealer()?;
        let plaintext = serde_json::to_vec(&values).map_err(store_error)?;
        let sealed = sealer.seal(&plaintext, &context(org_id, provider));
        let stored = StoredCredentials {
            provider: provider.to_owned(),
            fields: expected.iter().map(|f| (*f).to_owned()).collect(),
            updated_at: Utc::now(),
            updated_by: actor.to_owned(),
        };
        let event = CredentialsEvent::Stored(CredentialsStored {
            provider: known,
            fields: stored.fields.clone(),
            updated_at: stored.updated_at,
        });
        in_transaction!(self.store, |tx| {
            let stream = stream(org_id, provider);
            append_event(tx, org_id, actor, &stream, ExpectedVersion::Any, &event).await?;
            sqlx::query(
                "INSERT INTO provider_credentials (org_id, provider, sealed, fields, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (org_id, provider) DO UPDATE
                 SET sealed = $3, fields = $4, updated_at = $5, updated_by = $6",
            )
            .bind(org_id)
            .bind(provider)
            .bind(&sealed)
            .bind(&stored.fields)
            .bind(stored.updated_at)
            .bind(actor)
            .execute(&mut *tx)
            .await
            .map_err(api_error)?;
            Ok(())
        })?;
        Ok(stored)
    }

    pub async fn list(&self, org_id: &str) -> Result<Vec<StoredCredentials>, ApiError> {
        sqlx::query_as(
            "SELECT provider, fields, updated_at, updated_by FROM provider_credentials
             WHERE org_id = $1 ORDER BY provider",
        )
        .bind(org_id)
        .fetch_all(self.store.pool())
        .await
        .map_err(store_error)
    }

    pub async fn remove(&self, org_id: &str, actor: &str, provider: &str) -> Result<(), ApiError> {
        let (known, _, _) = fields_of(provider)?;
        let removed = CredentialsEvent::Removed(CredentialsRemoved { provider: known });
        in_transaction!(self.store, |tx| {
            let deleted =
                sqlx::query("DELETE FROM provider_credentials WHERE org_id = $1 AND provider = $2")
                    .bind(org_id)
                    .bind(provider)
                    .execute(&mut *tx)
                    .await
                    .map_err(api_error)?;
            if deleted.rows_affected() == 0 {
                return Err(ApiError::not_found("credentials", provider));
            }
            let stream = stream(org_id, provider);
            append_event(tx, org_id, actor, &stream, ExpectedVersion::Any, &removed).await?;
            Ok(())
        })
    }

    /// The organization's own Vonage application, for the callbacks and recordings of the
    /// calls it carries; `None` when it stored none (or the fleet cannot open any).
    pub async fn vonage_application(
        &self,
        org_id: &str,
    ) -> Result<Option<comms_auth::credentials::VonageApplication>, ApiError> {
        let Some(sealer) = &self.sealer else {
            return Ok(None);
        };
        comms_auth::credentials::vonage_application(self.store.pool(), sealer, org_id)
            .await
            .map_err(|error| {
                tracing::error!(org_id, %error, "the stored Vonage application cannot be read");
                ApiError::internal()
            })
    }

    /// The organization's own Twilio account, for the callbacks and recordings of the calls it
    /// carries; `None` when it stored none (or the fleet cannot open any).
    pub async fn twilio_account(
        &self,
        org_id: &str,
    ) -> Result<Option<comms_auth::credentials::TwilioAccount>, ApiError> {
        let Some(sealer) = &self.sealer else {
            return Ok(None);
        };
        comms_auth::credentials::twilio_account(self.store.pool(), sealer, org_id)
            .await
            .map_err(|error| {
                tracing::error!(org_id, %error, "the stored Twilio account cannot be read");
                ApiError::internal()
            })
    }
}
