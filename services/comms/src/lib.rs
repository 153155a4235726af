//! The fleet as one program: each service alone (`comms serve <service>`, as Kubernetes runs
//! it) or all of them in one process (`comms dev`), where they still talk gRPC over loopback.

mod admin;
pub mod bench;
pub mod dead_letters;
pub mod fleet;
pub mod keys;
pub mod simulate;

pub use fleet::{DevFleet, Service, start_dev};
