//! Secrets at rest. Provider credentials are sealed with AES-256-GCM under
//! `COMMS_ENCRYPTION_KEY`, bound (as associated data) to the organization and provider they
//! belong to, so a ciphertext copied to another row does not open. Machine API keys are stored
//! as SHA-256 digests: they are 256 random bits, so a digest cannot be reversed or guessed.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};

/// Seals and opens secrets with one AES-256-GCM key.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(redacted)")
    }
}

impl Sealer {
    /// From `COMMS_ENCRYPTION_KEY`, `None` when it is unset or empty; a malformed key stops
    /// start-up naming the variable (never its value).
    pub fn from_env(
        env: &comms_config::Env,
    ) -> Result<Option<std::sync::Arc<Self>>, comms_config::ConfigError> {
        let Some(key) = env.get("COMMS_ENCRYPTION_KEY").filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        let sealer = Self::from_encoded(key).map_err(|reason| comms_config::ConfigError {
            variable: "COMMS_ENCRYPTION_KEY".into(),
            value: "<redacted>".into(),
            reason,
        })?;
        Ok(Some(std::sync::Arc::new(sealer)))
    }

    /// From the 32-byte key, given as base64 (44 characters) or hex (64 characters).
    pub fn from_encoded(encoded: &str) -> Result<Self, String> {
        let encoded = encoded.trim();
        let bytes = crate::webhook::unhex(encoded)
            .or_else(|| STANDARD.decode(encoded).ok())
            .ok_or("must be 32 bytes in base64 or hex (e.g. `openssl rand -base64 32`)")?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| format!("must be 32 bytes, not {}", bytes.len()))?;
        Ok(Self {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        })
    }

    /// `nonce ‖ ciphertext ‖ tag`, with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the system random source works");
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any length we store");
        [&nonce[..], &sealed].concat()
    }

    /// The plaintext, or `None` if the data was altered, or sealed under another key or context.
    pub fn open(&self, sealed: &[u8], context: &str) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .ok()?;
        Some(plaintext.to_vec())
    }
}

/// A new bearer secret, `prefix` + 43 random characters (a machine API key `ock_…`, a live
/// feed's ticket `lt_…`), and the digest to store in its place.
pub fn new_secret(prefix: &str) -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = secret_digest(&secret);
    (secret, digest)
}

/// What is stored of a bearer secret: its SHA-256.
pub fn secret_digest(secret: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_secrets_open_only_in_their_context() {
        let sealer = Sealer::from_encoded(KEY).unwrap();
        let sealed = sealer.seal(b"AC-secret-token", "org_a/twilio");
        assert!(!sealed.windows(15).any(|w| w == b"AC-secret-token"));
        assert_eq!(
            sealer.open(&sealed, "org_a/twilio").unwrap(),
            b"AC-secret-token"
        );
        assert!(sealer.open(&sealed, "org_b/twilio").is_none());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&tampered, "org_a/twilio").is_none());
        // The same secret sealed twice looks different (fresh nonce).
        assert_ne!(sealer.seal(b"x", "c"), sealer.seal(b"x", "c"));
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(Sealer::from_encoded(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(Sealer::from_encoded("abcd").is_err());
        assert!(Sealer::from_encoded("not base64 at all!").is_err());
    }

    #[test]
    fn api_keys_are_random_and_stored_as_digests() {
        let (key, digest) = new_secret("ock_");
        assert!(key.starts_with("ock_") && key.len() == 47);
        assert_eq!(secret_digest(&key), digest);
        assert_ne!(new_secret("ock_").0, key);
    }
}
