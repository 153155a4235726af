//! An inbound call walking its IVR flow, one carrier request at a time: the call's stream
//! records each node reached (`comms.call.ivr_step`) and the flow's request for an agent
//! (`comms.call.queued`), so the call's place survives any edge or calls replica, and a
//! carrier's repeated or late request is answered from where the call is, recording nothing.

use chrono::Utc;
use comms_auth::Identity;
use comms_events::call::{FlowVersion, IvrStep, Queued};
use comms_events::ivr::{FlowDefinition, Node};
use comms_proto::{ApiError, ErrorKind};
use uuid::Uuid;

use super::IvrFlows;
use super::walk::{self, Answer, Then, Turn};
use crate::app::Calls;
use crate::domain::{Call, Command};

/// The menu a carrier says was answered, the attempt it was, and the answer.
pub struct Answered {
    pub node: String,
    pub attempt: u32,
    pub answer: Answer,
}

impl IvrFlows {
    /// The definition of `flow`'s version, for a call walking it (a flow deleted since
    /// still answers the calls that started in it).
    pub async fn definition(
        &self,
        org: &str,
        flow: FlowVersion,
    ) -> Result<FlowDefinition, ApiError> {
        // Only that version: the flow's state holds every version, and this is read on each
        // turn of each call.
        let found: Option<Option<sqlx::types::Json<FlowDefinition>>> = sqlx::query_scalar(
            "SELECT state -> 'versions' -> ($3::int - 1) -> 'definition' FROM ivr_flows_view
             WHERE flow_id = $1 AND organization_id = $2",
        )
        .bind(flow.flow_id)
        .bind(org)
        .bind(flow.version as i32)
        .fetch_optional(self.store.pool())
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        found.flatten().map(|json| json.0).ok_or_else(|| {
            tracing::error!(flow_id = %flow.flow_id, version = flow.version, "a call's flow version is gone");
            ApiError::internal()
        })
    }

    /// The campaign to call `call`'s caller back, when the call stopped at a voicemail of its
    /// flow that names one (its recording is the message left).
    pub async fn callback_for(&self, org: &str, call: &Call) -> Result<Option<Uuid>, ApiError> {
        let Some((position, Some((node, _)))) = call.ivr.as_ref().map(|p| (p, p.at())) else {
            return Ok(None);
        };
        let definition = self.definition(org, position.flow).await?;
        Ok(match definition.nodes.get(node) {
            Some(Node::Voicemail(voicemail)) => voicemail.callback_campaign_id,
            _ => None,
        })
    }
}

/// The call's next turn: from its start, or from the menu `answered` names if the call is
/// there; anywhere else, where the call is now.
pub async fn walk(
    calls: &Calls,
    flows: &IvrFlows,
    identity: &Identity,
    call_id: Uuid,
    answered: Option<Answered>,
) -> Result<Turn, ApiError> {
    let call = calls.get(identity, call_id).await?.call;
    let Some(position) = call.ivr.clone() else {
        return Err(ApiError::new(
            ErrorKind::FailedPrecondition,
            format!("call {call_id} has no IVR flow"),
        ));
    };
    let definition = flows.definition(&identity.org_id, position.flow).await?;
    let now = Utc::now();
    let turn = match (position.at(), &answered) {
        _ if call.status.is_final() => return Ok(hang_up(&call)),
        (None, _) => walk::start(&definition, call.language, now),
        (Some((node, attempt)), Some(a)) if node == a.node && attempt == Some(a.attempt) => {
            walk::answer(
                &definition,
                call.language,
                now,
                node,
                a.attempt,
                a.answer.clone(),
            )
            .map_err(|e| ApiError::invalid("node", e.to_string()))?
        }
        (Some(at), None) => {
            // The carrier asks again for the call's start (its first request's answer was
            // lost): the same start again, if the call is still where the start left it.
            let again = walk::start(&definition, call.language, now);
            if stops_at(&again) == Some(at) {
                return Ok(Turn {
                    steps: Vec::new(),
                    ..again
                });
            }
            return Ok(where_it_is(&definition, &call));
        }
        (Some(at), Some(a)) => {
            // A repeat of the answer that brought the call here (the carrier lost our
            // answer): the same turn again, prompts on the way included, recording nothing.
            let again = walk::answer(
                &definition,
                call.language,
                now,
                &a.node,
                a.attempt,
                a.answer.clone(),
            );
            if let Ok(again) = again
                && stops_at(&again) == Some(at)
            {
                return Ok(Turn {
                    steps: Vec::new(),
                    ..again
                });
            }
            return Ok(where_it_is(&definition, &call));
        }
    };
    let steps: Vec<IvrStep> = turn
        .steps
        .iter()
        .map(|step| IvrStep {
            call_id,
            flow: position.flow,
            node: step.node.clone(),
            kind: step.kind.to_owned(),
            attempt: step.attempt,
            digits: match &step.answer {
                Some(Answer::Digits(d)) => Some(d.clone()),
                _ => None,
            },
            speech: match &step.answer {
                Some(Answer::Speech(s)) => Some(s.clone()),
                _ => None,
            },
            language: step.language,
            at: now,
        })
        .collect();
    let queue = match &turn.then {
        Then::Queue {
            skills,
            language,
            priority,
        } => Some(Queued {
            call_id,
            skills: skills.clone(),
            language: *language,
            priority: *priority,
            queued_at: now,
        }),
        _ => None,
    };
    let from = position.node.clone().map(|node| (node, position.attempt));
    let (view, recorded) = calls
        .decide(identity, call_id, || Command::WalkIvr {
            from: from.clone(),
            steps: steps.clone(),
            queue: queue.clone(),
        })
        .await?;
    if recorded.is_empty() {
        // Another request walked the call first, or it ended: say where it is now.
        if view.call.status.is_final() {
            return Ok(hang_up(&view.call));
        }
        return Ok(where_it_is(&definition, &view.call));
    }
    Ok(turn)
}

/// Where a turn leaves the call: its last step's node and attempt.
fn stops_at(turn: &Turn) -> Option<(&str, Option<u32>)> {
    turn.steps
        .last()
        .map(|step| (step.node.as_str(), step.attempt))
}

fn hang_up(call: &Call) -> Turn {
    Turn {
        steps: Vec::new(),
        prompts: Vec::new(),
        then: Then::HangUp,
        language: call.language,
    }
}

fn where_it_is(definition: &FlowDefinition, call: &Call) -> Turn {
    match call.ivr.as_ref().and_then(|p| p.at()) {
        Some((node, attempt)) => walk::resume(
            definition,
            call.language,
            Utc::now(),
            node,
            attempt.unwrap_or(1),
        ),
        None => walk::start(definition, call.language, Utc::now()),
    }
}
