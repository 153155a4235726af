//! `/api/communications/numbers`: the organization's phone numbers, over
//! `comms.v1.CallsService`. A call to one is queued to an agent with its language and skills.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::agents::LanguageCode;
use super::time;
use crate::auth::Caller;
use crate::json::Json;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignNumber {
    /// E.164, a number of the carrier's account.
    #[schema(example = "+14155550100", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub number: String,
    /// What callers hear and agents must speak; `en` when absent.
    #[schema(value_type = Option<LanguageCode>)]
    pub language: Option<String>,
    /// Skills the agent must have, e.g. `billing`, each once.
    #[schema(max_items = 20, value_type = Option<Vec<SkillName>>)]
    pub skills: Option<Vec<String>>,
    /// Whether its calls are recorded: `never`, `on_demand` or `always`; absent: as the
    /// fleet's `ENABLE_RECORDING` says.
    #[schema(pattern = "^(never|on_demand|always)$")]
    pub recording: Option<String>,
    /// An IVR flow of the organization with a published version: what its callers hear first.
    pub ivr_flow_id: Option<uuid::Uuid>,
}

/// a-z, 0-9, `_` and `-`, as agents' skills are named.
#[derive(ToSchema)]
#[schema(pattern = "^[a-z0-9_-]{1,50}$")]
#[allow(dead_code)] // describes skill names in the OpenAPI document only
pub struct SkillName(String);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateNumber {
    #[schema(nullable = false, value_type = Option<LanguageCode>)]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub language: Option<String>,
    /// Replaces the skills; each once.
    #[schema(nullable = false, max_items = 20, value_type = Option<Vec<SkillName>>)]
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub skills: Option<Vec<String>>,
    /// `never`, `on_demand` or `always`; `null` to follow `ENABLE_RECORDING` again.
    #[serde(default, deserialize_with = "crate::json::nullable")]
    #[schema(value_type = Option<String>, pattern = "^(never|on_demand|always)$")]
    pub recording: Option<Option<String>>,
    /// An IVR flow with a published version; `null` for none (callers wait for an agent).
    #[serde(default, deserialize_with = "crate::json::nullable")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub ivr_flow_id: Option<Option<uuid::Uuid>>,
}

/// Where the carriers must send the number's calls (configure them on the number at Twilio, on
/// the application at Vonage): built from `PUBLIC_BASE_URL`, absent without a carrier.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberWebhooks {
    /// Twilio: "A call comes in" (HTTP POST).
    pub twilio_voice_url: Option<String>,
    /// Twilio: "Call status changes".
    pub twilio_status_url: Option<String>,
    /// Vonage application: answer URL (HTTP POST).
    pub vonage_answer_url: Option<String>,
    /// Vonage application: event URL (HTTP POST).
    pub vonage_event_url: Option<String>,
    /// Twilio: "A message comes in" (HTTP POST).
    pub twilio_sms_url: Option<String>,
    /// Vonage number: inbound SMS webhook (signed, `VONAGE_SIGNATURE_METHOD`).
    pub vonage_sms_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Number {
    pub id: String,
    pub number: String,
    pub language: String,
    pub skills: Vec<String>,
    /// never, on_demand or always; absent: as `ENABLE_RECORDING` says.
    pub recording: Option<String>,
    /// The IVR flow its callers hear first; absent: they wait for an agent at once.
    pub ivr_flow_id: Option<String>,
    pub webhooks: NumberWebhooks,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NumberList {
    pub numbers: Vec<Number>,
}

fn to_rest(state: &AppState, org: &str, number: v1::Number) -> Number {
    let url = |base: &str, path: &str| format!("{base}/webhooks/{path}");
    let twilio = state.carriers.twilio.as_ref().map(|t| &t.public_base_url);
    let vonage = state.carriers.vonage.as_ref().map(|v| &v.public_base_url);
    Number {
        id: number.id,
        number: number.number,
        language: number.language,
        skills: number.skills,
        recording: super::non_empty(number.recording),
        ivr_flow_id: super::non_empty(number.ivr_flow_id),
        webhooks: NumberWebhooks {
            twilio_voice_url: twilio.map(|b| url(b, &format!("twilio/{org}/inbound/voice"))),
            twilio_status_url: twilio.map(|b| url(b, &format!("twilio/{org}/inbound/status"))),
            vonage_answer_url: vonage.map(|b| url(b, &format!("vonage/{org}/inbound/answer"))),
            vonage_event_url: vonage.map(|b| url(b, &format!("vonage/{org}/inbound/event"))),
            twilio_sms_url: twilio.map(|b| url(b, &format!("twilio/{org}/inbound/sms"))),
            vonage_sms_url: vonage.map(|b| url(b, &format!("vonage/{org}/inbound/sms"))),
        },
        created_at: time(number.created_at),
        updated_at: time(number.updated_at),
    }
}

/// Give a number of the carrier's account to the organization: its calls are then answered,
/// queued to an agent with its language and skills. A number another organization (or this
/// one) holds is 409 until released.
#[utoipa::path(post, path = "/api/communications/numbers", tag = "numbers", request_body = AssignNumber,
    security(("bearer" = ["numbers:manage"])),
    responses(
        (status = 201, body = Number),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The number is assigned already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`ivr_flow_id` names no flow of the organization", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AssignNumber>,
) -> Result<(StatusCode, axum::Json<Number>)> {
    let request = v1::AssignNumberRequest {
        number: body.number,
        language: body.language.unwrap_or_default(),
        skills: body.skills.unwrap_or_default(),
        recording: body.recording.unwrap_or_default(),
        ivr_flow_id: body
            .ivr_flow_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    };
    let number = state
        .calls
        .clone()
        .assign_number(caller.grpc(request)?)
        .await?
        .into_inner();
    let org = caller.identity.org_id.clone();
    Ok((
        StatusCode::CREATED,
        axum::Json(to_rest(&state, &org, number)),
    ))
}

/// The organization's numbers, in the order of their digits.
#[utoipa::path(get, path = "/api/communications/numbers", tag = "numbers",
    security(("bearer" = ["numbers:read"])),
    responses(
        (status = 200, body = NumberList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<NumberList>> {
    let numbers = state
        .calls
        .clone()
        .list_numbers(caller.grpc(v1::ListNumbersRequest {})?)
        .await?
        .into_inner()
        .numbers;
    let org = caller.identity.org_id.clone();
    Ok(axum::Json(NumberList {
        numbers: numbers
            .into_iter()
            .map(|n| to_rest(&state, &org, n))
            .collect(),
    }))
}

/// One number.
#[utoipa::path(get, path = "/api/communications/numbers/{id}", tag = "numbers", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["numbers:read"])),
    responses(
        (status = 200, body = Number),
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
) -> Result<axum::Json<Number>> {
    let number = state
        .calls
        .clone()
        .get_number(caller.grpc(v1::GetNumberRequest { id })?)
        .await?
        .into_inner();
    let org = caller.identity.org_id.clone();
    Ok(axum::Json(to_rest(&state, &org, number)))
}

/// Change a number's language, skills or recording policy; calls already waiting keep what they
/// were queued with.
#[utoipa::path(put, path = "/api/communications/numbers/{id}", tag = "numbers", params(("id" = uuid::Uuid, Path)), request_body = UpdateNumber,
    security(("bearer" = ["numbers:manage"])),
    responses(
        (status = 200, body = Number),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`ivr_flow_id` names no flow of the organization", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateNumber>,
) -> Result<axum::Json<Number>> {
    let request = v1::UpdateNumberRequest {
        id,
        language: body.language.unwrap_or_default(),
        skills: body.skills.map(|values| v1::SkillNames { values }),
        recording: body.recording.map(Option::unwrap_or_default),
        ivr_flow_id: body
            .ivr_flow_id
            .map(|id| id.map(|id| id.to_string()).unwrap_or_default()),
    };
    let number = state
        .calls
        .clone()
        .update_number(caller.grpc(request)?)
        .await?
        .into_inner();
    let org = caller.identity.org_id.clone();
    Ok(axum::Json(to_rest(&state, &org, number)))
}

/// Release a number: its calls are no longer answered, and it may be assigned again.
#[utoipa::path(delete, path = "/api/communications/numbers/{id}", tag = "numbers", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["numbers:manage"])),
    responses(
        (status = 204, description = "Released"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state
        .calls
        .clone()
        .release_number(caller.grpc(v1::GetNumberRequest { id })?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedCall {
    /// The caller, E.164; absent: withheld.
    #[schema(example = "+14155550142", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub from: Option<String>,
    /// Answers to the number's IVR menus in turn: `digits` pressed, `speech` said, or `{}`
    /// for silence.
    #[schema(max_items = 50)]
    #[serde(default)]
    pub inputs: Vec<super::ivr_flows::SimulatedInput>,
}

/// A call to this number from a simulated caller, on a fleet without a carrier (`scripts/dev`;
/// 409 where a carrier takes the calls): answered as a carrier's call would be, it walks the
/// number's IVR flow with `inputs` as the caller's answers and is queued to an agent. The
/// caller stays on the line until someone hangs up (`DELETE /calls/{id}`); a flow that ends
/// (voicemail, transfer, hang up) ends the call.
#[utoipa::path(post, path = "/api/communications/numbers/{id}/simulated-calls", tag = "numbers", params(("id" = uuid::Uuid, Path)), request_body = SimulatedCall,
    security(("bearer" = ["numbers:read"])),
    responses(
        (status = 201, body = super::calls::Call),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A carrier takes this fleet's calls", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn simulate_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<SimulatedCall>,
) -> Result<(StatusCode, axum::Json<super::calls::Call>)> {
    let request = v1::SimulateInboundCallRequest {
        id,
        from: body.from.unwrap_or_default(),
        inputs: body
            .inputs
            .into_iter()
            .map(|input| v1::IvrInput {
                digits: input.digits.unwrap_or_default(),
                speech: input.speech.unwrap_or_default(),
            })
            .collect(),
    };
    let call = state
        .calls
        .clone()
        .simulate_inbound_call(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, axum::Json(call.into())))
}
