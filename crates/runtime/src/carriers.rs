//! Carriers' accounts, read once for every service that needs them: the calls service dials
//! with them, the edge verifies their callbacks and probes them.

use std::fmt;

use comms_proto::PhoneNumber;

use crate::{ConfigError, Env};

#[derive(Clone)]
pub struct TwilioConfig {
    /// `TWILIO_ACCOUNT_SID`: `AC` and 32 hexadecimal digits.
    pub account_sid: String,
    /// `TWILIO_AUTH_TOKEN`: the API password, and the key of the callbacks' signatures.
    pub auth_token: String,
    /// `TWILIO_PHONE_NUMBER`: the caller id of calls that name none.
    pub phone_number: PhoneNumber,
    /// `TWILIO_API_URL`, by default `https://api.twilio.com`.
    pub api_url: String,
    /// `PUBLIC_BASE_URL`: where Twilio calls back.
    pub public_base_url: String,
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<hidden>")
            .field("phone_number", &self.phone_number)
            .field("api_url", &self.api_url)
            .field("public_base_url", &self.public_base_url)
            .finish()
    }
}

impl TwilioConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let missing = |variable: &str, reason: &str| ConfigError {
            variable: variable.into(),
            value: String::new(),
            reason: reason.into(),
        };
        let account_sid = env.get("TWILIO_ACCOUNT_SID").ok_or_else(|| {
            missing(
                "TWILIO_ACCOUNT_SID",
                "required with Twilio: the account's SID, AC…",
            )
        })?;
        if !is_sid(account_sid, "AC") {
            return Err(ConfigError {
                variable: "TWILIO_ACCOUNT_SID".into(),
                value: account_sid.into(),
                reason: "expected AC followed by 32 hexadecimal digits".into(),
            });
        }
        let auth_token = env.get("TWILIO_AUTH_TOKEN").ok_or_else(|| {
            missing(
                "TWILIO_AUTH_TOKEN",
                "required with Twilio: the account's auth token",
            )
        })?;
        if auth_token.len() < 16 || !auth_token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError {
                variable: "TWILIO_AUTH_TOKEN".into(),
                value: "<hidden>".into(),
                reason: "expected the account's auth token (at least 16 visible characters)".into(),
            });
        }
        let number = env.get("TWILIO_PHONE_NUMBER").ok_or_else(|| {
            missing(
                "TWILIO_PHONE_NUMBER",
                "required with Twilio: the caller id of calls that name none, e.g. +14155550100",
            )
        })?;
        let phone_number = PhoneNumber::parse(number).map_err(|reason| ConfigError {
            variable: "TWILIO_PHONE_NUMBER".into(),
            value: number.into(),
            reason,
        })?;
        let api_url = env.url(
            "TWILIO_API_URL",
            "https://api.twilio.com",
            &["http", "https"],
        )?;
        Ok(Self {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            phone_number,
            api_url: api_url.trim_end_matches('/').into(),
            public_base_url: crate::config::public_base_url(env)?,
        })
    }
}

/// Twilio's ids: a two-letter prefix and 32 hexadecimal digits.
pub fn is_sid(id: &str, prefix: &str) -> bool {
    id.len() == 34 && id.starts_with(prefix) && id[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_configuration_and_names_what_is_wrong() {
        let good = [
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_AUTH_TOKEN", "f00dbabe0123456789abcdef01234567"),
            ("TWILIO_PHONE_NUMBER", "+14155550100"),
            ("PUBLIC_BASE_URL", "https://comms.example.com/"),
        ];
        let config = TwilioConfig::from_env(&Env::from_pairs(good)).unwrap();
        assert_eq!(config.api_url, "https://api.twilio.com");
        assert_eq!(config.public_base_url, "https://comms.example.com");
        assert!(!format!("{config:?}").contains("f00dbabe"));
        for (variable, bad) in [
            ("TWILIO_ACCOUNT_SID", "SK0123456789abcdef0123456789abcdef"),
            ("TWILIO_AUTH_TOKEN", "short"),
            ("TWILIO_PHONE_NUMBER", "4155550100"),
            ("PUBLIC_BASE_URL", "comms.example.com"),
            ("TWILIO_API_URL", "api.twilio.com"),
        ] {
            let mut env = Env::from_pairs(good);
            env.set(variable, bad);
            let error = TwilioConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, variable, "{error}");
            assert!(!error.to_string().contains("short"), "{error}");
        }
    }
}
