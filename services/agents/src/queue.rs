//! Routing's storage: the calls waiting for an agent (`routing_queue`, ordered by priority then
//! age), who may take one, and what the sweeper finds due. Locks are taken in
//! [`lock_order`](crate::lock_order)'s order by the use cases in `routing`.

use chrono::{DateTime, Utc};
use comms_eventstore::unit_of_work::Failure;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::store::Result;

/// One waiting call, as the queue holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Waiting {
    pub call_id: Uuid,
    pub org_id: String,
    pub priority: i32,
    pub enqueued_at: DateTime<Utc>,
    pub required_skills: Vec<String>,
    pub language: Option<String>,
    /// The agent it is offered to (reserved for it), if any.
    pub offered_to: Option<Uuid>,
    /// The call is answered: the agent it is offered to is put on it at once.
    pub connect_on_offer: bool,
}

/// Puts the call in the queue. Another request for the same call that inserted it first is a
/// lost race: the retry reads its entry.
pub(crate) async fn insert(tx: &mut PgConnection, entry: &Waiting) -> Result<()> {
    sqlx::query(
        "INSERT INTO routing_queue (call_id, org_id, priority, enqueued_at, required_skills, language, connect_on_offer)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.call_id)
    .bind(&entry.org_id)
    .bind(entry.priority)
    .bind(entry.enqueued_at)
    .bind(&entry.required_skills)
    .bind(&entry.language)
    .bind(entry.connect_on_offer)
    .execute(tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Failure::LostRace("request"),
        other => other.into(),
    })?;
    Ok(())
}

/// The agent holding `call` (reserved, busy or wrapping up), if any.
pub(crate) async fn holder(tx: &mut PgConnection, org: &str, call: Uuid) -> Result<Option<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT agent_id FROM agents_view WHERE call_id = $1 AND org_id = $2")
            .bind(call)
            .bind(org)
            .fetch_optional(tx)
            .await?,
    )
}

/// The best available agent for `entry`, its row locked (skipping rows other offers hold): every
/// required skill and the language, highest total proficiency in those skills, then longest idle.
pub(crate) async fn best_agent_for(tx: &mut PgConnection, entry: &Waiting) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT agent_id FROM agents_view
         WHERE org_id = $1 AND state = 'available' AND skills ?& $2
           AND ($3::text IS NULL OR $3 = ANY(languages))
         ORDER BY (SELECT COALESCE(sum((skills ->> s)::int), 0) FROM unnest($2::text[]) s) DESC,
                  state_since, agent_id
         LIMIT 1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(&entry.org_id)
    .bind(&entry.required_skills)
    .bind(&entry.language)
    .fetch_optional(tx)
    .await?)
}

/// The call asks for other skills and another language (a supervisor re-routed it).
pub(crate) async fn requeue(tx: &mut PgConnection, entry: &Waiting) -> Result<()> {
    sqlx::query("UPDATE routing_queue SET required_skills = $2, language = $3 WHERE call_id = $1")
        .bind(entry.call_id)
        .bind(&entry.required_skills)
        .bind(&entry.language)
        .execute(tx)
        .await?;
    Ok(())
}

/// The call is offered to `agent`.
pub(crate) async fn offered(tx: &mut PgConnection, call: Uuid, agent: Uuid) -> Result<()> {
    sqlx::query("UPDATE routing_queue SET offered_to = $2 WHERE call_id = $1")
        .bind(call)
        .bind(agent)
        .execute(tx)
        .await?;
    Ok(())
}

/// An offer to `agent` lapsed: the call is back in its place.
pub(crate) async fn offer_lapsed(tx: &mut PgConnection, call: Uuid, agent: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE routing_queue SET offered_to = NULL WHERE call_id = $1 AND offered_to = $2",
    )
    .bind(call)
    .bind(agent)
    .execute(tx)
    .await?;
    Ok(())
}

/// The call leaves the queue (taken by an agent); `org`, when given, must be its organization.
/// Returns whether it was there.
pub(crate) async fn remove(tx: &mut PgConnection, call: Uuid, org: Option<&str>) -> Result<bool> {
    let removed = sqlx::query(
        "DELETE FROM routing_queue WHERE call_id = $1 AND ($2::text IS NULL OR org_id = $2)",
    )
    .bind(call)
    .bind(org)
    .execute(tx)
    .await?;
    Ok(removed.rows_affected() > 0)
}

/// 1-based place of a waiting call among its organization's waiting calls (0 when not waiting).
pub(crate) async fn position(pool: &PgPool, call: Uuid) -> Result<u32> {
    let position: Option<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM routing_queue w JOIN routing_queue me ON me.call_id = $1
         WHERE w.org_id = me.org_id AND w.offered_to IS NULL
           AND (w.priority > me.priority
                OR (w.priority = me.priority AND (w.enqueued_at, w.call_id) <= (me.enqueued_at, me.call_id)))",
    )
    .bind(call)
    .fetch_optional(pool)
    .await?;
    Ok(position.unwrap_or(0) as u32)
}

/// Up to 100 of `org`'s calls offered to nobody, first to be offered first, their rows locked
/// (skipping those another dispatch holds).
pub(crate) async fn next_waiting(tx: &mut PgConnection, org: &str) -> Result<Vec<Waiting>> {
    Ok(sqlx::query_as(
        "SELECT * FROM routing_queue WHERE org_id = $1 AND offered_to IS NULL
         ORDER BY priority DESC, enqueued_at, call_id
         LIMIT 100
         FOR UPDATE SKIP LOCKED",
    )
    .bind(org)
    .fetch_all(tx)
    .await?)
}

/// The organizations with calls offered to nobody.
pub(crate) async fn organizations_waiting(pool: &PgPool) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT org_id FROM routing_queue WHERE offered_to IS NULL")
            .fetch_all(pool)
            .await?,
    )
}

/// An agent whose reservation or wrap-up is past its deadline: agent, organization, state and
/// the call.
pub(crate) type Due = (Uuid, String, String, Option<Uuid>);

/// Up to 500 agents whose reservation or wrap-up is past its deadline.
pub(crate) async fn due_agents(pool: &PgPool) -> Result<Vec<Due>> {
    Ok(sqlx::query_as(
        "SELECT agent_id, org_id, state, call_id FROM agents_view
         WHERE deadline <= now() AND state IN ('reserved', 'wrap_up')
         LIMIT 500",
    )
    .fetch_all(pool)
    .await?)
}

/// Up to 500 calls (and their organizations) that ended over five seconds ago and still hold a
/// reserved or busy agent.
pub(crate) async fn ended_calls_holding_agents(pool: &PgPool) -> Result<Vec<(Uuid, String)>> {
    Ok(sqlx::query_as(
        "SELECT r.call_id, r.org_id FROM routing_calls r
           JOIN agents_view a ON a.call_id = r.call_id AND a.org_id = r.org_id
         WHERE r.ended_at < now() - interval '5 seconds' AND a.state IN ('reserved', 'busy')
         LIMIT 500",
    )
    .fetch_all(pool)
    .await?)
}
