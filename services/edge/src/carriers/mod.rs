//! Carriers' callbacks: the only routes without a caller's credentials. Each request is
//! verified with the carrier's signature scheme before anything in it is read, against the URL
//! the fleet gave the carrier (`PUBLIC_BASE_URL` and the raw path and query, never the request's
//! Host header). See docs/telephony.md.

pub mod health;
pub mod twilio;
pub mod twiml;

use comms_runtime::carriers::TwilioConfig;
use comms_runtime::{ConfigError, Env};

/// The carriers' accounts whose callbacks the edge takes and whose health it reports.
#[derive(Debug, Clone, Default)]
pub struct CarrierConfig {
    /// Read when `TWILIO_ACCOUNT_SID` or `TWILIO_AUTH_TOKEN` is set; then all of Twilio's
    /// settings and `PUBLIC_BASE_URL` must be.
    pub twilio: Option<TwilioConfig>,
}

impl CarrierConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let twilio_set = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
            .iter()
            .any(|key| env.get(key).is_some());
        Ok(Self {
            twilio: twilio_set
                .then(|| TwilioConfig::from_env(env))
                .transpose()?,
        })
    }
}
