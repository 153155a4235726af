//! Carriers' callbacks: the only routes without a caller's credentials. Each request is
//! verified with the carrier's signature scheme before anything in it is read, against the URL
//! the fleet gave the carrier (`PUBLIC_BASE_URL` and the raw path and query, never the request's
//! Host header). See docs/telephony.md.

pub mod health;
pub mod twilio;
pub mod twiml;
pub mod vonage;

use comms_proto::Language;
use comms_runtime::carriers::{TwilioConfig, VonageConfig};
use comms_runtime::{ConfigError, Env};

/// The carriers' accounts whose callbacks the edge takes and whose health it reports.
#[derive(Debug, Clone, Default)]
pub struct CarrierConfig {
    /// Read when `TWILIO_ACCOUNT_SID` or `TWILIO_AUTH_TOKEN` is set; then all of Twilio's
    /// settings and `PUBLIC_BASE_URL` must be.
    pub twilio: Option<TwilioConfig>,
    /// Read when `VONAGE_API_KEY` is set; then all of Vonage's settings must be.
    pub vonage: Option<VonageConfig>,
}

impl CarrierConfig {
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
                .transpose()?
                .map(|vonage| {
                    // Checked at start-up: the health probe signs with it.
                    jsonwebtoken::EncodingKey::from_rsa_pem(vonage.private_key.as_bytes())
                        .map(|_| vonage)
                        .map_err(|e| ConfigError {
                            variable: "VONAGE_PRIVATE_KEY".into(),
                            value: "<hidden>".into(),
                            reason: format!("not an RSA private key in PEM: {e}"),
                        })
                })
                .transpose()?,
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

/// What a caller waiting for an agent hears, in the call's language.
pub fn hold_message(language: Language) -> &'static str {
    match language {
        Language::En => "Please hold while we connect you.",
        Language::Es => "Por favor, espere mientras le conectamos.",
        Language::Fr => "Veuillez patienter, nous vous mettons en relation.",
        Language::De => "Bitte bleiben Sie dran, wir verbinden Sie.",
        Language::It => "Resti in linea, la stiamo mettendo in contatto.",
        Language::Pt => "Por favor, aguarde enquanto transferimos a sua chamada.",
        Language::Zh => "请稍候，我们正在为您接通。",
        Language::Ja => "おつなぎしますので、少々お待ちください。",
    }
}
