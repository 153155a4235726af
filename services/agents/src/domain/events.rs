//! What happens to an agent: the `comms.agent.*` events, defined in the event contract
//! (`crates/events`), where their schemas are generated from.

pub use comms_events::agent::{
    AgentEvent, Available, Away, Break, Created, NextStateRequested, Offline, OnCall,
    ProfileUpdated, Reserved, TeamChanged, Transition, WrapUp,
};
