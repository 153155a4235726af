//! The calls projection: how `comms.call.*` envelopes change `analytics_calls`.
//!
//! Idempotent and order-tolerant, because the bus delivers at least once and a redelivery can
//! overtake: each event sets only the columns it owns (the first value stays), and the status
//! and the queue a call waits in (which a re-route changes) move only to an event with a higher
//! stream position. A batch is folded per call in memory
//! with the same rules, then written in one statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use comms_bus::{Envelope, HandleError};
use comms_events::call::{CallEvent, CallStatus};
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

/// One call's row, as far as a batch of its events determines it.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    organization_id: String,
    status: String,
    status_position: i64,
    started_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_seconds: Option<i64>,
    direction: Option<String>,
    campaign_id: Option<Uuid>,
    agent_id: Option<Uuid>,
    /// When it began to wait for an agent; for which skills (sorted) and language it waits now
    /// (a supervisor may re-route it), as said by the event at `queue_position` in its stream.
    queued_at: Option<DateTime<Utc>>,
    queue_skills: Option<Vec<String>>,
    queue_language: Option<String>,
    queue_position: Option<i64>,
    /// When its first agent went on it.
    assigned_at: Option<DateTime<Utc>>,
}

/// An event that says nothing of the call's status (an agent assigned) carries this position,
/// below any real one, with the status a call starts in: the status it sets never stands.
const NO_STATUS: i64 = -1;

impl Row {
    /// Folds a later-arriving event's row in, by the same rules as the upsert.
    fn merge(&mut self, next: Row) {
        if next.status_position > self.status_position {
            self.status = next.status;
            self.status_position = next.status_position;
        }
        self.started_at = self.started_at.or(next.started_at);
        self.answered_at = self.answered_at.or(next.answered_at);
        self.ended_at = self.ended_at.or(next.ended_at);
        self.duration_seconds = self.duration_seconds.or(next.duration_seconds);
        self.direction = self.direction.take().or(next.direction);
        self.campaign_id = self.campaign_id.or(next.campaign_id);
        self.agent_id = self.agent_id.or(next.agent_id);
        self.queued_at = self.queued_at.or(next.queued_at);
        if next.queue_position > self.queue_position {
            self.queue_skills = next.queue_skills;
            self.queue_language = next.queue_language;
            self.queue_position = next.queue_position;
        }
        self.assigned_at = self.assigned_at.or(next.assigned_at);
    }
}

/// The call and its row for one envelope; `None` for events the dashboard ignores.
fn row_of(envelope: &Envelope) -> Result<Option<(Uuid, Row)>, HandleError> {
    if !comms_events::topic_matches(CallEvent::BINDING, &envelope.event_type) {
        return Ok(None);
    }
    let Some(position) = envelope.metadata.stream_position else {
        return Err(HandleError::Reject(
            "metadata.streamPosition is missing".into(),
        ));
    };
    let row = |status: CallStatus| Row {
        organization_id: envelope.organization_id.clone(),
        status: status.as_str().to_owned(),
        status_position: position,
        started_at: None,
        answered_at: None,
        ended_at: None,
        duration_seconds: None,
        direction: None,
        campaign_id: None,
        agent_id: None,
        queued_at: None,
        queue_skills: None,
        queue_language: None,
        queue_position: None,
        assigned_at: None,
    };
    let (call_id, row) = match envelope.decode::<CallEvent>()? {
        CallEvent::Started(e) => (
            e.call_id,
            Row {
                started_at: Some(e.started_at),
                direction: Some(e.direction.as_str().to_owned()),
                campaign_id: e.campaign_id,
                agent_id: e.agent_id,
                ..row(CallStatus::Initiated)
            },
        ),
        CallEvent::AgentAssigned(e) => (
            e.call_id,
            Row {
                status_position: NO_STATUS,
                agent_id: Some(e.agent_id),
                assigned_at: Some(e.assigned_at),
                ..row(CallStatus::Initiated)
            },
        ),
        CallEvent::Queued(mut e) => (e.call_id, {
            e.skills.sort();
            Row {
                status_position: NO_STATUS,
                queued_at: Some(e.queued_at),
                queue_skills: Some(e.skills),
                queue_language: Some(e.language.as_str().to_owned()),
                queue_position: Some(position),
                ..row(CallStatus::Initiated)
            }
        }),
        CallEvent::Rerouted(mut e) => (e.call_id, {
            e.skills.sort();
            Row {
                status_position: NO_STATUS,
                queue_skills: Some(e.skills),
                queue_language: Some(e.language.as_str().to_owned()),
                queue_position: Some(position),
                ..row(CallStatus::Initiated)
            }
        }),
        CallEvent::Ringing(e) => (e.call_id, row(CallStatus::Ringing)),
        CallEvent::Answered(e) => (
            e.call_id,
            Row {
                answered_at: Some(e.answered_at),
                ..row(CallStatus::Answered)
            },
        ),
        CallEvent::Ended(e) => (
            e.call_id,
            Row {
                ended_at: Some(e.ended_at),
                duration_seconds: Some(e.duration),
                ..row(CallStatus::Ended)
            },
        ),
        CallEvent::Failed(e) => (
            e.call_id,
            Row {
                ended_at: Some(e.failed_at),
                ..row(e.outcome.into())
            },
        ),
        CallEvent::Canceled(e) => (
            e.call_id,
            Row {
                ended_at: Some(e.canceled_at),
                ..row(CallStatus::Canceled)
            },
        ),
        // Notes, tags and the like do not move the dashboard.
        CallEvent::Updated(_)
        | CallEvent::Placed(_)
        | CallEvent::MachineDetected(_)
        | CallEvent::RecordingAvailable(_)
        | CallEvent::RecordingChanged(_)
        | CallEvent::RecordingDeleted(_)
        | CallEvent::IvrStep(_)
        | CallEvent::CallbackRequested(_)
        | CallEvent::MonitoringChanged(_)
        | CallEvent::AgentLegAnswered(_)
        | CallEvent::Utterance(_)
        | CallEvent::Transcribed(_)
        | CallEvent::Sentiment(_)
        | CallEvent::SentimentAlert(_)
        | CallEvent::Summarized(_)
        | CallEvent::TranscriptDeleted(_) => {
            return Ok(None);
        }
    };
    Ok(Some((call_id, row)))
}

/// Why the projection would reject this envelope, checked without touching the database.
pub fn check(envelope: &Envelope) -> Result<(), String> {
    match row_of(envelope) {
        Ok(_) => Ok(()),
        Err(HandleError::Reject(reason)) => Err(reason),
        Err(HandleError::Retry(error) | HandleError::Unavailable(error)) => Err(error.to_string()),
    }
}

/// Applies one call event to `table`.
pub async fn apply(
    conn: &mut PgConnection,
    table: Table,
    envelope: &Envelope,
) -> Result<(), HandleError> {
    apply_batch(conn, table, std::slice::from_ref(envelope)).await
}

/// Applies call events, in the order given, to `table` in one statement. The whole batch is
/// rejected if any event is malformed or names a call of another organization.
pub async fn apply_batch(
    conn: &mut PgConnection,
    table: Table,
    envelopes: &[Envelope],
) -> Result<(), HandleError> {
    let mut rows: HashMap<Uuid, Row> = HashMap::new();
    for envelope in envelopes {
        let Some((call_id, row)) = row_of(envelope)? else {
            continue;
        };
        match rows.get_mut(&call_id) {
            Some(existing) if existing.organization_id != row.organization_id => {
                return Err(foreign(call_id, &row.organization_id));
            }
            Some(existing) => existing.merge(row),
            None => {
                rows.insert(call_id, row);
            }
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let count = rows.len();
    let mut columns = Columns::default();
    for (call_id, row) in rows {
        columns.push(call_id, row);
    }
    let sql = format!(
        "INSERT INTO {table} AS c (call_id, organization_id, status, status_position, started_at,
                                   answered_at, ended_at, duration_seconds, direction,
                                   campaign_id, agent_id, queued_at, queue_skills, queue_language,
                                   queue_position, assigned_at)
         SELECT call_id, organization_id, status, status_position, started_at, answered_at,
                ended_at, duration_seconds, direction, campaign_id, agent_id, queued_at,
                -- UNNEST flattens arrays of arrays: the skills travel as JSON.
                CASE WHEN queue_skills IS NOT NULL
                     THEN ARRAY(SELECT jsonb_array_elements_text(queue_skills)) END,
                queue_language, queue_position, assigned_at
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[],
                     $6::timestamptz[], $7::timestamptz[], $8::bigint[], $9::text[],
                     $10::uuid[], $11::uuid[], $12::timestamptz[], $13::jsonb[], $14::text[],
                     $15::bigint[], $16::timestamptz[])
              AS r(call_id, organization_id, status, status_position, started_at, answered_at,
                   ended_at, duration_seconds, direction, campaign_id, agent_id, queued_at,
                   queue_skills, queue_language, queue_position, assigned_at)
         ON CONFLICT (call_id) DO UPDATE SET
             status = CASE WHEN EXCLUDED.status_position > c.status_position
                           THEN EXCLUDED.status ELSE c.status END,
             status_position = GREATEST(c.status_position, EXCLUDED.status_position),
             started_at = COALESCE(c.started_at, EXCLUDED.started_at),
             answered_at = COALESCE(c.answered_at, EXCLUDED.answered_at),
             ended_at = COALESCE(c.ended_at, EXCLUDED.ended_at),
             duration_seconds = COALESCE(c.duration_seconds, EXCLUDED.duration_seconds),
             direction = COALESCE(c.direction, EXCLUDED.direction),
             campaign_id = COALESCE(c.campaign_id, EXCLUDED.campaign_id),
             agent_id = COALESCE(c.agent_id, EXCLUDED.agent_id),
             queued_at = COALESCE(c.queued_at, EXCLUDED.queued_at),
             -- The latest queuing event says the queue (a NULL position is never greater).
             queue_skills = CASE WHEN EXCLUDED.queue_position > COALESCE(c.queue_position, -1)
                                 THEN EXCLUDED.queue_skills ELSE c.queue_skills END,
             queue_language = CASE WHEN EXCLUDED.queue_position > COALESCE(c.queue_position, -1)
                                   THEN EXCLUDED.queue_language ELSE c.queue_language END,
             queue_position = GREATEST(c.queue_position, EXCLUDED.queue_position),
             assigned_at = COALESCE(c.assigned_at, EXCLUDED.assigned_at)
         WHERE c.organization_id = EXCLUDED.organization_id",
        table = table.name()
    );
    // The table name comes from `Table`, never from input.
    let result = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&columns.call_ids)
        .bind(&columns.organization_ids)
        .bind(&columns.statuses)
        .bind(&columns.positions)
        .bind(&columns.started)
        .bind(&columns.answered)
        .bind(&columns.ended)
        .bind(&columns.durations)
        .bind(&columns.directions)
        .bind(&columns.campaign_ids)
        .bind(&columns.agent_ids)
        .bind(&columns.queued)
        .bind(&columns.queue_skills)
        .bind(&columns.queue_languages)
        .bind(&columns.queue_positions)
        .bind(&columns.assigned)
        .execute(conn)
        .await?;
    if result.rows_affected() as usize != count {
        // A row was skipped by the WHERE: some call belongs to another organization.
        return Err(HandleError::Reject(format!(
            "{} of {count} calls belong to another organization than their event says",
            count - result.rows_affected() as usize
        )));
    }
    Ok(())
}

fn foreign(call_id: Uuid, organization_id: &str) -> HandleError {
    HandleError::Reject(format!(
        "call {call_id} belongs to another organization than {organization_id}"
    ))
}

/// The rows as column arrays, for UNNEST.
#[derive(Default)]
struct Columns {
    call_ids: Vec<Uuid>,
    organization_ids: Vec<String>,
    statuses: Vec<String>,
    positions: Vec<i64>,
    started: Vec<Option<DateTime<Utc>>>,
    answered: Vec<Option<DateTime<Utc>>>,
    ended: Vec<Option<DateTime<Utc>>>,
    durations: Vec<Option<i64>>,
    directions: Vec<Option<String>>,
    campaign_ids: Vec<Option<Uuid>>,
    agent_ids: Vec<Option<Uuid>>,
    queued: Vec<Option<DateTime<Utc>>>,
    queue_skills: Vec<Option<serde_json::Value>>,
    queue_languages: Vec<Option<String>>,
    queue_positions: Vec<Option<i64>>,
    assigned: Vec<Option<DateTime<Utc>>>,
}

impl Columns {
    fn push(&mut self, call_id: Uuid, row: Row) {
        self.call_ids.push(call_id);
        self.organization_ids.push(row.organization_id);
        self.statuses.push(row.status);
        self.positions.push(row.status_position);
        self.started.push(row.started_at);
        self.answered.push(row.answered_at);
        self.ended.push(row.ended_at);
        self.durations.push(row.duration_seconds);
        self.directions.push(row.direction);
        self.campaign_ids.push(row.campaign_id);
        self.agent_ids.push(row.agent_id);
        self.queued.push(row.queued_at);
        self.queue_skills
            .push(row.queue_skills.map(serde_json::Value::from));
        self.queue_languages.push(row.queue_language);
        self.queue_positions.push(row.queue_position);
        self.assigned.push(row.assigned_at);
    }
}
