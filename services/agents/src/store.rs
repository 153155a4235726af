//! Reading and changing agents and teams inside a transaction. The read model row holds the
//! folded aggregate and its version, written in the same transaction as each append, so a
//! command locks the row (`FOR UPDATE`), decides on the state in it, appends with the row's
//! version as the expected version, and writes the row back. Every writer locks the row before
//! the stream, so two writers never wait on each other in opposite orders.

use comms_eventstore::unit_of_work::Failure;
use comms_eventstore::{Error as StoreError, ExpectedVersion, StreamName};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::{self, Agent, Command, DomainError, Team, TeamCommand, team};

pub const AGENT_STREAMS: &str = "agent";
pub const TEAM_STREAMS: &str = "team";

/// An aggregate as its read model holds it.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub org_id: String,
    pub version: u64,
}

/// What storage code fails with: the store's failures and the domain's refusals; the API's terms
/// come from the service's error table (`grpc`).
pub type Result<T> = std::result::Result<T, Failure<DomainError>>;

/// The aggregate's refusal of a command on `what` `id`.
fn refused(error: DomainError, what: &'static str, id: Uuid) -> Failure<DomainError> {
    match error {
        DomainError::NotFound { .. } => Failure::not_found(what, id),
        other => Failure::Refused(other),
    }
}

/// The agent, locked for this transaction; another organization's agent reads as absent.
pub async fn lock_agent(
    conn: &mut PgConnection,
    org: &str,
    id: Uuid,
) -> Result<Option<Versioned<Agent>>> {
    let row: Option<(String, i64, Json<Agent>)> = sqlx::query_as(
        "SELECT org_id, version, agent FROM agents_view WHERE agent_id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row
        .filter(|(row_org, _, _)| row_org == org)
        .map(|(org_id, version, agent)| Versioned {
            value: agent.0,
            org_id,
            version: version as u64,
        }))
}

pub async fn get_agent(conn: &mut PgConnection, org: &str, id: Uuid) -> Result<Versioned<Agent>> {
    let row: Option<(String, i64, Json<Agent>)> = sqlx::query_as(
        "SELECT org_id, version, agent FROM agents_view WHERE agent_id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    row.map(|(org_id, version, agent)| Versioned {
        value: agent.0,
        org_id,
        version: version as u64,
    })
    .ok_or_else(|| Failure::not_found("agent", id))
}

/// Runs `command` against agent `id` in `tx`, and returns the agent as it now is.
pub async fn change_agent(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    id: Uuid,
    command: Command,
) -> Result<Versioned<Agent>> {
    let current = lock_agent(&mut *tx, org, id).await?;
    let events = domain::handle(current.as_ref().map(|c| &c.value), command)
        .map_err(|e| refused(e, "agent", id))?;
    let expected = current.as_ref().map_or(ExpectedVersion::NoStream, |c| {
        ExpectedVersion::Exact(c.version)
    });
    if events.is_empty() {
        return current.ok_or_else(|| Failure::not_found("agent", id));
    }
    let new_events = events
        .iter()
        .map(|e| comms_bus::new_event(e, actor, None))
        .collect();
    let appended = comms_eventstore::append_in(
        tx,
        org,
        &StreamName::new(AGENT_STREAMS, id),
        expected,
        new_events,
    )
    .await
    .map_err(|e| match e {
        StoreError::TenantMismatch { .. } => Failure::not_found("agent", id),
        // Only a concurrent create gets here (the row lock orders every other writer): a lost
        // race, whose retry finds the agent and says it exists.
        other => Failure::Store(other),
    })?;
    let agent = events
        .iter()
        .fold(current.map(|c| c.value), |state, event| {
            Some(domain::apply(state, event))
        })
        .expect("a command that succeeds leaves an agent");
    let versioned = Versioned {
        value: agent,
        org_id: org.to_owned(),
        version: appended.next_expected_version,
    };
    upsert_agent(&mut *tx, &versioned).await?;
    Ok(versioned)
}

async fn upsert_agent(conn: &mut PgConnection, view: &Versioned<Agent>) -> Result<()> {
    let agent = &view.value;
    let languages: Vec<&str> = agent.profile.languages.iter().map(|l| l.as_str()).collect();
    let skills: serde_json::Map<String, serde_json::Value> = agent
        .profile
        .skills
        .iter()
        .map(|s| (s.name.clone(), s.proficiency.into()))
        .collect();
    sqlx::query(
        "INSERT INTO agents_view (agent_id, org_id, name, email, languages, skills, team_id, state,
                                  state_since, call_id, deadline, agent, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (agent_id) DO UPDATE
         SET name = $3, email = $4, languages = $5, skills = $6, team_id = $7, state = $8,
             state_since = $9, call_id = $10, deadline = $11, agent = $12, version = $13",
    )
    .bind(agent.id)
    .bind(&view.org_id)
    .bind(&agent.profile.name)
    .bind(&agent.profile.email)
    .bind(&languages)
    .bind(Json(skills))
    .bind(agent.team_id)
    .bind(agent.state.as_str())
    .bind(agent.state_since)
    .bind(agent.call_id)
    .bind(agent.deadline)
    .bind(Json(agent))
    .bind(view.version as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// A `teams_view` row: org_id, version, team_id, name, supervisor_id, created_at.
type TeamRow = (
    String,
    i64,
    Uuid,
    String,
    Option<String>,
    chrono::DateTime<chrono::Utc>,
);

/// The team, if it exists in `org`; `lock` takes its row for this transaction.
pub async fn find_team(
    conn: &mut PgConnection,
    org: &str,
    id: Uuid,
    lock: bool,
) -> Result<Option<Versioned<Team>>> {
    let sql = if lock {
        "SELECT org_id, version, team_id, name, supervisor_id, created_at FROM teams_view WHERE team_id = $1 FOR UPDATE"
    } else {
        "SELECT org_id, version, team_id, name, supervisor_id, created_at FROM teams_view WHERE team_id = $1"
    };
    let row: Option<TeamRow> = sqlx::query_as(sql).bind(id).fetch_optional(conn).await?;
    Ok(row
        .filter(|r| r.0 == org)
        .map(
            |(org_id, version, id, name, supervisor_id, created_at)| Versioned {
                value: Team {
                    id,
                    name,
                    supervisor_id,
                    created_at,
                },
                org_id,
                version: version as u64,
            },
        ))
}

pub async fn change_team(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    id: Uuid,
    command: TeamCommand,
) -> Result<Versioned<Team>> {
    let current = find_team(&mut *tx, org, id, true).await?;
    let events = team::handle(current.as_ref().map(|c| &c.value), command)
        .map_err(|e| refused(e, "team", id))?;
    if events.is_empty() {
        return current.ok_or_else(|| Failure::not_found("team", id));
    }
    let expected = current.as_ref().map_or(ExpectedVersion::NoStream, |c| {
        ExpectedVersion::Exact(c.version)
    });
    let new_events = events
        .iter()
        .map(|e| comms_bus::new_event(e, actor, None))
        .collect();
    let appended = comms_eventstore::append_in(
        tx,
        org,
        &StreamName::new(TEAM_STREAMS, id),
        expected,
        new_events,
    )
    .await
    .map_err(|e| match e {
        StoreError::TenantMismatch { .. } => Failure::not_found("team", id),
        other => Failure::Store(other),
    })?;
    let team = events
        .iter()
        .fold(current.map(|c| c.value), |state, event| {
            Some(team::apply(state, event))
        })
        .expect("a command that succeeds leaves a team");
    sqlx::query(
        "INSERT INTO teams_view (team_id, org_id, name, supervisor_id, created_at, version)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (team_id) DO UPDATE SET name = $3, supervisor_id = $4, version = $6",
    )
    .bind(team.id)
    .bind(org)
    .bind(&team.name)
    .bind(&team.supervisor_id)
    .bind(team.created_at)
    .bind(appended.next_expected_version as i64)
    .execute(&mut *tx)
    .await?;
    Ok(Versioned {
        value: team,
        org_id: org.to_owned(),
        version: appended.next_expected_version,
    })
}
