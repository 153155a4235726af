//! The calls projection: how one `comms.call.*` envelope changes `analytics_calls`.
//!
//! Idempotent and order-tolerant, because the bus delivers at least once and a redelivery can
//! overtake: each event sets only the columns it owns, and the status moves only to an event
//! with a higher stream position.

use chrono::{DateTime, Utc};
use comms_bus::{Envelope, HandleError};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// The live table, or the one a rebuild fills before it is swapped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Live,
    Rebuild,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Self::Live => "analytics_calls",
            Self::Rebuild => "analytics_calls_rebuild",
        }
    }
}

/// The fields of the call events this projection reads; other fields are ignored.
#[derive(Debug, Deserialize)]
struct CallData {
    call_id: Uuid,
    started_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    canceled_at: Option<DateTime<Utc>>,
    duration: Option<i64>,
    outcome: Option<String>,
}

/// The status an event moves a call to; `None` for events that do not change it.
fn status_of(event_type: &str, data: &CallData) -> Result<Option<String>, HandleError> {
    Ok(Some(match event_type {
        "comms.call.started" => "initiated".to_owned(),
        "comms.call.ringing" => "ringing".to_owned(),
        "comms.call.answered" => "answered".to_owned(),
        "comms.call.ended" => "ended".to_owned(),
        "comms.call.canceled" => "canceled".to_owned(),
        "comms.call.failed" => match data.outcome.as_deref() {
            Some(outcome @ ("failed" | "no_answer" | "busy")) => outcome.to_owned(),
            other => {
                return Err(HandleError::Reject(format!(
                    "data.outcome: {other:?} is not failed, no_answer or busy"
                )));
            }
        },
        _ => return Ok(None),
    }))
}

/// Applies one call event to `table`.
pub async fn apply(
    conn: &mut PgConnection,
    table: Table,
    envelope: &Envelope,
) -> Result<(), HandleError> {
    if !envelope.event_type.starts_with("comms.call.") {
        return Ok(());
    }
    let data: CallData = serde_json::from_value(envelope.data.clone())
        .map_err(|e| HandleError::Reject(format!("data: {e}")))?;
    let Some(status) = status_of(&envelope.event_type, &data)? else {
        return Ok(()); // notes, tags and the like do not move the dashboard
    };
    let Some(position) = envelope.metadata.stream_position else {
        return Err(HandleError::Reject(
            "metadata.streamPosition is missing".into(),
        ));
    };
    let ended_at = data.ended_at.or(data.failed_at).or(data.canceled_at);
    let sql = format!(
        "INSERT INTO {table} AS c (call_id, organization_id, status, status_position, started_at,
                                   answered_at, ended_at, duration_seconds)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (call_id) DO UPDATE SET
             status = CASE WHEN EXCLUDED.status_position > c.status_position
                           THEN EXCLUDED.status ELSE c.status END,
             status_position = GREATEST(c.status_position, EXCLUDED.status_position),
             started_at = COALESCE(c.started_at, EXCLUDED.started_at),
             answered_at = COALESCE(c.answered_at, EXCLUDED.answered_at),
             ended_at = COALESCE(c.ended_at, EXCLUDED.ended_at),
             duration_seconds = COALESCE(c.duration_seconds, EXCLUDED.duration_seconds)
         WHERE c.organization_id = EXCLUDED.organization_id",
        table = table.name()
    );
    // The table name comes from `Table`, never from input.
    let result = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(data.call_id)
        .bind(&envelope.organization_id)
        .bind(status)
        .bind(position)
        .bind(data.started_at)
        .bind(data.answered_at)
        .bind(ended_at)
        .bind(data.duration)
        .execute(conn)
        .await?;
    if result.rows_affected() == 0 {
        return Err(HandleError::Reject(format!(
            "call {} belongs to another organization than {}",
            data.call_id, envelope.organization_id
        )));
    }
    Ok(())
}
