//! A team: a name and a supervisor. Membership is on each agent (`team_id`), so an agent is in
//! at most one team and moving them is one event on their own stream.

use chrono::{DateTime, Utc};
pub use comms_events::agent::{SupervisorAssigned, TeamCreated, TeamEvent, TeamRenamed};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DomainError, invalid};

const MAX_NAME: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    /// The supervisor's user id.
    pub supervisor_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TeamCommand {
    Create {
        team_id: Uuid,
        name: String,
        supervisor_id: Option<String>,
        at: DateTime<Utc>,
    },
    Rename {
        name: String,
        at: DateTime<Utc>,
    },
    AssignSupervisor {
        supervisor_id: Option<String>,
        at: DateTime<Utc>,
    },
}

pub fn check_name(name: &str) -> Result<(), DomainError> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME
        || name.chars().any(char::is_control)
    {
        return Err(invalid(
            "name",
            format!("1-{MAX_NAME} characters, no control characters"),
        ));
    }
    Ok(())
}

fn check_supervisor(id: &Option<String>) -> Result<(), DomainError> {
    match id {
        Some(id) if !comms_auth::identity::valid_id(id) => Err(invalid(
            "supervisor_id",
            "a user id: 1-128 letters, digits or _-.:@",
        )),
        _ => Ok(()),
    }
}

/// Decides what happens when `command` meets the team's current state.
pub fn handle(state: Option<&Team>, command: TeamCommand) -> Result<Vec<TeamEvent>, DomainError> {
    match (state, command) {
        (
            None,
            TeamCommand::Create {
                team_id,
                name,
                supervisor_id,
                at,
            },
        ) => {
            check_name(&name)?;
            check_supervisor(&supervisor_id)?;
            Ok(vec![TeamEvent::Created(TeamCreated {
                team_id,
                name,
                supervisor_id,
                created_at: at,
            })])
        }
        (Some(_), TeamCommand::Create { .. }) => Err(DomainError::AlreadyExists { what: "team" }),
        (None, _) => Err(DomainError::NotFound { what: "team" }),
        (Some(team), TeamCommand::Rename { name, at }) => {
            check_name(&name)?;
            Ok(if team.name == name {
                vec![]
            } else {
                vec![TeamEvent::Renamed(TeamRenamed {
                    team_id: team.id,
                    name,
                    renamed_at: at,
                })]
            })
        }
        (Some(team), TeamCommand::AssignSupervisor { supervisor_id, at }) => {
            check_supervisor(&supervisor_id)?;
            Ok(if team.supervisor_id == supervisor_id {
                vec![]
            } else {
                vec![TeamEvent::SupervisorAssigned(SupervisorAssigned {
                    team_id: team.id,
                    supervisor_id,
                    assigned_at: at,
                })]
            })
        }
    }
}

/// Folds one event into the state. Events come from the log, so they are trusted.
pub fn apply(state: Option<Team>, event: &TeamEvent) -> Team {
    match (state, event) {
        (_, TeamEvent::Created(e)) => Team {
            id: e.team_id,
            name: e.name.clone(),
            supervisor_id: e.supervisor_id.clone(),
            created_at: e.created_at,
        },
        (Some(team), TeamEvent::Renamed(e)) => Team {
            name: e.name.clone(),
            ..team
        },
        (Some(team), TeamEvent::SupervisorAssigned(e)) => Team {
            supervisor_id: e.supervisor_id.clone(),
            ..team
        },
        (None, other) => panic!("{} before the team exists", other.event_type()),
    }
}
