//! Auth settings from the environment. Key material is never echoed in an error.

use std::path::PathBuf;
use std::time::Duration;

use comms_runtime::{ConfigError, Env};

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

impl AuthConfig {
    /// Reads the settings and loads the keys: `JWT_PRIVATE_KEY` (PEM; signs) and
    /// `JWT_PUBLIC_KEY` (PEM, one or more keys; verifies), or else the key directory
    /// `COMMS_KEY_DIR`, where the first start generates a key.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let lifetimes = Lifetimes {
            access: Duration::from_secs(env.parse("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)?),
            refresh: Duration::from_secs(env.parse("REFRESH_TOKEN_TTL_SECONDS", 7 * 24 * 3600)?),
        };
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
                KeyRing::load_or_generate(&dir).map_err(|e| invalid("COMMS_KEY_DIR", e))?
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
        Ok(Self {
            tokens: Tokens::new(keys, lifetimes),
            platform_mode: env.bool("PLATFORM_MODE", false)?,
            gateway: Gateway::new(roles, secret),
        })
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
