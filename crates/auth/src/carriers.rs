//! The tokens carriers' APIs take from us.

use jsonwebtoken::{Algorithm, EncodingKey, Header};

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
