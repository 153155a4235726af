//! REST routes under `/api/communications`, plus health and metrics.

pub mod analytics;
pub mod calls;
pub mod health;
