//! The organization's live figures (stream `metrics-<uuid>`, one per organization, its id
//! derived from the organization's), published as `comms.metrics.updated` by the analytics
//! service whenever they change, at most once per `METRICS_INTERVAL_SECONDS`: what a wallboard
//! shows, on the bus and the live feed. The formulas are `/analytics/queues`' (docs/analytics.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use comms_proto::Language;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of an organization's metrics stream.
    pub enum MetricsEvent bound as "comms.metrics.*" {
        Updated(MetricsUpdated),
    }
}

/// The stream id of `organization`'s figures: the same on every replica.
pub fn stream_id(organization: &str) -> Uuid {
    /// A namespace of our own for the ids (UUID v5) of organizations' metrics streams.
    const NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_9a0e_8f43_4b7a_9c1e_2f5d_8a3b_c071);
    Uuid::new_v5(&NAMESPACE, organization.as_bytes())
}

/// A queue's figures, or all the queues' together: what waits now, and how the calls that
/// began to wait in the current quarter hour fared. A ratio or mean with nothing to divide by
/// is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Figures {
    pub waiting: i64,
    /// How long the call waiting longest has waited.
    pub longest_wait_seconds: f64,
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandon_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_speed_of_answer_seconds: Option<f64>,
}

/// One queue: the skills (sorted) and language its calls ask of their agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueueFigures {
    #[schemars(length(max = 20))]
    pub skills: Vec<String>,
    pub language: Language,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The organization's figures now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricsUpdated {
    /// The quarter hour the calls' figures are of (every time zone's clock has the same
    /// quarter hours).
    pub interval_start: DateTime<Utc>,
    pub service_level_seconds: u32,
    /// Every queue with calls waiting now or in the quarter hour, by language then skills.
    pub queues: Vec<QueueFigures>,
    /// The queues together.
    pub organization: Figures,
    /// Agents' time handling calls over that and their time available, in the quarter hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<f64>,
    /// Logged-in agents by state.
    pub agents: BTreeMap<String, i64>,
    pub at: DateTime<Utc>,
}

crate::events! {
    MetricsUpdated => "comms.metrics.updated", version 1, "the organization's live figures changed (queues, service level, agents by state)";
}
