//! What happens to an agent, as stored in the log and published as `comms.agent.*`.
//! Each state an agent enters is its own event type, so consumers bind to exactly the changes
//! they care about (`comms.agent.available`, `comms.agent.busy`, …).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{AgentState, Profile, ProfileChange};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AgentEvent {
    Created(Created),
    ProfileUpdated(ProfileUpdated),
    TeamChanged(TeamChanged),
    Available(Transition),
    Reserved(Reserved),
    Busy(OnCall),
    WrapUp(WrapUp),
    Break(Transition),
    Away(Transition),
    Offline(Transition),
    NextStateRequested(NextStateRequested),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub agent_id: Uuid,
    #[serde(flatten)]
    pub profile: Profile,
    pub team_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileUpdated {
    pub agent_id: Uuid,
    #[serde(flatten)]
    pub change: ProfileChange,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamChanged {
    pub agent_id: Uuid,
    pub team_id: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
}

/// Entering available, break, away or offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub agent_id: Uuid,
    /// A break's or away's reason code; why the agent became available (`wrap_up_ended`,
    /// `reservation_expired`, `call_ended_before_answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The call the agent leaves behind, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reserved {
    pub agent_id: Uuid,
    pub call_id: Uuid,
    /// Not accepted by then, the reservation lapses.
    pub until: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnCall {
    pub agent_id: Uuid,
    pub call_id: Uuid,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrapUp {
    pub agent_id: Uuid,
    pub call_id: Uuid,
    /// When wrap-up ends by itself if the agent has not ended it.
    pub until: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextStateRequested {
    pub agent_id: Uuid,
    pub state: AgentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read {event_type} event: {reason}")]
pub struct DecodeError {
    pub event_type: String,
    pub reason: String,
}

impl AgentEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => "comms.agent.created",
            Self::ProfileUpdated(_) => "comms.agent.updated",
            Self::TeamChanged(_) => "comms.agent.team_changed",
            Self::Available(_) => "comms.agent.available",
            Self::Reserved(_) => "comms.agent.reserved",
            Self::Busy(_) => "comms.agent.busy",
            Self::WrapUp(_) => "comms.agent.wrap_up",
            Self::Break(_) => "comms.agent.break",
            Self::Away(_) => "comms.agent.away",
            Self::Offline(_) => "comms.agent.offline",
            Self::NextStateRequested(_) => "comms.agent.next_state_requested",
        }
    }

    pub fn to_data(&self) -> Value {
        serde_json::to_value(self).expect("agent events always serialise")
    }

    /// Reads an event back by its type (the payload alone would be ambiguous).
    pub fn decode(event_type: &str, data: &Value) -> Result<Self, DecodeError> {
        fn parse<T: serde::de::DeserializeOwned>(data: &Value) -> Result<T, serde_json::Error> {
            T::deserialize(data)
        }
        let result = match event_type {
            "comms.agent.created" => parse(data).map(Self::Created),
            "comms.agent.updated" => parse(data).map(Self::ProfileUpdated),
            "comms.agent.team_changed" => parse(data).map(Self::TeamChanged),
            "comms.agent.available" => parse(data).map(Self::Available),
            "comms.agent.reserved" => parse(data).map(Self::Reserved),
            "comms.agent.busy" => parse(data).map(Self::Busy),
            "comms.agent.wrap_up" => parse(data).map(Self::WrapUp),
            "comms.agent.break" => parse(data).map(Self::Break),
            "comms.agent.away" => parse(data).map(Self::Away),
            "comms.agent.offline" => parse(data).map(Self::Offline),
            "comms.agent.next_state_requested" => parse(data).map(Self::NextStateRequested),
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
