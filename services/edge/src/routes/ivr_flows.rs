//! `/api/communications/ivr-flows`: what callers to the organization's numbers hear and press
//! before an agent takes the call, over `comms.v1.CallsService` (docs/ivr.md). Every change is
//! validated and becomes a new version; publishing one makes it answer calls.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::agents::LanguageCode;
use super::{non_empty, time};
use crate::auth::Caller;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// A flow's definition takes more than most bodies: up to 200 nodes in eight languages.
pub const MAX_FLOW_BYTES: usize = 256 * 1024;

/// A flow's definition: `languages`, `start` and `nodes` by name, each node a `type` (`say`,
/// `play`, `menu`, `business_hours`, `set_language`, `queue`, `voicemail`, `transfer`,
/// `hang_up`) with its fields, as docs/ivr.md describes; its JSON schema is the `definition`
/// of `comms.ivr_flow.created` in docs/events/.
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({
    "languages": ["en", "es"], "start": "main",
    "nodes": {
        "main": {"type": "menu", "text": {"en": "For billing press 1.", "es": "Para facturación pulse 1."},
                 "choices": [{"digits": "1", "next": "billing"}], "otherwise": "bye"},
        "billing": {"type": "queue", "skills": ["billing"]},
        "bye": {"type": "hang_up"}
    }
}))]
#[allow(dead_code)] // describes the definition in the OpenAPI document only
pub struct FlowDefinition(serde_json::Value);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveFlow {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"\S",
        example = "Support line"
    )]
    pub name: String,
    #[schema(value_type = FlowDefinition)]
    pub definition: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateFlow {
    #[schema(value_type = FlowDefinition)]
    pub definition: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Validated {
    pub valid: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishFlow {
    /// The version that answers calls from now on (an older one rolls back).
    #[schema(minimum = 1)]
    pub version: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowVersionSummary {
    pub version: u32,
    pub name: String,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IvrFlow {
    pub id: String,
    pub name: String,
    /// The version calls are answered by; absent until one is published.
    pub published_version: Option<u32>,
    pub latest_version: u32,
    /// The latest version's definition.
    #[schema(value_type = FlowDefinition)]
    pub definition: serde_json::Value,
    pub versions: Vec<FlowVersionSummary>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IvrFlowList {
    pub flows: Vec<IvrFlow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IvrFlowVersion {
    pub flow_id: String,
    pub version: u32,
    pub name: String,
    #[schema(value_type = FlowDefinition)]
    pub definition: serde_json::Value,
    pub created_at: Option<DateTime<Utc>>,
    /// Calls are answered by this version now.
    pub published: bool,
}

/// One answer to a menu: `digits` pressed or `speech` said; `{}` is no answer before the
/// timeout.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedInput {
    #[schema(pattern = "^[0-9*#]{1,20}$", example = "1")]
    pub digits: Option<String>,
    #[schema(max_length = 500)]
    pub speech: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    /// Absent: the published version (the latest when none is).
    #[schema(minimum = 1)]
    pub version: Option<u32>,
    /// The caller's language; absent: the flow's first.
    #[schema(value_type = Option<LanguageCode>)]
    pub language: Option<String>,
    /// When the call comes in (business hours); absent: now.
    pub at: Option<DateTime<Utc>>,
    /// Answers to the menus in turn.
    #[schema(max_items = 50)]
    #[serde(default)]
    pub inputs: Vec<SimulatedInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Step {
    pub node: String,
    /// The node's type.
    pub kind: String,
    /// A menu's: 1 when first asked, then each time it is asked again.
    pub attempt: Option<u32>,
    /// The answer that led here.
    pub digits: Option<String>,
    pub speech: Option<String>,
    pub language: String,
}

/// Something the caller hears: `text` spoken in `language`, or the audio at `audio_url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prompt {
    pub language: Option<String>,
    pub text: Option<String>,
    pub audio_url: Option<String>,
}

/// Where the walk stopped: `ask` (a menu waiting for an answer the inputs did not give),
/// `queue`, `voicemail`, `transfer` or `hang_up`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Outcome {
    #[schema(pattern = "^(ask|queue|voicemail|transfer|hang_up)$")]
    pub kind: String,
    /// ask: the menu and the attempt.
    pub node: Option<String>,
    pub attempt: Option<u32>,
    /// queue: what the agent needs.
    pub skills: Option<Vec<String>>,
    pub priority: Option<i32>,
    /// transfer: to whom.
    pub to: Option<String>,
    /// The language the call speaks at the end.
    pub language: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Simulation {
    pub version: u32,
    pub path: Vec<Step>,
    pub heard: Vec<Prompt>,
    pub outcome: Outcome,
    pub inputs_used: u32,
}

fn definition_of(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or(serde_json::Value::Null)
}

fn to_rest(flow: v1::IvrFlow) -> IvrFlow {
    IvrFlow {
        id: flow.id,
        name: flow.name,
        published_version: (flow.published_version > 0).then_some(flow.published_version),
        latest_version: flow.latest_version,
        definition: definition_of(&flow.definition_json),
        versions: flow
            .versions
            .into_iter()
            .map(|v| FlowVersionSummary {
                version: v.version,
                name: v.name,
                created_at: time(v.created_at),
            })
            .collect(),
        created_at: time(flow.created_at),
        updated_at: time(flow.updated_at),
    }
}

fn prompt_to_rest(prompt: v1::IvrPrompt) -> Prompt {
    Prompt {
        language: non_empty(prompt.language),
        text: non_empty(prompt.text),
        audio_url: non_empty(prompt.audio_url),
    }
}

fn outcome_to_rest(turn: v1::IvrTurn) -> Outcome {
    use v1::ivr_turn::Then;
    let mut outcome = Outcome {
        kind: String::new(),
        node: None,
        attempt: None,
        skills: None,
        priority: None,
        to: None,
        language: turn.language,
    };
    outcome.kind = match turn.then {
        Some(Then::Ask(q)) => {
            outcome.node = Some(q.node);
            outcome.attempt = Some(q.attempt);
            "ask"
        }
        Some(Then::Queue(q)) => {
            outcome.skills = Some(q.skills);
            outcome.priority = Some(q.priority);
            "queue"
        }
        Some(Then::Voicemail(_)) => "voicemail",
        Some(Then::TransferTo(to)) => {
            outcome.to = Some(to);
            "transfer"
        }
        Some(Then::HangUp(_)) | None => "hang_up",
    }
    .to_owned();
    outcome
}

/// Create a flow: validated (every node reachable, every path ends, no loop without a
/// question, every text in every language the flow declares, the skills its queues name held
/// by some agent), kept as version 1, not yet answering calls.
#[utoipa::path(post, path = "/api/communications/ivr-flows", tag = "ivr", request_body = SaveFlow,
    security(("bearer" = ["ivr:manage"])),
    responses(
        (status = 201, body = IvrFlow),
        (status = 400, description = "Each problem named by its field, e.g. definition.nodes.main.otherwise", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<SaveFlow>,
) -> Result<(StatusCode, axum::Json<IvrFlow>)> {
    let request = v1::CreateIvrFlowRequest {
        name: body.name,
        definition_json: body.definition.to_string(),
    };
    let flow = state
        .calls
        .clone()
        .create_ivr_flow(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, axum::Json(to_rest(flow))))
}

/// The organization's flows, by name.
#[utoipa::path(get, path = "/api/communications/ivr-flows", tag = "ivr",
    security(("bearer" = ["ivr:read"])),
    responses(
        (status = 200, body = IvrFlowList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<IvrFlowList>> {
    let flows = state
        .calls
        .clone()
        .list_ivr_flows(caller.grpc(v1::ListIvrFlowsRequest {})?)
        .await?
        .into_inner()
        .flows;
    Ok(axum::Json(IvrFlowList {
        flows: flows.into_iter().map(to_rest).collect(),
    }))
}

/// One flow: its latest definition and its versions.
#[utoipa::path(get, path = "/api/communications/ivr-flows/{id}", tag = "ivr", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["ivr:read"])),
    responses(
        (status = 200, body = IvrFlow),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<IvrFlow>> {
    let flow = state
        .calls
        .clone()
        .get_ivr_flow(caller.grpc(v1::GetIvrFlowRequest { id })?)
        .await?
        .into_inner();
    Ok(axum::Json(to_rest(flow)))
}

/// Change a flow: validated as on creation, kept as a new version. Calls go on being answered
/// by the published version until another is published.
#[utoipa::path(put, path = "/api/communications/ivr-flows/{id}", tag = "ivr", params(("id" = uuid::Uuid, Path)), request_body = SaveFlow,
    security(("bearer" = ["ivr:manage"])),
    responses(
        (status = 200, body = IvrFlow),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<SaveFlow>,
) -> Result<axum::Json<IvrFlow>> {
    let request = v1::UpdateIvrFlowRequest {
        id,
        name: body.name,
        definition_json: body.definition.to_string(),
    };
    let flow = state
        .calls
        .clone()
        .update_ivr_flow(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(to_rest(flow)))
}

/// Delete a flow; 409 while one of the organization's numbers answers with it.
#[utoipa::path(delete, path = "/api/communications/ivr-flows/{id}", tag = "ivr", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["ivr:manage"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A number answers with the flow", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state
        .calls
        .clone()
        .delete_ivr_flow(caller.grpc(v1::GetIvrFlowRequest { id })?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check a definition without keeping it: 200 when valid, 400 naming every problem.
#[utoipa::path(post, path = "/api/communications/ivr-flows/validate", tag = "ivr", request_body = ValidateFlow,
    security(("bearer" = ["ivr:read"])),
    responses(
        (status = 200, body = Validated),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn validate(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ValidateFlow>,
) -> Result<axum::Json<Validated>> {
    let request = v1::ValidateIvrFlowRequest {
        definition_json: body.definition.to_string(),
    };
    let valid = state
        .calls
        .clone()
        .validate_ivr_flow(caller.grpc(request)?)
        .await?
        .into_inner()
        .valid;
    Ok(axum::Json(Validated { valid }))
}

/// Make a version answer calls to the flow's numbers from now on; publishing an older version
/// rolls back. Calls already in the flow keep the version they started with.
#[utoipa::path(post, path = "/api/communications/ivr-flows/{id}/publish", tag = "ivr", params(("id" = uuid::Uuid, Path)), request_body = PublishFlow,
    security(("bearer" = ["ivr:manage"])),
    responses(
        (status = 200, body = IvrFlow),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<PublishFlow>,
) -> Result<axum::Json<IvrFlow>> {
    let request = v1::PublishIvrFlowRequest {
        id,
        version: body.version,
    };
    let flow = state
        .calls
        .clone()
        .publish_ivr_flow(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(to_rest(flow)))
}

/// One version of a flow.
#[utoipa::path(get, path = "/api/communications/ivr-flows/{id}/versions/{version}", tag = "ivr",
    params(("id" = uuid::Uuid, Path), ("version" = u32, Path, minimum = 1)),
    security(("bearer" = ["ivr:read"])),
    responses(
        (status = 200, body = IvrFlowVersion),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> Result<axum::Json<IvrFlowVersion>> {
    let version = version
        .parse::<u32>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            comms_proto::ApiError::invalid(
                "version",
                format!("{version:?} is not a version (1, 2, …)"),
            )
        })?;
    let found = state
        .calls
        .clone()
        .get_ivr_flow_version(caller.grpc(v1::GetIvrFlowVersionRequest { id, version })?)
        .await?
        .into_inner();
    Ok(axum::Json(IvrFlowVersion {
        flow_id: found.flow_id,
        version: found.version,
        name: found.name,
        definition: definition_of(&found.definition_json),
        created_at: time(found.created_at),
        published: found.published,
    }))
}

/// Walk a version of the flow with a sequence of answers at a given time, without a carrier:
/// the nodes reached, everything the caller hears, and where it stops.
#[utoipa::path(post, path = "/api/communications/ivr-flows/{id}/simulate", tag = "ivr", params(("id" = uuid::Uuid, Path)), request_body = Simulate,
    security(("bearer" = ["ivr:read"])),
    responses(
        (status = 200, body = Simulation),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn simulate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Simulate>,
) -> Result<axum::Json<Simulation>> {
    if body.version == Some(0) {
        return Err(comms_proto::ApiError::invalid("version", "versions count from 1").into());
    }
    let request = v1::SimulateIvrFlowRequest {
        id,
        version: body.version.unwrap_or(0),
        language: body.language.unwrap_or_default(),
        at: body.at.map(comms_proto::time::to_timestamp),
        inputs: body
            .inputs
            .into_iter()
            .map(|input| v1::IvrInput {
                digits: input.digits.unwrap_or_default(),
                speech: input.speech.unwrap_or_default(),
            })
            .collect(),
    };
    let simulation = state
        .calls
        .clone()
        .simulate_ivr_flow(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(Simulation {
        version: simulation.version,
        path: simulation
            .path
            .into_iter()
            .map(|s| Step {
                node: s.node,
                kind: s.kind,
                attempt: (s.attempt > 0).then_some(s.attempt),
                digits: non_empty(s.digits),
                speech: non_empty(s.speech),
                language: s.language,
            })
            .collect(),
        heard: simulation.heard.into_iter().map(prompt_to_rest).collect(),
        outcome: outcome_to_rest(simulation.last.unwrap_or_default()),
        inputs_used: simulation.inputs_used,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeReport {
    pub node: String,
    /// The node's type in this version.
    pub kind: String,
    /// Calls that reached it.
    pub reached: i64,
    /// Calls that ended there without being queued: at a menu, callers who dropped out.
    pub ended_here: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionReport {
    pub version: u32,
    pub calls: i64,
    /// The flow asked for an agent.
    pub queued: i64,
    /// Over without reaching a queue: dropped at a menu, or at the flow's own end (voicemail,
    /// transfer, hang_up).
    pub ended_in_flow: i64,
    /// Still walking the flow now.
    pub in_flow: i64,
    pub nodes: Vec<NodeReport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowReport {
    pub flow_id: String,
    /// Each version that answered calls, oldest first.
    pub versions: Vec<VersionReport>,
}

/// Where the flow's callers went and where they hung up, per version that answered calls.
#[utoipa::path(get, path = "/api/communications/ivr-flows/{id}/report", tag = "ivr", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["ivr:read"])),
    responses(
        (status = 200, body = FlowReport),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<FlowReport>> {
    let report = state
        .calls
        .clone()
        .get_ivr_flow_report(caller.grpc(v1::GetIvrFlowRequest { id })?)
        .await?
        .into_inner();
    Ok(axum::Json(FlowReport {
        flow_id: report.flow_id,
        versions: report
            .versions
            .into_iter()
            .map(|v| VersionReport {
                version: v.version,
                calls: v.calls,
                queued: v.queued,
                ended_in_flow: v.ended_in_flow,
                in_flow: v.in_flow,
                nodes: v
                    .nodes
                    .into_iter()
                    .map(|n| NodeReport {
                        node: n.node,
                        kind: n.kind,
                        reached: n.reached,
                        ended_here: n.ended_here,
                    })
                    .collect(),
            })
            .collect(),
    }))
}
