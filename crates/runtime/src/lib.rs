//! What every service of the fleet starts with: configuration, connections,
//! gRPC serving with health and reflection, and graceful shutdown.

pub mod carriers;
pub mod client;
pub mod config;
pub mod db;
pub mod grpc;
pub mod http;
pub mod shutdown;

pub use config::{ConfigError, Env};
pub use shutdown::{Shutdown, ShutdownTrigger};
