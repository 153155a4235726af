//! The one order routing's transactions take row locks in, so no two of them ever wait on each
//! other in a cycle:
//!
//! | step | rows | taken by |
//! |---|---|---|
//! | 1 | the call's `routing_calls` row | a reservation ([`call_row`]); the call's end (`call_feed`) |
//! | 2 | the call's `routing_queue` row | reserve, accept, a lapsing reservation, a supervisor's pull ([`queue_row`]); release (its `DELETE`); dispatch (`SKIP LOCKED`) |
//! | 3 | the agent's `agents_view` row | every agent command (`store::lock_agent`, `store::change_agent`); offers (`SKIP LOCKED`) |
//! | 4 | the agent's stream | the append inside `store::change_agent` ([ADR 7](../../../docs/adr/0007-routing-under-row-locks.md)) |
//!
//! A transaction may skip a step, never take an earlier one after a later one: one that finds
//! out only under a later lock which earlier row it needs starts again (or leaves the work to
//! the next sweep) rather than reaching back.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::queue::Waiting;
use comms_eventstore::unit_of_work::Failure;

use crate::store::Result;

/// Step 1: the call's routing row, created if this is the first the service hears of the call
/// (so an end being recorded at this very moment, its row not yet committed, is waited for).
/// Returns the organization it belongs to and when its end was followed.
pub(crate) async fn call_row(
    tx: &mut PgConnection,
    org: &str,
    call: Uuid,
) -> Result<(String, Option<DateTime<Utc>>)> {
    sqlx::query_as(
        "INSERT INTO routing_calls (call_id, org_id) VALUES ($1, $2)
         ON CONFLICT (call_id) DO UPDATE SET org_id = routing_calls.org_id
         RETURNING org_id, ended_at",
    )
    .bind(call)
    .bind(org)
    .fetch_one(&mut *tx)
    .await
    .map_err(Failure::from)
}

/// Step 2: the call's place in the queue, if it has one.
pub(crate) async fn queue_row(tx: &mut PgConnection, call: Uuid) -> Result<Option<Waiting>> {
    sqlx::query_as("SELECT * FROM routing_queue WHERE call_id = $1 FOR UPDATE")
        .bind(call)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Failure::from)
}
