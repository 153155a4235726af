//! The `comms.v1.AnalyticsService` gRPC API.

use comms_auth::{Permission, Tokens};
use comms_proto::ApiError;
use comms_proto::v1::analytics_service_server::AnalyticsService;
use comms_proto::v1::{self, StatusCount};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use crate::volumes::{self, Interval};
use crate::{agents, campaigns, dashboard};

pub struct AnalyticsGrpc {
    pool: PgPool,
    tokens: Tokens,
}

impl AnalyticsGrpc {
    /// `tokens` verifies the service tokens callers present.
    pub fn new(pool: PgPool, tokens: Tokens) -> Self {
        Self { pool, tokens }
    }
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsGrpc {
    async fn get_dashboard(
        &self,
        request: Request<v1::GetDashboardRequest>,
    ) -> Result<Response<v1::Dashboard>, Status> {
        let span = tracing::info_span!(
            "rpc",
            rpc.service = "comms.v1.AnalyticsService",
            rpc.method = "GetDashboard"
        );
        comms_telemetry::continue_trace(
            &span,
            comms_telemetry::grpc_traceparent(request.metadata()),
        );
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            identity.require(Permission::AnalyticsRead)?;
            let dashboard = dashboard::load(&self.pool, &identity.org_id)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "dashboard query failed");
                    ApiError::internal()
                })?;
            Ok(Response::new(v1::Dashboard {
                total_calls: dashboard.total_calls,
                active_calls: dashboard.active_calls,
                calls_today: dashboard.calls_today,
                average_duration_seconds: dashboard.average_duration_seconds,
                answer_rate: dashboard.answer_rate,
                calls_by_status: dashboard
                    .calls_by_status
                    .into_iter()
                    .map(|(status, count)| StatusCount { status, count })
                    .collect(),
                generated_at: Some(comms_proto::time::to_timestamp(chrono::Utc::now())),
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_agent_report(
        &self,
        request: Request<v1::GetAgentReportRequest>,
    ) -> Result<Response<v1::AgentReport>, Status> {
        let span = tracing::info_span!(
            "rpc",
            rpc.service = "comms.v1.AnalyticsService",
            rpc.method = "GetAgentReport"
        );
        comms_telemetry::continue_trace(
            &span,
            comms_telemetry::grpc_traceparent(request.metadata()),
        );
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            identity.require(Permission::AnalyticsRead)?;
            let now = chrono::Utc::now();
            let date = &request.get_ref().date;
            let day = if date.is_empty() {
                now.date_naive()
            } else {
                chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                    ApiError::invalid("date", format!("{date:?} is not a date like 2026-11-21"))
                })?
            };
            let days = agents::report(&self.pool, &identity.org_id, day, now)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "agent report query failed");
                    ApiError::internal()
                })?;
            Ok(Response::new(v1::AgentReport {
                date: day.to_string(),
                agents: days
                    .iter()
                    .map(|d| v1::AgentReportRow {
                        agent_id: d.agent_id.to_string(),
                        name: d.name.clone(),
                        seconds_by_state: d
                            .seconds_by_state
                            .iter()
                            .map(|(state, seconds)| v1::StateSeconds {
                                state: state.clone(),
                                seconds: *seconds,
                            })
                            .collect(),
                        calls_handled: d.calls_handled,
                        average_handle_seconds: d.average_handle_seconds(),
                        occupancy: d.occupancy(),
                        utilization: d.utilization(),
                    })
                    .collect(),
                generated_at: Some(comms_proto::time::to_timestamp(now)),
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_campaign_report(
        &self,
        request: Request<v1::GetCampaignReportRequest>,
    ) -> Result<Response<v1::CampaignReport>, Status> {
        let span = tracing::info_span!(
            "rpc",
            rpc.service = "comms.v1.AnalyticsService",
            rpc.method = "GetCampaignReport"
        );
        comms_telemetry::continue_trace(
            &span,
            comms_telemetry::grpc_traceparent(request.metadata()),
        );
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            identity.require(Permission::AnalyticsRead)?;
            let raw = &request.get_ref().campaign_id;
            let campaign = if raw.is_empty() {
                None
            } else {
                Some(uuid::Uuid::parse_str(raw).map_err(|_| {
                    ApiError::invalid("campaign_id", format!("{raw:?} is not a UUID"))
                })?)
            };
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(comms_eventstore::unit_of_work::api_error)?;
            let results = campaigns::report(&mut conn, &identity.org_id, campaign)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "campaign report query failed");
                    ApiError::internal()
                })?;
            if let (Some(id), true) = (campaign, results.is_empty()) {
                return Err(ApiError::not_found("campaign", &id.to_string()).into());
            }
            Ok(Response::new(v1::CampaignReport {
                campaigns: results
                    .iter()
                    .map(|r| v1::CampaignReportRow {
                        campaign_id: r.campaign_id.to_string(),
                        name: r.name.clone(),
                        status: r.status.clone(),
                        contacts: r.contacts,
                        contacts_final: r.contacts_final(),
                        attempts: r.attempts,
                        answered: r.answered,
                        abandoned: r.abandoned,
                        answer_rate: r.answer_rate(),
                        abandon_rate: r.abandon_rate(),
                        success_rate: r.success_rate(),
                        dispositions: r
                            .dispositions
                            .iter()
                            .map(|(disposition, contacts)| v1::DispositionCount {
                                disposition: disposition.clone(),
                                contacts: *contacts,
                            })
                            .collect(),
                    })
                    .collect(),
                generated_at: Some(comms_proto::time::to_timestamp(chrono::Utc::now())),
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_call_volumes(
        &self,
        request: Request<v1::GetCallVolumesRequest>,
    ) -> Result<Response<v1::CallVolumes>, Status> {
        let span = tracing::info_span!(
            "rpc",
            rpc.service = "comms.v1.AnalyticsService",
            rpc.method = "GetCallVolumes"
        );
        comms_telemetry::continue_trace(
            &span,
            comms_telemetry::grpc_traceparent(request.metadata()),
        );
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            identity.require(Permission::AnalyticsRead)?;
            let now = chrono::Utc::now();
            let (query, interval, zone) = volumes_query(request.get_ref(), now)?;
            let (by_interval, total) =
                volumes::volumes(&self.pool, &identity.org_id, &query.bounds, &query.filter)
                    .await
                    .map_err(|error| {
                        tracing::error!(%error, "call volumes query failed");
                        ApiError::internal()
                    })?;
            let volume = |start, end, v: &volumes::Volume| v1::CallVolume {
                start: Some(comms_proto::time::to_timestamp(start)),
                end: Some(comms_proto::time::to_timestamp(end)),
                calls: v.calls,
                answered: v.answered,
                completed: v.completed,
                no_answer: v.no_answer,
                busy: v.busy,
                failed: v.failed,
                canceled: v.canceled,
                in_progress: v.in_progress,
                average_talk_seconds: v.average_talk_seconds(),
            };
            let bounds = &query.bounds;
            Ok(Response::new(v1::CallVolumes {
                time_zone: zone.name().to_owned(),
                interval: interval.as_str().to_owned(),
                intervals: bounds
                    .windows(2)
                    .zip(&by_interval)
                    .map(|(pair, v)| volume(pair[0], pair[1], v))
                    .collect(),
                total: Some(volume(bounds[0], bounds[bounds.len() - 1], &total)),
                next_from: query.rest.map(comms_proto::time::to_timestamp),
                generated_at: Some(comms_proto::time::to_timestamp(now)),
            }))
        }
        .instrument(span)
        .await
    }
}

/// A volumes request, read: the intervals' boundaries and the filter.
struct VolumesQuery {
    bounds: Vec<chrono::DateTime<chrono::Utc>>,
    /// Where the intervals that did not fit start.
    rest: Option<chrono::DateTime<chrono::Utc>>,
    filter: volumes::Filter,
}

/// Reads a volumes request, every field's problem named.
fn volumes_query(
    request: &v1::GetCallVolumesRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(VolumesQuery, Interval, chrono_tz::Tz), ApiError> {
    let mut violations = comms_proto::Violations::default();
    let zone = match request.time_zone.as_str() {
        "" => Some(chrono_tz::Tz::UTC),
        name => violations.check(
            "time_zone",
            name.parse::<chrono_tz::Tz>()
                .map_err(|_| format!("{name:?} is not an IANA time zone (e.g. Europe/Madrid)")),
        ),
    };
    let interval = match request.interval.as_str() {
        "" => Some(Interval::Hour),
        name => violations.check(
            "interval",
            Interval::parse(name).ok_or_else(|| format!("{name:?} is not 15m, hour or day")),
        ),
    };
    let direction = match request.direction.as_str() {
        "" => None,
        name => violations.check(
            "direction",
            comms_events::call::Direction::parse(name)
                .map(|d| d.as_str().to_owned())
                .ok_or_else(|| format!("{name:?} is not inbound or outbound")),
        ),
    };
    let id = |violations: &mut comms_proto::Violations, field: &str, raw: &str| match raw {
        "" => None,
        raw => violations.check(
            field,
            uuid::Uuid::parse_str(raw).map_err(|_| format!("{raw:?} is not a UUID")),
        ),
    };
    let campaign_id = id(&mut violations, "campaign_id", &request.campaign_id);
    let agent_id = id(&mut violations, "agent_id", &request.agent_id);
    // Absent (`Some(None)`), or read (`None` when it is not a time).
    let mut time = |field: &str, at: &Option<prost_types::Timestamp>| match at {
        None => Some(None),
        Some(at) => violations
            .check(
                field,
                comms_proto::time::from_timestamp(at).ok_or("not a time"),
            )
            .map(Some),
    };
    let (from, to) = (time("from", &request.from), time("to", &request.to));
    violations.finish()?;
    let (zone, interval) = (zone.expect("checked"), interval.expect("checked"));
    let to = to.flatten().unwrap_or(now);
    // By default the day `to` ends (today, without either).
    let from = from
        .flatten()
        .unwrap_or_else(|| Interval::Day.start_of(to - chrono::Duration::microseconds(1), zone));
    if to <= from {
        return Err(ApiError::invalid(
            "to",
            "must be after from (to is now when absent)",
        ));
    }
    let (bounds, rest) = volumes::boundaries(from, to, interval, zone);
    let filter = volumes::Filter {
        direction,
        campaign_id,
        agent_id,
    };
    let query = VolumesQuery {
        bounds,
        rest,
        filter,
    };
    Ok((query, interval, zone))
}
