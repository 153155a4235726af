//! Queue measures (`GET /analytics/queues`): how the calls that waited for an agent fared, per
//! queue and for the organization, in intervals of its clock ([`crate::intervals`]), counted by
//! when each call began to wait; and what is waiting now.
//!
//! A queue is what routing tells apart: the skills a call's agent must have and the language
//! they must speak. A call waits from `comms.call.queued` until its first agent goes on it
//! (answered) or it ends first (abandoned). The one set of formulas serves the live figures (an
//! interval ending now), past intervals and a replayed projection:
//!
//! - service level: answered within the threshold ÷ (answered + abandoned);
//! - abandon rate: abandoned ÷ (answered + abandoned);
//! - average speed of answer: the mean wait of answered calls;
//! - average handle time: the mean of talk (agent on the call to its end) plus the agent's
//!   wrap-up for it, over answered calls that ended (a wrap-up counts once it is over);
//! - occupancy (the organization's agents): time handling calls (reserved, busy, wrap-up) ÷ that
//!   plus time available, within the interval.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::agents::HANDLING;

/// The threshold of the service level when the request names none (seconds).
pub const DEFAULT_SERVICE_LEVEL_SECONDS: u32 = 20;

/// The skills (sorted) and language a queue's calls ask their agent for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Queue {
    pub language: String,
    pub skills: Vec<String>,
}

/// Which queues count, and the service level's threshold.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Only queues for this language.
    pub language: Option<String>,
    /// Only queues that ask for this skill.
    pub skill: Option<String>,
    pub service_level_seconds: u32,
}

/// How the calls that began to wait in an interval fared.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct Measures {
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    /// Still waiting.
    pub waiting: i64,
    pub answered_within_threshold: i64,
    /// The answered calls' waits, added up.
    pub answer_wait_seconds: f64,
    /// The longest wait that ended (answered or abandoned).
    pub longest_wait_seconds: f64,
    /// Answered calls that ended, and their handle times added up.
    pub handled: i64,
    pub handle_seconds: f64,
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

impl Measures {
    fn finished(&self) -> f64 {
        (self.answered + self.abandoned) as f64
    }

    /// `None` while no call has finished waiting.
    pub fn service_level(&self) -> Option<f64> {
        ratio(self.answered_within_threshold as f64, self.finished())
    }

    pub fn abandon_rate(&self) -> Option<f64> {
        ratio(self.abandoned as f64, self.finished())
    }

    pub fn average_speed_of_answer_seconds(&self) -> Option<f64> {
        ratio(self.answer_wait_seconds, self.answered as f64)
    }

    pub fn average_handle_seconds(&self) -> Option<f64> {
        ratio(self.handle_seconds, self.handled as f64)
    }

    fn add(&mut self, other: &Measures) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.waiting += other.waiting;
        self.answered_within_threshold += other.answered_within_threshold;
        self.answer_wait_seconds += other.answer_wait_seconds;
        self.longest_wait_seconds = self.longest_wait_seconds.max(other.longest_wait_seconds);
        self.handled += other.handled;
        self.handle_seconds += other.handle_seconds;
    }
}

/// Agents' time within an interval, for occupancy.
#[derive(Debug, Clone, Copy, Default, PartialEq, sqlx::FromRow)]
pub struct AgentTime {
    pub handling_seconds: f64,
    pub available_seconds: f64,
}

impl AgentTime {
    pub fn occupancy(&self) -> Option<f64> {
        ratio(
            self.handling_seconds,
            self.handling_seconds + self.available_seconds,
        )
    }

    fn add(&mut self, other: &AgentTime) {
        self.handling_seconds += other.handling_seconds;
        self.available_seconds += other.available_seconds;
    }
}

/// Measures by interval, and over them all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series<T> {
    pub intervals: Vec<T>,
    pub total: T,
}

/// What waits now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WaitingNow {
    pub calls: i64,
    pub longest_wait_seconds: f64,
}

/// One queue's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueReport {
    pub queue: Queue,
    pub calls: Series<Measures>,
    pub now: WaitingNow,
}

/// The organization's figures: its queues, all of them together, its agents.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub queues: Vec<QueueReport>,
    pub organization: Series<Measures>,
    pub agent_time: Series<AgentTime>,
    pub waiting_now: WaitingNow,
    /// Logged-in agents by state now.
    pub agents_now: BTreeMap<String, i64>,
}

#[derive(sqlx::FromRow)]
struct QueueBucket {
    skills: Vec<String>,
    language: String,
    bucket: i32,
    #[sqlx(flatten)]
    measures: Measures,
}

#[derive(sqlx::FromRow)]
struct TimeBucket {
    bucket: i32,
    #[sqlx(flatten)]
    time: AgentTime,
}

/// The figures of `org`'s queues over the intervals of `bounds` (as
/// [`crate::intervals::boundaries`] gives them), the open spells and waits counted up to `now`.
pub async fn report(
    pool: &PgPool,
    org: &str,
    bounds: &[DateTime<Utc>],
    filter: &Filter,
    now: DateTime<Utc>,
) -> Result<Report, sqlx::Error> {
    let intervals = bounds.len().saturating_sub(1);
    let buckets: Vec<QueueBucket> = sqlx::query_as(
        "SELECT skills, language, width_bucket(queued_at, $2::timestamptz[]) AS bucket,
                count(*) AS offered,
                count(*) FILTER (WHERE assigned_at IS NOT NULL) AS answered,
                count(*) FILTER (WHERE assigned_at IS NULL AND ended_at IS NOT NULL) AS abandoned,
                count(*) FILTER (WHERE assigned_at IS NULL AND ended_at IS NULL) AS waiting,
                count(*) FILTER (WHERE assigned_at IS NOT NULL AND wait <= $3) AS answered_within_threshold,
                coalesce(sum(wait) FILTER (WHERE assigned_at IS NOT NULL), 0) AS answer_wait_seconds,
                coalesce(max(wait), 0) AS longest_wait_seconds,
                count(handle) AS handled,
                coalesce(sum(handle), 0) AS handle_seconds
         FROM (SELECT c.queue_skills AS skills, c.queue_language AS language, c.queued_at,
                      c.assigned_at, c.ended_at,
                      -- Clocks of two services: a wait is never less than nothing.
                      greatest(0, extract(epoch FROM coalesce(c.assigned_at, c.ended_at) - c.queued_at))::float8
                          AS wait,
                      CASE WHEN c.assigned_at IS NOT NULL AND c.ended_at IS NOT NULL THEN
                          greatest(0, extract(epoch FROM c.ended_at - c.assigned_at))::float8
                          + coalesce((SELECT sum(extract(epoch FROM s.ended_at - s.started_at))
                                      FROM analytics_agent_spells s
                                      WHERE s.call_id = c.call_id AND s.org_id = c.organization_id
                                        AND s.state = 'wrap_up'), 0)::float8
                      END AS handle
               FROM analytics_calls c
               WHERE c.organization_id = $1
                 AND c.queued_at >= $2[1] AND c.queued_at < $2[array_length($2, 1)]
                 AND ($4::text IS NULL OR c.queue_language = $4)
                 AND ($5::text IS NULL OR $5 = ANY(c.queue_skills))) waited
         GROUP BY skills, language, bucket",
    )
    .bind(org)
    .bind(bounds)
    .bind(f64::from(filter.service_level_seconds))
    .bind(&filter.language)
    .bind(&filter.skill)
    .fetch_all(pool)
    .await?;
    let waiting: Vec<(Vec<String>, String, i64, f64)> = sqlx::query_as(
        "SELECT queue_skills, queue_language, count(*),
                greatest(0, extract(epoch FROM $2 - min(queued_at)))::float8
         FROM analytics_calls
         WHERE organization_id = $1
           AND queued_at IS NOT NULL AND assigned_at IS NULL AND ended_at IS NULL
           AND ($3::text IS NULL OR queue_language = $3)
           AND ($4::text IS NULL OR $4 = ANY(queue_skills))
         GROUP BY queue_skills, queue_language",
    )
    .bind(org)
    .bind(now)
    .bind(&filter.language)
    .bind(&filter.skill)
    .fetch_all(pool)
    .await?;
    let times: Vec<TimeBucket> = sqlx::query_as(
        "WITH bounds AS (
             SELECT i AS bucket, $2[i] AS starts, $2[i + 1] AS ends
             FROM generate_series(1, array_length($2::timestamptz[], 1) - 1) i),
         spells AS (
             SELECT state, started_at, ended_at FROM analytics_agent_spells
             WHERE org_id = $1 AND ended_at > $2[1] AND started_at < $2[array_length($2, 1)]
             UNION ALL
             SELECT state, since, $3 FROM analytics_agent_current
             WHERE org_id = $1 AND since < $3)
         SELECT bucket,
                coalesce(sum(extract(epoch FROM least(ends, ended_at) - greatest(starts, started_at)))
                         FILTER (WHERE state = ANY($4)), 0)::float8 AS handling_seconds,
                coalesce(sum(extract(epoch FROM least(ends, ended_at) - greatest(starts, started_at)))
                         FILTER (WHERE state = 'available'), 0)::float8 AS available_seconds
         FROM bounds JOIN spells ON started_at < ends AND ended_at > starts
         GROUP BY bucket",
    )
    .bind(org)
    .bind(bounds)
    .bind(now)
    .bind(&HANDLING[..])
    .fetch_all(pool)
    .await?;
    let agents_now: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, count(*) FROM analytics_agent_current
         WHERE org_id = $1 AND state <> 'offline' GROUP BY state",
    )
    .bind(org)
    .fetch_all(pool)
    .await?;

    let slot = |bucket: i32| usize::try_from(bucket - 1).ok().filter(|i| *i < intervals);
    let mut queues: BTreeMap<Queue, QueueReport> = BTreeMap::new();
    let mut organization = Series {
        intervals: vec![Measures::default(); intervals],
        total: Measures::default(),
    };
    for QueueBucket {
        skills,
        language,
        bucket,
        measures,
    } in buckets
    {
        let report = report_of(&mut queues, Queue { language, skills }, intervals);
        report.calls.total.add(&measures);
        organization.total.add(&measures);
        if let Some(i) = slot(bucket) {
            report.calls.intervals[i].add(&measures);
            organization.intervals[i].add(&measures);
        }
    }
    let mut waiting_now = WaitingNow::default();
    for (skills, language, calls, longest) in waiting {
        let now = WaitingNow {
            calls,
            longest_wait_seconds: longest,
        };
        report_of(&mut queues, Queue { language, skills }, intervals).now = now;
        waiting_now.calls += calls;
        waiting_now.longest_wait_seconds = waiting_now.longest_wait_seconds.max(longest);
    }
    let mut agent_time = Series {
        intervals: vec![AgentTime::default(); intervals],
        total: AgentTime::default(),
    };
    for TimeBucket { bucket, time } in times {
        if let Some(i) = slot(bucket) {
            agent_time.intervals[i] = time;
            agent_time.total.add(&time);
        }
    }
    Ok(Report {
        queues: queues.into_values().collect(),
        organization,
        agent_time,
        waiting_now,
        agents_now: agents_now.into_iter().collect(),
    })
}

/// The queue's report, begun empty if this is the first of it.
fn report_of(
    queues: &mut BTreeMap<Queue, QueueReport>,
    queue: Queue,
    intervals: usize,
) -> &mut QueueReport {
    queues.entry(queue.clone()).or_insert_with(|| QueueReport {
        queue,
        calls: Series {
            intervals: vec![Measures::default(); intervals],
            total: Measures::default(),
        },
        now: WaitingNow::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_their_definitions_and_are_none_with_nothing_to_divide() {
        let measures = Measures {
            offered: 10,
            answered: 6,
            abandoned: 2,
            waiting: 2,
            answered_within_threshold: 4,
            answer_wait_seconds: 60.0,
            longest_wait_seconds: 40.0,
            handled: 5,
            handle_seconds: 1000.0,
        };
        assert_eq!(measures.service_level(), Some(0.5));
        assert_eq!(measures.abandon_rate(), Some(0.25));
        assert_eq!(measures.average_speed_of_answer_seconds(), Some(10.0));
        assert_eq!(measures.average_handle_seconds(), Some(200.0));
        let none = Measures::default();
        assert_eq!(none.service_level(), None);
        assert_eq!(none.average_speed_of_answer_seconds(), None);
        let time = AgentTime {
            handling_seconds: 600.0,
            available_seconds: 200.0,
        };
        assert_eq!(time.occupancy(), Some(0.75));
        assert_eq!(AgentTime::default().occupancy(), None);
    }
}
