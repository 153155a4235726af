//! A team: a name and a supervisor. Membership is on each agent (`team_id`), so an agent is in
//! at most one team and moving them is one event on their own stream.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TeamEvent {
    Created {
        team_id: Uuid,
        name: String,
        supervisor_id: Option<String>,
        created_at: DateTime<Utc>,
    },
    SupervisorAssigned {
        team_id: Uuid,
        supervisor_id: Option<String>,
        assigned_at: DateTime<Utc>,
    },
    Renamed {
        team_id: Uuid,
        name: String,
        renamed_at: DateTime<Utc>,
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

impl TeamEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "comms.team.created",
            Self::Renamed { .. } => "comms.team.renamed",
            Self::SupervisorAssigned { .. } => "comms.team.supervisor_assigned",
        }
    }

    pub fn to_data(&self) -> Value {
        serde_json::to_value(self).expect("team events always serialise")
    }

    pub fn decode(event_type: &str, data: &Value) -> Result<Self, String> {
        let event: Self = serde_json::from_value(data.clone()).map_err(|e| e.to_string())?;
        if event.event_type() != event_type {
            return Err(format!("{event_type} does not match its payload"));
        }
        Ok(event)
    }

    pub fn handle(state: Option<&Team>, command: TeamCommand) -> Result<Vec<Self>, DomainError> {
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
                Ok(vec![Self::Created {
                    team_id,
                    name,
                    supervisor_id,
                    created_at: at,
                }])
            }
            (Some(_), TeamCommand::Create { .. }) => {
                Err(DomainError::AlreadyExists { what: "team" })
            }
            (None, _) => Err(DomainError::NotFound { what: "team" }),
            (Some(team), TeamCommand::Rename { name, at }) => {
                check_name(&name)?;
                Ok(if team.name == name {
                    vec![]
                } else {
                    vec![Self::Renamed {
                        team_id: team.id,
                        name,
                        renamed_at: at,
                    }]
                })
            }
            (Some(team), TeamCommand::AssignSupervisor { supervisor_id, at }) => {
                check_supervisor(&supervisor_id)?;
                Ok(if team.supervisor_id == supervisor_id {
                    vec![]
                } else {
                    vec![Self::SupervisorAssigned {
                        team_id: team.id,
                        supervisor_id,
                        assigned_at: at,
                    }]
                })
            }
        }
    }

    pub fn apply(state: Option<Team>, event: &Self) -> Team {
        match (state, event) {
            (
                _,
                Self::Created {
                    team_id,
                    name,
                    supervisor_id,
                    created_at,
                },
            ) => Team {
                id: *team_id,
                name: name.clone(),
                supervisor_id: supervisor_id.clone(),
                created_at: *created_at,
            },
            (Some(team), Self::Renamed { name, .. }) => Team {
                name: name.clone(),
                ..team
            },
            (Some(team), Self::SupervisorAssigned { supervisor_id, .. }) => Team {
                supervisor_id: supervisor_id.clone(),
                ..team
            },
            (None, other) => panic!("{} before the team exists", other.event_type()),
        }
    }
}
