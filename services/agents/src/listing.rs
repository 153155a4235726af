//! Queries over the read models: agents filtered by state, team, skill and language; teams;
//! which teams a supervisor leads. Pages are keyed by id.

use comms_auth::Identity;
use comms_eventstore::unit_of_work::Failure;
use comms_proto::Language;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{Agent, AgentState, Team};
use crate::store::{Result, Versioned};

#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub states: Vec<AgentState>,
    pub team_id: Option<Uuid>,
    pub skill: Option<String>,
    pub language: Option<Language>,
    /// Only agents of these teams (a supervisor's reach).
    pub teams: Option<Vec<Uuid>>,
    /// Only this agent (an agent's own reach).
    pub only: Option<Uuid>,
}

/// A page of agents of `org` after `after`, and the next page's key.
pub async fn agents(
    pool: &PgPool,
    org: &str,
    filter: &AgentFilter,
    after: Option<Uuid>,
    size: usize,
) -> Result<(Vec<Versioned<Agent>>, Option<Uuid>)> {
    let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
    let rows: Vec<(i64, Json<Agent>)> = sqlx::query_as(
        "SELECT version, agent FROM agents_view
         WHERE org_id = $1
           AND (cardinality($2::text[]) = 0 OR state = ANY($2))
           AND ($3::uuid IS NULL OR team_id = $3)
           AND ($4::text IS NULL OR skills ? $4)
           AND ($5::text IS NULL OR $5 = ANY(languages))
           AND ($6::uuid[] IS NULL OR team_id = ANY($6))
           AND ($7::uuid IS NULL OR agent_id = $7)
           AND ($8::uuid IS NULL OR agent_id > $8)
         ORDER BY agent_id
         LIMIT $9",
    )
    .bind(org)
    .bind(&states)
    .bind(filter.team_id)
    .bind(&filter.skill)
    .bind(filter.language.map(|l| l.as_str()))
    .bind(&filter.teams)
    .bind(filter.only)
    .bind(after)
    .bind(size as i64 + 1)
    .fetch_all(pool)
    .await?;
    let mut agents: Vec<Versioned<Agent>> = rows
        .into_iter()
        .map(|(version, agent)| Versioned {
            value: agent.0,
            org_id: org.to_owned(),
            version: version as u64,
        })
        .collect();
    let next = (agents.len() > size).then(|| {
        agents.truncate(size);
        agents.last().map(|a| a.value.id)
    });
    Ok((agents, next.flatten()))
}

pub async fn teams(
    pool: &PgPool,
    org: &str,
    only: Option<&[Uuid]>,
    after: Option<Uuid>,
    size: usize,
) -> Result<(Vec<Versioned<Team>>, Option<Uuid>)> {
    type Row = (
        i64,
        Uuid,
        String,
        Option<String>,
        chrono::DateTime<chrono::Utc>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT version, team_id, name, supervisor_id, created_at FROM teams_view
         WHERE org_id = $1 AND ($2::uuid[] IS NULL OR team_id = ANY($2)) AND ($3::uuid IS NULL OR team_id > $3)
         ORDER BY team_id LIMIT $4",
    )
    .bind(org)
    .bind(only)
    .bind(after)
    .bind(size as i64 + 1)
    .fetch_all(pool)
    .await
    ?;
    let mut teams: Vec<Versioned<Team>> = rows
        .into_iter()
        .map(|(version, id, name, supervisor_id, created_at)| Versioned {
            value: Team {
                id,
                name,
                supervisor_id,
                created_at,
            },
            org_id: org.to_owned(),
            version: version as u64,
        })
        .collect();
    let next = (teams.len() > size).then(|| {
        teams.truncate(size);
        teams.last().map(|t| t.value.id)
    });
    Ok((teams, next.flatten()))
}

/// The teams `identity` supervises.
pub async fn supervised_teams(pool: &PgPool, identity: &Identity) -> Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT team_id FROM teams_view WHERE org_id = $1 AND supervisor_id = $2")
        .bind(&identity.org_id)
        .bind(&identity.user_id)
        .fetch_all(pool)
        .await
        .map_err(Failure::from)
}
