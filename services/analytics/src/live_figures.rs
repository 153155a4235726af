//! Publishing each organization's live figures (`comms.metrics.updated`): every
//! `METRICS_INTERVAL_SECONDS`, for each organization with something to show (agents logged in,
//! calls waiting or queued this quarter hour, or figures published last that were not idle),
//! the figures are computed as `/analytics/queues` computes them and appended to the
//! organization's metrics stream when they differ from the last appended, so the relay
//! publishes them and the live feed carries them. The last figures and the check are in one
//! transaction under that organization's row lock, so replicas never publish one change twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use comms_events::metrics::{Figures, MetricsEvent, MetricsUpdated, QueueFigures, stream_id};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName};
use comms_proto::Language;
use comms_runtime::Shutdown;
use sqlx::PgPool;

use crate::intervals::Interval;
use crate::queues::{self, Measures, WaitingNow};

/// Who the figures' events are recorded as.
const ACTOR: &str = "system:analytics";

/// Appends changed figures every `every` until `shutdown`.
pub async fn run(store: EventStore, every: Duration, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.clone().wait() => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = publish_changes(&store, Utc::now()).await {
            tracing::warn!(%error, "live figures not published; trying again next time");
        }
    }
}

/// One round: each organization with something to show, its figures appended if they changed.
/// Returns how many were appended.
pub async fn publish_changes(store: &EventStore, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let quarter = Interval::QuarterHour.start_of(now, chrono_tz::Tz::UTC);
    let mut appended = 0;
    for org in organizations_to_show(store.pool(), quarter).await? {
        let figures = figures_of(store.pool(), &org, quarter, now).await?;
        if append_if_changed(store, &org, figures).await? {
            appended += 1;
        }
    }
    Ok(appended)
}

async fn organizations_to_show(
    pool: &PgPool,
    quarter: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT org_id FROM analytics_agent_current WHERE state <> 'offline'
         UNION
         SELECT organization_id FROM analytics_calls
         WHERE queued_at >= $1
            OR (queued_at IS NOT NULL AND assigned_at IS NULL AND ended_at IS NULL)
         UNION
         SELECT org_id FROM analytics_live_figures WHERE NOT idle",
    )
    .bind(quarter)
    .fetch_all(pool)
    .await
}

/// `org`'s figures for the quarter hour from `quarter`, as of `now`.
async fn figures_of(
    pool: &PgPool,
    org: &str,
    quarter: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<MetricsUpdated, sqlx::Error> {
    let filter = queues::Filter {
        language: None,
        skill: None,
        service_level_seconds: queues::DEFAULT_SERVICE_LEVEL_SECONDS,
    };
    let bounds = [quarter, quarter + chrono::Duration::minutes(15)];
    let report = queues::report(pool, org, &bounds, &filter, now).await?;
    let queues = report
        .queues
        .iter()
        .filter_map(|q| {
            Some(QueueFigures {
                skills: q.queue.skills.clone(),
                // Every queued call's language was one of ours when it was recorded.
                language: Language::parse(&q.queue.language).ok()?,
                figures: figures(&q.calls.total, q.now),
            })
        })
        .collect();
    Ok(MetricsUpdated {
        interval_start: quarter,
        service_level_seconds: filter.service_level_seconds,
        queues,
        organization: figures(&report.organization.total, report.waiting_now),
        occupancy: report.agent_time.total.occupancy(),
        agents: report.agents_now,
        at: now,
    })
}

fn figures(calls: &Measures, now: WaitingNow) -> Figures {
    Figures {
        waiting: now.calls,
        longest_wait_seconds: now.longest_wait_seconds.round(),
        offered: calls.offered,
        answered: calls.answered,
        abandoned: calls.abandoned,
        service_level: calls.service_level(),
        abandon_rate: calls.abandon_rate(),
        average_speed_of_answer_seconds: calls.average_speed_of_answer_seconds(),
    }
}

/// Appends `figures` to `org`'s metrics stream unless they are the last appended (their time
/// aside); returns whether it did.
async fn append_if_changed(
    store: &EventStore,
    org: &str,
    figures: MetricsUpdated,
) -> anyhow::Result<bool> {
    let compared = serde_json::to_value(MetricsUpdated {
        at: DateTime::<Utc>::UNIX_EPOCH,
        ..figures.clone()
    })?;
    let idle = figures.organization.waiting == 0
        && figures.organization.offered == 0
        && figures.agents.is_empty();
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO analytics_live_figures (org_id, figures, idle) VALUES ($1, 'null', true)
         ON CONFLICT (org_id) DO NOTHING",
    )
    .bind(org)
    .execute(tx.conn())
    .await?;
    let last: serde_json::Value = sqlx::query_scalar(
        "SELECT figures FROM analytics_live_figures WHERE org_id = $1 FOR UPDATE",
    )
    .bind(org)
    .fetch_one(tx.conn())
    .await?;
    if last == compared {
        return Ok(false);
    }
    sqlx::query("UPDATE analytics_live_figures SET figures = $2, idle = $3 WHERE org_id = $1")
        .bind(org)
        .bind(&compared)
        .bind(idle)
        .execute(tx.conn())
        .await?;
    let event = comms_bus::new_event(&MetricsEvent::Updated(figures), ACTOR, None);
    let stream = StreamName::new("metrics", stream_id(org));
    tx.append(org, &stream, ExpectedVersion::Any, vec![event])
        .await?;
    tx.commit().await?;
    Ok(true)
}
