//! The organization's phone numbers (stream `number-<uuid>`, published as `comms.number.*`),
//! kept by the calls service: a call to one is queued to the agents its settings ask for.

use chrono::{DateTime, Utc};
use comms_proto::{Language, PhoneNumber};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of a number's stream.
    pub enum NumberEvent bound as "comms.number.*" {
        Assigned(NumberAssigned),
        Updated(NumberUpdated),
        Released(NumberReleased),
    }
}

/// How calls to a number are answered: the language callers hear (and agents must speak), the
/// skills the agent must have, and whether the call is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NumberSettings {
    pub language: Language,
    /// Skill names, as agents' skills are named; the agent must have all of them.
    #[schemars(length(max = 20))]
    pub skills: Vec<String>,
    /// Whether its calls are recorded; absent: as `ENABLE_RECORDING` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<crate::call::RecordingPolicy>,
    /// The IVR flow its callers hear first (its published version); absent: they wait for an
    /// agent at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr_flow_id: Option<Uuid>,
}

/// A number as it now is: what assigning and updating it record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NumberChanged {
    pub number_id: Uuid,
    /// E.164; one organization's at a time.
    pub number: PhoneNumber,
    #[serde(flatten)]
    pub settings: NumberSettings,
    pub at: DateTime<Utc>,
}

crate::same_fields! { NumberChanged =>
    /// A number was given to the organization: calls to it now reach its agents.
    NumberAssigned;
    /// A number's language or skills changed; these are its settings now.
    NumberUpdated;
}

/// A number left the organization: calls to it are no longer answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NumberReleased {
    pub number_id: Uuid,
    pub number: PhoneNumber,
    pub at: DateTime<Utc>,
}

crate::events! {
    NumberAssigned => "comms.number.assigned", version 1, "a phone number was given to the organization";
    NumberUpdated => "comms.number.updated", version 1, "a number's language or skills changed";
    NumberReleased => "comms.number.released", version 1, "a number left the organization";
}
