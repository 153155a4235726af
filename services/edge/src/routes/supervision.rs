//! Supervisor controls over REST, under `agents:supervise`: force an agent's state, pull a
//! waiting call to an agent (`comms.v1.AgentsService`), re-route a waiting call to another
//! queue, listen to, whisper to or barge into a call with its agent (`comms.v1.CallsService`).

use axum::extract::{Path, State};
use comms_proto::v1;
use serde::Deserialize;
use utoipa::ToSchema;

use super::agents::{Agent, LanguageCode, chosen_state};
use super::calls::Call;
use super::numbers::SkillName;
use crate::auth::Caller;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// The state a supervisor puts an agent in, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForceState {
    #[schema(pattern = "^(available|break|away|offline)$")]
    pub status: String,
    /// A code: 1-50 of a-z, 0-9 and _, e.g. `left_for_the_day`.
    #[schema(pattern = "^[a-z0-9_]{1,50}$", example = "coaching")]
    pub reason: String,
}

/// Put one of your agents in available, break, away or offline, with your reason: at once
/// (ending a wrap-up), or, on a call, when its wrap-up ends. The state's event on the bus and
/// the live feed carries `forced_by` (you) and the reason.
#[utoipa::path(post, path = "/api/communications/agents/{id}/forced-status", tag = "agents", params(("id" = uuid::Uuid, Path)), request_body = ForceState,
    security(("bearer" = ["agents:supervise"])),
    responses(
        (status = 200, body = Agent),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An agent: only supervisors and administrators force a state", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agent in your teams", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The agent is logged off: they log in themselves", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn force_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ForceState>,
) -> Result<axum::Json<Agent>> {
    let status = chosen_state(&body.status)?;
    let request = v1::ForceAgentStateRequest {
        id,
        status: status as i32,
        reason: body.reason,
    };
    let agent = state
        .agents
        .clone()
        .force_agent_state(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(agent.into_inner().into()))
}

/// The agent a waiting call is pulled to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullCall {
    #[schema(value_type = uuid::Uuid)]
    pub agent_id: String,
}

/// Take a call waiting in the queue to one of your available agents, whatever skills and
/// language it asks for: they are put on it at once.
#[utoipa::path(post, path = "/api/communications/calls/{id}/pull", tag = "calls", params(("id" = uuid::Uuid, Path)), request_body = PullCall,
    security(("bearer" = ["agents:supervise"])),
    responses(
        (status = 200, description = "The agent, now on the call", body = Agent),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An agent: only supervisors and administrators pull calls", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The call is not waiting, or the agent is not in your teams", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The agent is not available, or the call is being offered to someone", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn pull_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<PullCall>,
) -> Result<axum::Json<Agent>> {
    let request = v1::PullWaitingCallRequest {
        call_id: id,
        agent_id: body.agent_id,
    };
    let agent = state
        .agents
        .clone()
        .pull_waiting_call(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(agent.into_inner().into()))
}

/// The queue a waiting call is sent to, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerouteCall {
    /// The skills its agent must have (at most 20); none: any agent who speaks the language.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<SkillName>, example = json!(["billing"]))]
    pub skills: Vec<String>,
    #[schema(value_type = LanguageCode, example = "es")]
    pub language: String,
    /// A code: 1-50 of a-z, 0-9 and _, e.g. `wrong_language`.
    #[schema(pattern = "^[a-z0-9_]{1,50}$", example = "wrong_language")]
    pub reason: String,
}

/// Send a call waiting for an agent to another queue: from now it asks for an agent with every
/// one of `skills` who speaks `language` (the call's language becomes it), keeps its
/// place by age, and is offered at once if such an agent is free. `comms.call.rerouted` on the
/// bus and the live feed says who did it and why. Asking for the queue it is in changes nothing.
#[utoipa::path(post, path = "/api/communications/calls/{id}/reroute", tag = "calls", params(("id" = uuid::Uuid, Path)), request_body = RerouteCall,
    security(("bearer" = ["agents:supervise"])),
    responses(
        (status = 200, description = "The call, now waiting in its new queue", body = Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An agent: only supervisors and administrators re-route calls", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The call is not waiting for an agent (not answered yet, over, never queued, or with an agent)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reroute_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RerouteCall>,
) -> Result<axum::Json<Call>> {
    let request = v1::RerouteWaitingCallRequest {
        call_id: id,
        skills: body.skills,
        language: body.language,
        reason: body.reason,
    };
    let call = state
        .calls
        .clone()
        .reroute_waiting_call(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(call.into_inner().into()))
}

/// How a supervisor is on a call with its agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorCall {
    /// `listen` (hear both parties, heard by neither), `whisper` (heard by the agent only),
    /// `barge` (heard by both) or `stopped` (leave the call).
    #[schema(pattern = "^(listen|whisper|barge|stopped)$")]
    pub mode: String,
}

/// Listen to, whisper to or barge into a call of one of your agents, change how, or leave it
/// (`stopped`): the carrier rings your own softphone (`POST /softphone-token`) into the call's
/// conference, and `comms.call.monitoring_changed` on the bus and the live feed says who and
/// how (`audio` false on the simulated provider, which carries no audio). Asking for the mode
/// you are in changes nothing.
#[utoipa::path(post, path = "/api/communications/calls/{id}/monitor", tag = "calls", params(("id" = uuid::Uuid, Path)), request_body = MonitorCall,
    security(("bearer" = ["agents:supervise"])),
    responses(
        (status = 200, description = "The call, with its supervisors", body = Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An agent: only supervisors and administrators join calls", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call of your teams' agents", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The call is not answered and connected to an agent, or (to whisper) its agent has not answered their softphone yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn monitor_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<MonitorCall>,
) -> Result<axum::Json<Call>> {
    let request = v1::MonitorCallRequest {
        call_id: id,
        mode: body.mode,
    };
    let call = state
        .calls
        .clone()
        .monitor_call(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(call.into_inner().into()))
}
