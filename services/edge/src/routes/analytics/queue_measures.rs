//! `GET /api/communications/analytics/queues`: the queue measures a supervisor manages by.

use axum::extract::State;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::json::Query;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueMeasuresParams {
    /// RFC 3339; the first interval holds it. When absent, the start of the day (in
    /// `time_zone`) that `to` ends: today, without either.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub from: Option<String>,
    /// RFC 3339; the last interval holds the moment before it. Now when absent.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub to: Option<String>,
    /// `15m`, `hour` (the default) or `day`, on `time_zone`'s clock.
    #[param(pattern = "^(15m|hour|day)$")]
    pub interval: Option<String>,
    /// An IANA time zone; UTC when absent.
    #[param(value_type = Option<super::super::contacts::TimeZone>)]
    pub time_zone: Option<String>,
    /// The service level's threshold in seconds, 1–3600; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3600)]
    pub service_level_seconds: Option<String>,
    /// Only queues for this language.
    #[param(pattern = "^(en|es|fr|de|it|pt|zh|ja)$")]
    pub language: Option<String>,
    /// Only queues that ask for this skill.
    #[param(pattern = "^[a-z0-9_-]{1,50}$")]
    pub skill: Option<String>,
}

/// How the calls that began to wait in `[start, end)` fared. A ratio or mean with nothing to
/// divide by (no call finished waiting, none answered) is null.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueMeasures {
    /// On the time zone's clock, with its offset then.
    pub start: String,
    pub end: String,
    pub offered: i64,
    pub answered: i64,
    /// Ended before an agent went on the call.
    pub abandoned: i64,
    /// Still waiting.
    pub waiting: i64,
    pub answered_within_threshold: i64,
    /// Answered within the threshold over answered and abandoned, 0–1.
    pub service_level: Option<f64>,
    /// Abandoned over answered and abandoned, 0–1.
    pub abandon_rate: Option<f64>,
    /// The mean wait of the answered calls.
    pub average_speed_of_answer_seconds: Option<f64>,
    /// The longest wait that ended (answered or abandoned).
    pub longest_wait_seconds: f64,
    /// Talk plus the agent's wrap-up, averaged over answered calls that ended.
    pub average_handle_seconds: Option<f64>,
    /// The organization's only: agents' time handling calls over that and their time
    /// available, 0–1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingNow {
    pub calls: i64,
    /// How long the call waiting longest has waited.
    pub longest_wait_seconds: f64,
}

/// One queue (the skills and language its calls ask of their agent), or the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueSeries {
    /// Sorted; empty for calls that ask for no skill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Every interval from the one holding `from` to the one holding the moment before `to`.
    pub intervals: Vec<QueueMeasures>,
    pub total: QueueMeasures,
    pub now: WaitingNow,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueMeasuresReport {
    pub time_zone: String,
    pub interval: String,
    pub service_level_seconds: u32,
    /// Every queue with calls in the period or waiting now, by language then skills.
    pub queues: Vec<QueueSeries>,
    /// The queues shown, together, with the organization's occupancy.
    pub organization: QueueSeries,
    /// Logged-in agents by state now.
    pub agents_now: std::collections::BTreeMap<String, i64>,
    /// At most 1000 intervals are answered: where the rest start, when they did not all fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_from: Option<String>,
    pub generated_at: Option<DateTime<Utc>>,
}

/// Per queue and for the organization, by interval of its clock: offered, answered and
/// abandoned calls, service level, average speed of answer, longest wait, average handle time,
/// occupancy; and what waits now. The interval ending now is the live figure; formulas in
/// docs/analytics.md.
#[utoipa::path(get, path = "/api/communications/analytics/queues", tag = "analytics", params(QueueMeasuresParams),
    security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, body = QueueMeasuresReport),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn queues(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<QueueMeasuresParams>,
) -> Result<axum::Json<QueueMeasuresReport>, ProblemResponse> {
    let mut violations = comms_proto::Violations::default();
    let from = super::super::rfc3339_param(&mut violations, "from", params.from);
    let to = super::super::rfc3339_param(&mut violations, "to", params.to);
    let service_level_seconds = match params.service_level_seconds.as_deref() {
        None => Some(0),
        Some(raw) => violations.check(
            "service_level_seconds",
            raw.parse::<u32>()
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .ok_or_else(|| format!("{raw:?} is not a whole number of seconds from 1 to 3600")),
        ),
    };
    violations.finish()?;
    let request = v1::GetQueueMeasuresRequest {
        from,
        to,
        interval: params.interval.unwrap_or_default(),
        time_zone: params.time_zone.unwrap_or_default(),
        service_level_seconds: service_level_seconds.expect("checked"),
        language: params.language.unwrap_or_default(),
        skill: params.skill.unwrap_or_default(),
    };
    let report = state
        .analytics
        .clone()
        .get_queue_measures(caller.grpc(request)?)
        .await?
        .into_inner();
    let on_clock = super::on_clock_of(&report.time_zone);
    let measures = |m: v1::QueueMeasures| QueueMeasures {
        start: on_clock(m.start),
        end: on_clock(m.end),
        offered: m.offered,
        answered: m.answered,
        abandoned: m.abandoned,
        waiting: m.waiting,
        answered_within_threshold: m.answered_within_threshold,
        service_level: m.service_level,
        abandon_rate: m.abandon_rate,
        average_speed_of_answer_seconds: m.average_speed_of_answer_seconds,
        longest_wait_seconds: m.longest_wait_seconds,
        average_handle_seconds: m.average_handle_seconds,
        occupancy: m.occupancy,
    };
    let series = |s: v1::QueueSeries, queue: bool| {
        let now = s.now.unwrap_or_default();
        QueueSeries {
            skills: queue.then_some(s.skills),
            language: queue.then_some(s.language),
            intervals: s.intervals.into_iter().map(measures).collect(),
            total: measures(s.total.unwrap_or_default()),
            now: WaitingNow {
                calls: now.calls,
                longest_wait_seconds: now.longest_wait_seconds,
            },
        }
    };
    Ok(axum::Json(QueueMeasuresReport {
        service_level_seconds: report.service_level_seconds,
        queues: report.queues.into_iter().map(|q| series(q, true)).collect(),
        organization: series(report.organization.unwrap_or_default(), false),
        agents_now: report
            .agents_now
            .into_iter()
            .map(|s| (s.status, s.count))
            .collect(),
        next_from: report.next_from.map(|at| on_clock(Some(at))),
        generated_at: super::super::time(report.generated_at),
        time_zone: report.time_zone,
        interval: report.interval,
    }))
}
