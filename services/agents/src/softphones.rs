//! Softphone tokens: what an agent's browser registers with at the carrier so that the calls
//! routed to the agent can be bridged to it (a participant `client:<agent id>` in the call's
//! Twilio conference, a leg to the application user named by the agent id in the call's Vonage
//! conversation); a supervisor's, named by their user id, rings for the calls they monitor.

use std::time::Duration;

use chrono::{DateTime, Utc};
use comms_auth::secrets::Sealer;
use comms_proto::{ApiError, ErrorKind};
use comms_runtime::carriers::{Accounts, Provider, TwilioConfig, VonageConfig};
use comms_runtime::{ConfigError, Env};
use jsonwebtoken::EncodingKey;
use std::sync::Arc;

/// How long a token lasts: an hour, Twilio's default; the page asks for a new one before.
const LIFETIME_SECONDS: i64 = 3600;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SoftphoneToken {
    pub carrier: Provider,
    pub identity: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// The carriers' accounts, and which one carries the fleet's calls (the default). An
/// organization's own Twilio account (`PUT /credentials/twilio`) carries its calls, so its
/// agents' tokens are that account's, signed with its API key.
#[derive(Clone)]
pub struct Softphones {
    provider: Provider,
    twilio: Option<TwilioConfig>,
    vonage: Option<(VonageConfig, EncodingKey)>,
    http: reqwest::Client,
    /// `COMMS_ENCRYPTION_KEY`, which opens organizations' own accounts.
    sealer: Option<Arc<Sealer>>,
    /// Where they are read, once the service is connected.
    pool: Option<sqlx::PgPool>,
}

impl std::fmt::Debug for Softphones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Softphones")
            .field("provider", &self.provider)
            .field("twilio", &self.twilio)
            .field("vonage", &self.vonage.as_ref().map(|(config, _)| config))
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

impl Softphones {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let accounts = Accounts::from_env(env)?;
        let vonage = accounts
            .vonage
            .map(|config| {
                comms_auth::carriers::vonage_signing_key(&config).map(|key| (config, key))
            })
            .transpose()?;
        Ok(Self {
            provider: Provider::from_env(env)?,
            twilio: accounts.twilio,
            vonage,
            http: comms_runtime::http::client(REQUEST_TIMEOUT),
            sealer: Sealer::from_env(env)?,
            pool: None,
        })
    }

    /// Reads organizations' own accounts from `pool` (with `COMMS_ENCRYPTION_KEY`).
    pub fn with_pool(mut self, pool: sqlx::PgPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The Twilio account `org`'s agents' softphones register with: its own, where it stored
    /// one, else the fleet's.
    async fn twilio_for(&self, org: &str) -> Result<Option<TwilioConfig>, ApiError> {
        let Some(fleet) = &self.twilio else {
            return Ok(None);
        };
        let (Some(pool), Some(sealer)) = (&self.pool, &self.sealer) else {
            return Ok(Some(fleet.clone()));
        };
        let own = comms_auth::credentials::twilio_account(pool, sealer, org)
            .await
            .map_err(|error| {
                tracing::error!(org, %error, "the stored Twilio account cannot be read");
                ApiError::internal()
            })?;
        Ok(Some(match own {
            Some(own) => own.config(fleet),
            None => fleet.clone(),
        }))
    }

    /// The Vonage application `org`'s agents' softphones log in to, and its key: its own, where
    /// it stored one, else the fleet's.
    async fn vonage_for(&self, org: &str) -> Result<Option<(VonageConfig, EncodingKey)>, ApiError> {
        let Some((fleet, key)) = &self.vonage else {
            return Ok(None);
        };
        let (Some(pool), Some(sealer)) = (&self.pool, &self.sealer) else {
            return Ok(Some((fleet.clone(), key.clone())));
        };
        let own = comms_auth::credentials::vonage_application(pool, sealer, org)
            .await
            .map_err(|error| {
                tracing::error!(org, %error, "the stored Vonage application cannot be read");
                ApiError::internal()
            })?;
        Ok(Some(match own {
            Some(own) => (own.config(fleet), own.signing_key),
            None => (fleet.clone(), key.clone()),
        }))
    }

    /// A token for `org`'s agent `identity` (named `display_name`) with `carrier`, by default
    /// the fleet's.
    pub async fn issue(
        &self,
        org: &str,
        carrier: Option<Provider>,
        identity: &str,
        display_name: &str,
    ) -> Result<SoftphoneToken, ApiError> {
        let carrier = carrier.unwrap_or(self.provider);
        let unconfigured = |what: &str| {
            ApiError::new(
                ErrorKind::FailedPrecondition,
                format!("softphones need {what}"),
            )
        };
        let token = match carrier {
            Provider::Simulated => {
                return Err(unconfigured(
                    "a carrier: calls are simulated (TELEPHONY_PROVIDER), nothing rings a softphone",
                ));
            }
            Provider::Twilio => {
                let twilio = self
                    .twilio_for(org)
                    .await?
                    .ok_or_else(|| unconfigured("Twilio's account (TWILIO_ACCOUNT_SID …)"))?;
                let own = self.twilio.as_ref().map(|fleet| &fleet.account_sid)
                    != Some(&twilio.account_sid);
                let key = twilio.api_key.as_ref().ok_or_else(|| match own {
                    true => unconfigured(
                        "the organization's own Twilio account's API key: store it as api_key \
                         with PUT /api/communications/credentials/twilio",
                    ),
                    false => unconfigured(
                        "a Twilio API key (TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET)",
                    ),
                })?;
                comms_auth::carriers::twilio_access_token(
                    &twilio.account_sid,
                    key,
                    identity,
                    LIFETIME_SECONDS,
                )
            }
            Provider::Vonage => {
                let (vonage, key) = self
                    .vonage_for(org)
                    .await?
                    .ok_or_else(|| unconfigured("Vonage's application (VONAGE_API_KEY …)"))?;
                self.ensure_vonage_user(&vonage, &key, identity, display_name)
                    .await?;
                comms_auth::carriers::vonage_client_token(
                    &vonage.application_id,
                    &key,
                    identity,
                    LIFETIME_SECONDS,
                )
            }
        }
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("signing the token: {e}")))?;
        Ok(SoftphoneToken {
            carrier,
            identity: identity.to_owned(),
            token,
            expires_at: Utc::now() + chrono::Duration::seconds(LIFETIME_SECONDS),
        })
    }

    /// Vonage's Client SDK logs in only a user of the application: create the agent's, once
    /// (409, the name taken, is a user made before).
    async fn ensure_vonage_user(
        &self,
        vonage: &VonageConfig,
        key: &EncodingKey,
        name: &str,
        display_name: &str,
    ) -> Result<(), ApiError> {
        let unavailable =
            |why: String| ApiError::new(ErrorKind::Unavailable, format!("Vonage users: {why}"));
        let token =
            comms_auth::carriers::vonage_application_token(&vonage.application_id, key, 300)
                .map_err(|e| ApiError::new(ErrorKind::Internal, format!("signing: {e}")))?;
        let response = self
            .http
            .post(format!("{}/v1/users", vonage.api_url))
            .bearer_auth(token)
            .json(&serde_json::json!({ "name": name, "display_name": display_name }))
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        match response.status().as_u16() {
            200..=299 | 409 => Ok(()),
            status => {
                let body = response.text().await.unwrap_or_default();
                Err(unavailable(format!(
                    "creating the agent's user answered {status}: {}",
                    body.chars().take(300).collect::<String>()
                )))
            }
        }
    }
}

/// `twilio` or `vonage`, or the default when empty.
pub fn parse_carrier(value: &str) -> Result<Option<Provider>, ApiError> {
    match value {
        "" => Ok(None),
        "twilio" => Ok(Some(Provider::Twilio)),
        "vonage" => Ok(Some(Provider::Vonage)),
        other => Err(ApiError::invalid(
            "carrier",
            format!("{other:?} is not a carrier: twilio or vonage"),
        )),
    }
}
