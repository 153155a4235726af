//! Call volumes and outcomes by interval (`GET /analytics/calls`), counted by when each call
//! started, in intervals of the organization's clock ([`crate::intervals`]), with their
//! callers' sentiment where they were transcribed ([`crate::sentiment`]).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Which calls count.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub direction: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
}

/// What became of the calls that started in an interval.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct Volume {
    pub calls: i64,
    pub answered: i64,
    /// Answered and over (hung up).
    pub completed: i64,
    pub no_answer: i64,
    pub busy: i64,
    pub failed: i64,
    pub canceled: i64,
    /// Still ringing or talking.
    pub in_progress: i64,
    pub talk_seconds: i64,
    /// Calls whose caller's sentiment was judged (transcribed calls), of them negative, the sum
    /// of their scores, and the alerts raised when callers turned negative.
    pub judged: i64,
    pub negative: i64,
    pub sentiment_sum: f64,
    pub sentiment_alerts: i64,
}

impl Volume {
    /// Mean talk time of the completed calls.
    pub fn average_talk_seconds(&self) -> f64 {
        if self.completed == 0 {
            0.0
        } else {
            self.talk_seconds as f64 / self.completed as f64
        }
    }

    /// Mean of the judged calls' sentiment scores (-1 to 1); none without a judged call.
    pub fn average_sentiment(&self) -> Option<f64> {
        (self.judged > 0).then(|| self.sentiment_sum / self.judged as f64)
    }

    fn add(&mut self, other: &Volume) {
        self.calls += other.calls;
        self.answered += other.answered;
        self.completed += other.completed;
        self.no_answer += other.no_answer;
        self.busy += other.busy;
        self.failed += other.failed;
        self.canceled += other.canceled;
        self.in_progress += other.in_progress;
        self.talk_seconds += other.talk_seconds;
        self.judged += other.judged;
        self.negative += other.negative;
        self.sentiment_sum += other.sentiment_sum;
        self.sentiment_alerts += other.sentiment_alerts;
    }
}

/// An interval's volume, numbered from 1.
#[derive(sqlx::FromRow)]
struct Bucket {
    bucket: i32,
    #[sqlx(flatten)]
    volume: Volume,
}

/// The volumes of `org`'s calls that started in each interval of `bounds` (as
/// [`crate::intervals::boundaries`] gives them), and their total.
pub async fn volumes(
    pool: &PgPool,
    org: &str,
    bounds: &[DateTime<Utc>],
    filter: &Filter,
) -> Result<(Vec<Volume>, Volume), sqlx::Error> {
    let intervals = bounds.len().saturating_sub(1);
    // width_bucket numbers the interval each start falls in: 1 for the first.
    let buckets: Vec<Bucket> = sqlx::query_as(
        "SELECT width_bucket(started_at, $2::timestamptz[]) AS bucket,
                count(*) AS calls,
                count(*) FILTER (WHERE answered_at IS NOT NULL) AS answered,
                count(*) FILTER (WHERE status = 'ended') AS completed,
                count(*) FILTER (WHERE status = 'no_answer') AS no_answer,
                count(*) FILTER (WHERE status = 'busy') AS busy,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status = 'canceled') AS canceled,
                count(*) FILTER (WHERE status IN ('initiated', 'ringing', 'answered'))
                    AS in_progress,
                coalesce(sum(duration_seconds) FILTER (WHERE status = 'ended'), 0)::bigint
                    AS talk_seconds,
                count(s.score) AS judged,
                count(*) FILTER (WHERE s.label = 'negative') AS negative,
                coalesce(sum(s.score), 0)::float8 AS sentiment_sum,
                coalesce(sum(s.alerts), 0)::bigint AS sentiment_alerts
         FROM analytics_calls c
         LEFT JOIN analytics_call_sentiment s
                ON s.call_id = c.call_id AND s.organization_id = c.organization_id
         WHERE c.organization_id = $1
           AND started_at >= $2[1] AND started_at < $2[array_length($2, 1)]
           AND ($3::text IS NULL OR direction = $3)
           AND ($4::uuid IS NULL OR campaign_id = $4)
           AND ($5::uuid IS NULL OR agent_id = $5)
         GROUP BY bucket",
    )
    .bind(org)
    .bind(bounds)
    .bind(&filter.direction)
    .bind(filter.campaign_id)
    .bind(filter.agent_id)
    .fetch_all(pool)
    .await?;
    let mut by_interval = vec![Volume::default(); intervals];
    let mut total = Volume::default();
    for Bucket { bucket, volume } in buckets {
        total.add(&volume);
        if let Some(slot) = usize::try_from(bucket - 1)
            .ok()
            .and_then(|i| by_interval.get_mut(i))
        {
            *slot = volume;
        }
    }
    Ok((by_interval, total))
}
