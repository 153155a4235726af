//! How callers sound now: the latest `comms.call.sentiment` of each of many calls' transcript
//! streams, with the alerts raised so far, read from the log in one query (a wallboard asks for
//! its active calls at once).

use chrono::{DateTime, Utc};
use comms_events::Event as _;
use comms_events::call::{Sentiment, SentimentAlert};
use sqlx::PgPool;
use uuid::Uuid;

use crate::search::Reach;

/// The most calls asked for at once.
pub const MOST_CALLS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Now {
    pub call_id: Uuid,
    pub label: String,
    pub score: f64,
    pub alerts: u32,
    pub at: DateTime<Utc>,
}

/// The latest judgement of each of `calls` in `org` that `reach` covers and that was judged;
/// the others are left out. Whose call it is comes from search's table of calls' agents.
pub async fn of(
    pool: &PgPool,
    org: &str,
    reach: &Reach,
    calls: &[Uuid],
) -> Result<Vec<Now>, sqlx::Error> {
    let streams: Vec<String> = calls.iter().map(|c| format!("transcript-{c}")).collect();
    let rows: Vec<(String, serde_json::Value, i64)> = sqlx::query_as(
        "SELECT latest.stream_name, latest.data,
                (SELECT count(*) FROM events a
                 WHERE a.stream_name = latest.stream_name AND a.event_type = $4)
         FROM (SELECT DISTINCT ON (stream_name) stream_name, data
               FROM events
               WHERE stream_name = ANY ($1) AND tenant_id = $2 AND event_type = $3
               ORDER BY stream_name, stream_position DESC) latest
         WHERE $5::uuid[] IS NULL OR EXISTS (
               SELECT 1 FROM transcript_call_agents c
               WHERE c.call_id = substr(latest.stream_name, 12)::uuid
                 AND c.organization_id = $2 AND c.agent_id = ANY ($5))",
    )
    .bind(&streams)
    .bind(org)
    .bind(Sentiment::TYPE)
    .bind(SentimentAlert::TYPE)
    .bind(reach.agents())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, data, alerts)| {
            let judged: Sentiment = serde_json::from_value(data).ok()?;
            Some(Now {
                call_id: judged.call_id,
                label: judged.label.as_str().to_owned(),
                score: judged.score,
                alerts: alerts as u32,
                at: judged.at,
            })
        })
        .collect())
}
