//! `/api/communications/analytics`: REST over `comms.v1.AnalyticsService`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

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
        generated_at: dashboard
            .generated_at
            .as_ref()
            .and_then(comms_proto::time::from_timestamp),
    }))
}
