//! `/api/communications/agents`: REST over `comms.v1.AgentsService`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_proto::Violations;
use comms_proto::v1::{self, AgentState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{non_empty, time};
use crate::auth::Caller;
use crate::json::{Json, Query};
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

pub const STATES: [(&str, AgentState); 7] = [
    ("offline", AgentState::Offline),
    ("available", AgentState::Available),
    ("reserved", AgentState::Reserved),
    ("busy", AgentState::Busy),
    ("wrap_up", AgentState::WrapUp),
    ("break", AgentState::Break),
    ("away", AgentState::Away),
];

fn state_name(value: i32) -> Option<String> {
    let state = AgentState::try_from(value).ok()?;
    STATES
        .iter()
        .find(|(_, s)| *s == state)
        .map(|(n, _)| (*n).to_owned())
}

fn state_of(name: &str) -> Option<AgentState> {
    STATES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// A state a person picks (available, break, away or offline), or 400 naming `status`.
pub(super) fn chosen_state(name: &str) -> std::result::Result<AgentState, comms_proto::ApiError> {
    state_of(name)
        .filter(|s| {
            matches!(
                s,
                AgentState::Available | AgentState::Break | AgentState::Away | AgentState::Offline
            )
        })
        .ok_or_else(|| {
            comms_proto::ApiError::invalid(
                "status",
                format!("{name:?} is not available, break, away or offline"),
            )
        })
}

/// One of the eight languages: en, es, fr, de, it, pt, zh, ja.
#[derive(ToSchema)]
#[schema(pattern = "^(en|es|fr|de|it|pt|zh|ja)$")]
#[allow(dead_code)] // describes language lists in the OpenAPI document only
pub struct LanguageCode(String);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Skill {
    /// a-z, 0-9, _ and -.
    #[schema(example = "billing", pattern = "^[a-z0-9_-]{1,50}$")]
    pub name: String,
    /// 1 (novice) to 5 (expert).
    #[schema(minimum = 1, maximum = 5)]
    pub proficiency: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    #[schema(
        example = "Ada Lovelace",
        min_length = 1,
        max_length = 200,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[schema(example = "ada@example.com", format = Email)]
    pub email: String,
    /// E.164; empty or absent for none.
    #[schema(pattern = r"^$|^\+[1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    #[schema(pattern = "^[0-9]{0,20}$")]
    pub extension: Option<String>,
    /// Of en, es, fr, de, it, pt, zh, ja.
    #[schema(value_type = Option<Vec<LanguageCode>>)]
    pub languages: Option<Vec<String>>,
    pub skills: Option<Vec<Skill>>,
    pub team_id: Option<uuid::Uuid>,
    /// The user this agent logs in as; the agent then has the user's id.
    pub user_id: Option<uuid::Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateAgent {
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub name: Option<String>,
    #[schema(nullable = false, format = Email)]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub email: Option<String>,
    /// E.164; empty to remove it.
    #[schema(nullable = false, pattern = r"^$|^\+[1-9][0-9]{7,14}$")]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub phone: Option<String>,
    #[schema(nullable = false, pattern = "^[0-9]{0,20}$")]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub extension: Option<String>,
    /// Replaces the languages.
    #[schema(nullable = false, value_type = Option<Vec<LanguageCode>>)]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub languages: Option<Vec<String>>,
    /// Replaces the skills.
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub skills: Option<Vec<Skill>>,
}

/// available, break, away or offline. Asked for during a call, it applies when the call's
/// wrap-up ends. Break and away take a reason code like `lunch`; the others take none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    pub status: String,
    pub reason: Option<String>,
}

/// Written by hand: which statuses take a reason is a rule between two fields, which the
/// derive cannot state.
impl utoipa::PartialSchema for SetStatus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let reason = |required: bool| {
            if required {
                serde_json::json!({ "type": "string", "pattern": "^[a-z0-9_]{1,50}$", "example": "lunch" })
            } else {
                serde_json::json!({ "type": ["string", "null"], "maxLength": 0 })
            }
        };
        let variant = |statuses: &[&str], needs_reason: bool| {
            serde_json::json!({
                "type": "object",
                "additionalProperties": false,
                "required": if needs_reason { vec!["status", "reason"] } else { vec!["status"] },
                "properties": {
                    "status": { "type": "string", "enum": statuses },
                    "reason": reason(needs_reason),
                },
            })
        };
        serde_json::from_value(serde_json::json!({
            "description": "available, break, away or offline. Asked for during a call, it applies when the call's wrap-up ends. Break and away take a reason code like `lunch`; the others take none.",
            "oneOf": [variant(&["available", "offline"], false), variant(&["break", "away"], true)],
        }))
        .expect("a valid schema")
    }
}

impl utoipa::ToSchema for SetStatus {}

#[derive(Debug, Serialize, ToSchema)]
pub struct Agent {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub extension: Option<String>,
    pub languages: Vec<String>,
    pub skills: Vec<Skill>,
    pub team_id: Option<String>,
    /// offline, available, reserved, busy, wrap_up, break or away.
    pub status: String,
    /// The reason code of break or away.
    pub reason: Option<String>,
    /// Asked for during a call; applied when its wrap-up ends.
    pub next_status: Option<String>,
    pub status_since: Option<DateTime<Utc>>,
    /// The call the agent is reserved for, on, or wrapping up.
    pub call_id: Option<String>,
    pub reserved_until: Option<DateTime<Utc>>,
    pub max_concurrent_calls: u32,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: u64,
}

impl From<v1::Agent> for Agent {
    fn from(a: v1::Agent) -> Self {
        Self {
            status: state_name(a.state).unwrap_or_default(),
            next_status: state_name(a.next_state),
            status_since: time(a.state_since),
            reserved_until: time(a.reserved_until),
            created_at: time(a.created_at),
            updated_at: time(a.updated_at),
            id: a.id,
            organization_id: a.organization_id,
            name: a.name,
            email: a.email,
            phone: non_empty(a.phone),
            extension: non_empty(a.extension),
            languages: a.languages,
            skills: a
                .skills
                .into_iter()
                .map(|s| Skill {
                    name: s.name,
                    proficiency: s.proficiency,
                })
                .collect(),
            team_id: non_empty(a.team_id),
            reason: non_empty(a.reason),
            call_id: non_empty(a.call_id),
            max_concurrent_calls: a.max_concurrent_calls,
            version: a.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentPage {
    pub data: Vec<Agent>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Comma-separated statuses, e.g. `available,break`.
    #[param(
        pattern = "^(offline|available|reserved|busy|wrap_up|break|away)(,(offline|available|reserved|busy|wrap_up|break|away))*$"
    )]
    pub status: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub team_id: Option<String>,
    #[param(pattern = "^[a-z0-9_-]{1,50}$")]
    pub skill: Option<String>,
    #[param(pattern = "^(en|es|fr|de|it|pt|zh|ja)?$")]
    pub language: Option<String>,
    /// 1–200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

fn skills_to_proto(skills: Option<Vec<Skill>>) -> Vec<v1::Skill> {
    skills
        .unwrap_or_default()
        .into_iter()
        .map(|s| v1::Skill {
            name: s.name,
            proficiency: s.proficiency,
        })
        .collect()
}

/// Add an agent, offline until they (or their supervisor) set a status.
#[utoipa::path(post, path = "/api/communications/agents", tag = "agents", request_body = CreateAgent,
    security(("bearer" = ["agents:manage"])),
    responses(
        (status = 201, body = Agent),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`team_id` or `user_id` names nothing in the organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateAgent>,
) -> Result<(StatusCode, axum::Json<Agent>)> {
    let request = v1::CreateAgentRequest {
        name: body.name,
        email: body.email,
        phone: body.phone.unwrap_or_default(),
        extension: body.extension.unwrap_or_default(),
        languages: body.languages.unwrap_or_default(),
        skills: skills_to_proto(body.skills),
        team_id: body.team_id.map(|t| t.to_string()).unwrap_or_default(),
        user_id: body.user_id.map(|u| u.to_string()).unwrap_or_default(),
    };
    let agent = state
        .agents
        .clone()
        .create_agent(caller.grpc(request)?)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(agent.into_inner().into())))
}

/// One agent: a supervisor sees their teams' agents, an agent themselves.
#[utoipa::path(get, path = "/api/communications/agents/{id}", tag = "agents", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["agents:read"])),
    responses(
        (status = 200, body = Agent),
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
) -> Result<axum::Json<Agent>> {
    let agent = state
        .agents
        .clone()
        .get_agent(caller.grpc(v1::GetAgentRequest { id })?)
        .await?;
    Ok(axum::Json(agent.into_inner().into()))
}

/// Agents, filtered by status, team, skill and language, paged by cursor.
#[utoipa::path(get, path = "/api/communications/agents", tag = "agents", params(ListParams),
    security(("bearer" = ["agents:read"])),
    responses(
        (status = 200, body = AgentPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<AgentPage>> {
    let mut violations = Violations::default();
    let mut states = Vec::new();
    for name in params
        .status
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        match state_of(name) {
            Some(s) => states.push(s as i32),
            None => violations.add("status", format!("{name:?} is not an agent status")),
        }
    }
    let page_size = violations
        .check("page_size", super::page_size(params.page_size.as_deref()))
        .unwrap_or(0);
    violations.finish()?;
    let request = v1::ListAgentsRequest {
        states,
        team_id: params.team_id.unwrap_or_default(),
        skill: params.skill.unwrap_or_default(),
        language: params.language.unwrap_or_default(),
        page: Some(v1::PageRequest {
            page_size,
            page_token: params.page_token.unwrap_or_default(),
        }),
    };
    let page = state
        .agents
        .clone()
        .list_agents(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(AgentPage {
        data: page.agents.into_iter().map(Agent::from).collect(),
        next_page_token: super::next_page_token(page.page),
    }))
}

/// Change an agent's profile; fields left out are unchanged.
#[utoipa::path(put, path = "/api/communications/agents/{id}", tag = "agents", params(("id" = uuid::Uuid, Path)), request_body = UpdateAgent,
    security(("bearer" = ["agents:manage"])),
    responses(
        (status = 200, body = Agent),
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
    Json(body): Json<UpdateAgent>,
) -> Result<axum::Json<Agent>> {
    let request = v1::UpdateAgentRequest {
        id,
        name: body.name,
        email: body.email,
        phone: body.phone,
        extension: body.extension,
        languages: body.languages.map(|values| v1::LanguageList { values }),
        skills: body.skills.map(|s| v1::SkillList {
            values: skills_to_proto(Some(s)),
        }),
    };
    let agent = state
        .agents
        .clone()
        .update_agent(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(agent.into_inner().into()))
}

/// Set an agent's status. During a call, break, away and offline wait for its wrap-up to end.
#[utoipa::path(put, path = "/api/communications/agents/{id}/status", tag = "agents", params(("id" = uuid::Uuid, Path)), request_body = SetStatus,
    security(("bearer" = ["agents:status"])),
    responses(
        (status = 200, body = Agent),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not from the agent's current status", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<SetStatus>,
) -> Result<axum::Json<Agent>> {
    let status = chosen_state(&body.status)?;
    let request = v1::UpdateAgentStatusRequest {
        id,
        status: status as i32,
        reason: body.reason.unwrap_or_default(),
    };
    let agent = state
        .agents
        .clone()
        .update_agent_status(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(agent.into_inner().into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SoftphoneParams {
    /// twilio or vonage; the carrier of the fleet's calls when absent.
    #[param(pattern = "^(twilio|vonage)$")]
    pub carrier: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SoftphoneToken {
    /// twilio or vonage.
    pub carrier: String,
    /// The identity calls ring (a Twilio `client:`, a Vonage application user): the agent's id,
    /// or your user id for your own.
    pub identity: String,
    /// For Twilio's Voice JavaScript SDK (`new Device(token)`) or Vonage's Client SDK
    /// (`createSession(token)`).
    pub token: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A short-lived token (an hour) for the agent's browser softphone: a Twilio Voice access token
/// or a Vonage Client SDK JWT, whose identity is the agent's id, so that the calls routed to the
/// agent ring in their browser. Only the agent themselves, their team's supervisor or an
/// administrator.
#[utoipa::path(post, path = "/api/communications/agents/{id}/softphone-token", tag = "agents",
    params(("id" = uuid::Uuid, Path), SoftphoneParams),
    security(("bearer" = ["agents:softphone"])),
    responses(
        (status = 200, body = SoftphoneToken),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another agent's token", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The carrier is not configured for softphones", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The carrier did not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn softphone_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<SoftphoneParams>,
) -> Result<axum::Json<SoftphoneToken>> {
    let request = v1::IssueSoftphoneTokenRequest {
        agent_id: id,
        carrier: params.carrier.unwrap_or_default(),
    };
    let issued = state
        .agents
        .clone()
        .issue_softphone_token(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(SoftphoneToken::from(issued)))
}

/// Your own softphone's token, as a supervisor or administrator (an hour): its identity your
/// user id, which a call you listen to, whisper to or barge into (`POST /calls/{id}/monitor`)
/// rings in your browser.
#[utoipa::path(post, path = "/api/communications/softphone-token", tag = "agents",
    params(SoftphoneParams),
    security(("bearer" = ["agents:supervise"])),
    responses(
        (status = 200, body = SoftphoneToken),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An agent: their softphone is their agent's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The carrier is not configured for softphones", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The carrier did not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn my_softphone_token(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SoftphoneParams>,
) -> Result<axum::Json<SoftphoneToken>> {
    let request = v1::IssueMySoftphoneTokenRequest {
        carrier: params.carrier.unwrap_or_default(),
    };
    let issued = state
        .agents
        .clone()
        .issue_my_softphone_token(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(SoftphoneToken::from(issued)))
}

impl From<v1::SoftphoneToken> for SoftphoneToken {
    fn from(issued: v1::SoftphoneToken) -> Self {
        Self {
            carrier: issued.carrier,
            identity: issued.identity,
            token: issued.token,
            expires_at: time(issued.expires_at),
        }
    }
}
