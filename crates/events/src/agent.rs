//! What happens to an agent (stream `agent-<uuid>`) and a team (`team-<uuid>`), published as
//! `comms.agent.*` and `comms.team.*` by the agents service. Each state an agent enters is its
//! own event type, so consumers bind to exactly the changes they care about.

use chrono::{DateTime, Utc};
use comms_proto::Language;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of an agent's stream.
    pub enum AgentEvent bound as "comms.agent.*" {
        Created(Created),
        ProfileUpdated(ProfileUpdated),
        TeamChanged(TeamChanged),
        Available(Available),
        Reserved(Reserved),
        Busy(OnCall),
        WrapUp(WrapUp),
        Break(Break),
        Away(Away),
        Offline(Offline),
        NextStateRequested(NextStateRequested),
    }
}

crate::event_set! {
    /// Every event of a team's stream.
    pub enum TeamEvent bound as "comms.team.*" {
        Created(TeamCreated),
        Renamed(TeamRenamed),
        SupervisorAssigned(SupervisorAssigned),
    }
}

/// An agent's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Offline,
    Available,
    Reserved,
    Busy,
    WrapUp,
    Break,
    Away,
}

impl AgentState {
    pub const ALL: [Self; 7] = [
        Self::Offline,
        Self::Available,
        Self::Reserved,
        Self::Busy,
        Self::WrapUp,
        Self::Break,
        Self::Away,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Available => "available",
            Self::Reserved => "reserved",
            Self::Busy => "busy",
            Self::WrapUp => "wrap_up",
            Self::Break => "break",
            Self::Away => "away",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Reserved, busy or wrapping up: the agent is with a call.
    pub fn is_on_call(self) -> bool {
        matches!(self, Self::Reserved | Self::Busy | Self::WrapUp)
    }
}

/// The longest skill name.
pub const MAX_SKILL_NAME: usize = 50;

/// Whether `name` may name a skill: 1-50 of a-z, 0-9, _ and - (what agents, numbers, IVR
/// queues and the measures' filters all take).
pub fn is_skill_name(name: &str) -> bool {
    (1..=MAX_SKILL_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The most skills a call may require (a number's or an IVR queue's).
pub const MAX_REQUIRED_SKILLS: usize = 20;

/// The skills a call requires, checked: each named as agents' skills are, at most 20, each once.
pub fn check_required_skills(skills: &[String]) -> Result<(), String> {
    if skills.len() > MAX_REQUIRED_SKILLS {
        return Err(format!("at most {MAX_REQUIRED_SKILLS} skills"));
    }
    for (i, skill) in skills.iter().enumerate() {
        if !is_skill_name(skill) {
            return Err(format!("{skill:?} is not a skill name (a-z, 0-9, _ and -)"));
        }
        if skills[..i].contains(skill) {
            return Err(format!("{skill:?} is listed twice"));
        }
    }
    Ok(())
}

/// The longest reason code.
pub const MAX_REASON: usize = 50;

/// Whether `reason` is a reason code: 1-50 of a-z, 0-9 and _ (an agent's break or away, a
/// supervisor's forced state or re-route).
pub fn is_reason_code(reason: &str) -> bool {
    (1..=MAX_REASON).contains(&reason.len())
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Skill {
    pub name: String,
    /// 1 (novice) to 5 (expert).
    #[schemars(range(min = 1, max = 5))]
    pub proficiency: u8,
}

/// Who an agent is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Profile {
    pub name: String,
    pub email: String,
    /// E.164, or empty.
    pub phone: String,
    /// Digits, or empty.
    pub extension: String,
    pub languages: Vec<Language>,
    pub skills: Vec<Skill>,
}

impl Profile {
    /// The profile after `change` (what `comms.agent.updated` means).
    pub fn apply(&mut self, change: &ProfileChange) {
        if let Some(name) = &change.name {
            self.name.clone_from(name);
        }
        if let Some(email) = &change.email {
            self.email.clone_from(email);
        }
        if let Some(phone) = &change.phone {
            self.phone.clone_from(phone);
        }
        if let Some(extension) = &change.extension {
            self.extension.clone_from(extension);
        }
        if let Some(languages) = &change.languages {
            self.languages.clone_from(languages);
        }
        if let Some(skills) = &change.skills {
            self.skills.clone_from(skills);
        }
    }

    pub fn proficiency(&self, skill: &str) -> Option<u8> {
        self.skills
            .iter()
            .find(|s| s.name == skill)
            .map(|s| s.proficiency)
    }
}

/// A partial change of the profile; absent fields are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<Language>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
}

/// An agent was added (offline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Created {
    pub agent_id: Uuid,
    #[serde(flatten)]
    pub profile: Profile,
    pub team_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// An agent's profile changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileUpdated {
    pub agent_id: Uuid,
    #[serde(flatten)]
    pub change: ProfileChange,
    pub updated_at: DateTime<Utc>,
}

/// An agent joined a team, or left one (`team_id` null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeamChanged {
    pub agent_id: Uuid,
    pub team_id: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
}

/// Entering available, break, away or offline: what the four events carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Transition {
    pub agent_id: Uuid,
    /// A break's or away's reason code; why the agent became available (`wrap_up_ended`,
    /// `reservation_expired`, `call_ended_before_answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The call the agent leaves behind, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<Uuid>,
    /// A supervisor or administrator put the agent in this state (their user id); `reason` is
    /// theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub forced_by: Option<String>,
    pub at: DateTime<Utc>,
}

// The four events of entering a state without a call, each carrying a `Transition`.
crate::same_fields! { Transition =>
    /// An agent became available.
    Available;
    /// An agent went on break (`reason` says why).
    Break;
    /// An agent went away (`reason` says why).
    Away;
    /// An agent logged off.
    Offline;
}

/// Routing reserved the agent for a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reserved {
    pub agent_id: Uuid,
    pub call_id: Uuid,
    /// Not accepted by then, the reservation lapses.
    pub until: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// The agent took the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OnCall {
    pub agent_id: Uuid,
    pub call_id: Uuid,
    pub at: DateTime<Utc>,
}

/// The agent's call ended: wrap-up until `until`, unless they end it first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WrapUp {
    pub agent_id: Uuid,
    pub call_id: Uuid,
    /// When wrap-up ends by itself if the agent has not ended it.
    pub until: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// During a call the agent (or their supervisor) asked for a state to enter when its wrap-up
/// ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NextStateRequested {
    pub agent_id: Uuid,
    pub state: AgentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A supervisor or administrator asked it for the agent (their user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub forced_by: Option<String>,
    pub at: DateTime<Utc>,
}

/// A team was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeamCreated {
    pub team_id: Uuid,
    pub name: String,
    /// The supervisor's user id.
    pub supervisor_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A team was renamed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeamRenamed {
    pub team_id: Uuid,
    pub name: String,
    pub renamed_at: DateTime<Utc>,
}

/// A team's supervisor changed (null: none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisorAssigned {
    pub team_id: Uuid,
    pub supervisor_id: Option<String>,
    pub assigned_at: DateTime<Utc>,
}

crate::events! {
    Created => "comms.agent.created", version 1, "an agent was added";
    ProfileUpdated => "comms.agent.updated", version 1, "an agent's profile changed";
    TeamChanged => "comms.agent.team_changed", version 1, "an agent joined a team, or left one";
    Available => "comms.agent.available", version 1, "an agent became available";
    Break => "comms.agent.break", version 1, "an agent went on break";
    Away => "comms.agent.away", version 1, "an agent went away";
    Offline => "comms.agent.offline", version 1, "an agent logged off";
    Reserved => "comms.agent.reserved", version 1, "routing reserved the agent for a call";
    OnCall => "comms.agent.busy", version 1, "the agent took the call";
    WrapUp => "comms.agent.wrap_up", version 1, "the call ended";
    NextStateRequested => "comms.agent.next_state_requested", version 1, "during a call the agent asked for a state to enter when its wrap-up ends";
    TeamCreated => "comms.team.created", version 1, "a team was created";
    TeamRenamed => "comms.team.renamed", version 1, "a team was renamed";
    SupervisorAssigned => "comms.team.supervisor_assigned", version 1, "a team's supervisor changed";
}
