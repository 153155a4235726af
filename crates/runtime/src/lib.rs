//! What every service of the fleet starts with: configuration, connections, health, shutdown.

pub mod db;
