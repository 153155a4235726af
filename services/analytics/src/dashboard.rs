//! The dashboard: aggregates of an organization's calls from the projection.

use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub total_calls: i64,
    pub active_calls: i64,
    pub calls_today: i64,
    pub average_duration_seconds: f64,
    pub answer_rate: f64,
    pub calls_by_status: Vec<(String, i64)>,
}

pub async fn load(pool: &PgPool, org: &str) -> Result<Dashboard, sqlx::Error> {
    let (total_calls, active_calls, calls_today, average_duration, finished, answered_finished): (
        i64,
        i64,
        i64,
        Option<f64>,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE status IN ('initiated', 'ringing', 'answered')),
                count(*) FILTER (WHERE started_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
                avg(duration_seconds) FILTER (WHERE status = 'ended')::float8,
                count(*) FILTER (WHERE status NOT IN ('initiated', 'ringing', 'answered')),
                count(*) FILTER (WHERE status NOT IN ('initiated', 'ringing', 'answered')
                                   AND answered_at IS NOT NULL)
         FROM analytics_calls WHERE organization_id = $1",
    )
    .bind(org)
    .fetch_one(pool)
    .await?;
    let calls_by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM analytics_calls WHERE organization_id = $1
         GROUP BY status ORDER BY status",
    )
    .bind(org)
    .fetch_all(pool)
    .await?;
    Ok(Dashboard {
        total_calls,
        active_calls,
        calls_today,
        average_duration_seconds: average_duration.unwrap_or(0.0),
        answer_rate: if finished == 0 {
            0.0
        } else {
            answered_finished as f64 / finished as f64
        },
        calls_by_status,
    })
}
