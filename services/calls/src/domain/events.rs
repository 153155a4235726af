//! What happens to a call, as stored in the log and published as `comms.call.*`.
//! Payloads are snake_case JSON; `docs/events/` holds a JSON schema for each.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{CallStatus, Direction, Language, PhoneNumber};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CallEvent {
    Started(Started),
    Ringing(Ringing),
    Answered(Answered),
    Ended(Ended),
    Failed(Failed),
    Canceled(Canceled),
    Updated(Updated),
    AgentAssigned(AgentAssigned),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub call_id: Uuid,
    pub direction: Direction,
    pub to: PhoneNumber,
    pub from: Option<PhoneNumber>,
    pub agent_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub language: Language,
    pub started_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ringing {
    pub call_id: Uuid,
    pub ringing_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answered {
    pub call_id: Uuid,
    pub answered_at: DateTime<Utc>,
    /// The campaign the call belongs to, so its outcome reaches the campaign without a lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// An answered call hung up. `duration` is talk time in whole seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    pub call_id: Uuid,
    pub duration: i64,
    pub outcome: String,
    pub reason: String,
    pub ended_at: DateTime<Utc>,
    /// The campaign the call belongs to, so its outcome reaches the campaign without a lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// The call never connected: `outcome` is `failed`, `no_answer` or `busy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    pub call_id: Uuid,
    pub outcome: CallStatus,
    pub reason: String,
    pub failed_at: DateTime<Utc>,
    /// The campaign the call belongs to, so its outcome reaches the campaign without a lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// Hung up by us before it was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canceled {
    pub call_id: Uuid,
    pub reason: String,
    pub canceled_at: DateTime<Utc>,
    /// The campaign the call belongs to, so its outcome reaches the campaign without a lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// Notes, disposition or tags changed; absent fields are unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Updated {
    pub call_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAssigned {
    pub call_id: Uuid,
    pub agent_id: Uuid,
    pub assigned_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read {event_type} event: {reason}")]
pub struct DecodeError {
    pub event_type: String,
    pub reason: String,
}

impl CallEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Started(_) => "comms.call.started",
            Self::Ringing(_) => "comms.call.ringing",
            Self::Answered(_) => "comms.call.answered",
            Self::Ended(_) => "comms.call.ended",
            Self::Failed(_) => "comms.call.failed",
            Self::Canceled(_) => "comms.call.canceled",
            Self::Updated(_) => "comms.call.updated",
            Self::AgentAssigned(_) => "comms.call.agent_assigned",
        }
    }

    pub fn to_data(&self) -> Value {
        serde_json::to_value(self).expect("call events always serialise")
    }

    /// Reads an event back by its type (the payload alone would be ambiguous).
    pub fn decode(event_type: &str, data: &Value) -> Result<Self, DecodeError> {
        fn parse<T: serde::de::DeserializeOwned>(data: &Value) -> Result<T, serde_json::Error> {
            T::deserialize(data)
        }
        let result = match event_type {
            "comms.call.started" => parse(data).map(Self::Started),
            "comms.call.ringing" => parse(data).map(Self::Ringing),
            "comms.call.answered" => parse(data).map(Self::Answered),
            "comms.call.ended" => parse(data).map(Self::Ended),
            "comms.call.failed" => parse(data).map(Self::Failed),
            "comms.call.canceled" => parse(data).map(Self::Canceled),
            "comms.call.updated" => parse(data).map(Self::Updated),
            "comms.call.agent_assigned" => parse(data).map(Self::AgentAssigned),
            other => {
                return Err(DecodeError {
                    event_type: other.to_owned(),
                    reason: "unknown event type".to_owned(),
                });
            }
        };
        result.map_err(|e| DecodeError {
            event_type: event_type.to_owned(),
            reason: e.to_string(),
        })
    }
}
