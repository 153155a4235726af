//! Agent analytics from `comms.agent.*`: the time each agent spends in each state per UTC day,
//! each spell in a state (for measures over any interval: occupancy, wrap-up), the calls they
//! handle, the ratios built from those, and each agent's name. Each state-entering event closes
//! the spell of the state before it; an event older than the last one applied (by stream
//! position) changes nothing, so redeliveries and late arrivals are harmless.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use comms_bus::{Envelope, HandleError};
use comms_events::agent::{AgentEvent, AgentState};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// States in which the agent is handling a call.
pub(crate) const HANDLING: [&str; 3] = ["reserved", "busy", "wrap_up"];

/// A state an agent enters: when, and the call it is for (reserved, busy, wrap-up).
struct Entered {
    agent_id: Uuid,
    state: AgentState,
    call_id: Option<Uuid>,
    at: DateTime<Utc>,
}

/// The state an event enters; `None` for events that are not timed (profile, team, a
/// requested next state).
fn entered(event: AgentEvent) -> Option<Entered> {
    let (agent_id, state, call_id, at) = match event {
        AgentEvent::Created(e) => (e.agent_id, AgentState::Offline, None, e.created_at),
        AgentEvent::Available(e) => (e.agent_id, AgentState::Available, None, e.at),
        AgentEvent::Reserved(e) => (e.agent_id, AgentState::Reserved, Some(e.call_id), e.at),
        AgentEvent::Busy(e) => (e.agent_id, AgentState::Busy, Some(e.call_id), e.at),
        AgentEvent::WrapUp(e) => (e.agent_id, AgentState::WrapUp, Some(e.call_id), e.at),
        AgentEvent::Break(e) => (e.agent_id, AgentState::Break, None, e.at),
        AgentEvent::Away(e) => (e.agent_id, AgentState::Away, None, e.at),
        AgentEvent::Offline(e) => (e.agent_id, AgentState::Offline, None, e.at),
        AgentEvent::ProfileUpdated(_)
        | AgentEvent::TeamChanged(_)
        | AgentEvent::NextStateRequested(_) => return None,
    };
    Some(Entered {
        agent_id,
        state,
        call_id,
        at,
    })
}

fn retry(error: sqlx::Error) -> HandleError {
    error.into()
}

/// The agent and the name it has from this event on, for events that set one.
fn named(event: &AgentEvent) -> Option<(Uuid, &str)> {
    match event {
        AgentEvent::Created(e) => Some((e.agent_id, &e.profile.name)),
        AgentEvent::ProfileUpdated(e) => e.change.name.as_deref().map(|n| (e.agent_id, n)),
        _ => None,
    }
}

/// Applies one agent event: its name, and the time of the state it enters (the team's and a
/// requested next state are not timed).
pub async fn apply(conn: &mut PgConnection, envelope: &Envelope) -> Result<(), HandleError> {
    let event = envelope.decode::<AgentEvent>()?;
    let reject = |why: String| HandleError::Reject(format!("{}: {why}", envelope.event_type));
    let position = envelope
        .metadata
        .stream_position
        .ok_or_else(|| reject("no stream position".into()))?;
    let org = envelope.organization_id.as_str();
    if let Some((agent_id, name)) = named(&event) {
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT org_id FROM analytics_agent_names WHERE agent_id = $1 FOR UPDATE",
        )
        .bind(agent_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(retry)?;
        if owner.is_some_and(|owner| owner != org) {
            return Err(reject(format!(
                "agent {agent_id} belongs to another organization"
            )));
        }
        sqlx::query(
            "INSERT INTO analytics_agent_names (agent_id, org_id, name, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (agent_id) DO UPDATE SET name = $3, position = $4
             WHERE analytics_agent_names.position < $4",
        )
        .bind(agent_id)
        .bind(org)
        .bind(name)
        .bind(position)
        .execute(&mut *conn)
        .await
        .map_err(retry)?;
    }
    let Some(Entered {
        agent_id,
        state,
        call_id,
        at,
    }) = entered(event)
    else {
        return Ok(());
    };
    let state = state.as_str();
    let current: Option<Current> = sqlx::query_as(
        "SELECT org_id, state, call_id, since, position FROM analytics_agent_current
         WHERE agent_id = $1 FOR UPDATE",
    )
    .bind(agent_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(retry)?;
    if let Some(Current {
        org_id: owner,
        state: previous,
        call_id: previous_call,
        since,
        position: last,
    }) = current
    {
        if owner != org {
            return Err(reject(format!(
                "agent {} belongs to another organization",
                agent_id
            )));
        }
        if position <= last {
            return Ok(());
        }
        add_time(conn, org, agent_id, &previous, since, at).await?;
        add_spell(conn, org, agent_id, &previous, previous_call, since, at).await?;
    }
    sqlx::query(
        "INSERT INTO analytics_agent_current (agent_id, org_id, state, call_id, since, position)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (agent_id) DO UPDATE SET state = $3, call_id = $4, since = $5, position = $6",
    )
    .bind(agent_id)
    .bind(org)
    .bind(state)
    .bind(call_id)
    .bind(at)
    .bind(position)
    .execute(&mut *conn)
    .await
    .map_err(retry)?;
    // A call handled: its wrap-up starts when it ends.
    if state == "wrap_up" {
        sqlx::query(
            "INSERT INTO analytics_agent_calls (org_id, day, agent_id, calls_handled) VALUES ($1, $2, $3, 1)
             ON CONFLICT (org_id, day, agent_id) DO UPDATE SET calls_handled = analytics_agent_calls.calls_handled + 1",
        )
        .bind(org)
        .bind(at.date_naive())
        .bind(agent_id)
        .execute(&mut *conn)
        .await
        .map_err(retry)?;
    }
    Ok(())
}

/// Adds `[from, to)` in `state` to the agent's days, split at UTC midnights.
async fn add_time(
    conn: &mut PgConnection,
    org: &str,
    agent: Uuid,
    state: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), HandleError> {
    let mut start = from;
    while start < to {
        let midnight = (start.date_naive() + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        let end = to.min(midnight);
        let seconds = (end - start).num_milliseconds() as f64 / 1000.0;
        sqlx::query(
            "INSERT INTO analytics_agent_time (org_id, day, agent_id, state, seconds) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (org_id, day, agent_id, state) DO UPDATE SET seconds = analytics_agent_time.seconds + $5",
        )
        .bind(org)
        .bind(start.date_naive())
        .bind(agent)
        .bind(state)
        .bind(seconds)
        .execute(&mut *conn)
        .await
        .map_err(retry)?;
        start = end;
    }
    Ok(())
}

/// The state an agent is in, as analytics last applied it.
#[derive(sqlx::FromRow)]
struct Current {
    org_id: String,
    state: String,
    call_id: Option<Uuid>,
    since: DateTime<Utc>,
    position: i64,
}

/// Records the agent's spell in `state` over `[from, to)`, for measures over any interval
/// (occupancy, a call's wrap-up). A spell of no length (reserved and put on the call at once)
/// is left out.
async fn add_spell(
    conn: &mut PgConnection,
    org: &str,
    agent: Uuid,
    state: &str,
    call: Option<Uuid>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), HandleError> {
    if from >= to {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO analytics_agent_spells (agent_id, org_id, state, call_id, started_at, ended_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(agent)
    .bind(org)
    .bind(state)
    .bind(call)
    .bind(from)
    .bind(to)
    .execute(conn)
    .await
    .map_err(retry)?;
    Ok(())
}

/// One agent's day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentDay {
    pub agent_id: Uuid,
    /// Empty when analytics has not seen the agent created.
    pub name: String,
    pub seconds_by_state: BTreeMap<String, f64>,
    pub calls_handled: i64,
    /// The callers' sentiment in the agent's calls that started that day (UTC) and were judged.
    pub sentiment_calls: i64,
    pub negative_calls: i64,
    pub average_sentiment: Option<f64>,
}

impl AgentDay {
    fn sum(&self, states: &[&str]) -> f64 {
        states
            .iter()
            .filter_map(|s| self.seconds_by_state.get(*s))
            .sum()
    }

    fn handling(&self) -> f64 {
        self.sum(&HANDLING)
    }

    fn logged_in(&self) -> f64 {
        self.seconds_by_state
            .iter()
            .filter(|(s, _)| s.as_str() != "offline")
            .map(|(_, v)| v)
            .sum()
    }

    pub fn average_handle_seconds(&self) -> f64 {
        if self.calls_handled == 0 {
            0.0
        } else {
            self.sum(&["busy", "wrap_up"]) / self.calls_handled as f64
        }
    }

    pub fn occupancy(&self) -> f64 {
        ratio(self.handling(), self.handling() + self.sum(&["available"]))
    }

    pub fn utilization(&self) -> f64 {
        ratio(self.handling(), self.logged_in())
    }
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// Every agent of `org` with time or calls on `day`; the current state counts up to `now`.
pub async fn report(
    pool: &PgPool,
    org: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<AgentDay>, sqlx::Error> {
    let start = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let end = start + Duration::days(1);
    let mut days: BTreeMap<Uuid, AgentDay> = BTreeMap::new();
    let closed: Vec<(Uuid, String, f64)> = sqlx::query_as(
        "SELECT agent_id, state, seconds FROM analytics_agent_time WHERE org_id = $1 AND day = $2",
    )
    .bind(org)
    .bind(day)
    .fetch_all(pool)
    .await?;
    let open: Vec<(Uuid, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT agent_id, state, since FROM analytics_agent_current WHERE org_id = $1 AND since < $2")
            .bind(org)
            .bind(end.min(now))
            .fetch_all(pool)
            .await?;
    let open = open.into_iter().filter_map(|(agent, state, since)| {
        let seconds = (end.min(now) - since.max(start)).num_milliseconds() as f64 / 1000.0;
        (seconds > 0.0).then_some((agent, state, seconds))
    });
    for (agent, state, seconds) in closed.into_iter().chain(open) {
        let entry = days.entry(agent).or_insert_with(|| AgentDay {
            agent_id: agent,
            ..Default::default()
        });
        *entry.seconds_by_state.entry(state).or_default() += seconds;
    }
    let calls: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT agent_id, calls_handled FROM analytics_agent_calls WHERE org_id = $1 AND day = $2",
    )
    .bind(org)
    .bind(day)
    .fetch_all(pool)
    .await?;
    for (agent, handled) in calls {
        days.entry(agent)
            .or_insert_with(|| AgentDay {
                agent_id: agent,
                ..Default::default()
            })
            .calls_handled = i64::from(handled);
    }
    let sentiment: Vec<(Uuid, i64, i64, Option<f64>)> = sqlx::query_as(
        "SELECT c.agent_id, count(*), count(*) FILTER (WHERE s.label = 'negative'), avg(s.score)
         FROM analytics_calls c
         JOIN analytics_call_sentiment s
           ON s.call_id = c.call_id AND s.organization_id = c.organization_id
         WHERE c.organization_id = $1 AND c.agent_id IS NOT NULL AND s.score IS NOT NULL
           AND c.started_at >= $2 AND c.started_at < $3
         GROUP BY c.agent_id",
    )
    .bind(org)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    for (agent, judged, negative, average) in sentiment {
        let day = days.entry(agent).or_insert_with(|| AgentDay {
            agent_id: agent,
            ..Default::default()
        });
        day.sentiment_calls = judged;
        day.negative_calls = negative;
        day.average_sentiment = average;
    }
    let ids: Vec<Uuid> = days.keys().copied().collect();
    let names: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT agent_id, name FROM analytics_agent_names WHERE org_id = $1 AND agent_id = ANY($2)",
    )
    .bind(org)
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    for (agent, name) in names {
        if let Some(day) = days.get_mut(&agent) {
            day.name = name;
        }
    }
    Ok(days.into_values().collect())
}

/// The organization's utilization today (handling over logged-in time, all agents together),
/// exported as `comms_agent_utilization{organization}`.
pub async fn refresh_utilization(pool: &PgPool, org: &str) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let agents = report(pool, org, now.date_naive(), now).await?;
    let handling: f64 = agents.iter().map(AgentDay::handling).sum();
    let logged_in: f64 = agents.iter().map(AgentDay::logged_in).sum();
    metrics::gauge!("comms_agent_utilization", "organization" => org.to_owned())
        .set(ratio(handling, logged_in));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_their_definitions() {
        let day = AgentDay {
            agent_id: Uuid::nil(),
            name: "Ada".into(),
            seconds_by_state: [
                ("available", 300.0),
                ("busy", 500.0),
                ("wrap_up", 100.0),
                ("break", 100.0),
                ("offline", 1000.0),
            ]
            .into_iter()
            .map(|(s, v)| (s.to_owned(), v))
            .collect(),
            calls_handled: 3,
            ..Default::default()
        };
        assert_eq!(day.average_handle_seconds(), 200.0);
        assert_eq!(day.occupancy(), 600.0 / 900.0);
        assert_eq!(day.utilization(), 600.0 / 1000.0);
        assert_eq!(AgentDay::default().occupancy(), 0.0);
    }
}
