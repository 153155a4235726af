//! The Ed25519 keys tokens are signed with. The newest key signs; every key still listed
//! verifies, so a rotated-out key's tokens stay valid until they expire. Each key's `kid` is its
//! RFC 7638 JWK thumbprint, so the same key has the same id everywhere.
//!
//! Keys come from `JWT_PRIVATE_KEY` / `JWT_PUBLIC_KEY` (PEM) or from a key directory, where the
//! first start generates one (directory 0700, key files 0600). Like ssh, a key file others can
//! read, or a directory others can write, is refused.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

/// PKCS#8 v1 (RFC 8410) of an Ed25519 seed: this prefix, then the 32-byte seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// SubjectPublicKeyInfo of an Ed25519 public key: this prefix, then the 32-byte key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> KeyError {
    KeyError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// A public key that verifies tokens.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: String,
    raw: [u8; 32],
    pub(crate) decoding: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.kid)
    }
}

impl PublicKey {
    fn from_raw(raw: [u8; 32]) -> Self {
        let x = URL_SAFE_NO_PAD.encode(raw);
        // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
        Self {
            kid: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            raw,
            decoding: DecodingKey::from_ed_der(&raw),
        }
    }

    /// The key as a JWK (RFC 8037).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.raw),
            "kid": self.kid, "alg": "EdDSA", "use": "sig",
        })
    }

    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &[&SPKI_PREFIX[..], &self.raw].concat())
    }
}

/// A private key that signs tokens. Its bytes are never printed.
#[derive(Clone)]
pub struct PrivateKey {
    pub public: PublicKey,
    pkcs8: Vec<u8>,
    pub(crate) encoding: EncodingKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, redacted)", self.public.kid)
    }
}

impl PrivateKey {
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .expect("the system random source works");
        Self::from_pkcs8(&[&PKCS8_PREFIX[..], &seed].concat()).expect("a fresh seed is a key")
    }

    /// From PKCS#8 DER, v1 or v2 (what `openssl genpkey -algorithm ed25519` writes).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| KeyError::Invalid(format!("not an Ed25519 PKCS#8 private key: {e}")))?;
        let raw: [u8; 32] = pair.public_key().as_ref().try_into().expect("32 bytes");
        Ok(Self {
            public: PublicKey::from_raw(raw),
            pkcs8: der.to_vec(),
            encoding: EncodingKey::from_ed_der(der),
        })
    }

    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let blocks = pem_blocks(text, "PRIVATE KEY")?;
        match blocks.as_slice() {
            [der] => Self::from_pkcs8(der),
            _ => Err(KeyError::Invalid(format!(
                "expected one PRIVATE KEY block, found {}",
                blocks.len()
            ))),
        }
    }

    pub fn to_pem(&self) -> String {
        pem("PRIVATE KEY", &self.pkcs8)
    }
}

/// Every key this process knows: at most one signs (the newest), all verify.
#[derive(Debug, Clone)]
pub struct KeyRing {
    signing: Option<PrivateKey>,
    verifying: Vec<PublicKey>,
}

impl KeyRing {
    /// A ring that signs with `key` and also verifies `others` (keys being rotated out).
    pub fn new(key: PrivateKey, others: Vec<PublicKey>) -> Self {
        let mut verifying = vec![key.public.clone()];
        verifying.extend(others.into_iter().filter(|k| k.kid != key.public.kid));
        Self {
            signing: Some(key),
            verifying,
        }
    }

    /// A ring that only verifies (a service that never signs).
    pub fn verify_only(keys: Vec<PublicKey>) -> Self {
        Self {
            signing: None,
            verifying: keys,
        }
    }

    pub fn signing(&self) -> Option<&PrivateKey> {
        self.signing.as_ref()
    }

    pub fn find(&self, kid: &str) -> Option<&PublicKey> {
        self.verifying.iter().find(|k| k.kid == kid)
    }

    pub fn public_keys(&self) -> &[PublicKey] {
        &self.verifying
    }

    /// The JWKS document (RFC 7517) of every verifying key.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.verifying.iter().map(PublicKey::jwk).collect::<Vec<_>>() })
    }

    /// Public keys from PEM text holding one or more `PUBLIC KEY` blocks.
    pub fn public_keys_from_pem(text: &str) -> Result<Vec<PublicKey>, KeyError> {
        pem_blocks(text, "PUBLIC KEY")?
            .into_iter()
            .map(|der| {
                der.strip_prefix(&SPKI_PREFIX[..])
                    .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
                    .map(PublicKey::from_raw)
                    .ok_or_else(|| KeyError::Invalid("not an Ed25519 public key".into()))
            })
            .collect()
    }

    /// The keys in `dir` (`ed25519-NNNN.pem`, the highest number signs), generating the first
    /// one if there is none. Safe when several processes start at once: a key file appears
    /// whole or not at all, and only one first key can be created.
    pub fn load_or_generate(dir: &Path) -> Result<Self, KeyError> {
        prepare_dir(dir)?;
        if key_files(dir)?.is_empty() {
            match write_key(dir, 1, &PrivateKey::generate()) {
                Ok(path) => {
                    tracing::info!(path = %path.display(), "generated the first signing key")
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(file_error(dir, e)),
            }
        }
        Self::load_dir(dir)
    }

    /// Adds a newer key to `dir`; it signs from the next start on, and the older keys keep
    /// verifying until their files are removed.
    pub fn rotate(dir: &Path) -> Result<PublicKey, KeyError> {
        prepare_dir(dir)?;
        let next = key_files(dir)?.last().map_or(1, |(n, _)| n + 1);
        let key = PrivateKey::generate();
        write_key(dir, next, &key).map_err(|e| file_error(dir, e))?;
        Ok(key.public)
    }

    fn load_dir(dir: &Path) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for (_, path) in key_files(dir)? {
            let mode = fs::metadata(&path)
                .map_err(|e| file_error(&path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(file_error(
                    &path,
                    format!(
                        "mode {:o} lets others read a private key; chmod 600 it",
                        mode & 0o777
                    ),
                ));
            }
            let text = fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
            keys.push(PrivateKey::from_pem(&text).map_err(|e| file_error(&path, e))?);
        }
        let newest = keys
            .pop()
            .ok_or_else(|| file_error(dir, "holds no ed25519-NNNN.pem key"))?;
        // Newest first, so the JWKS lists the signing key first.
        Ok(Self::new(
            newest,
            keys.into_iter().rev().map(|k| k.public).collect(),
        ))
    }
}

fn prepare_dir(dir: &Path) -> Result<(), KeyError> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| file_error(dir, e))?;
    }
    let mode = fs::metadata(dir)
        .map_err(|e| file_error(dir, e))?
        .permissions()
        .mode();
    // Others may list it (a mounted Kubernetes Secret is 0755) but never add or swap a key.
    if mode & 0o022 != 0 {
        return Err(file_error(
            dir,
            format!(
                "mode {:o} lets others write keys into the directory; chmod 700 it",
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

/// `(number, path)` of each key file, in increasing number.
fn key_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>, KeyError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| file_error(dir, e))? {
        let path = entry.map_err(|e| file_error(dir, e))?.path();
        let number = path.file_name().and_then(|n| n.to_str()).and_then(|n| {
            n.strip_prefix("ed25519-")?
                .strip_suffix(".pem")?
                .parse()
                .ok()
        });
        if let Some(number) = number {
            files.push((number, path));
        }
    }
    files.sort();
    Ok(files)
}

/// Writes the key to a private temporary file, then links it into place: the link fails if
/// another process created that number first, and readers never see half a key.
fn write_key(dir: &Path, number: u32, key: &PrivateKey) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("ed25519-{number:04}.pem"));
    let temporary = dir.join(format!(".ed25519-{number:04}.{}.tmp", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(key.to_pem().as_bytes())?;
    file.sync_all()?;
    let linked = fs::hard_link(&temporary, &path);
    fs::remove_file(&temporary)?;
    linked.map(|()| path)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The DER of every `label` block in `text`.
fn pem_blocks(text: &str, label: &str) -> Result<Vec<Vec<u8>>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start + begin.len()..];
        let stop = after
            .find(&end)
            .ok_or_else(|| KeyError::Invalid(format!("unterminated {label} block")))?;
        let body: String = after[..stop].split_whitespace().collect();
        blocks.push(
            STANDARD
                .decode(body)
                .map_err(|_| KeyError::Invalid(format!("{label} block is not base64")))?,
        );
        rest = &after[stop + end.len()..];
    }
    if blocks.is_empty() {
        return Err(KeyError::Invalid(format!("no {begin} block")));
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_kid_is_the_thumbprint() {
        let key = PrivateKey::generate();
        let again = PrivateKey::from_pem(&key.to_pem()).unwrap();
        assert_eq!(again.public.kid, key.public.kid);
        let public = KeyRing::public_keys_from_pem(&key.public.to_pem()).unwrap();
        assert_eq!(public[0].kid, key.public.kid);
        // RFC 8037 appendix A.3: the thumbprint of the RFC's example key.
        let raw = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let example = PublicKey::from_raw(raw.try_into().unwrap());
        assert_eq!(example.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn key_directory_is_private_and_the_newest_key_signs() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys");
        let first = KeyRing::load_or_generate(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let file = dir.join("ed25519-0001.pem");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A second start loads the same key.
        let again = KeyRing::load_or_generate(&dir).unwrap();
        let kid = |ring: &KeyRing| ring.signing().unwrap().public.kid.clone();
        assert_eq!(kid(&first), kid(&again));

        let rotated = KeyRing::rotate(&dir).unwrap();
        let ring = KeyRing::load_or_generate(&dir).unwrap();
        assert_eq!(kid(&ring), rotated.kid);
        assert!(
            ring.find(&kid(&first)).is_some(),
            "the old key still verifies"
        );
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);

        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let error = KeyRing::load_or_generate(&dir).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let error = KeyRing::load_or_generate(&dir).unwrap_err().to_string();
        assert!(error.contains("chmod 700"), "{error}");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            KeyRing::load_or_generate(&dir).is_ok(),
            "a readable directory is fine"
        );
    }

    #[test]
    fn debug_output_never_shows_the_private_key() {
        let key = PrivateKey::generate();
        let pem = key.to_pem();
        let body = pem.lines().nth(1).unwrap();
        assert!(!format!("{key:?}").contains(body));
    }
}
