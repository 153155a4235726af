//! Events going into the log and coming out of it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::Checkpoint;

/// An event to append. `event_id` makes a retried append idempotent, so callers generate it once
/// per logical event and reuse it on retry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    /// The routing key on the bus, e.g. `comms.call.started`.
    pub event_type: String,
    pub data: Value,
    /// Correlation, causation, trace context, acting user: whatever travels with the event.
    pub metadata: Value,
}

impl NewEvent {
    pub fn new(event_type: impl Into<String>, data: Value, metadata: Value) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            data,
            metadata,
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RecordedEvent {
    pub global_position: i64,
    pub tx_id: i64,
    pub event_id: Uuid,
    pub stream_name: String,
    pub stream_position: i64,
    pub event_type: String,
    pub tenant_id: String,
    pub data: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// The position of this event in the global order, for checkpoints.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            tx_id: self.tx_id,
            global_position: self.global_position,
        }
    }
}
