//! IVR flows, kept by the calls service beside the numbers that answer with them and the calls
//! that walk them (docs/ivr.md). Each decision is appended to the flow's stream and written to
//! the read model (`ivr_flows_view`) in one transaction.

pub mod domain;
pub mod report;
pub mod turns;
pub mod validate;
pub mod walk;

#[cfg(test)]
mod tests;

use chrono::Utc;
use comms_auth::Identity;
use comms_events::ivr::{FlowDefinition, Node, Queue};
use comms_eventstore::{EventStore, NewEvent, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind};
use sqlx::PgConnection;
use uuid::Uuid;

use domain::Command;
pub use domain::{Flow, Version};

use crate::domain::DomainError;

const STREAM_CATEGORY: &str = "ivr_flow";
/// More flows than any organization keeps; a list is never cut short in practice.
const MAX_LISTED: i64 = 500;
const MAX_NAME: usize = 100;

#[derive(Clone)]
pub struct IvrFlows {
    store: EventStore,
}

/// The flow's definition and name, checked: every problem, each naming its field.
pub fn check(name: &str, definition: &FlowDefinition) -> Result<(), ApiError> {
    let mut violations = comms_proto::Violations::default();
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        violations.add("name", format!("1 to {MAX_NAME} characters"));
    }
    for (field, reason) in validate::validate(definition) {
        violations.add(&format!("definition.{field}"), reason);
    }
    violations.finish()
}

/// The skills the flow's queues ask for, each once, with the node that asks.
pub fn queued_skills(definition: &FlowDefinition) -> Vec<(String, String)> {
    let mut skills: Vec<(String, String)> = Vec::new();
    for (name, node) in &definition.nodes {
        if let Node::Queue(Queue { skills: asked, .. }) = node {
            for skill in asked {
                if !skills.iter().any(|(s, _)| s == skill) {
                    skills.push((skill.clone(), name.clone()));
                }
            }
        }
    }
    skills
}

/// The campaigns the flow's voicemails call back from, with the node that names each.
pub fn callback_campaigns(definition: &FlowDefinition) -> Vec<(Uuid, String)> {
    definition
        .nodes
        .iter()
        .filter_map(|(name, node)| match node {
            Node::Voicemail(voicemail) => voicemail.callback_campaign_id.map(|c| (c, name.clone())),
            _ => None,
        })
        .collect()
}

fn refused(id: Uuid, error: DomainError) -> ApiError {
    match error {
        DomainError::NotFound => not_found(id),
        DomainError::AlreadyExists => ApiError::new(
            ErrorKind::AlreadyExists,
            format!("flow {id} exists already"),
        ),
        DomainError::Invalid { field, reason } => ApiError::invalid(field, reason),
        other => ApiError::new(ErrorKind::FailedPrecondition, other.to_string()),
    }
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found("ivr_flow", &id.to_string())
}

impl IvrFlows {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    /// A new flow (its version 1, unpublished), already checked with [`check`].
    pub async fn create(
        &self,
        identity: &Identity,
        name: String,
        definition: FlowDefinition,
    ) -> Result<Flow, ApiError> {
        let id = Uuid::now_v7();
        self.decide(identity, id, || Command::Create {
            flow_id: id,
            name: name.clone(),
            definition: definition.clone(),
            at: Utc::now(),
        })
        .await
    }

    /// A new version of the flow, already checked with [`check`] (the same as the latest:
    /// nothing changes).
    pub async fn revise(
        &self,
        identity: &Identity,
        id: Uuid,
        name: String,
        definition: FlowDefinition,
    ) -> Result<Flow, ApiError> {
        self.decide(identity, id, || Command::Revise {
            name: name.clone(),
            definition: definition.clone(),
            at: Utc::now(),
        })
        .await
    }

    pub async fn publish(
        &self,
        identity: &Identity,
        id: Uuid,
        version: u32,
    ) -> Result<Flow, ApiError> {
        self.decide(identity, id, || Command::Publish {
            version,
            at: Utc::now(),
        })
        .await
    }

    /// Deletes the flow, unless a number answers with it.
    pub async fn delete(&self, identity: &Identity, id: Uuid) -> Result<Flow, ApiError> {
        self.decide(identity, id, || Command::Delete { at: Utc::now() })
            .await
    }

    /// The organization's flow `id`, unless deleted.
    pub async fn get(&self, org: &str, id: Uuid) -> Result<Flow, ApiError> {
        let found: Option<sqlx::types::Json<Flow>> = sqlx::query_scalar(
            "SELECT state FROM ivr_flows_view
             WHERE flow_id = $1 AND organization_id = $2 AND NOT deleted",
        )
        .bind(id)
        .bind(org)
        .fetch_optional(self.store.pool())
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        found.map(|json| json.0).ok_or_else(|| not_found(id))
    }

    /// The organization's flows, by name.
    pub async fn list(&self, org: &str) -> Result<Vec<Flow>, ApiError> {
        let rows: Vec<sqlx::types::Json<Flow>> = sqlx::query_scalar(
            "SELECT state FROM ivr_flows_view WHERE organization_id = $1 AND NOT deleted
             ORDER BY name, flow_id LIMIT $2",
        )
        .bind(org)
        .bind(MAX_LISTED)
        .fetch_all(self.store.pool())
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        Ok(rows.into_iter().map(|json| json.0).collect())
    }

    async fn decide(
        &self,
        identity: &Identity,
        id: Uuid,
        command: impl Fn() -> Command,
    ) -> Result<Flow, ApiError> {
        let stream = StreamName::new(STREAM_CATEGORY, id);
        let org = identity.org_id.as_str();
        in_transaction!(self.store, |tx| {
            let (state, expected) =
                crate::stream::load(&mut *tx, org, &stream, "ivr_flow", domain::apply).await?;
            let command = command();
            let deleting = matches!(command, Command::Delete { .. });
            let events = domain::handle(state.as_ref(), command).map_err(|e| refused(id, e))?;
            if deleting && let Some(number) = answered_by(&mut *tx, org, id).await? {
                return Err(ApiError::new(
                    ErrorKind::FailedPrecondition,
                    format!("{number} answers with this flow; give it another first"),
                ));
            }
            if events.is_empty() {
                return state.ok_or_else(|| not_found(id));
            }
            let flow = events
                .iter()
                .fold(state, |state, event| Some(domain::apply(state, event)))
                .expect("a command that succeeds leaves a flow");
            let new_events: Vec<NewEvent> = events
                .iter()
                .map(|e| comms_bus::new_event(e, &identity.user_id, None))
                .collect();
            let appended =
                comms_eventstore::append_in(&mut *tx, org, &stream, expected, new_events)
                    .await
                    .map_err(comms_eventstore::unit_of_work::api_error)?;
            upsert(&mut *tx, org, &flow, appended.next_expected_version)
                .await
                .map_err(comms_eventstore::unit_of_work::api_error)?;
            Ok(flow)
        })
    }
}

/// The organization's flow `id` with a published version, locked against its deletion until
/// the caller's transaction ends: what a number is given.
pub(crate) async fn published_for_number(
    tx: &mut PgConnection,
    org: &str,
    id: Uuid,
) -> Result<(), ApiError> {
    let published: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT (state ->> 'published')::bigint FROM ivr_flows_view
         WHERE flow_id = $1 AND organization_id = $2 AND NOT deleted
         FOR SHARE",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(tx)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)?;
    match published {
        None => {
            let mut unknown = comms_proto::Violations::default();
            unknown.add("ivr_flow_id", format!("no flow {id} in the organization"));
            unknown.finish_as_unknown_reference()
        }
        Some(None) => Err(ApiError::invalid(
            "ivr_flow_id",
            format!("flow {id} has no published version yet; publish one first"),
        )),
        Some(Some(_)) => Ok(()),
    }
}

/// A number in use that answers with flow `id`, if any. The flow's row is locked first, so a
/// number being given the flow at this moment is waited for and seen.
async fn answered_by(
    tx: &mut PgConnection,
    org: &str,
    id: Uuid,
) -> Result<Option<String>, ApiError> {
    sqlx::query("SELECT 1 FROM ivr_flows_view WHERE flow_id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
    sqlx::query_scalar(
        "SELECT number FROM numbers_view
         WHERE organization_id = $1 AND NOT released
           AND state -> 'settings' ->> 'ivr_flow_id' = $2
         LIMIT 1",
    )
    .bind(org)
    .bind(id.to_string())
    .fetch_optional(tx)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)
}

async fn upsert(
    tx: &mut PgConnection,
    org: &str,
    flow: &Flow,
    version: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ivr_flows_view (flow_id, organization_id, name, deleted, created_at,
                                     version, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (flow_id) DO UPDATE
         SET name = EXCLUDED.name, deleted = EXCLUDED.deleted, version = EXCLUDED.version,
             state = EXCLUDED.state",
    )
    .bind(flow.id)
    .bind(org)
    .bind(&flow.name)
    .bind(flow.deleted)
    .bind(flow.created_at)
    .bind(version as i64)
    .bind(sqlx::types::Json(flow))
    .execute(tx)
    .await?;
    Ok(())
}
