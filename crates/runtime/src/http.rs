//! HTTP clients, the one way to make them: TLS is rustls on ring (see the workspace's
//! Cargo.toml), installed here as the process's provider before the first client is built.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// Installs the process's TLS provider (rustls on ring), once: before the first HTTP client or
/// TLS socket (a WebSocket client's) is made.
pub fn install_tls_provider() {
    PROVIDER.call_once(|| {
        // ring lacks the post-quantum key exchange rustls now deprecates it for; aws-lc-rs has
        // it at the price of a C build. An error means the process installed one already.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with the TLS provider in place.
pub fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// A client whose requests give up after `timeout`.
pub fn client(timeout: Duration) -> reqwest::Client {
    builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client with rustls and a timeout builds")
}
