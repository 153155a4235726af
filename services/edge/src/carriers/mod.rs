//! Carriers' callbacks: the only routes without a caller's credentials. Each request is
//! verified with the carrier's signature scheme before anything in it is read, against the URL
//! the fleet gave the carrier (`PUBLIC_BASE_URL` and the raw path and query, never the request's
//! Host header). See docs/telephony.md.

pub mod twilio;
pub mod twiml;

use std::fmt;

use comms_runtime::{ConfigError, Env};

/// Where carriers reach the edge and the keys of their signatures.
#[derive(Clone, Default)]
pub struct CarrierConfig {
    /// `PUBLIC_BASE_URL`; required once a carrier's key is set.
    pub public_base_url: Option<String>,
    /// `TWILIO_AUTH_TOKEN`: Twilio signs its callbacks with the account's auth token.
    pub twilio_auth_token: Option<String>,
}

impl fmt::Debug for CarrierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CarrierConfig")
            .field("public_base_url", &self.public_base_url)
            .field(
                "twilio_auth_token",
                &self.twilio_auth_token.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl CarrierConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let twilio_auth_token = env.get("TWILIO_AUTH_TOKEN").map(str::to_owned);
        let public_base_url = match (&twilio_auth_token, env.get("PUBLIC_BASE_URL")) {
            (None, None) => None,
            _ => Some(comms_runtime::config::public_base_url(env)?),
        };
        Ok(Self {
            public_base_url,
            twilio_auth_token,
        })
    }
}
