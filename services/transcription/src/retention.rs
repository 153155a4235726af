//! Deleting transcripts, on request or when the organization's retention runs out. A deletion
//! is an event (`comms.call.transcript_deleted`) appended to the call's transcript stream in the
//! transaction that erases the words of the stream's earlier events in the log (the utterances'
//! text, the sentiment's and alerts' reasons, the summary: [`ERASED`] in their place) and the
//! call's lines from search. So the log, what the relay publishes after, a live reader resuming
//! and every read model rebuilt from the log hold none of them; what was counted (utterances,
//! scores, alerts) stays. Words heard after a deletion are not recorded ([`recorded_unless_deleted`]).
//!
//! The retention (`transcript_retention-<uuid>`, one stream per organization) counts from a
//! transcript's first event; every replica sweeps ([`keep_swept`]), and deletions are idempotent.

use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use comms_events::Event as _;
use comms_events::call::{
    CallEvent, ERASED, Sentiment, SentimentAlert, Summarized, TranscriptDeleted,
    TranscriptDeletion, Utterance,
};
use comms_events::transcription::{MAX_RETENTION_DAYS, RetentionChanged, TranscriptRetentionEvent};
use comms_eventstore::{EventStore, ExpectedVersion, NewEvent, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind};
use comms_runtime::Shutdown;
use sqlx::PgConnection;
use uuid::Uuid;

/// The fields that hold words, per event type of a transcript stream.
fn worded() -> [(&'static str, &'static str); 4] {
    [
        (Utterance::TYPE, "text"),
        (Sentiment::TYPE, "reason"),
        (SentimentAlert::TYPE, "reason"),
        (Summarized::TYPE, "summary"),
    ]
}

/// A transcript's deletion, as recorded.
#[derive(Debug, Clone)]
pub struct Deletion {
    pub event: TranscriptDeleted,
    /// False when it had been deleted before (and this changed nothing).
    pub now: bool,
}

/// Deletes `org`'s transcript of `call` (see the module); `by`, the user who asked.
pub async fn delete(
    store: &EventStore,
    org: &str,
    call: Uuid,
    reason: TranscriptDeletion,
    by: Option<&str>,
) -> Result<Deletion, ApiError> {
    let stream = StreamName::new("transcript", call);
    in_transaction!(store, |tx| {
        let types: Vec<String> = sqlx::query_scalar(
            "SELECT event_type FROM events WHERE stream_name = $1 AND tenant_id = $2
             ORDER BY stream_position",
        )
        .bind(stream.as_str())
        .bind(org)
        .fetch_all(&mut *tx)
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        if types.is_empty() {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!("call {call} has no transcript"),
            ));
        }
        if let Some(earlier) = deleted(&mut *tx, &stream, org).await? {
            return Ok(Deletion {
                event: earlier,
                now: false,
            });
        }
        let event = TranscriptDeleted {
            call_id: call,
            reason,
            deleted_by: by.map(str::to_owned),
            erased: types
                .iter()
                .filter(|t| worded().iter().any(|(worded, _)| worded == t))
                .count() as u32,
            deleted_at: Utc::now(),
        };
        let new = comms_bus::new_event(
            &CallEvent::TranscriptDeleted(event.clone()),
            by.unwrap_or(crate::session::ACTOR),
            Some(&call.to_string()),
        );
        // Exact: a concurrent deletion (or words recorded meanwhile) makes this attempt start
        // again, and see them.
        comms_eventstore::append_in(
            &mut *tx,
            org,
            &stream,
            ExpectedVersion::Exact(types.len() as u64 - 1),
            vec![new],
        )
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        for (event_type, field) in worded() {
            sqlx::query(
                "UPDATE events SET data = jsonb_set(data, ARRAY[$3::text], to_jsonb($4::text))
                 WHERE stream_name = $1 AND event_type = $2 AND stream_position < $5",
            )
            .bind(stream.as_str())
            .bind(event_type)
            .bind(field)
            .bind(ERASED)
            .bind(types.len() as i64)
            .execute(&mut *tx)
            .await
            .map_err(comms_eventstore::unit_of_work::api_error)?;
        }
        crate::search::forget(&mut *tx, org, call, event.deleted_at)
            .await
            .map_err(comms_eventstore::unit_of_work::api_error)?;
        Ok(Deletion { event, now: true })
    })
}

/// The deletion recorded in `stream`, if any.
async fn deleted(
    conn: &mut PgConnection,
    stream: &StreamName,
    org: &str,
) -> Result<Option<TranscriptDeleted>, ApiError> {
    let data: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT data FROM events WHERE stream_name = $1 AND tenant_id = $2 AND event_type = $3",
    )
    .bind(stream.as_str())
    .bind(org)
    .bind(TranscriptDeleted::TYPE)
    .fetch_optional(conn)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)?;
    Ok(data.and_then(|d| serde_json::from_value(d).ok()))
}

/// Appends `event` to the call's transcript stream unless the transcript was deleted (then
/// nothing is recorded): the append takes the stream's lock, which a deletion holds until it
/// commits, so a deletion is seen by every append after it.
pub async fn recorded_unless_deleted(
    store: &EventStore,
    org: &str,
    call: Uuid,
    event: NewEvent,
) -> Result<bool, comms_eventstore::Error> {
    let stream = StreamName::new("transcript", call);
    let mut tx = store.begin().await?;
    tx.append(org, &stream, ExpectedVersion::Any, vec![event])
        .await?;
    let deleted: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM transcript_deletions WHERE call_id = $1)")
            .bind(call)
            .fetch_one(tx.conn())
            .await?;
    if deleted {
        return Ok(false); // dropped: rolled back
    }
    tx.commit().await?;
    Ok(true)
}

/// An organization's retention.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retention {
    /// `None`: kept until deleted.
    pub days: Option<u32>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: String,
}

/// `org`'s retention (kept until deleted while never said).
pub async fn retention(pool: &sqlx::PgPool, org: &str) -> Result<Retention, ApiError> {
    let row: Option<(Option<i32>, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT days, updated_at, updated_by FROM transcript_retention WHERE org_id = $1",
    )
    .bind(org)
    .fetch_optional(pool)
    .await
    .map_err(comms_eventstore::unit_of_work::api_error)?;
    Ok(row
        .map(|(days, at, by)| Retention {
            days: days.map(|d| d as u32),
            updated_at: Some(at),
            updated_by: by,
        })
        .unwrap_or_default())
}

/// Says `org` keeps its transcripts `days` (`None`: until deleted); `by`, the user.
pub async fn set_retention(
    store: &EventStore,
    org: &str,
    by: &str,
    days: Option<u32>,
) -> Result<Retention, ApiError> {
    if let Some(days) = days
        && !(1..=MAX_RETENTION_DAYS).contains(&days)
    {
        return Err(ApiError::invalid(
            "days",
            format!(
                "{days} is not from 1 to {MAX_RETENTION_DAYS} (0 keeps transcripts until deleted)"
            ),
        ));
    }
    let stream = StreamName::new("transcript_retention", retention_stream_id(org));
    let changed = RetentionChanged {
        days,
        // As PostgreSQL keeps it, so that what is answered is what is read after.
        at: Utc::now().trunc_subsecs(6),
    };
    let event = comms_bus::new_event(
        &TranscriptRetentionEvent::Changed(changed.clone()),
        by,
        None,
    );
    in_transaction!(store, |tx| {
        let appended = comms_eventstore::append_in(
            &mut *tx,
            org,
            &stream,
            ExpectedVersion::Any,
            vec![event.clone()],
        )
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        sqlx::query(
            "INSERT INTO transcript_retention (org_id, days, version, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (org_id) DO UPDATE SET days = EXCLUDED.days, version = EXCLUDED.version,
                 updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by",
        )
        .bind(org)
        .bind(days.map(|d| d as i32))
        .bind(appended.next_expected_version as i64)
        .bind(changed.at)
        .bind(by)
        .execute(&mut *tx)
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        Ok(())
    })?;
    Ok(Retention {
        days,
        updated_at: Some(changed.at),
        updated_by: by.to_owned(),
    })
}

/// The id of `org`'s retention stream.
fn retention_stream_id(org: &str) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_2e0a_7b3f_4c61_9a8e_0f4b_2c7d_e913);
    Uuid::new_v5(&NAMESPACE, org.as_bytes())
}

/// How many transcripts are deleted per query of the sweep.
const SWEEP_BATCH: i64 = 100;

/// Deletes every transcript whose organization's retention has run out by `now`; how many.
pub async fn sweep(store: &EventStore, now: DateTime<Utc>) -> Result<u32, ApiError> {
    let mut deleted = 0;
    loop {
        let due: Vec<(String, String)> = sqlx::query_as(
            "SELECT e.tenant_id, e.stream_name
             FROM transcript_retention r
             JOIN events e ON e.tenant_id = r.org_id
              AND e.stream_category = 'transcript' AND e.stream_position = 0
              AND e.recorded_at < $1 - make_interval(days => r.days)
             WHERE r.days IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM transcript_deletions d
                               WHERE d.call_id = substr(e.stream_name, 12)::uuid)
             LIMIT $2",
        )
        .bind(now)
        .bind(SWEEP_BATCH)
        .fetch_all(store.pool())
        .await
        .map_err(comms_eventstore::unit_of_work::api_error)?;
        for (org, stream) in &due {
            let Ok(stream) = StreamName::parse(stream) else {
                continue;
            };
            if delete(store, org, stream.id(), TranscriptDeletion::Retention, None)
                .await?
                .now
            {
                deleted += 1;
            }
        }
        if (due.len() as i64) < SWEEP_BATCH {
            return Ok(deleted);
        }
        tracing::info!(deleted, "sweeping transcripts past their retention");
    }
}

/// Sweeps every `every` until `shutdown`.
pub async fn keep_swept(store: EventStore, every: Duration, shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopping = shutdown.wait();
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => return,
            _ = ticks.tick() => match sweep(&store, Utc::now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "transcripts past their retention deleted"),
                Err(error) => tracing::warn!(%error, "the retention sweep failed; trying again next time"),
            },
        }
    }
}
