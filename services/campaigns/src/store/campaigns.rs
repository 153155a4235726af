//! Campaigns: `campaign-<uuid>` streams, `campaigns_view` (the folded campaign and the pacer's
//! measurements), `campaign_contacts` (each contact's progress) and `campaign_calls` (calls in
//! progress), all written in the transaction that appends the campaign's events.

use chrono::{DateTime, Utc};
use comms_eventstore::unit_of_work::Failure;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Result, Versioned, append, expected, refused};
use crate::domain::campaign::{self, Campaign, CampaignEvent, Command, Member, Status};
use crate::domain::dialing::{DialState, Final};
use crate::domain::pacing::Measured;
use crate::lock_order;

pub const STREAMS: &str = "campaign";

/// A campaign as its read model holds it: the aggregate and what the pacer has measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignView {
    pub campaign: Campaign,
    pub measured: Measured,
}

type Row = (i64, Json<Campaign>, Json<Measured>);

fn versioned((version, campaign, measured): Row) -> Versioned<CampaignView> {
    Versioned {
        value: CampaignView {
            campaign: campaign.0,
            measured: measured.0,
        },
        version: version as u64,
    }
}

/// The campaign, if the organization has it (unlocked: see [`lock_order::campaign`]).
pub(crate) async fn find(
    conn: &mut PgConnection,
    org: &str,
    id: Uuid,
) -> Result<Option<Versioned<CampaignView>>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT version, campaign, measured FROM campaigns_view WHERE campaign_id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
    ?;
    Ok(row.map(versioned))
}

pub async fn get(conn: &mut PgConnection, org: &str, id: Uuid) -> Result<Versioned<CampaignView>> {
    find(conn, org, id)
        .await?
        .ok_or_else(|| Failure::not_found("campaign", id))
}

/// Runs `command` against campaign `id` in `tx`; returns the campaign as it now is.
pub async fn change(
    tx: &mut PgConnection,
    org: &str,
    actor: &str,
    id: Uuid,
    command: Command,
) -> Result<Versioned<CampaignView>> {
    let current = lock_order::campaign(&mut *tx, org, id).await?;
    let events = campaign::handle(current.as_ref().map(|c| &c.value.campaign), command)
        .map_err(|e| refused(e, "campaign", id))?;
    if events.is_empty() {
        return current.ok_or_else(|| Failure::not_found("campaign", id));
    }
    let version = append(
        tx,
        org,
        actor,
        (STREAMS, id),
        expected(current.as_ref().map(|c| c.version)),
        &events,
    )
    .await?;
    let (mut state, mut measured) = match current {
        Some(c) => (Some(c.value.campaign), c.value.measured),
        None => (None, Measured::default()),
    };
    for event in &events {
        state = Some(campaign::apply(state, event));
        follow(tx, org, id, event, &mut measured).await?;
    }
    let campaign = state.expect("a command that succeeds leaves a campaign");
    sqlx::query(
        "INSERT INTO campaigns_view (campaign_id, org_id, status, campaign, measured, created_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (campaign_id) DO UPDATE SET status = $3, campaign = $4, measured = $5, version = $7",
    )
    .bind(id)
    .bind(org)
    .bind(campaign.status.as_str())
    .bind(Json(&campaign))
    .bind(Json(&measured))
    .bind(campaign.created_at)
    .bind(version as i64)
    .execute(&mut *tx)
    .await
    ?;
    Ok(Versioned {
        value: CampaignView { campaign, measured },
        version,
    })
}

/// Keeps the contacts' progress, the calls in progress and the measurements in step with `event`.
async fn follow(
    tx: &mut PgConnection,
    org: &str,
    campaign_id: Uuid,
    event: &CampaignEvent,
    measured: &mut Measured,
) -> Result<()> {
    match event {
        CampaignEvent::ContactsAdded(added) => {
            let contacts = &added.contacts;
            let ids: Vec<Uuid> = contacts.iter().map(|m| m.contact_id).collect();
            let priorities: Vec<i32> = contacts.iter().map(|m| m.priority).collect();
            // A contact added again keeps their progress and first priority.
            sqlx::query(
                "INSERT INTO campaign_contacts (campaign_id, contact_id, org_id, priority, state)
                 SELECT $1, contact_id, $2, priority, $5
                 FROM UNNEST($3::uuid[], $4::int[]) WITH ORDINALITY AS m(contact_id, priority, n)
                 ORDER BY n
                 ON CONFLICT DO NOTHING",
            )
            .bind(campaign_id)
            .bind(org)
            .bind(&ids)
            .bind(&priorities)
            .bind(Json(DialState::default()))
            .execute(&mut *tx)
            .await?;
        }
        CampaignEvent::CallPlaced(placed) => {
            let (contact_id, call_id, at) = (placed.contact_id, placed.call_id, placed.at);
            let mut state = progress(tx, campaign_id, contact_id).await?;
            state.dialed(call_id, at);
            save_progress(tx, campaign_id, contact_id, &state).await?;
            end_preview(tx, call_id).await?;
            sqlx::query(
                "INSERT INTO campaign_calls (call_id, campaign_id, contact_id, org_id, placed_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(call_id)
            .bind(campaign_id)
            .bind(contact_id)
            .bind(org)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        CampaignEvent::CallFinished(finished) => {
            let contact_id = finished.contact_id;
            let mut state = progress(tx, campaign_id, contact_id).await?;
            state.calling = None;
            state.last_outcome = Some(finished.outcome);
            state.retry_at = finished.retry_at;
            state.done = finished.done;
            save_progress(tx, campaign_id, contact_id, &state).await?;
            sqlx::query("UPDATE campaign_calls SET finished_at = $2 WHERE call_id = $1")
                .bind(finished.call_id)
                .bind(finished.at)
                .execute(&mut *tx)
                .await?;
            measured.record(
                finished.outcome,
                finished.ring_seconds,
                finished.talk_seconds,
            );
        }
        CampaignEvent::WrapUpRecorded(wrap_up) => {
            sqlx::query("UPDATE campaign_calls SET wrapped_up_at = $2 WHERE call_id = $1")
                .bind(wrap_up.call_id)
                .bind(wrap_up.at)
                .execute(&mut *tx)
                .await?;
            measured.record_wrap_up(wrap_up.seconds);
        }
        CampaignEvent::ContactExcluded(excluded) => {
            let contact_id = excluded.contact_id;
            let mut state = progress(tx, campaign_id, contact_id).await?;
            state.done = Some(Final::DoNotCall);
            save_progress(tx, campaign_id, contact_id, &state).await?;
        }
        CampaignEvent::PreviewOffered(offered) => {
            let (contact_id, call_id) = (offered.contact_id, offered.call_id);
            let (agent_id, at) = (offered.agent_id, offered.at);
            let mut state = progress(tx, campaign_id, contact_id).await?;
            state.calling = Some(call_id);
            save_progress(tx, campaign_id, contact_id, &state).await?;
            sqlx::query(
                "INSERT INTO campaign_previews (call_id, campaign_id, contact_id, org_id, agent_id, offered_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(call_id)
            .bind(campaign_id)
            .bind(contact_id)
            .bind(org)
            .bind(agent_id)
            .bind(at)
            .execute(&mut *tx)
            .await
            ?;
        }
        CampaignEvent::PreviewWithdrawn(withdrawn) => {
            let contact_id = withdrawn.contact_id;
            let mut state = progress(tx, campaign_id, contact_id).await?;
            state.calling = None;
            state.retry_at = Some(withdrawn.retry_at);
            save_progress(tx, campaign_id, contact_id, &state).await?;
            end_preview(tx, withdrawn.call_id).await?;
        }
        _ => {}
    }
    Ok(())
}

/// A contact's progress in the campaign (locked by the campaign row's lock).
pub async fn progress(
    conn: &mut PgConnection,
    campaign_id: Uuid,
    contact_id: Uuid,
) -> Result<DialState> {
    let state: Option<Json<DialState>> = sqlx::query_scalar(
        "SELECT state FROM campaign_contacts WHERE campaign_id = $1 AND contact_id = $2",
    )
    .bind(campaign_id)
    .bind(contact_id)
    .fetch_optional(conn)
    .await?;
    state
        .map(|s| s.0)
        .ok_or_else(|| Failure::not_found("campaign contact", contact_id))
}

async fn save_progress(
    conn: &mut PgConnection,
    campaign_id: Uuid,
    contact_id: Uuid,
    state: &DialState,
) -> Result<()> {
    let done = state.done.map(|d| match d {
        Final::Reached => "reached",
        Final::Exhausted { .. } => "exhausted",
        Final::DoNotCall => "do_not_call",
    });
    sqlx::query(
        "UPDATE campaign_contacts SET call_id = $3, retry_at = $4, done = $5, state = $6
         WHERE campaign_id = $1 AND contact_id = $2",
    )
    .bind(campaign_id)
    .bind(contact_id)
    .bind(state.calling)
    .bind(state.retry_at)
    .bind(done)
    .bind(Json(state))
    .execute(conn)
    .await?;
    Ok(())
}

/// A page of the organization's campaigns, newest first, after the cursor `(created_at, id)`.
pub async fn list(
    conn: &mut PgConnection,
    org: &str,
    status: Option<Status>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CampaignView>> {
    let (at, id) = after.unzip();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT version, campaign, measured FROM campaigns_view
         WHERE org_id = $1 AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, campaign_id) < ($3, $4))
         ORDER BY created_at DESC, campaign_id DESC LIMIT $5",
    )
    .bind(org)
    .bind(status.map(Status::as_str))
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| versioned(r).value).collect())
}

/// Every organization's running campaigns, and those with calls still in progress: what the
/// dialer attends to.
pub async fn active(conn: &mut PgConnection) -> Result<Vec<(String, Uuid)>> {
    sqlx::query_as(
        "SELECT org_id, campaign_id FROM campaigns_view WHERE status = 'running'
         UNION
         SELECT DISTINCT org_id, campaign_id FROM campaign_calls WHERE finished_at IS NULL",
    )
    .fetch_all(conn)
    .await
    .map_err(Failure::from)
}

/// The organization's campaigns that a `event_type` event may trigger.
pub async fn triggered_by(
    conn: &mut PgConnection,
    org: &str,
    event_type: &str,
) -> Result<Vec<Campaign>> {
    let rows: Vec<(Json<Campaign>,)> = sqlx::query_as(
        "SELECT campaign FROM campaigns_view
         WHERE org_id = $1 AND status IN ('draft', 'running', 'paused')
           AND campaign -> 'settings' -> 'trigger' ->> 'event' = $2",
    )
    .bind(org)
    .bind(event_type)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(c,)| c.0).collect())
}

/// Where a scan of candidates got to: `(priority, added_seq)` of the last one read.
pub type ScanPosition = (i32, i64);

/// Contacts that may be due, best first (highest priority, then the order added), after `after`:
/// not done, not being called, retry due by `now`, and in their calling window (every zone they
/// may be in among `open_zones`), so those outside it never hide dialable ones behind them.
/// Contacts whose own record says never to call them (`Contact::own_do_not_call`) come whatever
/// the hour, so the caller excludes them at once. Do-not-call lists are checked by the caller,
/// contact by contact, and the window again.
pub async fn candidates(
    conn: &mut PgConnection,
    campaign_id: Uuid,
    now: DateTime<Utc>,
    open_zones: &[&str],
    after: Option<ScanPosition>,
    limit: i64,
) -> Result<Vec<(ScanPosition, Uuid, DialState)>> {
    let (priority, seq) = after.unzip();
    let rows: Vec<(i32, i64, Uuid, Json<DialState>)> = sqlx::query_as(
        "SELECT cc.priority, cc.added_seq, cc.contact_id, cc.state
           FROM campaign_contacts cc JOIN contacts_view c USING (contact_id)
         WHERE cc.campaign_id = $1 AND cc.done IS NULL AND cc.call_id IS NULL
           AND (cc.retry_at IS NULL OR cc.retry_at <= $2)
           AND ($3::int IS NULL OR (cc.priority, -cc.added_seq) < ($3, -$4::bigint))
           AND (c.zones IS NULL OR (cardinality(c.zones) > 0 AND c.zones <@ $6::text[])
                OR (c.contact->>'do_not_call')::boolean OR c.contact->>'consent' = 'false')
         ORDER BY cc.priority DESC, cc.added_seq LIMIT $5",
    )
    .bind(campaign_id)
    .bind(now)
    .bind(priority)
    .bind(seq)
    .bind(limit)
    .bind(open_zones)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(priority, seq, id, state)| ((priority, seq), id, state.0))
        .collect())
}

/// Contacts not yet final, and calls in progress.
pub async fn open_work(conn: &mut PgConnection, campaign_id: Uuid) -> Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM campaign_contacts WHERE campaign_id = $1 AND done IS NULL),
                (SELECT count(*) FROM campaign_calls WHERE campaign_id = $1 AND finished_at IS NULL)",
    )
    .bind(campaign_id)
    .fetch_one(conn)
    .await
    .map_err(Failure::from)
}

/// A campaign's contacts with their progress, in dialing order, after position `after`.
pub async fn members(
    conn: &mut PgConnection,
    org: &str,
    campaign_id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<(i64, Member, DialState)>> {
    let rows: Vec<(i64, Uuid, i32, Json<DialState>)> = sqlx::query_as(
        "SELECT added_seq, contact_id, priority, state FROM campaign_contacts
         WHERE campaign_id = $1 AND org_id = $2 AND ($3::bigint IS NULL OR added_seq > $3)
         ORDER BY added_seq LIMIT $4",
    )
    .bind(campaign_id)
    .bind(org)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, contact_id, priority, state)| {
            (
                seq,
                Member {
                    contact_id,
                    priority,
                },
                state.0,
            )
        })
        .collect())
}

/// A call of a campaign in progress.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignCall {
    pub call_id: Uuid,
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub org_id: String,
    pub placed_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub agent_id: Option<Uuid>,
    pub abandoned: bool,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the agent on a connected call finished its wrap-up (recorded once).
    pub wrapped_up_at: Option<DateTime<Utc>>,
    /// Answered, and answering-machine detection has not said who answered yet.
    pub awaiting_verdict: bool,
    /// A machine (or a fax) answered.
    pub machine: bool,
    /// A machine answered and the carrier will say when its greeting ends (its beep).
    pub awaiting_beep: bool,
}

/// The call in progress, if it is a campaign's (unlocked: see [`lock_order::call`]).
pub(crate) async fn find_call(
    conn: &mut PgConnection,
    call_id: Uuid,
) -> Result<Option<CampaignCall>> {
    sqlx::query_as("SELECT * FROM campaign_calls WHERE call_id = $1")
        .bind(call_id)
        .fetch_optional(conn)
        .await
        .map_err(Failure::from)
}

/// The campaign's calls in progress.
pub async fn calls(conn: &mut PgConnection, campaign_id: Uuid) -> Result<Vec<CampaignCall>> {
    sqlx::query_as("SELECT * FROM campaign_calls WHERE campaign_id = $1 AND finished_at IS NULL")
        .bind(campaign_id)
        .fetch_all(conn)
        .await
        .map_err(Failure::from)
}

/// Records what happened to a call in progress (answered, connected, abandoned).
pub async fn mark_call(
    conn: &mut PgConnection,
    call_id: Uuid,
    answered_at: Option<DateTime<Utc>>,
    agent_id: Option<Uuid>,
    abandoned: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE campaign_calls
         SET answered_at = COALESCE(answered_at, $2), agent_id = COALESCE(agent_id, $3),
             abandoned = abandoned OR $4
         WHERE call_id = $1",
    )
    .bind(call_id)
    .bind(answered_at)
    .bind(agent_id)
    .bind(abandoned)
    .execute(conn)
    .await?;
    Ok(())
}

/// An answered call waits for answering-machine detection before it is routed.
pub async fn await_verdict(conn: &mut PgConnection, call_id: Uuid) -> Result<()> {
    sqlx::query("UPDATE campaign_calls SET awaiting_verdict = true WHERE call_id = $1")
        .bind(call_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Who answered: a machine (whose beep the carrier may still report: `awaiting_beep`), or a
/// person, whose wait for an agent (the hold) starts `at`, when the dialer could first know a
/// person is there.
pub async fn heard(
    conn: &mut PgConnection,
    call_id: Uuid,
    machine: bool,
    awaiting_beep: bool,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE campaign_calls
         SET awaiting_verdict = false, machine = $2, awaiting_beep = $2 AND $3,
             answered_at = CASE WHEN $2 THEN answered_at ELSE $4 END
         WHERE call_id = $1",
    )
    .bind(call_id)
    .bind(machine)
    .bind(awaiting_beep)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The machine's greeting ended (at its beep, or the carrier stopped listening for one).
pub async fn greeting_ended(conn: &mut PgConnection, call_id: Uuid) -> Result<()> {
    sqlx::query("UPDATE campaign_calls SET awaiting_beep = false WHERE call_id = $1")
        .bind(call_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Those of `ids` not on the campaign's list yet, in the order given.
pub async fn not_yet_members(
    conn: &mut PgConnection,
    campaign_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Uuid>> {
    let members: Vec<Uuid> = sqlx::query_scalar(
        "SELECT contact_id FROM campaign_contacts WHERE campaign_id = $1 AND contact_id = ANY($2)",
    )
    .bind(campaign_id)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(ids
        .iter()
        .filter(|id| !members.contains(id))
        .copied()
        .collect())
}

async fn end_preview(conn: &mut PgConnection, call_id: Uuid) -> Result<()> {
    sqlx::query("DELETE FROM campaign_previews WHERE call_id = $1")
        .bind(call_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A contact shown to an agent, waiting for them to accept or skip.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Preview {
    pub call_id: Uuid,
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub org_id: String,
    pub agent_id: Uuid,
    pub offered_at: DateTime<Utc>,
}

/// The campaign's previews waiting for an agent.
pub async fn previews(conn: &mut PgConnection, campaign_id: Uuid) -> Result<Vec<Preview>> {
    sqlx::query_as("SELECT * FROM campaign_previews WHERE campaign_id = $1")
        .bind(campaign_id)
        .fetch_all(conn)
        .await
        .map_err(Failure::from)
}

/// The preview shown to `agent`, if any.
pub async fn preview_for(
    conn: &mut PgConnection,
    org: &str,
    agent: Uuid,
) -> Result<Option<Preview>> {
    sqlx::query_as("SELECT * FROM campaign_previews WHERE org_id = $1 AND agent_id = $2")
        .bind(org)
        .bind(agent)
        .fetch_optional(conn)
        .await
        .map_err(Failure::from)
}

/// The preview of `call_id` in `org`, if any.
pub async fn preview(conn: &mut PgConnection, org: &str, call_id: Uuid) -> Result<Option<Preview>> {
    sqlx::query_as("SELECT * FROM campaign_previews WHERE org_id = $1 AND call_id = $2")
        .bind(org)
        .bind(call_id)
        .fetch_optional(conn)
        .await
        .map_err(Failure::from)
}
