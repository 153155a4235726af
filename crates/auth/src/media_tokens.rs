//! The per-call token a media socket must carry: the calls service, asking a carrier to stream a
//! call's audio to the transcription service, signs the organization, the call and an expiry
//! with `MEDIA_TOKEN_SECRET`; the transcription service refuses the socket before any audio is
//! read unless its token verifies for the call it names and has not expired. Carried in the
//! stream URL's path (Twilio's stream URLs take no query string).
//!
//! `<expiry, unix seconds>.<HMAC-SHA256 of "org\ncall\nexpiry", base64url>`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use uuid::Uuid;

#[derive(Clone)]
pub struct MediaTokens {
    key: hmac::Key,
}

impl std::fmt::Debug for MediaTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaTokens(..)")
    }
}

/// The shortest secret accepted: 256 bits of base64 is 43 characters, a passphrase longer.
const SHORTEST_SECRET: usize = 32;

impl MediaTokens {
    /// From `MEDIA_TOKEN_SECRET`, which is `required_for` what the caller names; missing or
    /// short, the error says so without echoing it.
    pub fn from_env(
        env: &comms_config::Env,
        required_for: &str,
    ) -> Result<Self, comms_config::ConfigError> {
        match env.get("MEDIA_TOKEN_SECRET") {
            Some(secret) if secret.len() >= SHORTEST_SECRET => Ok(Self::new(secret.as_bytes())),
            given => Err(comms_config::ConfigError {
                variable: "MEDIA_TOKEN_SECRET".into(),
                value: given.map(|_| "(hidden)").unwrap_or_default().into(),
                reason: format!(
                    "required {required_for}: {SHORTEST_SECRET} or more characters, the same for the calls and transcription services"
                ),
            }),
        }
    }

    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// A token for `call`'s audio, good until `expires` (unix seconds).
    pub fn sign(&self, org: &str, call: Uuid, expires: i64) -> String {
        let mac = hmac::sign(&self.key, message(org, call, expires).as_bytes());
        format!("{expires}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    }

    /// Whether `token` is this call's and still good at `now` (unix seconds); why not.
    pub fn verify(&self, token: &str, org: &str, call: Uuid, now: i64) -> Result<(), &'static str> {
        let (expires, mac) = token.split_once('.').ok_or("not a media token")?;
        let expires: i64 = expires.parse().map_err(|_| "not a media token")?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| "not a media token")?;
        hmac::verify(&self.key, message(org, call, expires).as_bytes(), &mac)
            .map_err(|_| "the token is not this call's")?;
        if now > expires {
            return Err("the token has expired");
        }
        Ok(())
    }
}

fn message(org: &str, call: Uuid, expires: i64) -> String {
    format!("{org}\n{call}\n{expires}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_its_own_calls_audio_until_it_expires() {
        let tokens = MediaTokens::new(b"secret");
        let call = Uuid::new_v4();
        let token = tokens.sign("org_a", call, 1_000);
        assert_eq!(tokens.verify(&token, "org_a", call, 999), Ok(()));
        assert_eq!(
            tokens.verify(&token, "org_a", call, 1_001),
            Err("the token has expired")
        );
        assert_eq!(
            tokens.verify(&token, "org_b", call, 999),
            Err("the token is not this call's")
        );
        assert_eq!(
            tokens.verify(&token, "org_a", Uuid::new_v4(), 999),
            Err("the token is not this call's")
        );
        // A later expiry with the same signature, another key's token, or garbage.
        let (_, mac) = token.split_once('.').unwrap();
        assert!(
            tokens
                .verify(&format!("2000.{mac}"), "org_a", call, 999)
                .is_err()
        );
        assert!(
            MediaTokens::new(b"other")
                .verify(&token, "org_a", call, 999)
                .is_err()
        );
        assert!(tokens.verify("nonsense", "org_a", call, 999).is_err());
    }
}
