//! An IVR flow (stream `ivr_flow-<uuid>`): created, revised (each change a new version),
//! published (a version answers calls; an older one rolls back), deleted. The definition is
//! validated before a command gets here (`validate`).

use chrono::{DateTime, Utc};
use comms_events::ivr::{
    FlowDefinition, IvrFlowCreated, IvrFlowDeleted, IvrFlowEvent, IvrFlowPublished, IvrFlowRevised,
    IvrFlowVersion,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::DomainError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub id: Uuid,
    pub name: String,
    /// Every version, oldest first (version n at index n - 1).
    pub versions: Vec<Version>,
    /// The version calls are answered by, once one is published.
    pub published: Option<u32>,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub version: u32,
    pub name: String,
    pub definition: FlowDefinition,
    pub at: DateTime<Utc>,
}

impl Flow {
    pub fn version(&self, version: u32) -> Option<&Version> {
        version
            .checked_sub(1)
            .and_then(|i| self.versions.get(i as usize))
    }

    pub fn latest(&self) -> &Version {
        self.versions.last().expect("a flow has its first version")
    }
}

pub enum Command {
    Create {
        flow_id: Uuid,
        name: String,
        definition: FlowDefinition,
        at: DateTime<Utc>,
    },
    /// A new version, unless nothing changed.
    Revise {
        name: String,
        definition: FlowDefinition,
        at: DateTime<Utc>,
    },
    Publish {
        version: u32,
        at: DateTime<Utc>,
    },
    Delete {
        at: DateTime<Utc>,
    },
}

pub fn handle(state: Option<&Flow>, command: Command) -> Result<Vec<IvrFlowEvent>, DomainError> {
    match (state, command) {
        (
            None,
            Command::Create {
                flow_id,
                name,
                definition,
                at,
            },
        ) => Ok(vec![IvrFlowEvent::Created(IvrFlowCreated(
            IvrFlowVersion {
                flow_id,
                version: 1,
                name,
                definition,
                at,
            },
        ))]),
        (Some(_), Command::Create { .. }) => Err(DomainError::AlreadyExists),
        (None, _) => Err(DomainError::NotFound),
        (Some(flow), _) if flow.deleted => Err(DomainError::NotFound),
        (
            Some(flow),
            Command::Revise {
                name,
                definition,
                at,
            },
        ) => {
            let latest = flow.latest();
            if latest.name == name && latest.definition == definition {
                return Ok(vec![]);
            }
            Ok(vec![IvrFlowEvent::Revised(IvrFlowRevised(
                IvrFlowVersion {
                    flow_id: flow.id,
                    version: latest.version + 1,
                    name,
                    definition,
                    at,
                },
            ))])
        }
        (Some(flow), Command::Publish { version, at }) => {
            if flow.version(version).is_none() {
                return Err(DomainError::Invalid {
                    field: "version",
                    reason: format!("the flow has versions 1 to {}", flow.versions.len()),
                });
            }
            if flow.published == Some(version) {
                return Ok(vec![]);
            }
            Ok(vec![IvrFlowEvent::Published(IvrFlowPublished {
                flow_id: flow.id,
                version,
                at,
            })])
        }
        (Some(flow), Command::Delete { at }) => Ok(vec![IvrFlowEvent::Deleted(IvrFlowDeleted {
            flow_id: flow.id,
            at,
        })]),
    }
}

pub fn apply(state: Option<Flow>, event: &IvrFlowEvent) -> Flow {
    let version = |e: &IvrFlowVersion| Version {
        version: e.version,
        name: e.name.clone(),
        definition: e.definition.clone(),
        at: e.at,
    };
    match (state, event) {
        (_, IvrFlowEvent::Created(IvrFlowCreated(e))) => Flow {
            id: e.flow_id,
            name: e.name.clone(),
            versions: vec![version(e)],
            published: None,
            deleted: false,
            created_at: e.at,
            updated_at: e.at,
        },
        (Some(mut flow), IvrFlowEvent::Revised(IvrFlowRevised(e))) => {
            flow.versions.push(version(e));
            flow.name = e.name.clone();
            flow.updated_at = e.at;
            flow
        }
        (Some(flow), IvrFlowEvent::Published(e)) => Flow {
            published: Some(e.version),
            updated_at: e.at,
            ..flow
        },
        (Some(flow), IvrFlowEvent::Deleted(e)) => Flow {
            deleted: true,
            updated_at: e.at,
            ..flow
        },
        (None, other) => panic!("{} before the flow was created", other.event_type()),
    }
}
