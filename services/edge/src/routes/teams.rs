//! `/api/communications/teams`: teams and their members, over `comms.v1.AgentsService`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::agents::Agent;
use crate::auth::Caller;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    #[schema(
        example = "Billing, EMEA",
        min_length = 1,
        max_length = 100,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// The supervisor's user id; empty or absent for none.
    #[schema(pattern = "^[A-Za-z0-9_.:@-]{0,128}$")]
    pub supervisor_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateTeam {
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    /// The supervisor's user id; empty or `null` to leave the team without one.
    #[serde(default, deserialize_with = "crate::json::nullable")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_.:@-]{0,128}$")]
    pub supervisor_id: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub agent_id: uuid::Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Team {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub supervisor_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub version: u64,
}

impl From<v1::Team> for Team {
    fn from(t: v1::Team) -> Self {
        Self {
            created_at: super::time(t.created_at),
            id: t.id,
            organization_id: t.organization_id,
            name: t.name,
            supervisor_id: (!t.supervisor_id.is_empty()).then_some(t.supervisor_id),
            version: t.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamList {
    pub data: Vec<Team>,
    pub next_page_token: Option<String>,
}

/// Create a team (administrators).
#[utoipa::path(post, path = "/api/communications/teams", tag = "teams", request_body = CreateTeam,
    security(("bearer" = ["teams:admin"])),
    responses(
        (status = 201, body = Team),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateTeam>,
) -> Result<(StatusCode, axum::Json<Team>)> {
    let request = v1::CreateTeamRequest {
        name: body.name,
        supervisor_id: body.supervisor_id.unwrap_or_default(),
    };
    let team = state
        .agents
        .clone()
        .create_team(caller.grpc(request)?)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(team.into_inner().into())))
}

/// Teams: all for administrators, their own for supervisors.
#[utoipa::path(get, path = "/api/communications/teams", tag = "teams",
    security(("bearer" = ["agents:read"])),
    responses(
        (status = 200, body = TeamList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<TeamList>> {
    let page = state
        .agents
        .clone()
        .list_teams(caller.grpc(v1::ListTeamsRequest { page: None })?)
        .await?
        .into_inner();
    Ok(axum::Json(TeamList {
        data: page.teams.into_iter().map(Team::from).collect(),
        next_page_token: super::next_page_token(page.page),
    }))
}

#[utoipa::path(get, path = "/api/communications/teams/{id}", tag = "teams", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["agents:read"])),
    responses(
        (status = 200, body = Team),
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
) -> Result<axum::Json<Team>> {
    let team = state
        .agents
        .clone()
        .get_team(caller.grpc(v1::GetTeamRequest { id })?)
        .await?;
    Ok(axum::Json(team.into_inner().into()))
}

/// Rename a team (its supervisor may), or assign its supervisor (administrators).
#[utoipa::path(put, path = "/api/communications/teams/{id}", tag = "teams", params(("id" = uuid::Uuid, Path)), request_body = UpdateTeam,
    security(("bearer" = ["teams:manage"])),
    responses(
        (status = 200, body = Team),
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
    Json(body): Json<UpdateTeam>,
) -> Result<axum::Json<Team>> {
    let request = v1::UpdateTeamRequest {
        id,
        name: body.name,
        supervisor_id: body.supervisor_id.map(Option::unwrap_or_default),
    };
    let team = state
        .agents
        .clone()
        .update_team(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(team.into_inner().into()))
}

/// Put an agent in the team (out of any other).
#[utoipa::path(post, path = "/api/communications/teams/{id}/members", tag = "teams", params(("id" = uuid::Uuid, Path)), request_body = AddMember,
    security(("bearer" = ["teams:manage"])),
    responses(
        (status = 200, body = Agent),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`agent_id` names no agent you can reach", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AddMember>,
) -> Result<axum::Json<Agent>> {
    let request = v1::TeamMemberRequest {
        id,
        agent_id: body.agent_id.to_string(),
    };
    let agent = state
        .agents
        .clone()
        .add_team_member(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(agent.into_inner().into()))
}

/// Take an agent out of the team.
#[utoipa::path(delete, path = "/api/communications/teams/{id}/members/{agent_id}", tag = "teams",
    params(("id" = uuid::Uuid, Path), ("agent_id" = uuid::Uuid, Path)),
    security(("bearer" = ["teams:manage"])),
    responses(
        (status = 200, body = Agent),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, agent_id)): Path<(String, String)>,
) -> Result<axum::Json<Agent>> {
    let request = v1::TeamMemberRequest { id, agent_id };
    let agent = state
        .agents
        .clone()
        .remove_team_member(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(agent.into_inner().into()))
}
