//! The tokens carriers' APIs take from us.

use comms_config::ConfigError;
use comms_config::carriers::{TwilioApiKey, VonageConfig};
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

/// A Twilio Voice SDK access token for `identity` (HS256 under the API key's secret, `cty:
/// twilio-fpa;v=1`, as Twilio's SDKs make it): the browser's `Device` registers with it and
/// receives the calls to `client:identity` (the conference participants the fleet adds).
pub fn twilio_access_token(
    account_sid: &str,
    key: &TwilioApiKey,
    identity: &str,
    lifetime_seconds: i64,
) -> jsonwebtoken::errors::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(Algorithm::HS256);
    header.cty = Some("twilio-fpa;v=1".into());
    let claims = serde_json::json!({
        "jti": format!("{}-{now}", key.sid),
        "iss": key.sid,
        "sub": account_sid,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "grants": {
            "identity": identity,
            "voice": { "incoming": { "allow": true } },
        },
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(key.secret.as_bytes()),
    )
}

/// The paths a Vonage Client SDK user needs to log in and take calls.
const VONAGE_CLIENT_PATHS: [&str; 10] = [
    "/*/users/**",
    "/*/conversations/**",
    "/*/sessions/**",
    "/*/devices/**",
    "/*/image/**",
    "/*/media/**",
    "/*/applications/**",
    "/*/push/**",
    "/*/knocking/**",
    "/*/legs/**",
];

/// A Vonage Client SDK JWT for the application's user `user` (RS256 under the application's
/// private key, `sub` the user, `acl` the Client SDK's paths).
pub fn vonage_client_token(
    application_id: &str,
    key: &EncodingKey,
    user: &str,
    lifetime_seconds: i64,
) -> jsonwebtoken::errors::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let paths: serde_json::Map<String, serde_json::Value> = VONAGE_CLIENT_PATHS
        .iter()
        .map(|path| ((*path).to_owned(), serde_json::json!({})))
        .collect();
    let claims = serde_json::json!({
        "application_id": application_id,
        "sub": user,
        "acl": { "paths": paths },
        "iat": now,
        "exp": now + lifetime_seconds,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
}
