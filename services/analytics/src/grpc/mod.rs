//! The `comms.v1.AnalyticsService` gRPC API.

use comms_auth::{Permission, Tokens};
use comms_proto::ApiError;
use comms_proto::v1::analytics_service_server::AnalyticsService;
use comms_proto::v1::{self, StatusCount};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use crate::{agents, campaigns, dashboard, queues, volumes};

mod period;
mod queue_measures;

use period::Period;

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

/// The RPC's span, continuing the caller's trace.
fn span<T>(method: &'static str, request: &Request<T>) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        rpc.service = "comms.v1.AnalyticsService",
        rpc.method = method
    );
    comms_telemetry::continue_trace(&span, comms_telemetry::grpc_traceparent(request.metadata()));
    span
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsGrpc {
    async fn get_dashboard(
        &self,
        request: Request<v1::GetDashboardRequest>,
    ) -> Result<Response<v1::Dashboard>, Status> {
        let span = span("GetDashboard", &request);
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
        let span = span("GetAgentReport", &request);
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
                        sentiment_calls: d.sentiment_calls,
                        negative_calls: d.negative_calls,
                        average_sentiment: d.average_sentiment,
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
        let span = span("GetCampaignReport", &request);
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
                        lines_per_agent: r.lines_per_agent,
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
        let span = span("GetCallVolumes", &request);
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            identity.require(Permission::AnalyticsRead)?;
            let now = chrono::Utc::now();
            let request = request.get_ref();
            let mut violations = comms_proto::Violations::default();
            let period = period::read(
                &mut violations,
                period::Fields {
                    from: &request.from,
                    to: &request.to,
                    interval: &request.interval,
                    time_zone: &request.time_zone,
                },
            );
            let filter = volumes_filter(&mut violations, request);
            violations.finish()?;
            let Period {
                bounds,
                rest,
                interval,
                zone,
            } = period.resolve(now)?;
            let (by_interval, total) =
                volumes::volumes(&self.pool, &identity.org_id, &bounds, &filter)
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
                sentiment_calls: v.judged,
                negative_calls: v.negative,
                average_sentiment: v.average_sentiment(),
                sentiment_alerts: v.sentiment_alerts,
            };
            Ok(Response::new(v1::CallVolumes {
                time_zone: zone.name().to_owned(),
                interval: interval.as_str().to_owned(),
                intervals: bounds
                    .windows(2)
                    .zip(&by_interval)
                    .map(|(pair, v)| volume(pair[0], pair[1], v))
                    .collect(),
                total: Some(volume(bounds[0], bounds[bounds.len() - 1], &total)),
                next_from: rest.map(comms_proto::time::to_timestamp),
                generated_at: Some(comms_proto::time::to_timestamp(now)),
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_queue_measures(
        &self,
        request: Request<v1::GetQueueMeasuresRequest>,
    ) -> Result<Response<v1::QueueMeasuresReport>, Status> {
        let span = span("GetQueueMeasures", &request);
        async move {
            let identity = comms_auth::service::identify(&self.tokens, request.metadata())?;
            identity.require(Permission::AnalyticsRead)?;
            let now = chrono::Utc::now();
            let (period, filter) = queue_measures::read(request.get_ref(), now)?;
            let report = queues::report(&self.pool, &identity.org_id, &period.bounds, &filter, now)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "queue measures query failed");
                    ApiError::internal()
                })?;
            Ok(Response::new(queue_measures::to_proto(
                report, &period, &filter, now,
            )))
        }
        .instrument(span)
        .await
    }
}

/// A volumes request's filter, every field's problem named.
fn volumes_filter(
    violations: &mut comms_proto::Violations,
    request: &v1::GetCallVolumesRequest,
) -> volumes::Filter {
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
    volumes::Filter {
        direction,
        campaign_id: id(violations, "campaign_id", &request.campaign_id),
        agent_id: id(violations, "agent_id", &request.agent_id),
    }
}
