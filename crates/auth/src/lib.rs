//! Identity and its proof, for the edge and every service: Ed25519 JWTs with rotating keys and a
//! JWKS, the Ocelot gateway's headers in platform mode, the one permission table,
//! service-to-service tokens in gRPC metadata, secrets sealed at rest (and organizations' provider
//! credentials among them), and webhook signatures.

pub mod carriers;
pub mod config;
pub mod credentials;
pub mod identity;
pub mod keys;
pub mod media_tokens;
pub mod permissions;
pub mod platform;
pub mod secrets;
pub mod service;
pub mod tokens;
pub mod webhook;

pub use config::AuthConfig;
pub use identity::{Identity, Role};
pub use keys::{KeyRing, PrivateKey, PublicKey};
pub use permissions::{Permission, Scope};
pub use tokens::{Claims, Lifetimes, TokenKind, Tokens};
