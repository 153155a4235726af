//! The agents service: agents and teams as event-sourced aggregates, and routing calls to the
//! best free agent (ACD) with a waiting queue.

pub mod domain;
