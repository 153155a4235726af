//! The Call aggregate: pure and synchronous. `handle(state, command)` decides which events
//! happen; `apply(state, event)` folds them into state. Everything it needs (the time, the ids)
//! comes in the command, so it is tested without a database.

mod call;
mod events;

pub use call::{
    Call, CallStatus, Carrier, CarrierLeg, Command, Direction, DomainError, FlowVersion,
    IvrPosition, IvrStep, Language, MachineVerdict, MonitorMode, Progress, Queued, Recording,
    RecordingAction, RecordingPolicy, RecordingState, apply, check_text, control_recording, fold,
    handle, monitoring,
};
pub use comms_proto::PhoneNumber;
pub use events::CallEvent;
