//! What every service of the fleet starts with: configuration, connections,
//! gRPC serving with health and reflection, and graceful shutdown.

pub mod client;
pub mod config;
pub mod db;
pub mod grpc;
pub mod http;
pub mod shutdown;

// Configuration lives in `comms-config`, so that crates reading settings build without servers.
pub use comms_config::{ConfigError, Env, carriers};
pub use shutdown::{Shutdown, ShutdownTrigger};
