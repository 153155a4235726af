//! Carriers' accounts, read once for every service that needs them: the calls service dials
//! with them, the edge verifies their callbacks and probes them, the agents service signs
//! softphone tokens with them. And what carriers are told: the locale they speak a language in,
//! and TwiML.

pub mod twiml;

use std::fmt;

use comms_proto::{Language, PhoneNumber};

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
    /// `TWILIO_CALLS_PER_SECOND`, by default 1 (Twilio's default for an account): dials are
    /// paced to it.
    pub calls_per_second: u32,
    /// `TWILIO_API_KEY_SID` and `TWILIO_API_KEY_SECRET`: the API key softphone access tokens are
    /// signed with (Twilio accepts no token signed with the auth token). Both or neither.
    pub api_key: Option<TwilioApiKey>,
}

#[derive(Clone)]
pub struct TwilioApiKey {
    /// `SK` and 32 hexadecimal digits.
    pub sid: String,
    pub secret: String,
}

/// The carriers' accounts the environment configures, whichever carries the calls: the edge
/// takes both's callbacks, the agents service signs softphone tokens for both.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// Read when `TWILIO_ACCOUNT_SID` or `TWILIO_AUTH_TOKEN` is set; then all of Twilio's
    /// settings and `PUBLIC_BASE_URL` must be.
    pub twilio: Option<TwilioConfig>,
    /// Read when `VONAGE_API_KEY` is set; then all of Vonage's settings must be. (The private
    /// key's PEM is parsed by whoever signs with it: `comms_auth::carriers`.)
    pub vonage: Option<VonageConfig>,
}

impl Accounts {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let twilio_set = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
            .iter()
            .any(|key| env.get(key).is_some());
        let vonage_set = env.get("VONAGE_API_KEY").is_some();
        Ok(Self {
            twilio: twilio_set
                .then(|| TwilioConfig::from_env(env))
                .transpose()?,
            vonage: vonage_set
                .then(|| VonageConfig::from_env(env))
                .transpose()?,
        })
    }
}

/// Which provider carries the fleet's calls: `TELEPHONY_PROVIDER=simulated|twilio|vonage`, by
/// default the carrier whose credentials are set, else the simulator (so `scripts/dev` works
/// offline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Simulated,
    Twilio,
    Vonage,
}

impl Provider {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.get("TELEPHONY_PROVIDER") {
            Some("simulated") => Ok(Self::Simulated),
            Some("twilio") => Ok(Self::Twilio),
            Some("vonage") => Ok(Self::Vonage),
            Some(other) => Err(ConfigError {
                variable: "TELEPHONY_PROVIDER".into(),
                value: other.into(),
                reason: "expected simulated, twilio or vonage".into(),
            }),
            None if env.get("TWILIO_ACCOUNT_SID").is_some() => Ok(Self::Twilio),
            None if env.get("VONAGE_API_KEY").is_some() => Ok(Self::Vonage),
            None => Ok(Self::Simulated),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::Twilio => "twilio",
            Self::Vonage => "vonage",
        }
    }
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<hidden>")
            .field("phone_number", &self.phone_number)
            .field("api_url", &self.api_url)
            .field("public_base_url", &self.public_base_url)
            .field("calls_per_second", &self.calls_per_second)
            .field("api_key", &self.api_key.as_ref().map(|key| &key.sid))
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
            public_base_url: crate::public_base_url(env)?,
            calls_per_second: calls_per_second(env, "TWILIO_CALLS_PER_SECOND")?,
            api_key: TwilioApiKey::from_env(env)?,
        })
    }
}

impl TwilioApiKey {
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        if let Some(sid) = env.get("TWILIO_API_KEY_SID")
            && !is_sid(sid, "SK")
        {
            return Err(ConfigError {
                variable: "TWILIO_API_KEY_SID".into(),
                value: sid.into(),
                reason: "expected SK followed by 32 hexadecimal digits".into(),
            });
        }
        let (sid, secret) = match (
            env.get("TWILIO_API_KEY_SID"),
            env.get("TWILIO_API_KEY_SECRET"),
        ) {
            (None, None) => return Ok(None),
            (Some(sid), Some(secret)) => (sid, secret),
            (Some(_), None) => {
                return Err(ConfigError {
                    variable: "TWILIO_API_KEY_SECRET".into(),
                    value: String::new(),
                    reason: "required with TWILIO_API_KEY_SID: the API key's secret".into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    variable: "TWILIO_API_KEY_SID".into(),
                    value: String::new(),
                    reason: "required with TWILIO_API_KEY_SECRET: the API key's SID, SK…".into(),
                });
            }
        };
        if secret.len() < 16 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError {
                variable: "TWILIO_API_KEY_SECRET".into(),
                value: "<hidden>".into(),
                reason: "expected the API key's secret (at least 16 visible characters)".into(),
            });
        }
        Ok(Some(Self {
            sid: sid.into(),
            secret: secret.into(),
        }))
    }
}

/// Twilio's ids: a two-letter prefix and 32 hexadecimal digits.
pub fn is_sid(id: &str, prefix: &str) -> bool {
    id.len() == 34 && id.starts_with(prefix) && id[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The room a call's parties are bridged in at its carrier (a Twilio conference's friendly
/// name, a Vonage named conversation), named after the call: the caller's instructions join it
/// (the edge's), the agent's and supervisors' legs (and Vonage's media sockets) are asked to
/// (the calls service's).
pub fn bridge_name(call_id: &str) -> String {
    format!("comms-{call_id}")
}

/// A Vonage application (Voice API): its calls are authorised by a JWT the application's
/// private key signs; its callbacks by a JWT the account's signature secret signs.
#[derive(Clone)]
pub struct VonageConfig {
    /// `VONAGE_API_KEY`: the account; signed callbacks name it.
    pub api_key: String,
    /// `VONAGE_API_SECRET`: the account's API secret (the health probe's credentials).
    pub api_secret: String,
    /// `VONAGE_APPLICATION_ID`: the Voice application, a UUID.
    pub application_id: String,
    /// `VONAGE_PRIVATE_KEY`: the application's RSA private key, PEM (`\n` escapes allowed).
    pub private_key: String,
    /// `VONAGE_SIGNATURE_SECRET`: the key of the callbacks' HS256 signatures.
    pub signature_secret: String,
    /// `VONAGE_API_URL`, by default `https://api.nexmo.com`.
    pub api_url: String,
    /// `VONAGE_CALLS_PER_SECOND`, by default 1: dials are paced to it.
    pub calls_per_second: u32,
    /// `PUBLIC_BASE_URL`: where Vonage calls back.
    pub public_base_url: String,
    /// `VONAGE_SMS_API_URL`, by default `https://rest.nexmo.com` (the SMS API's host).
    pub sms_api_url: String,
    /// `VONAGE_PHONE_NUMBER`: the sender of texts that name none; unset, a text must name one
    /// of the organization's numbers.
    pub phone_number: Option<PhoneNumber>,
    /// `VONAGE_SIGNATURE_METHOD` (md5hash, md5, sha1, sha256, sha512; by default md5hash, the
    /// dashboard's default): how the SMS API signs inbound texts and delivery receipts.
    pub signature_method: VonageSignatureMethod,
}

/// How Vonage signs the SMS API's webhooks (inbound texts, delivery receipts): the account's
/// signature method, as set in its dashboard (`VONAGE_SIGNATURE_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VonageSignatureMethod {
    /// `md5hash`: MD5 of the parameters followed by the secret (the dashboard's default).
    Md5Hash,
    /// HMAC of the parameters under the secret.
    HmacMd5,
    HmacSha1,
    HmacSha256,
    HmacSha512,
}

impl VonageSignatureMethod {
    pub const NAMES: &str = "md5hash, md5, sha1, sha256 or sha512";

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "md5hash" => Some(Self::Md5Hash),
            "md5" => Some(Self::HmacMd5),
            "sha1" => Some(Self::HmacSha1),
            "sha256" => Some(Self::HmacSha256),
            "sha512" => Some(Self::HmacSha512),
            _ => None,
        }
    }
}

impl fmt::Debug for VonageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VonageConfig")
            .field("api_key", &self.api_key)
            .field("application_id", &self.application_id)
            .field("api_url", &self.api_url)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

impl VonageConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let required = |variable: &str, what: &str| {
            env.get(variable)
                .map(str::to_owned)
                .ok_or_else(|| ConfigError {
                    variable: variable.into(),
                    value: String::new(),
                    reason: format!("required with Vonage: {what}"),
                })
        };
        let hidden = |variable: &str, reason: &str| ConfigError {
            variable: variable.into(),
            value: "<hidden>".into(),
            reason: reason.into(),
        };
        let api_key = required("VONAGE_API_KEY", "the account's API key")?;
        if !api_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError {
                variable: "VONAGE_API_KEY".into(),
                value: api_key,
                reason: "expected letters and digits".into(),
            });
        }
        let api_secret = required("VONAGE_API_SECRET", "the account's API secret")?;
        let application_id = required("VONAGE_APPLICATION_ID", "the Voice application's id")?;
        if uuid::Uuid::parse_str(&application_id).is_err() {
            return Err(ConfigError {
                variable: "VONAGE_APPLICATION_ID".into(),
                value: application_id,
                reason: "expected the application's UUID".into(),
            });
        }
        let private_key = required("VONAGE_PRIVATE_KEY", "the application's private key (PEM)")?
            .replace("\\n", "\n");
        if !private_key.trim_start().starts_with("-----BEGIN") {
            return Err(hidden(
                "VONAGE_PRIVATE_KEY",
                "expected a PEM private key (-----BEGIN PRIVATE KEY-----)",
            ));
        }
        let signature_secret = required(
            "VONAGE_SIGNATURE_SECRET",
            "the signature secret Vonage signs callbacks with",
        )?;
        if signature_secret.len() < 16 {
            return Err(hidden(
                "VONAGE_SIGNATURE_SECRET",
                "expected the account's signature secret (at least 16 characters)",
            ));
        }
        let api_url = env.url(
            "VONAGE_API_URL",
            "https://api.nexmo.com",
            &["http", "https"],
        )?;
        Ok(Self {
            api_key,
            api_secret,
            application_id,
            private_key,
            signature_secret,
            api_url: api_url.trim_end_matches('/').into(),
            calls_per_second: calls_per_second(env, "VONAGE_CALLS_PER_SECOND")?,
            public_base_url: crate::public_base_url(env)?,
            sms_api_url: env
                .url(
                    "VONAGE_SMS_API_URL",
                    "https://rest.nexmo.com",
                    &["http", "https"],
                )?
                .trim_end_matches('/')
                .into(),
            phone_number: env
                .get("VONAGE_PHONE_NUMBER")
                .map(|value| {
                    PhoneNumber::parse(value).map_err(|reason| ConfigError {
                        variable: "VONAGE_PHONE_NUMBER".into(),
                        value: value.into(),
                        reason,
                    })
                })
                .transpose()?,
            signature_method: match env.get("VONAGE_SIGNATURE_METHOD") {
                None => VonageSignatureMethod::Md5Hash,
                Some(name) => VonageSignatureMethod::parse(name).ok_or_else(|| ConfigError {
                    variable: "VONAGE_SIGNATURE_METHOD".into(),
                    value: name.into(),
                    reason: format!("expected {}", VonageSignatureMethod::NAMES),
                })?,
            },
        })
    }
}

/// A carrier's calls per second: a whole number from 1 to 1000, by default 1.
fn calls_per_second(env: &Env, variable: &str) -> Result<u32, ConfigError> {
    let value = env.parse(variable, 1)?;
    if (1..=1000).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError {
            variable: variable.into(),
            value: value.to_string(),
            reason: "expected the account's calls per second, 1 to 1000".into(),
        })
    }
}

/// Whose names for languages: the carriers' text-to-speech differ for Chinese.
#[derive(Clone, Copy)]
pub enum Dialect {
    Twilio,
    Vonage,
}

/// The locale a carrier speaks `language` in.
pub fn locale(language: Language, dialect: Dialect) -> &'static str {
    match (language, dialect) {
        (Language::En, _) => "en-US",
        (Language::Es, _) => "es-ES",
        (Language::Fr, _) => "fr-FR",
        (Language::De, _) => "de-DE",
        (Language::It, _) => "it-IT",
        (Language::Pt, _) => "pt-BR",
        (Language::Zh, Dialect::Twilio) => "zh-CN",
        (Language::Zh, Dialect::Vonage) => "cmn-CN",
        (Language::Ja, _) => "ja-JP",
    }
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
            ("TWILIO_API_KEY_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_CALLS_PER_SECOND", "0"),
        ] {
            let mut env = Env::from_pairs(good);
            env.set(variable, bad);
            let error = TwilioConfig::from_env(&env).unwrap_err();
            assert_eq!(error.variable, variable, "{error}");
            assert!(!error.to_string().contains("short"), "{error}");
        }
        let mut half_a_key = Env::from_pairs(good);
        half_a_key.set("TWILIO_API_KEY_SID", "SK0123456789abcdef0123456789abcdef");
        let error = TwilioConfig::from_env(&half_a_key).unwrap_err();
        assert_eq!(error.variable, "TWILIO_API_KEY_SECRET", "{error}");
        half_a_key.set("TWILIO_API_KEY_SECRET", "5ecret5ecret5ecret");
        let config = TwilioConfig::from_env(&half_a_key).unwrap();
        assert!(config.api_key.is_some());
        assert!(!format!("{config:?}").contains("5ecret"));
    }
}
