//! The one order the campaigns service's transactions take locks in, so no two of them ever wait
//! on each other in a cycle (as `comms_agents::lock_order` is routing's):
//!
//! | step | lock | taken by |
//! |---|---|---|
//! | 1 | a campaign call ([`call`]) | the dialer connecting an agent or abandoning (`Dialer::route_answered`); the feed recording the call's end or its wrap-up |
//! | 2 | a contact's `contacts_view` row (`FOR UPDATE`) | contact upserts: the API, imports, the CRM feed (`store::contacts::upsert`, `sync_from_crm`) |
//! | 3 | a campaign ([`campaign`]) | every campaign command (`store::campaigns::change`); the dialer placing calls; previews; the feed finishing a call (after step 1) or following a trigger |
//! | 4 | the streams appended to | the append inside each change (ADR 7, ADR 12) |
//!
//! A transaction may skip a step, never take an earlier one after a later one: the feed, finding
//! no row for a call, takes the campaign's lock to wait for the dialer placing it, but it took
//! the call's lock first (the lock is on the call's id, row or not).
//!
//! Calls and campaigns are advisory locks rather than row locks: a row lock gives the
//! transaction an id at once, and the dialer holds both across its requests to the calls and
//! agents services, while an open transaction id holds back every reader of the log (ADR 1,
//! ADR 10). An advisory lock gives it none; the id comes with the first write, after the request.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::campaigns::{self, CampaignCall, CampaignView};
use crate::store::{Result, Versioned};

/// Step 1: a campaign's call, locked for this transaction: the dialer connecting an agent and the
/// feed recording the call's end (or its wrap-up) take it in turn, so an outcome never misses an
/// agent just connected. `None` when no campaign has placed the call (yet).
pub async fn call(conn: &mut PgConnection, call_id: Uuid) -> Result<Option<CampaignCall>> {
    advisory_lock(&mut *conn, &format!("comms-campaign-call:{call_id}")).await?;
    campaigns::find_call(conn, call_id).await
}

/// Step 3: the campaign, locked for this transaction; another organization's reads as absent.
pub async fn campaign(
    conn: &mut PgConnection,
    org: &str,
    id: Uuid,
) -> Result<Option<Versioned<CampaignView>>> {
    advisory_lock(&mut *conn, &format!("comms-campaign:{id}")).await?;
    campaigns::find(conn, org, id).await
}

/// Takes the transaction-scoped advisory lock named `name`.
async fn advisory_lock(conn: &mut PgConnection, name: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}
