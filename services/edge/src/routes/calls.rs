//! `/api/communications/calls`: REST over `comms.v1.CallsService`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use comms_proto::Violations;
use comms_proto::v1::{self, CallStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{non_empty, time};
use crate::auth::Caller;
use crate::json::{Json, Query};
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCall {
    /// The number to call, E.164.
    #[schema(example = "+14155550100", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub to: String,
    /// Caller id, E.164; the provider's default when absent or empty.
    #[schema(pattern = r"^$|^\+[1-9][0-9]{7,14}$")]
    pub from: Option<String>,
    /// An agent you can see (`GET /agents/{id}`); an agent calling leaves it out or names
    /// themselves.
    pub agent_id: Option<uuid::Uuid>,
    /// A campaign you can see (`GET /campaigns/{id}`).
    pub campaign_id: Option<uuid::Uuid>,
    /// One of en, es, fr, de, it, pt, zh, ja; en when absent.
    #[schema(pattern = "^(en|es|fr|de|it|pt|zh|ja)?$")]
    pub language: Option<String>,
    /// Whether the call is recorded: `never`, `on_demand` or `always`; absent: as the fleet's
    /// `ENABLE_RECORDING` says (`always` when set, `on_demand` otherwise).
    #[schema(pattern = "^(never|on_demand|always)$")]
    pub recording: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateCall {
    /// Free text; tabs and line breaks allowed, other control characters not.
    #[schema(
        nullable = false,
        max_length = 10000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub notes: Option<String>,
    #[schema(
        nullable = false,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub disposition: Option<String>,
    /// Replaces the tags.
    #[schema(nullable = false, max_items = 20, value_type = Option<Vec<Tag>>)]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub tags: Option<Vec<String>>,
}

/// A tag: 1–50 characters with at least one visible one, no control characters.
#[derive(ToSchema)]
#[schema(
    min_length = 1,
    max_length = 50,
    pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
)]
#[allow(dead_code)] // describes `UpdateCall::tags` items in the OpenAPI document only
pub struct Tag(String);

#[derive(Debug, Serialize, ToSchema)]
pub struct Call {
    pub id: String,
    pub organization_id: String,
    /// outbound or inbound.
    pub direction: String,
    /// initiated, ringing, answered, ended, failed, no_answer, busy or canceled.
    pub status: String,
    pub to: String,
    pub from: Option<String>,
    pub agent_id: Option<String>,
    pub campaign_id: Option<String>,
    pub language: String,
    pub notes: String,
    pub disposition: String,
    pub tags: Vec<String>,
    pub end_reason: Option<String>,
    /// Talk time in seconds.
    pub duration_seconds: i64,
    pub created_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Increases with every change.
    pub version: u64,
    /// Who carries the line: simulated, twilio or vonage; absent until a carrier took the call.
    pub carrier: Option<String>,
    /// The carrier's id for the call (Twilio's CallSid, Vonage's uuid).
    pub carrier_call_id: Option<String>,
    /// Who answered, as answering-machine detection heard it (campaign calls): human,
    /// machine_start, machine_end_beep, machine_end_silence, machine_end_other, fax or unknown.
    pub answered_by: Option<String>,
    /// never, on_demand or always.
    pub recording_policy: String,
    /// recording, paused or stopped once the call's recording began.
    pub recording_state: Option<String>,
    /// The carrier finished a recording (`GET …/recording` streams it), not deleted since.
    pub has_recording: bool,
    /// An inbound call's IVR flow and the version it walks to its end; absent without one.
    pub ivr_flow_id: Option<String>,
    pub ivr_flow_version: Option<u32>,
    /// The node of its flow it stopped at last.
    pub ivr_node: Option<String>,
    /// The supervisors on the call with its agent now (`POST …/monitor`).
    pub monitors: Vec<CallMonitor>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallMonitor {
    /// The supervisor's user id.
    pub supervisor_id: String,
    #[schema(pattern = "^(listen|whisper|barge)$")]
    pub mode: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallPage {
    pub data: Vec<Call>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Comma-separated statuses, e.g. `ringing,answered`; all when absent.
    #[param(
        pattern = "^(initiated|ringing|answered|ended|failed|no_answer|busy|canceled)(,(initiated|ringing|answered|ended|failed|no_answer|busy|canceled))*$"
    )]
    pub status: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub agent_id: Option<String>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub campaign_id: Option<String>,
    /// RFC 3339; calls created at or after.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub created_after: Option<String>,
    /// RFC 3339; calls created before.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub created_before: Option<String>,
    /// 1–200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EndParams {
    /// Why the call is being ended; kept on the call.
    #[param(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub reason: Option<String>,
}

/// The REST name of a status: `CALL_STATUS_NO_ANSWER` → `no_answer`.
fn status_name(status: CallStatus) -> String {
    status
        .as_str_name()
        .trim_start_matches("CALL_STATUS_")
        .to_ascii_lowercase()
}

fn status_from_name(name: &str) -> Option<CallStatus> {
    CallStatus::from_str_name(&format!("CALL_STATUS_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != CallStatus::Unspecified)
}

impl From<v1::Call> for Call {
    fn from(call: v1::Call) -> Self {
        Self {
            direction: call
                .direction()
                .as_str_name()
                .trim_start_matches("CALL_DIRECTION_")
                .to_ascii_lowercase(),
            status: status_name(call.status()),
            id: call.id,
            organization_id: call.organization_id,
            to: call.to,
            from: non_empty(call.from),
            agent_id: non_empty(call.agent_id),
            campaign_id: non_empty(call.campaign_id),
            language: call.language,
            notes: call.notes,
            disposition: call.disposition,
            tags: call.tags,
            end_reason: non_empty(call.end_reason),
            duration_seconds: call.duration_seconds,
            created_at: time(call.created_at),
            answered_at: time(call.answered_at),
            ended_at: time(call.ended_at),
            updated_at: time(call.updated_at),
            version: call.version,
            carrier: non_empty(call.carrier),
            carrier_call_id: non_empty(call.carrier_call_id),
            answered_by: non_empty(call.answered_by),
            recording_policy: call.recording_policy,
            recording_state: non_empty(call.recording_state),
            has_recording: call.has_recording,
            ivr_flow_id: non_empty(call.ivr_flow_id),
            ivr_flow_version: (call.ivr_flow_version > 0).then_some(call.ivr_flow_version),
            ivr_node: non_empty(call.ivr_node),
            monitors: call
                .monitors
                .into_iter()
                .map(|m| CallMonitor {
                    supervisor_id: m.supervisor_id,
                    mode: m.mode,
                })
                .collect(),
        }
    }
}

/// Place an outbound call. Send an `Idempotency-Key` header to make retries safe.
#[utoipa::path(post, path = "/api/communications/calls", tag = "calls", request_body = CreateCall,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the same call")),
    security(("bearer" = ["calls:write"])),
    responses(
        (status = 201, body = Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`agent_id` or `campaign_id` names nothing you can reach", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<CreateCall>,
) -> Result<(StatusCode, axum::Json<Call>)> {
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let request = v1::InitiateCallRequest {
        to: body.to,
        from: body.from.unwrap_or_default(),
        agent_id: body.agent_id.map(|id| id.to_string()).unwrap_or_default(),
        campaign_id: body
            .campaign_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        language: body.language.unwrap_or_default(),
        idempotency_key,
        recording: body.recording.unwrap_or_default(),
    };
    let call = state
        .calls
        .clone()
        .initiate_call(caller.grpc(request)?)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(call.into_inner().into())))
}

/// One call of the caller's organization.
#[utoipa::path(get, path = "/api/communications/calls/{id}", tag = "calls", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["calls:read"])),
    responses(
        (status = 200, body = Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Call>> {
    let call = state
        .calls
        .clone()
        .get_call(caller.grpc(v1::GetCallRequest { id })?)
        .await?;
    Ok(axum::Json(call.into_inner().into()))
}

/// Calls, newest first, filtered and paged by cursor.
#[utoipa::path(get, path = "/api/communications/calls", tag = "calls", params(ListParams),
    security(("bearer" = ["calls:read"])),
    responses(
        (status = 200, body = CallPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<CallPage>> {
    let mut violations = Violations::default();
    let mut statuses = Vec::new();
    for name in params
        .status
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match status_from_name(name) {
            Some(status) => statuses.push(status as i32),
            None => violations.add("status", format!("{name:?} is not one of initiated, ringing, answered, ended, failed, no_answer, busy, canceled")),
        }
    }
    let created_after =
        super::rfc3339_param(&mut violations, "created_after", params.created_after);
    let created_before =
        super::rfc3339_param(&mut violations, "created_before", params.created_before);
    let page_size = violations
        .check("page_size", super::page_size(params.page_size.as_deref()))
        .unwrap_or(0);
    violations.finish()?;
    let request = v1::ListCallsRequest {
        statuses,
        agent_id: params.agent_id.unwrap_or_default(),
        campaign_id: params.campaign_id.unwrap_or_default(),
        created_after,
        created_before,
        page: Some(v1::PageRequest {
            page_size,
            page_token: params.page_token.unwrap_or_default(),
        }),
    };
    let response = state
        .calls
        .clone()
        .list_calls(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(CallPage {
        data: response.calls.into_iter().map(Call::from).collect(),
        next_page_token: super::next_page_token(response.page),
    }))
}

/// Set notes, disposition or tags; fields left out are unchanged.
#[utoipa::path(put, path = "/api/communications/calls/{id}", tag = "calls", params(("id" = uuid::Uuid, Path)), request_body = UpdateCall,
    security(("bearer" = ["calls:write"])),
    responses(
        (status = 200, body = Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateCall>,
) -> Result<axum::Json<Call>> {
    let request = v1::UpdateCallRequest {
        id,
        notes: body.notes,
        disposition: body.disposition,
        tags: body.tags.map(|values| v1::TagList { values }),
    };
    let call = state
        .calls
        .clone()
        .update_call(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(call.into_inner().into()))
}

/// Hang up: an answered call ends, a call not yet answered is canceled. Ending twice is 409.
///
/// The call is not deleted: it stays readable, with its final status, as call history must.
#[utoipa::path(delete, path = "/api/communications/calls/{id}", tag = "calls", params(("id" = uuid::Uuid, Path), EndParams),
    security(("bearer" = ["calls:write"])),
    responses(
        (status = 200, body = Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<EndParams>,
) -> Result<axum::Json<Call>> {
    let request = v1::EndCallRequest {
        id,
        reason: params.reason.unwrap_or_default(),
        ..Default::default()
    };
    let call = state.calls.clone().end_call(caller.grpc(request)?).await?;
    Ok(axum::Json(call.into_inner().into()))
}
