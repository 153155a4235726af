//! Organizations' own provider credentials, as the services that call providers read them: the
//! edge stores them sealed (`PUT /credentials/{provider}`, table `provider_credentials`), each
//! bound to its organization and provider, and they take precedence over the fleet's own
//! accounts from the environment.

use std::collections::BTreeMap;

use comms_config::carriers::{TwilioApiKey, TwilioConfig, VonageConfig};
use sqlx::PgPool;

use crate::secrets::Sealer;

/// The associated data a provider's sealed credentials are bound to: a row copied to another
/// organization or provider does not open.
pub fn context(org_id: &str, provider: &str) -> String {
    format!("comms/credentials/{org_id}/{provider}")
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("the credentials could not be read: {0}")]
    Database(#[from] sqlx::Error),
    /// Altered, or sealed under another `COMMS_ENCRYPTION_KEY`.
    #[error("the stored credentials do not open under COMMS_ENCRYPTION_KEY")]
    Unreadable,
}

/// The organization's credentials for `provider` in the clear, `None` when it stored none.
async fn open(
    pool: &PgPool,
    sealer: &Sealer,
    org_id: &str,
    provider: &str,
) -> Result<Option<BTreeMap<String, String>>, CredentialsError> {
    let sealed: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT sealed FROM provider_credentials WHERE org_id = $1 AND provider = $2",
    )
    .bind(org_id)
    .bind(provider)
    .fetch_optional(pool)
    .await?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let plaintext = sealer
        .open(&sealed, &context(org_id, provider))
        .ok_or(CredentialsError::Unreadable)?;
    serde_json::from_slice(&plaintext)
        .map(Some)
        .map_err(|_| CredentialsError::Unreadable)
}

/// An organization's own Twilio account, and the API key that signs its agents' softphone
/// tokens if it stored one.
#[derive(Clone)]
pub struct TwilioAccount {
    pub account_sid: String,
    pub auth_token: String,
    pub api_key: Option<TwilioApiKey>,
    /// How many calls a second Twilio lets this account place: 1 (Twilio's default for an
    /// account) unless the organization stored the limit Twilio granted it.
    pub calls_per_second: u32,
}

/// The most calls a second an organization may say its account places (Twilio grants more on
/// request; a typo of a larger figure would only earn the account refusals).
pub const MAX_CALLS_PER_SECOND: u32 = 100;

impl TwilioAccount {
    /// The fleet's Twilio configuration (API URL, callbacks, caller id) on this account: its
    /// SID, auth token, API key and calls per second for the fleet's.
    pub fn config(&self, fleet: &TwilioConfig) -> TwilioConfig {
        TwilioConfig {
            account_sid: self.account_sid.clone(),
            auth_token: self.auth_token.clone(),
            api_key: self.api_key.clone(),
            calls_per_second: self.calls_per_second,
            ..fleet.clone()
        }
    }
}

impl std::fmt::Debug for TwilioAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TwilioAccount({}, token redacted)", self.account_sid)
    }
}

/// The organization's own Twilio account, if it stored one.
pub async fn twilio_account(
    pool: &PgPool,
    sealer: &Sealer,
    org_id: &str,
) -> Result<Option<TwilioAccount>, CredentialsError> {
    let Some(fields) = open(pool, sealer, org_id, "twilio").await? else {
        return Ok(None);
    };
    // The SID goes into the paths of Twilio's API: only a SID (the edge stores no other).
    match (fields.get("account_sid"), fields.get("auth_token")) {
        (Some(account_sid), Some(auth_token))
            if comms_config::carriers::is_sid(account_sid, "AC") =>
        {
            let api_key = match (fields.get("api_key_sid"), fields.get("api_key_secret")) {
                (Some(sid), Some(secret)) if comms_config::carriers::is_sid(sid, "SK") => {
                    Some(TwilioApiKey {
                        sid: sid.clone(),
                        secret: secret.clone(),
                    })
                }
                _ => None,
            };
            let calls_per_second = match fields.get("calls_per_second") {
                None => 1,
                Some(stored) => match stored.parse() {
                    Ok(cps @ 1..=MAX_CALLS_PER_SECOND) => cps,
                    _ => return Err(CredentialsError::Unreadable),
                },
            };
            Ok(Some(TwilioAccount {
                account_sid: account_sid.clone(),
                auth_token: auth_token.clone(),
                api_key,
                calls_per_second,
            }))
        }
        _ => Err(CredentialsError::Unreadable),
    }
}

/// An organization's own Vonage account with its Voice application: the application places,
/// hangs up and records its calls and its account signs their callbacks, in place of the
/// fleet's (`PUT /credentials/vonage` with `application`).
#[derive(Clone)]
pub struct VonageApplication {
    pub api_key: String,
    pub api_secret: String,
    /// The application's UUID.
    pub application_id: String,
    /// The application's RSA private key, PEM.
    pub private_key: String,
    /// The account's signature secret, which signs its callbacks.
    pub signature_secret: String,
    /// The private key, read.
    pub signing_key: jsonwebtoken::EncodingKey,
}

impl VonageApplication {
    /// The fleet's Vonage configuration (API URLs, callbacks, pacing, the SMS signature
    /// method) on this account and application.
    pub fn config(&self, fleet: &VonageConfig) -> VonageConfig {
        VonageConfig {
            api_key: self.api_key.clone(),
            api_secret: self.api_secret.clone(),
            application_id: self.application_id.clone(),
            private_key: self.private_key.clone(),
            signature_secret: self.signature_secret.clone(),
            ..fleet.clone()
        }
    }
}

impl std::fmt::Debug for VonageApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VonageApplication")
            .field("api_key", &self.api_key)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

/// The organization's own Vonage application, `None` when it stored none (or stored only the
/// account's key and secret, which carry no calls).
pub async fn vonage_application(
    pool: &PgPool,
    sealer: &Sealer,
    org_id: &str,
) -> Result<Option<VonageApplication>, CredentialsError> {
    let Some(fields) = open(pool, sealer, org_id, "vonage").await? else {
        return Ok(None);
    };
    let field = |name: &str| fields.get(name).cloned();
    let (Some(api_key), Some(api_secret)) = (field("api_key"), field("api_secret")) else {
        return Err(CredentialsError::Unreadable);
    };
    let application = (
        field("application_id"),
        field("application_private_key"),
        field("application_signature_secret"),
    );
    match application {
        (None, None, None) => Ok(None),
        (Some(application_id), Some(private_key), Some(signature_secret))
            if uuid::Uuid::parse_str(&application_id).is_ok() =>
        {
            let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.as_bytes())
                .map_err(|_| CredentialsError::Unreadable)?;
            Ok(Some(VonageApplication {
                api_key,
                api_secret,
                application_id,
                private_key,
                signature_secret,
                signing_key,
            }))
        }
        _ => Err(CredentialsError::Unreadable),
    }
}
