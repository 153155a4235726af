//! Auth settings from the environment. Key material is never echoed in an error.

use std::path::PathBuf;
use std::time::Duration;

use comms_config::{ConfigError, Env};

use crate::keys::{KeyRing, PrivateKey};
use crate::permissions::RoleMap;
use crate::platform::Gateway;
use crate::tokens::{Lifetimes, Tokens};

pub const DEFAULT_KEY_DIR: &str = ".comms/keys";

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub tokens: Tokens,
    /// `PLATFORM_MODE=true`: identity from the gateway's headers instead of our own tokens.
    pub platform_mode: bool,
    pub gateway: Gateway,
}

fn invalid(variable: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        value: "<redacted>".to_owned(),
        reason: reason.to_string(),
    }
}

/// `SERVICE_TOKEN_PRIVATE_KEY` (PEM; signs this process's calls to other services) and
/// `SERVICE_TOKEN_PUBLIC_KEY` (PEM, one or more; verifies them), if set.
fn service_keys(env: &Env) -> Result<Option<KeyRing>, ConfigError> {
    let public = match env.get("SERVICE_TOKEN_PUBLIC_KEY") {
        Some(pem) => KeyRing::public_keys_from_pem(pem)
            .map_err(|e| invalid("SERVICE_TOKEN_PUBLIC_KEY", e))?,
        None => Vec::new(),
    };
    Ok(match env.get("SERVICE_TOKEN_PRIVATE_KEY") {
        Some(pem) => Some(KeyRing::new(
            PrivateKey::from_pem(pem).map_err(|e| invalid("SERVICE_TOKEN_PRIVATE_KEY", e))?,
            public,
        )),
        None if public.is_empty() => None,
        None => Some(KeyRing::verify_only(public)),
    })
}

impl AuthConfig {
    /// Reads the settings and loads the keys: `JWT_PRIVATE_KEY` (PEM; signs) and
    /// `JWT_PUBLIC_KEY` (PEM, one or more keys; verifies), or else the key directory
    /// `COMMS_KEY_DIR`, where the first start generates a key; and the service-token keys
    /// (`SERVICE_TOKEN_PRIVATE_KEY`, `SERVICE_TOKEN_PUBLIC_KEY`), trusted for nothing else.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let seconds = |variable: &str, default: u64| -> Result<Duration, ConfigError> {
            let value: u64 = env.parse(variable, default)?;
            if value < 60 {
                return Err(ConfigError {
                    variable: variable.to_owned(),
                    value: value.to_string(),
                    reason: "must be at least 60 seconds".into(),
                });
            }
            Ok(Duration::from_secs(value))
        };
        let lifetimes = Lifetimes {
            access: seconds("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)?,
            refresh: seconds("REFRESH_TOKEN_TTL_SECONDS", 7 * 24 * 3600)?,
        };
        if lifetimes.refresh <= lifetimes.access {
            return Err(ConfigError {
                variable: "REFRESH_TOKEN_TTL_SECONDS".into(),
                value: lifetimes.refresh.as_secs().to_string(),
                reason: "must be longer than ACCESS_TOKEN_TTL_SECONDS".into(),
            });
        }
        let public = match env.get("JWT_PUBLIC_KEY") {
            Some(pem) => {
                KeyRing::public_keys_from_pem(pem).map_err(|e| invalid("JWT_PUBLIC_KEY", e))?
            }
            None => Vec::new(),
        };
        let keys = match (env.get("JWT_PRIVATE_KEY"), public.is_empty()) {
            (Some(pem), _) => KeyRing::new(
                PrivateKey::from_pem(pem).map_err(|e| invalid("JWT_PRIVATE_KEY", e))?,
                public,
            ),
            (None, false) => KeyRing::verify_only(public),
            (None, true) => {
                let dir = PathBuf::from(env.string("COMMS_KEY_DIR", DEFAULT_KEY_DIR));
                KeyRing::load_or_generate(&dir).map_err(|e| ConfigError {
                    variable: "COMMS_KEY_DIR".into(),
                    value: dir.display().to_string(),
                    reason: e.to_string(),
                })?
            }
        };
        let roles = RoleMap::parse(&env.string("PLATFORM_ROLE_MAP", ""))
            .map_err(|e| invalid("PLATFORM_ROLE_MAP", e))?;
        let secret = env.get("GATEWAY_SHARED_SECRET").filter(|s| !s.is_empty());
        if secret.is_some_and(|s| s.len() < 32) {
            return Err(invalid(
                "GATEWAY_SHARED_SECRET",
                "must be at least 32 characters",
            ));
        }
        let mut tokens = Tokens::new(keys, lifetimes);
        if let Some(service_keys) = service_keys(env)? {
            tokens = tokens.with_service_keys(service_keys);
        }
        Ok(Self {
            tokens,
            platform_mode: env.bool("PLATFORM_MODE", false)?,
            gateway: Gateway::new(roles, secret),
        })
    }

    /// The settings of the service that takes requests from outside (the edge). In platform
    /// mode the gateway's headers must be signed (`GATEWAY_SHARED_SECRET`), unless
    /// `PLATFORM_TRUST_UNSIGNED_HEADERS=true` says the network lets nothing but the gateway
    /// reach it: anyone else reaching an edge that believes unsigned headers is anyone they say.
    pub fn serving_outside_requests(self, env: &Env) -> Result<Self, ConfigError> {
        let trusted = env.bool("PLATFORM_TRUST_UNSIGNED_HEADERS", false)?;
        if self.platform_mode && !self.gateway.signed() && !trusted {
            return Err(ConfigError {
                variable: "GATEWAY_SHARED_SECRET".into(),
                value: String::new(),
                reason: "required when PLATFORM_MODE=true (at least 32 characters, shared with \
                         the gateway); set PLATFORM_TRUST_UNSIGNED_HEADERS=true instead only if \
                         nothing but the gateway can reach the edge"
                    .into(),
            });
        }
        Ok(self)
    }

    /// Settings for tests and in-process fleets: a fresh in-memory key, standalone mode.
    pub fn ephemeral() -> Self {
        Self {
            tokens: Tokens::new(
                KeyRing::new(PrivateKey::generate(), Vec::new()),
                Lifetimes::default(),
            ),
            platform_mode: false,
            gateway: Gateway::new(RoleMap::default(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_the_variable_and_never_echo_a_key() {
        let error = |pairs: &[(&str, &str)]| {
            AuthConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap_err()
        };
        let pem = PrivateKey::generate().to_pem();
        let broken = pem.replace("-----END", "x-----END");
        let e = error(&[("JWT_PRIVATE_KEY", broken.as_str())]);
        assert_eq!(e.variable, "JWT_PRIVATE_KEY");
        assert!(!e.to_string().contains(pem.lines().nth(1).unwrap()), "{e}");
        assert_eq!(
            error(&[("JWT_PRIVATE_KEY", &pem), ("ACCESS_TOKEN_TTL_SECONDS", "5")]).variable,
            "ACCESS_TOKEN_TTL_SECONDS"
        );
        assert_eq!(
            error(&[
                ("JWT_PRIVATE_KEY", &pem),
                ("REFRESH_TOKEN_TTL_SECONDS", "600")
            ])
            .variable,
            "REFRESH_TOKEN_TTL_SECONDS"
        );
        assert_eq!(
            error(&[
                ("JWT_PRIVATE_KEY", &pem),
                ("GATEWAY_SHARED_SECRET", "short")
            ])
            .variable,
            "GATEWAY_SHARED_SECRET"
        );
        assert_eq!(
            error(&[("JWT_PRIVATE_KEY", &pem), ("PLATFORM_ROLE_MAP", "owner")]).variable,
            "PLATFORM_ROLE_MAP"
        );
    }

    #[test]
    fn platform_mode_needs_the_gateways_secret_or_an_explicit_trust() {
        let pem = PrivateKey::generate().to_pem();
        let outside = |pairs: &[(&str, &str)]| {
            let env = Env::from_pairs(pairs.iter().copied());
            AuthConfig::from_env(&env)
                .unwrap()
                .serving_outside_requests(&env)
        };
        let key = ("JWT_PRIVATE_KEY", pem.as_str());
        let refused = outside(&[key, ("PLATFORM_MODE", "true")]).unwrap_err();
        assert_eq!(refused.variable, "GATEWAY_SHARED_SECRET");
        assert!(
            refused
                .to_string()
                .contains("PLATFORM_TRUST_UNSIGNED_HEADERS"),
            "{refused}"
        );
        let secret = (
            "GATEWAY_SHARED_SECRET",
            "a-shared-secret-of-at-least-32-characters",
        );
        assert!(outside(&[key, ("PLATFORM_MODE", "true"), secret]).is_ok());
        let trust = ("PLATFORM_TRUST_UNSIGNED_HEADERS", "true");
        assert!(outside(&[key, ("PLATFORM_MODE", "true"), trust]).is_ok());
        assert!(outside(&[key]).is_ok(), "standalone mode needs neither");
        // The services behind the edge share the configuration but not the secret.
        let env = Env::from_pairs([key, ("PLATFORM_MODE", "true")]);
        assert!(AuthConfig::from_env(&env).is_ok());
    }

    #[test]
    fn a_public_key_alone_verifies_but_cannot_sign() {
        let key = PrivateKey::generate();
        let public = key.public.to_pem();
        let config =
            AuthConfig::from_env(&Env::from_pairs([("JWT_PUBLIC_KEY", public.as_str())])).unwrap();
        assert!(config.tokens.keys().signing().is_none());
        let signer = Tokens::new(KeyRing::new(key, vec![]), Lifetimes::default());
        let identity = crate::Identity::new("org", "u", crate::Role::Agent).unwrap();
        let token = signer.internal_token(&identity).unwrap();
        assert!(
            config
                .tokens
                .verify(&token, &[crate::TokenKind::Internal])
                .is_ok()
        );
        assert!(config.tokens.internal_token(&identity).is_err());
    }
}
