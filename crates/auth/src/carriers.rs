//! The tokens carriers' APIs take from us.

use comms_runtime::ConfigError;
use comms_runtime::carriers::VonageConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// The Vonage application's signing key, or the start-up error naming `VONAGE_PRIVATE_KEY`.
pub fn vonage_signing_key(config: &VonageConfig) -> Result<EncodingKey, ConfigError> {
    EncodingKey::from_rsa_pem(config.private_key.as_bytes()).map_err(|e| ConfigError {
        variable: "VONAGE_PRIVATE_KEY".into(),
        value: "<hidden>".into(),
        reason: format!("not an RSA private key in PEM: {e}"),
    })
}

/// A Vonage application's JWT (RS256 under the application's private key): `application_id`,
/// `iat`, `exp` after `lifetime_seconds` and a unique `jti`, as Vonage's SDK makes it.
pub fn vonage_application_token(
    application_id: &str,
    key: &EncodingKey,
    lifetime_seconds: i64,
) -> jsonwebtoken::errors::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "application_id": application_id,
        "iat": now,
        "exp": now + lifetime_seconds,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
}
