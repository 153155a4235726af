//! IVR flows over gRPC: definitions travel as JSON text (docs/ivr.md), are validated with every
//! problem named, and are walked by the simulator and by inbound calls.

use comms_events::ivr::{FlowDefinition, Node};

use super::*;
use crate::ivr::walk::{self, Answer, Prompt, Step, Then, Turn};
use crate::ivr::{self as flows, Flow, turns};

/// Most answers a simulation takes.
const MAX_INPUTS: usize = 50;
/// Longest definition taken, in bytes of JSON.
const MAX_DEFINITION: usize = 256 * 1024;
const MAX_ANSWER: usize = 500;

fn flow_to_proto(flow: &Flow) -> v1::IvrFlow {
    let latest = flow.latest();
    v1::IvrFlow {
        id: flow.id.to_string(),
        name: flow.name.clone(),
        published_version: flow.published.unwrap_or(0),
        latest_version: latest.version,
        definition_json: serde_json::to_string(&latest.definition).expect("JSON"),
        versions: flow
            .versions
            .iter()
            .map(|v| v1::IvrFlowVersionSummary {
                version: v.version,
                name: v.name.clone(),
                created_at: Some(time::to_timestamp(v.at)),
            })
            .collect(),
        created_at: Some(time::to_timestamp(flow.created_at)),
        updated_at: Some(time::to_timestamp(flow.updated_at)),
    }
}

/// Reads a definition, naming the field that does not parse.
fn definition_of(json: &str) -> Result<FlowDefinition, ApiError> {
    if json.len() > MAX_DEFINITION {
        return Err(ApiError::invalid(
            "definition",
            format!("at most {MAX_DEFINITION} bytes of JSON"),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| ApiError::invalid("definition", format!("not JSON: {e}")))?;
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        let mut reason = e.into_inner().to_string();
        let mut field = if path == "." {
            "definition".to_owned()
        } else {
            format!("definition.{path}")
        };
        // Inside a node, serde does not say which field: the node's type reads it again.
        if let Some(name) = path.strip_prefix("nodes.")
            && let Some((inner, why)) = Node::explain(&value["nodes"][name])
        {
            if inner != "." {
                field = format!("{field}.{inner}");
            }
            reason = why;
        }
        ApiError::invalid(&field, reason)
    })
}

/// The definition read and checked, with the skills its queues name known to the agents
/// service (some agent of the organization has each) and the campaigns its voicemails call
/// back from known to the campaigns service.
async fn checked(
    svc: &CallsGrpc,
    metadata: &MetadataMap,
    name: &str,
    json: &str,
) -> Result<FlowDefinition, Status> {
    let definition = definition_of(json)?;
    flows::check(name, &definition)?;
    let mut violations = Violations::default();
    for (skill, node) in flows::queued_skills(&definition) {
        let request = v1::ListAgentsRequest {
            skill: skill.clone(),
            page: Some(v1::PageRequest {
                page_size: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        let found = svc
            .agents
            .clone()
            .list_agents(forwarded(metadata, request))
            .await?
            .into_inner();
        if found.agents.is_empty() {
            violations.add(
                &format!("definition.nodes.{node}.skills"),
                format!("no agent of the organization has the skill {skill:?}"),
            );
        }
    }
    for (campaign, node) in flows::callback_campaigns(&definition) {
        let request = v1::GetCampaignRequest {
            id: campaign.to_string(),
        };
        let found = svc
            .campaigns
            .clone()
            .get_campaign(forwarded(metadata, request))
            .await;
        match found {
            Ok(_) => {}
            Err(status) if status.code() == Code::NotFound => violations.add(
                &format!("definition.nodes.{node}.callback_campaign_id"),
                format!("no campaign {campaign} in the organization"),
            ),
            Err(status) => return Err(status),
        }
    }
    violations.finish()?;
    Ok(definition)
}

pub(super) async fn create_ivr_flow(
    svc: &CallsGrpc,
    request: Request<v1::CreateIvrFlowRequest>,
) -> Result<Response<v1::IvrFlow>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrManage)?;
    let metadata = request.metadata().clone();
    let req = request.into_inner();
    let definition = checked(svc, &metadata, &req.name, &req.definition_json).await?;
    let flow = svc
        .flows
        .create(&identity, req.name.trim().to_owned(), definition)
        .await?;
    Ok(Response::new(flow_to_proto(&flow)))
}

pub(super) async fn update_ivr_flow(
    svc: &CallsGrpc,
    request: Request<v1::UpdateIvrFlowRequest>,
) -> Result<Response<v1::IvrFlow>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrManage)?;
    let metadata = request.metadata().clone();
    let req = request.into_inner();
    let id = parse_id("id", &req.id)?;
    svc.flows.get(&identity.org_id, id).await?;
    let definition = checked(svc, &metadata, &req.name, &req.definition_json).await?;
    let flow = svc
        .flows
        .revise(&identity, id, req.name.trim().to_owned(), definition)
        .await?;
    Ok(Response::new(flow_to_proto(&flow)))
}

pub(super) async fn validate_ivr_flow(
    svc: &CallsGrpc,
    request: Request<v1::ValidateIvrFlowRequest>,
) -> Result<Response<v1::ValidateIvrFlowResponse>, Status> {
    svc.caller(&request, Permission::IvrRead)?;
    let metadata = request.metadata().clone();
    let json = request.into_inner().definition_json;
    checked(svc, &metadata, "validated", &json).await?;
    Ok(Response::new(v1::ValidateIvrFlowResponse { valid: true }))
}

pub(super) async fn get_ivr_flow(
    svc: &CallsGrpc,
    request: Request<v1::GetIvrFlowRequest>,
) -> Result<Response<v1::IvrFlow>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrRead)?;
    let id = parse_id("id", &request.get_ref().id)?;
    let flow = svc.flows.get(&identity.org_id, id).await?;
    Ok(Response::new(flow_to_proto(&flow)))
}

pub(super) async fn list_ivr_flows(
    svc: &CallsGrpc,
    request: Request<v1::ListIvrFlowsRequest>,
) -> Result<Response<v1::ListIvrFlowsResponse>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrRead)?;
    let flows = svc.flows.list(&identity.org_id).await?;
    Ok(Response::new(v1::ListIvrFlowsResponse {
        flows: flows.iter().map(flow_to_proto).collect(),
    }))
}

pub(super) async fn delete_ivr_flow(
    svc: &CallsGrpc,
    request: Request<v1::GetIvrFlowRequest>,
) -> Result<Response<v1::IvrFlow>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrManage)?;
    let id = parse_id("id", &request.get_ref().id)?;
    let flow = svc.flows.delete(&identity, id).await?;
    Ok(Response::new(flow_to_proto(&flow)))
}

pub(super) async fn publish_ivr_flow(
    svc: &CallsGrpc,
    request: Request<v1::PublishIvrFlowRequest>,
) -> Result<Response<v1::IvrFlow>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrManage)?;
    let req = request.into_inner();
    let id = parse_id("id", &req.id)?;
    let flow = svc.flows.publish(&identity, id, req.version).await?;
    Ok(Response::new(flow_to_proto(&flow)))
}

pub(super) async fn get_ivr_flow_version(
    svc: &CallsGrpc,
    request: Request<v1::GetIvrFlowVersionRequest>,
) -> Result<Response<v1::IvrFlowVersion>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrRead)?;
    let req = request.into_inner();
    let id = parse_id("id", &req.id)?;
    let flow = svc.flows.get(&identity.org_id, id).await?;
    let version = flow
        .version(req.version)
        .ok_or_else(|| ApiError::not_found("ivr_flow_version", &req.version.to_string()))?;
    Ok(Response::new(v1::IvrFlowVersion {
        flow_id: flow.id.to_string(),
        version: version.version,
        name: version.name.clone(),
        definition_json: serde_json::to_string(&version.definition).expect("JSON"),
        created_at: Some(time::to_timestamp(version.at)),
        published: flow.published == Some(version.version),
    }))
}

pub(super) async fn simulate_ivr_flow(
    svc: &CallsGrpc,
    request: Request<v1::SimulateIvrFlowRequest>,
) -> Result<Response<v1::IvrSimulation>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrRead)?;
    let req = request.into_inner();
    let mut violations = Violations::default();
    let id = violations.check("id", parse_uuid(&req.id));
    let language = if req.language.is_empty() {
        None
    } else {
        violations.check("language", Language::parse(&req.language))
    };
    let at = match &req.at {
        Some(at) => violations.check(
            "at",
            time::from_timestamp(at).ok_or("not a time between the years 1 and 9999"),
        ),
        None => Some(Utc::now()),
    };
    let inputs = answers_of(&mut violations, &req.inputs);
    violations.finish()?;
    let (Some(id), Some(at)) = (id, at) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let flow = svc.flows.get(&identity.org_id, id).await?;
    let version = match req.version {
        0 => flow
            .published
            .map_or_else(|| flow.latest(), |v| flow.version(v).expect("kept")),
        v => flow
            .version(v)
            .ok_or_else(|| ApiError::not_found("ivr_flow_version", &v.to_string()))?,
    };
    let definition = &version.definition;
    let language = language.unwrap_or(definition.languages[0]);
    let simulation = walk::simulate(definition, language, at, &inputs);
    Ok(Response::new(v1::IvrSimulation {
        version: version.version,
        path: simulation.steps.iter().map(step_to_proto).collect(),
        heard: simulation.heard.iter().map(prompt_to_proto).collect(),
        last: Some(turn_to_proto(&simulation.last)),
        inputs_used: simulation.inputs_used as u32,
    }))
}

pub(super) async fn get_ivr_flow_report(
    svc: &CallsGrpc,
    request: Request<v1::GetIvrFlowRequest>,
) -> Result<Response<v1::IvrFlowReport>, Status> {
    let (identity, _) = svc.caller(&request, Permission::IvrRead)?;
    let id = parse_id("id", &request.get_ref().id)?;
    let flow = svc.flows.get(&identity.org_id, id).await?;
    let versions = svc.flows.report(&identity.org_id, id).await?;
    let kind = |version: u32, node: &str| {
        flow.version(version)
            .and_then(|v| v.definition.nodes.get(node))
            .map(|n| n.kind().to_owned())
            .unwrap_or_default()
    };
    Ok(Response::new(v1::IvrFlowReport {
        flow_id: id.to_string(),
        versions: versions
            .into_iter()
            .map(|v| v1::IvrVersionReport {
                version: v.version,
                calls: v.calls,
                queued: v.queued,
                ended_in_flow: v.ended_in_flow,
                in_flow: v.in_flow,
                nodes: v
                    .nodes
                    .iter()
                    .map(|(node, n)| v1::IvrNodeReport {
                        node: node.clone(),
                        kind: kind(v.version, node),
                        reached: n.reached,
                        ended_here: n.ended_here,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

pub(super) async fn walk_ivr(
    svc: &CallsGrpc,
    request: Request<v1::WalkIvrRequest>,
) -> Result<Response<v1::IvrTurn>, Status> {
    let (identity, _) = svc.caller(&request, Permission::CallsCarrier)?;
    let req = request.into_inner();
    let mut violations = Violations::default();
    let call_id = violations.check("call_id", parse_uuid(&req.call_id));
    let answer = violations.check("digits", answer_of(&req.digits, &req.speech));
    violations.finish()?;
    let (Some(call_id), Some(answer)) = (call_id, answer) else {
        unreachable!("each is recorded as a violation when absent");
    };
    let answered = (!req.node.is_empty()).then_some(turns::Answered {
        node: req.node,
        attempt: req.attempt,
        answer,
    });
    let turn = turns::walk(&svc.calls, &svc.flows, &identity, call_id, answered).await?;
    Ok(Response::new(turn_to_proto(&turn)))
}

/// A caller's answers to menus, in turn, each checked (at most [`MAX_INPUTS`]).
pub(super) fn answers_of(violations: &mut Violations, inputs: &[v1::IvrInput]) -> Vec<Answer> {
    if inputs.len() > MAX_INPUTS {
        violations.add("inputs", format!("at most {MAX_INPUTS} answers"));
    }
    inputs
        .iter()
        .enumerate()
        .filter_map(|(i, input)| {
            violations.check(
                &format!("inputs[{i}]"),
                answer_of(&input.digits, &input.speech),
            )
        })
        .collect()
}

fn parse_uuid(value: &str) -> Result<Uuid, String> {
    Uuid::parse_str(value).map_err(|_| format!("{value:?} is not a UUID"))
}

/// Keys pressed (0-9, * and #), words said, or neither (no answer).
fn answer_of(digits: &str, speech: &str) -> Result<Answer, String> {
    match (digits.is_empty(), speech.trim().is_empty()) {
        (false, false) => Err("digits or speech, not both".into()),
        (false, true) => {
            let valid = digits.len() <= 20
                && digits
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
            if valid {
                Ok(Answer::Digits(digits.to_owned()))
            } else {
                Err(format!("{digits:?}: up to 20 of 0-9, * and #"))
            }
        }
        (true, false) if speech.chars().count() <= MAX_ANSWER => {
            Ok(Answer::Speech(speech.trim().to_owned()))
        }
        (true, false) => Err(format!("speech: at most {MAX_ANSWER} characters")),
        (true, true) => Ok(Answer::Nothing),
    }
}

fn step_to_proto(step: &Step) -> v1::IvrStepTaken {
    v1::IvrStepTaken {
        node: step.node.clone(),
        kind: step.kind.to_owned(),
        attempt: step.attempt.unwrap_or(0),
        digits: match &step.answer {
            Some(Answer::Digits(d)) => d.clone(),
            _ => String::new(),
        },
        speech: match &step.answer {
            Some(Answer::Speech(s)) => s.clone(),
            _ => String::new(),
        },
        language: step.language.as_str().to_owned(),
    }
}

fn prompt_to_proto(prompt: &Prompt) -> v1::IvrPrompt {
    match prompt {
        Prompt::Say { language, text } => v1::IvrPrompt {
            language: language.as_str().to_owned(),
            text: text.clone(),
            audio_url: String::new(),
        },
        Prompt::Play { url } => v1::IvrPrompt {
            audio_url: url.clone(),
            ..Default::default()
        },
    }
}

fn turn_to_proto(turn: &Turn) -> v1::IvrTurn {
    use v1::ivr_turn::Then as T;
    let then = match &turn.then {
        Then::Ask(q) => T::Ask(v1::IvrQuestion {
            node: q.node.clone(),
            attempt: q.attempt,
            prompt: Some(prompt_to_proto(&q.prompt)),
            dtmf: q.dtmf,
            speech: q.speech,
            timeout_seconds: q.timeout_seconds,
            digits: q.digits,
            hints: q.hints.clone(),
        }),
        Then::Queue {
            skills,
            language,
            priority,
        } => T::Queue(v1::IvrQueue {
            skills: skills.clone(),
            language: language.as_str().to_owned(),
            priority: *priority,
        }),
        Then::Voicemail { max_seconds } => T::Voicemail(v1::IvrVoicemail {
            max_seconds: *max_seconds,
        }),
        Then::Transfer { to } => T::TransferTo(to.as_str().to_owned()),
        Then::HangUp => T::HangUp(true),
    };
    v1::IvrTurn {
        prompts: turn.prompts.iter().map(prompt_to_proto).collect(),
        language: turn.language.as_str().to_owned(),
        then: Some(then),
    }
}
