//! The calls read model (`calls_view`): written in the append transaction, read by Get/List.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Call, CallStatus};

/// A call as the read model holds it.
#[derive(Debug, Clone)]
pub struct CallView {
    pub call: Call,
    pub organization_id: String,
    pub version: u64,
}

pub async fn upsert(conn: &mut PgConnection, view: &CallView) -> Result<(), sqlx::Error> {
    let call = &view.call;
    sqlx::query(
        "INSERT INTO calls_view (call_id, organization_id, status, agent_id, campaign_id,
                                 created_at, version, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (call_id) DO UPDATE
         SET status = EXCLUDED.status, agent_id = EXCLUDED.agent_id, version = EXCLUDED.version,
             state = EXCLUDED.state",
    )
    .bind(call.id)
    .bind(&view.organization_id)
    .bind(call.status.as_str())
    .bind(call.agent_id)
    .bind(call.campaign_id)
    .bind(call.created_at)
    .bind(view.version as i64)
    .bind(sqlx::types::Json(call))
    .execute(conn)
    .await?;
    Ok(())
}

type Row = (String, i64, sqlx::types::Json<Call>);

fn from_row((organization_id, version, state): Row) -> CallView {
    CallView {
        call: state.0,
        organization_id,
        version: version as u64,
    }
}

/// The call, if it exists in `org`.
pub async fn get(pool: &PgPool, org: &str, id: Uuid) -> Result<Option<CallView>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT organization_id, version, state FROM calls_view
         WHERE call_id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(from_row))
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub statuses: Vec<CallStatus>,
    pub agent_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

pub use comms_proto::page::Cursor;

/// One page of `org`'s calls, newest first, and the cursor of the next page if there is one.
pub async fn list(
    pool: &PgPool,
    org: &str,
    filter: &ListFilter,
    after: Option<Cursor>,
    page_size: usize,
) -> Result<(Vec<CallView>, Option<Cursor>), sqlx::Error> {
    let statuses: Option<Vec<&str>> =
        (!filter.statuses.is_empty()).then(|| filter.statuses.iter().map(|s| s.as_str()).collect());
    let mut rows: Vec<Row> = sqlx::query_as(
        "SELECT organization_id, version, state FROM calls_view
         WHERE organization_id = $1
           AND ($2::text[] IS NULL OR status = ANY($2))
           AND ($3::uuid IS NULL OR agent_id = $3)
           AND ($4::uuid IS NULL OR campaign_id = $4)
           AND ($5::timestamptz IS NULL OR created_at >= $5)
           AND ($6::timestamptz IS NULL OR created_at < $6)
           AND ($7::timestamptz IS NULL OR (created_at, call_id) < ($7, $8))
         ORDER BY created_at DESC, call_id DESC
         LIMIT $9",
    )
    .bind(org)
    .bind(statuses)
    .bind(filter.agent_id)
    .bind(filter.campaign_id)
    .bind(filter.created_after)
    .bind(filter.created_before)
    .bind(after.map(|c| c.at))
    .bind(after.map(|c| c.id))
    .bind(page_size as i64 + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() > page_size;
    rows.truncate(page_size);
    let page: Vec<CallView> = rows.into_iter().map(from_row).collect();
    let next = more.then(|| {
        let last = &page.last().expect("a full page").call;
        Cursor {
            at: last.created_at,
            id: last.id,
        }
    });
    Ok((page, next))
}

/// Calls past their deadline: initiated or ringing since before `unanswered_before`, or answered
/// before `answered_before`, as (organization, call, status).
pub async fn stale(
    pool: &PgPool,
    unanswered_before: DateTime<Utc>,
    answered_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(String, Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT organization_id, call_id, status FROM calls_view
         WHERE status IN ('initiated', 'ringing', 'answered')
           AND CASE status
                 WHEN 'answered' THEN (state ->> 'answered_at')::timestamptz < $2
                 ELSE created_at < $1
               END
         LIMIT $3",
    )
    .bind(unanswered_before)
    .bind(answered_before)
    .bind(limit)
    .fetch_all(pool)
    .await
}
