//! HTTP clients, the one way to make them: TLS is rustls on ring (see the workspace's
//! Cargo.toml), installed here as the process's provider before the first client is built.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// A client builder with the TLS provider in place.
pub fn builder() -> reqwest::ClientBuilder {
    PROVIDER.call_once(|| {
        // ring lacks the post-quantum key exchange rustls now deprecates it for; aws-lc-rs has
        // it at the price of a C build. An error means the process installed one already.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A client whose requests give up after `timeout`.
pub fn client(timeout: Duration) -> reqwest::Client {
    builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client with rustls and a timeout builds")
}
