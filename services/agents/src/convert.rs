//! Between the domain and the `comms.v1` messages.

use comms_proto::time::to_timestamp;
use comms_proto::v1;

use crate::domain::{Agent, AgentState, Team};
use crate::store::Versioned;

pub fn state_to_proto(state: AgentState) -> v1::AgentState {
    match state {
        AgentState::Offline => v1::AgentState::Offline,
        AgentState::Available => v1::AgentState::Available,
        AgentState::Reserved => v1::AgentState::Reserved,
        AgentState::Busy => v1::AgentState::Busy,
        AgentState::WrapUp => v1::AgentState::WrapUp,
        AgentState::Break => v1::AgentState::Break,
        AgentState::Away => v1::AgentState::Away,
    }
}

pub fn state_from_proto(value: i32) -> Option<AgentState> {
    let state = v1::AgentState::try_from(value).ok()?;
    AgentState::ALL
        .into_iter()
        .find(|s| state_to_proto(*s) == state)
}

pub fn to_proto(view: &Versioned<Agent>) -> v1::Agent {
    let agent = &view.value;
    let profile = &agent.profile;
    v1::Agent {
        id: agent.id.to_string(),
        organization_id: view.org_id.clone(),
        name: profile.name.clone(),
        email: profile.email.clone(),
        phone: profile.phone.clone(),
        extension: profile.extension.clone(),
        languages: profile
            .languages
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        skills: profile
            .skills
            .iter()
            .map(|s| v1::Skill {
                name: s.name.clone(),
                proficiency: u32::from(s.proficiency),
            })
            .collect(),
        team_id: agent.team_id.map(|t| t.to_string()).unwrap_or_default(),
        state: state_to_proto(agent.state) as i32,
        reason: agent.reason.clone().unwrap_or_default(),
        next_state: agent
            .next_state
            .as_ref()
            .map_or(v1::AgentState::Unspecified, |(s, _)| state_to_proto(*s))
            as i32,
        state_since: Some(to_timestamp(agent.state_since)),
        call_id: agent.call_id.map(|c| c.to_string()).unwrap_or_default(),
        reserved_until: agent
            .deadline
            .filter(|_| agent.state == AgentState::Reserved)
            .map(to_timestamp),
        max_concurrent_calls: 1,
        created_at: Some(to_timestamp(agent.created_at)),
        updated_at: Some(to_timestamp(agent.updated_at)),
        version: view.version,
    }
}

pub fn team_to_proto(view: &Versioned<Team>) -> v1::Team {
    let team = &view.value;
    v1::Team {
        id: team.id.to_string(),
        organization_id: view.org_id.clone(),
        name: team.name.clone(),
        supervisor_id: team.supervisor_id.clone().unwrap_or_default(),
        created_at: Some(to_timestamp(team.created_at)),
        version: view.version,
    }
}
