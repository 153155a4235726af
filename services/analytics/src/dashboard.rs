//! The dashboard: an organization's call figures, summed from the counters the projection's
//! trigger keeps (migrations/0006), so its cost does not grow with the number of calls.

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

const ACTIVE: [&str; 3] = ["initiated", "ringing", "answered"];

pub async fn load(pool: &PgPool, org: &str) -> Result<Dashboard, sqlx::Error> {
    // Per status: all calls, today's, answered, and summed talk time.
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT status, sum(calls)::bigint,
                coalesce(sum(calls) FILTER (WHERE started_day = (now() AT TIME ZONE 'UTC')::date), 0)::bigint,
                sum(answered)::bigint, sum(duration_sum)::bigint
         FROM analytics_call_counters WHERE organization_id = $1
         GROUP BY status HAVING sum(calls) > 0 ORDER BY status",
    )
    .bind(org)
    .fetch_all(pool)
    .await?;
    let sum = |pick: fn(&(String, i64, i64, i64, i64)) -> i64,
               keep: &dyn Fn(&str) -> bool|
     -> i64 { rows.iter().filter(|r| keep(&r.0)).map(pick).sum() };
    let all = |_: &str| true;
    let active = |s: &str| ACTIVE.contains(&s);
    let finished = |s: &str| !ACTIVE.contains(&s);
    let ended = |s: &str| s == "ended";
    let (ended_calls, finished_calls) = (sum(|r| r.1, &ended), sum(|r| r.1, &finished));
    Ok(Dashboard {
        total_calls: sum(|r| r.1, &all),
        active_calls: sum(|r| r.1, &active),
        calls_today: sum(|r| r.2, &all),
        average_duration_seconds: if ended_calls == 0 {
            0.0
        } else {
            sum(|r| r.4, &ended) as f64 / ended_calls as f64
        },
        answer_rate: if finished_calls == 0 {
            0.0
        } else {
            sum(|r| r.3, &finished) as f64 / finished_calls as f64
        },
        calls_by_status: rows.iter().map(|r| (r.0.clone(), r.1)).collect(),
    })
}
