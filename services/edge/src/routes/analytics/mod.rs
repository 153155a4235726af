//! `/api/communications/analytics`: REST over `comms.v1.AnalyticsService`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::json::Query;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

pub mod queue_measures;

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub total_calls: i64,
    /// Initiated, ringing or answered now.
    pub active_calls: i64,
    /// Created since 00:00 UTC.
    pub calls_today: i64,
    /// Mean talk time of ended calls.
    pub average_duration_seconds: f64,
    /// Answered calls over finished calls, 0–1.
    pub answer_rate: f64,
    pub calls_by_status: std::collections::BTreeMap<String, i64>,
    pub generated_at: Option<DateTime<Utc>>,
}

/// Call counts, durations and answer rate for the caller's organization, from the analytics
/// projection (eventually consistent: typically milliseconds behind).
#[utoipa::path(get, path = "/api/communications/analytics/dashboard", tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, body = Dashboard),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Dashboard>, ProblemResponse> {
    let dashboard = state
        .analytics
        .clone()
        .get_dashboard(caller.grpc(v1::GetDashboardRequest {})?)
        .await?
        .into_inner();
    Ok(axum::Json(Dashboard {
        total_calls: dashboard.total_calls,
        active_calls: dashboard.active_calls,
        calls_today: dashboard.calls_today,
        average_duration_seconds: dashboard.average_duration_seconds,
        answer_rate: dashboard.answer_rate,
        calls_by_status: dashboard
            .calls_by_status
            .into_iter()
            .map(|s| (s.status, s.count))
            .collect(),
        generated_at: super::time(dashboard.generated_at),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentReportParams {
    /// A UTC day, YYYY-MM-DD; today when absent.
    #[param(value_type = Option<chrono::NaiveDate>)]
    pub date: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentDay {
    pub agent_id: String,
    /// The agent's name now; empty for an agent the analytics have not seen created.
    pub name: String,
    /// Seconds in each state that day, e.g. `{"available": 1800, "busy": 2400}`; the state the
    /// agent is in now counts up to the request.
    pub seconds_by_state: std::collections::BTreeMap<String, f64>,
    pub calls_handled: i64,
    /// Talk plus wrap-up time per call handled.
    pub average_handle_seconds: f64,
    /// Handling calls over ready or handling time, 0–1.
    pub occupancy: f64,
    /// Handling calls over logged-in time, 0–1.
    pub utilization: f64,
    /// Of the agent's calls that started that day, those transcribed whose caller's sentiment
    /// was judged, and of them negative.
    pub sentiment_calls: i64,
    pub negative_calls: i64,
    /// Their callers' mean sentiment, -1 (most negative) to 1; null when none was judged.
    pub average_sentiment: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentReport {
    pub date: String,
    pub data: Vec<AgentDay>,
    pub generated_at: Option<DateTime<Utc>>,
}

/// Per agent, for one UTC day: time in each state, calls handled, average handle time,
/// occupancy, utilization and their callers' sentiment.
#[utoipa::path(get, path = "/api/communications/analytics/agents", tag = "analytics", params(AgentReportParams),
    security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, body = AgentReport),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn agents(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AgentReportParams>,
) -> Result<axum::Json<AgentReport>, ProblemResponse> {
    let request = v1::GetAgentReportRequest {
        date: params.date.unwrap_or_default(),
    };
    let report = state
        .analytics
        .clone()
        .get_agent_report(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(AgentReport {
        date: report.date,
        data: report
            .agents
            .into_iter()
            .map(|a| AgentDay {
                agent_id: a.agent_id,
                name: a.name,
                seconds_by_state: a
                    .seconds_by_state
                    .into_iter()
                    .map(|s| (s.state, s.seconds))
                    .collect(),
                calls_handled: a.calls_handled,
                average_handle_seconds: a.average_handle_seconds,
                occupancy: a.occupancy,
                utilization: a.utilization,
                sentiment_calls: a.sentiment_calls,
                negative_calls: a.negative_calls,
                average_sentiment: a.average_sentiment,
            })
            .collect(),
        generated_at: super::time(report.generated_at),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignReportParams {
    /// One campaign; every campaign of the organization when absent.
    #[param(value_type = Option<uuid::Uuid>)]
    pub campaign_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignResults {
    pub campaign_id: String,
    pub name: String,
    pub status: String,
    pub contacts: i64,
    /// Contacts done with: reached, out of attempts, or excluded.
    pub contacts_final: i64,
    pub attempts: i64,
    /// Calls a person answered (connected or abandoned).
    pub answered: i64,
    pub abandoned: i64,
    /// Answered over finished attempts, 0–1.
    pub answer_rate: f64,
    /// Abandoned over answered calls, 0–1 (the measure the legal cap applies to).
    pub abandon_rate: f64,
    /// Reached over final contacts, 0–1.
    pub success_rate: f64,
    /// The dialer's pacing at the last placed call: calls in flight per agent working the
    /// campaign (free, or on its calls); at most 1 progressive, above when predictive dialing
    /// bets on unanswered calls. Null before a call is placed, and for preview campaigns.
    pub lines_per_agent: Option<f64>,
    /// Final contacts by disposition: reached, no_answer, busy, failed, voicemail, abandoned
    /// (out of attempts, by the last outcome) and do_not_call.
    pub contacts_by_disposition: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignReport {
    pub data: Vec<CampaignResults>,
    pub generated_at: Option<DateTime<Utc>>,
}

/// Per campaign: contacts reached, attempts, answer rate, abandon rate, and success rate by
/// disposition.
#[utoipa::path(get, path = "/api/communications/analytics/campaigns", tag = "analytics", params(CampaignReportParams),
    security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, body = CampaignReport),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn campaigns(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<CampaignReportParams>,
) -> Result<axum::Json<CampaignReport>, ProblemResponse> {
    let request = v1::GetCampaignReportRequest {
        campaign_id: params.campaign_id.unwrap_or_default(),
    };
    let report = state
        .analytics
        .clone()
        .get_campaign_report(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(CampaignReport {
        data: report
            .campaigns
            .into_iter()
            .map(|c| CampaignResults {
                campaign_id: c.campaign_id,
                name: c.name,
                status: c.status,
                contacts: c.contacts,
                contacts_final: c.contacts_final,
                attempts: c.attempts,
                answered: c.answered,
                abandoned: c.abandoned,
                answer_rate: c.answer_rate,
                abandon_rate: c.abandon_rate,
                success_rate: c.success_rate,
                lines_per_agent: c.lines_per_agent,
                contacts_by_disposition: c
                    .dispositions
                    .into_iter()
                    .map(|d| (d.disposition, d.contacts))
                    .collect(),
            })
            .collect(),
        generated_at: super::time(report.generated_at),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallVolumesParams {
    /// RFC 3339; the first interval holds it. When absent, the start of the day (in
    /// `time_zone`) that `to` ends: today, without either.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub from: Option<String>,
    /// RFC 3339; the last interval holds the moment before it. Now when absent.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub to: Option<String>,
    /// `15m`, `hour` (the default) or `day`, on `time_zone`'s clock; at most 1000 intervals
    /// are answered at a time.
    #[param(pattern = "^(15m|hour|day)$")]
    pub interval: Option<String>,
    /// An IANA time zone; UTC when absent.
    #[param(value_type = Option<super::contacts::TimeZone>)]
    pub time_zone: Option<String>,
    /// `inbound` or `outbound`; both when absent.
    #[param(pattern = "^(inbound|outbound)$")]
    pub direction: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub campaign_id: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub agent_id: Option<String>,
}

/// What became of the calls that started in `[start, end)`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallVolume {
    /// On the time zone's clock, with its offset then (e.g. `2026-03-29T03:00:00+02:00`).
    pub start: String,
    pub end: String,
    pub calls: i64,
    pub answered: i64,
    /// Answered and hung up.
    pub completed: i64,
    pub no_answer: i64,
    pub busy: i64,
    pub failed: i64,
    pub canceled: i64,
    /// Still ringing or talking.
    pub in_progress: i64,
    /// Mean talk time of the completed calls.
    pub average_talk_seconds: f64,
    /// Of the calls, those transcribed whose caller's sentiment was judged (the whole call's),
    /// and of them negative.
    pub sentiment_calls: i64,
    pub negative_calls: i64,
    /// Their callers' mean sentiment, -1 (most negative) to 1; null when none was judged.
    pub average_sentiment: Option<f64>,
    /// Alerts raised when callers turned negative.
    pub sentiment_alerts: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallVolumes {
    pub time_zone: String,
    pub interval: String,
    /// Every interval from the one holding `from` to the one holding the moment before `to`,
    /// empty ones included: a day across a DST change has 23 or 25 hours.
    pub intervals: Vec<CallVolume>,
    /// All of them together.
    pub total: CallVolume,
    /// At most 1000 intervals are answered: where the rest start (ask again with it as
    /// `from`), when they did not all fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_from: Option<String>,
    pub generated_at: Option<DateTime<Utc>>,
}

/// Calls by when they started, in intervals of the organization's clock, and what became of
/// them: volumes and outcomes by interval, direction, campaign and agent, and their callers'
/// sentiment where they were transcribed.
#[utoipa::path(get, path = "/api/communications/analytics/calls", tag = "analytics", params(CallVolumesParams),
    security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, body = CallVolumes),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn calls(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<CallVolumesParams>,
) -> Result<axum::Json<CallVolumes>, ProblemResponse> {
    let mut violations = comms_proto::Violations::default();
    let from = super::rfc3339_param(&mut violations, "from", params.from);
    let to = super::rfc3339_param(&mut violations, "to", params.to);
    violations.finish()?;
    let request = v1::GetCallVolumesRequest {
        from,
        to,
        interval: params.interval.unwrap_or_default(),
        time_zone: params.time_zone.unwrap_or_default(),
        direction: params.direction.unwrap_or_default(),
        campaign_id: params.campaign_id.unwrap_or_default(),
        agent_id: params.agent_id.unwrap_or_default(),
    };
    let volumes = state
        .analytics
        .clone()
        .get_call_volumes(caller.grpc(request)?)
        .await?
        .into_inner();
    let on_clock = on_clock_of(&volumes.time_zone);
    let volume = |v: v1::CallVolume| CallVolume {
        start: on_clock(v.start),
        end: on_clock(v.end),
        calls: v.calls,
        answered: v.answered,
        completed: v.completed,
        no_answer: v.no_answer,
        busy: v.busy,
        failed: v.failed,
        canceled: v.canceled,
        in_progress: v.in_progress,
        average_talk_seconds: v.average_talk_seconds,
        sentiment_calls: v.sentiment_calls,
        negative_calls: v.negative_calls,
        average_sentiment: v.average_sentiment,
        sentiment_alerts: v.sentiment_alerts,
    };
    Ok(axum::Json(CallVolumes {
        time_zone: volumes.time_zone,
        interval: volumes.interval,
        intervals: volumes.intervals.into_iter().map(volume).collect(),
        total: volume(volumes.total.unwrap_or_default()),
        next_from: volumes.next_from.map(|at| on_clock(Some(at))),
        generated_at: super::time(volumes.generated_at),
    }))
}

/// Writes a time on the clock of the analytics' answer's `time_zone`, with its offset then.
fn on_clock_of(time_zone: &str) -> impl Fn(Option<prost_types::Timestamp>) -> String + use<> {
    let zone: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    move |at| {
        at.as_ref()
            .and_then(comms_proto::time::from_timestamp)
            .map(|at| at.with_timezone(&zone).to_rfc3339())
            .unwrap_or_default()
    }
}
