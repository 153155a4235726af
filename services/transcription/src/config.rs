//! The transcription service's settings, from the environment.

use std::time::Duration;

use comms_runtime::config::Common;
use comms_runtime::{ConfigError, Env};

use comms_auth::media_tokens::MediaTokens;

use crate::deepgram::Options;
use crate::redact::Redactor;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    pub deepgram: Options,
    /// `MEDIA_TOKEN_SECRET`: verifies calls' media tokens (the calls service signs them).
    pub media_tokens: MediaTokens,
    /// `TRANSCRIPT_REDACT_PATTERNS`: regular expressions, one per line, redacted from every
    /// utterance besides card numbers.
    pub redact_patterns: Vec<String>,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let required = |variable: &str, reason: &str| -> Result<String, ConfigError> {
            match env.get(variable) {
                Some(value) if !value.trim().is_empty() => Ok(value.to_owned()),
                _ => Err(ConfigError {
                    variable: variable.into(),
                    value: String::new(),
                    reason: reason.into(),
                }),
            }
        };
        let api_key = required(
            "DEEPGRAM_API_KEY",
            "required: the Deepgram API key calls are transcribed with",
        )?;
        let mut deepgram = Options::new(
            env.url(
                "DEEPGRAM_URL",
                "wss://api.deepgram.com/v1/listen",
                &["wss", "ws"],
            )?,
            api_key,
        );
        deepgram.model = env.string("DEEPGRAM_MODEL", "nova-3");
        let options = env.string("DEEPGRAM_OPTIONS", "");
        deepgram.extra = serde_urlencoded::from_str(&options).map_err(|e| ConfigError {
            variable: "DEEPGRAM_OPTIONS".into(),
            value: options.clone(),
            reason: format!("a query string, e.g. keyterm=Ocelot&numerals=true: {e}"),
        })?;
        deepgram.keep_alive =
            Duration::from_secs(env.parse("DEEPGRAM_KEEP_ALIVE_SECONDS", 3)?.max(1));
        let media_tokens = MediaTokens::from_env(env, "to serve transcription")?;
        let patterns = env.string("TRANSCRIPT_REDACT_PATTERNS", "");
        let redact_patterns: Vec<String> = patterns
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        Redactor::new(&redact_patterns).map_err(|reason| ConfigError {
            variable: "TRANSCRIPT_REDACT_PATTERNS".into(),
            value: patterns.clone(),
            reason,
        })?;
        Ok(Self {
            common: Common::from_env(env)?,
            deepgram,
            media_tokens,
            redact_patterns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn each_missing_or_bad_setting_is_named() {
        let secret = "s".repeat(32);
        let good = [
            ("DEEPGRAM_API_KEY", "dg"),
            ("MEDIA_TOKEN_SECRET", secret.as_str()),
        ];
        let config = Config::from_env(&env(&good)).unwrap();
        assert_eq!(config.deepgram.url, "wss://api.deepgram.com/v1/listen");
        assert_eq!(config.deepgram.model, "nova-3");
        for (drop, variable) in [
            ("DEEPGRAM_API_KEY", "DEEPGRAM_API_KEY"),
            ("MEDIA_TOKEN_SECRET", "MEDIA_TOKEN_SECRET"),
        ] {
            let pairs: Vec<_> = good.iter().copied().filter(|(k, _)| *k != drop).collect();
            assert_eq!(
                Config::from_env(&env(&pairs)).unwrap_err().variable,
                variable
            );
        }
        for (bad, variable) in [
            (("MEDIA_TOKEN_SECRET", "short"), "MEDIA_TOKEN_SECRET"),
            (("DEEPGRAM_URL", "https://api.deepgram.com"), "DEEPGRAM_URL"),
            (
                ("TRANSCRIPT_REDACT_PATTERNS", "ok\n(unclosed"),
                "TRANSCRIPT_REDACT_PATTERNS",
            ),
        ] {
            let mut pairs = good.to_vec();
            pairs.retain(|(k, _)| *k != bad.0);
            pairs.push(bad);
            assert_eq!(
                Config::from_env(&env(&pairs)).unwrap_err().variable,
                variable
            );
        }
        let mut pairs = good.to_vec();
        pairs.push(("DEEPGRAM_OPTIONS", "keyterm=Ocelot&numerals=true"));
        let config = Config::from_env(&env(&pairs)).unwrap();
        assert_eq!(config.deepgram.extra.len(), 2);
    }
}
