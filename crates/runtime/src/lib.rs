//! What every service of the fleet starts with: configuration, connections, caller identity,
//! gRPC serving with health and reflection, and graceful shutdown.

pub mod config;
pub mod db;
pub mod grpc;
pub mod identity;
pub mod shutdown;

pub use config::{ConfigError, Env};
pub use identity::Identity;
pub use shutdown::{Shutdown, ShutdownTrigger};
