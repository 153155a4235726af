//! What happens to a call: the `comms.call.*` events, defined in the event contract
//! (`crates/events`), where their schemas are generated from.

pub use comms_events::call::{
    AgentAssigned, Answered, CallEvent, Canceled, Ended, EndedOutcome, Failed, FailedOutcome,
    MachineDetected, Placed, RecordingAvailable, RecordingChanged, RecordingDeleted, Rerouted,
    Ringing, Started, Updated,
};
