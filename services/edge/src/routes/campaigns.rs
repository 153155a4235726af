//! `/api/communications/campaigns`: outbound campaigns over `comms.v1.CampaignsService`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use comms_proto::v1;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{non_empty, time};
use crate::auth::Caller;
use crate::json::{Json, Query};
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallingWindow {
    /// Local opening time, HH:MM.
    #[schema(example = "09:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// Local closing time, HH:MM, later than `start`.
    #[schema(example = "20:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
    /// Weekdays in the contact's time zone: mon, tue, wed, thu, fri, sat, sun.
    #[schema(example = json!(["mon", "tue", "wed", "thu", "fri"]), min_items = 1, value_type = Vec<Weekday>)]
    pub days: Vec<String>,
}

/// A do-not-call list's name.
#[derive(ToSchema)]
#[schema(pattern = "^[a-z0-9_-]{1,64}$", example = "internal")]
#[allow(dead_code)] // describes list names in the OpenAPI document only
pub struct ListName(String);

/// A weekday in the contact's time zone.
#[derive(ToSchema)]
#[schema(pattern = "^(mon|tue|wed|thu|fri|sat|sun)$")]
#[allow(dead_code)] // describes `CallingWindow::days` items in the OpenAPI document only
pub struct Weekday(String);

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRule {
    /// Attempts in all, 1–20.
    #[schema(minimum = 1, maximum = 20)]
    pub max_attempts: u32,
    /// Wait before the next attempt, 60–604800 seconds.
    #[schema(minimum = 60, maximum = 604800)]
    pub delay_seconds: u32,
}

/// Per outcome; an abandoned call follows `no_answer`. Outcomes left out keep their rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    pub no_answer: Option<RetryRule>,
    pub busy: Option<RetryRule>,
    pub failed: Option<RetryRule>,
    pub voicemail: Option<RetryRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The event that triggers the campaign.
    /// Today one: planning.task.completed.
    #[schema(example = json!(comms_events::campaign::Trigger::EVENTS[0]), pattern = r"^planning\.task\.completed$")]
    pub event: String,
    /// The event's data must hold these fields with these values; empty matches every event.
    #[serde(default)]
    #[schema(value_type = super::contacts::TextFields)]
    pub matching: BTreeMap<String, String>,
    /// `start` the campaign, or `add_contact` (the task's `data.contact_id`, the CRM's id).
    #[schema(example = "start", pattern = "^(start|add_contact)$")]
    pub action: String,
}

/// Campaign settings. On create every field but `name` is optional; on update every field is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSettings {
    #[schema(
        example = "Renewals, Q3",
        min_length = 1,
        max_length = 200,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    /// `preview`, `progressive` (default) or `predictive`.
    #[schema(
        example = "progressive",
        pattern = "^(preview|progressive|predictive)$"
    )]
    pub dialing_mode: Option<String>,
    /// E.164 number shown to contacts; `null` or empty for the provider's default.
    #[serde(default, deserialize_with = "crate::json::nullable")]
    #[schema(value_type = Option<String>, example = "+14155550100", pattern = r"^$|^\+[1-9][0-9]{7,14}$")]
    pub caller_id: Option<Option<String>>,
    /// en (default), es, fr, de, it, pt, zh or ja.
    #[schema(pattern = "^(en|es|fr|de|it|pt|zh|ja)$")]
    pub language: Option<String>,
    /// Default 09:00–20:00, Monday to Friday, in each contact's time zone.
    pub window: Option<CallingWindow>,
    pub retry: Option<RetryPolicy>,
    /// Abandoned over answered calls to stay under; above 0, at most 0.03 (the default).
    #[schema(example = 0.03, exclusive_minimum = 0.0, maximum = 0.03)]
    pub abandon_cap: Option<f64>,
    /// Names of the organization's do-not-call lists to honour.
    #[schema(value_type = Option<Vec<ListName>>)]
    pub do_not_call_lists: Option<Vec<String>>,
    /// `null` removes the trigger.
    #[serde(default, deserialize_with = "crate::json::nullable")]
    #[schema(value_type = Option<Trigger>)]
    pub trigger: Option<Option<Trigger>>,
    /// Whether its calls are recorded: `never`, `on_demand` or `always`; `null` or absent on
    /// create: as the fleet's `ENABLE_RECORDING` says.
    #[serde(default, deserialize_with = "crate::json::nullable")]
    #[schema(value_type = Option<String>, pattern = "^(never|on_demand|always)$")]
    pub recording: Option<Option<String>>,
    /// Spoken to an answering machine after its beep, in the contact's language, before the
    /// call is hung up; `null` or empty: machines are hung up on without a message.
    #[serde(default, deserialize_with = "crate::json::nullable")]
    #[schema(
        value_type = Option<String>,
        max_length = 500,
        pattern = r"^$|^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$",
        example = "Hello, this is Acme about your renewal. Please call us back on 0800 123 456."
    )]
    pub voicemail_message: Option<Option<String>>,
}

/// The create body: [`CampaignSettings`] with `name` required and not null (in the document
/// only; it is read as `CampaignSettings`, whose own check names a missing name).
pub struct NewCampaign;

impl utoipa::PartialSchema for NewCampaign {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut schema =
            serde_json::to_value(<CampaignSettings as utoipa::PartialSchema>::schema())
                .expect("serialises");
        schema["required"] = serde_json::json!(["name"]);
        schema["properties"]["name"]["type"] = serde_json::json!("string");
        serde_json::from_value(schema).expect("a valid schema")
    }
}

impl utoipa::ToSchema for NewCampaign {}

impl CampaignSettings {
    fn into_proto(self) -> v1::CampaignSettings {
        let rule = |r: Option<RetryRule>| {
            r.map(|r| v1::RetryRule {
                max_attempts: r.max_attempts,
                delay_seconds: r.delay_seconds,
            })
        };
        v1::CampaignSettings {
            name: self.name,
            dialing_mode: self.dialing_mode,
            caller_id: self.caller_id.map(Option::unwrap_or_default),
            recording: self.recording.map(Option::unwrap_or_default),
            voicemail_message: self.voicemail_message.map(Option::unwrap_or_default),
            language: self.language,
            window: self.window.map(|w| v1::CallingWindow {
                start: w.start,
                end: w.end,
                days: w.days,
            }),
            retry: self.retry.map(|r| v1::RetryPolicy {
                no_answer: rule(r.no_answer),
                busy: rule(r.busy),
                failed: rule(r.failed),
                voicemail: rule(r.voicemail),
            }),
            abandon_cap: self.abandon_cap,
            replace_do_not_call_lists: self.do_not_call_lists.is_some(),
            do_not_call_lists: self.do_not_call_lists.unwrap_or_default(),
            clear_trigger: matches!(self.trigger, Some(None)),
            trigger: self.trigger.flatten().map(|t| v1::Trigger {
                event: t.event,
                matching: t.matching.into_iter().collect(),
                action: t.action,
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    /// Contacts on the list, and those not yet final.
    pub contacts: i64,
    pub open: i64,
    pub calls_in_progress: i64,
    pub answered: u64,
    pub abandoned: u64,
    /// Abandoned over answered calls so far.
    pub abandon_rate: f64,
    /// Answered over calls that stopped ringing, as measured (0 before any).
    pub answer_rate: f64,
    /// Talk plus wrap-up of connected calls, on average, as measured (0 before any).
    pub average_handle_seconds: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub dialing_mode: String,
    pub caller_id: Option<String>,
    pub language: String,
    pub window: CallingWindow,
    pub retry: BTreeMap<String, RetryRule>,
    pub abandon_cap: f64,
    pub do_not_call_lists: Vec<String>,
    pub trigger: Option<Trigger>,
    /// never, on_demand or always; absent: as `ENABLE_RECORDING` says.
    pub recording: Option<String>,
    /// What answering machines hear after the beep; absent: none.
    pub voicemail_message: Option<String>,
    /// draft, running, paused, completed or canceled.
    pub status: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub progress: Progress,
}

impl From<v1::Campaign> for Campaign {
    fn from(c: v1::Campaign) -> Self {
        let window = c.window.unwrap_or_default();
        let retry = c.retry.unwrap_or_default();
        let retry = [
            ("no_answer", retry.no_answer),
            ("busy", retry.busy),
            ("failed", retry.failed),
            ("voicemail", retry.voicemail),
        ]
        .into_iter()
        .filter_map(|(outcome, rule)| {
            rule.map(|r| {
                (
                    outcome.to_owned(),
                    RetryRule {
                        max_attempts: r.max_attempts,
                        delay_seconds: r.delay_seconds,
                    },
                )
            })
        })
        .collect();
        let progress = c.progress.unwrap_or_default();
        Self {
            id: c.id,
            name: c.name,
            dialing_mode: c.dialing_mode,
            caller_id: non_empty(c.caller_id),
            language: c.language,
            window: CallingWindow {
                start: window.start,
                end: window.end,
                days: window.days,
            },
            retry,
            abandon_cap: c.abandon_cap,
            do_not_call_lists: c.do_not_call_lists,
            trigger: c.trigger.map(|t| Trigger {
                event: t.event,
                matching: t.matching.into_iter().collect(),
                action: t.action,
            }),
            recording: non_empty(c.recording),
            voicemail_message: non_empty(c.voicemail_message),
            status: c.status,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
            started_at: time(c.started_at),
            ended_at: time(c.ended_at),
            progress: Progress {
                contacts: progress.contacts,
                open: progress.open,
                calls_in_progress: progress.calls_in_progress,
                answered: progress.answered,
                abandoned: progress.abandoned,
                abandon_rate: progress.abandon_rate,
                answer_rate: progress.answer_rate,
                average_handle_seconds: progress.average_handle_seconds,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignList {
    pub data: Vec<Campaign>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// draft, running, paused, completed or canceled; all when absent.
    #[param(pattern = "^(draft|running|paused|completed|canceled)$")]
    pub status: Option<String>,
    /// 1–200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

/// A page request from query parameters; a bad page size is a field error.
pub fn page(size: Option<String>, token: Option<String>) -> Result<v1::PageRequest> {
    let page_size = super::page_size(size.as_deref())
        .map_err(|reason| comms_proto::ApiError::invalid("page_size", reason))?;
    Ok(v1::PageRequest {
        page_size,
        page_token: token.unwrap_or_default(),
    })
}

/// Create a draft campaign. Only `name` is required.
#[utoipa::path(post, path = "/api/communications/campaigns", tag = "campaigns", request_body = NewCampaign,
    security(("bearer" = ["campaigns:manage"])),
    responses(
        (status = 201, body = Campaign),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CampaignSettings>,
) -> Result<(StatusCode, axum::Json<Campaign>)> {
    let request = v1::CreateCampaignRequest {
        settings: Some(body.into_proto()),
    };
    let campaign = state
        .campaigns
        .clone()
        .create_campaign(caller.grpc(request)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(campaign.into_inner().into()),
    ))
}

/// The organization's campaigns, newest first.
#[utoipa::path(get, path = "/api/communications/campaigns", tag = "campaigns", params(ListParams),
    security(("bearer" = ["campaigns:read"])),
    responses(
        (status = 200, body = CampaignList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<CampaignList>> {
    let request = v1::ListCampaignsRequest {
        status: params.status.unwrap_or_default(),
        page: Some(page(params.page_size, params.page_token)?),
    };
    let page = state
        .campaigns
        .clone()
        .list_campaigns(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(CampaignList {
        data: page.campaigns.into_iter().map(Campaign::from).collect(),
        next_page_token: super::next_page_token(page.page),
    }))
}

#[utoipa::path(get, path = "/api/communications/campaigns/{id}", tag = "campaigns", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["campaigns:read"])),
    responses(
        (status = 200, body = Campaign),
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
) -> Result<axum::Json<Campaign>> {
    let campaign = state
        .campaigns
        .clone()
        .get_campaign(caller.grpc(v1::GetCampaignRequest { id })?)
        .await?;
    Ok(axum::Json(campaign.into_inner().into()))
}

/// Change a draft or paused campaign's settings; fields left out are unchanged.
#[utoipa::path(put, path = "/api/communications/campaigns/{id}", tag = "campaigns", params(("id" = uuid::Uuid, Path)),
    request_body = CampaignSettings,
    security(("bearer" = ["campaigns:manage"])),
    responses(
        (status = 200, body = Campaign),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<CampaignSettings>,
) -> Result<axum::Json<Campaign>> {
    let request = v1::UpdateCampaignRequest {
        id,
        settings: Some(body.into_proto()),
    };
    let campaign = state
        .campaigns
        .clone()
        .update_campaign(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(campaign.into_inner().into()))
}

macro_rules! transition {
    ($name:ident, $rpc:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "campaigns", params(("id" = uuid::Uuid, Path)),
                    security(("bearer" = ["campaigns:manage"])),
                    responses(
                        (status = 200, body = Campaign),
                        (status = 400, body = Problem, content_type = "application/problem+json"),
                        (status = 401, body = Problem, content_type = "application/problem+json"),
                        (status = 403, body = Problem, content_type = "application/problem+json"),
                        (status = 404, body = Problem, content_type = "application/problem+json"),
                        (status = 409, body = Problem, content_type = "application/problem+json"),
                    )
                )]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> Result<axum::Json<Campaign>> {
            let campaign = state
                .campaigns
                .clone()
                .$rpc(caller.grpc(v1::CampaignRequest { id })?)
                .await?;
            Ok(axum::Json(campaign.into_inner().into()))
        }
    };
}

transition!(
    start,
    start_campaign,
    "/api/communications/campaigns/{id}/start",
    "Start a draft campaign: the dialer calls its contacts within their windows."
);
transition!(
    pause,
    pause_campaign,
    "/api/communications/campaigns/{id}/pause",
    "Pause a running campaign: no new call is placed; calls in progress finish."
);
transition!(
    resume,
    resume_campaign,
    "/api/communications/campaigns/{id}/resume",
    "Resume a paused campaign."
);
transition!(
    cancel,
    cancel_campaign,
    "/api/communications/campaigns/{id}/cancel",
    "Cancel a draft, running or paused campaign for good."
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddContacts {
    /// Ids of the organization's contacts, 1 to 1000.
    #[schema(min_items = 1, max_items = 1000)]
    pub contact_ids: Vec<uuid::Uuid>,
    /// Higher is called first; 0 by default.
    #[serde(default)]
    pub priority: i32,
}

/// Add existing contacts to the campaign's list (a contact added twice keeps its progress).
#[utoipa::path(post, path = "/api/communications/campaigns/{id}/contacts", tag = "campaigns", params(("id" = uuid::Uuid, Path)),
    request_body = AddContacts,
    security(("bearer" = ["campaigns:manage"])),
    responses(
        (status = 200, body = Campaign),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A `contact_ids` entry names no contact of the organization", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_contacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AddContacts>,
) -> Result<axum::Json<Campaign>> {
    let request = v1::AddCampaignContactsRequest {
        id,
        contact_ids: body.contact_ids.iter().map(ToString::to_string).collect(),
        priority: body.priority,
    };
    let campaign = state
        .campaigns
        .clone()
        .add_campaign_contacts(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(campaign.into_inner().into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignContact {
    pub contact_id: String,
    pub name: String,
    pub phone: String,
    pub priority: i32,
    pub attempts: u32,
    /// connected, no_answer, busy, failed, voicemail or abandoned; absent before a first attempt.
    pub last_outcome: Option<String>,
    /// dialable, calling, waiting, reached, exhausted or do_not_call.
    pub status: String,
    /// Why the contact is not dialed now.
    #[schema(example = "outside window: Tue 21:14 local in America/Chicago")]
    pub reason: Option<String>,
    pub retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignContactList {
    pub data: Vec<CampaignContact>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1–200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

/// The campaign's contacts in the order added, with their dial status and, when they are not
/// dialed now, why.
#[utoipa::path(get, path = "/api/communications/campaigns/{id}/contacts", tag = "campaigns",
    params(("id" = uuid::Uuid, Path), PageParams),
    security(("bearer" = ["campaigns:read"])),
    responses(
        (status = 200, body = CampaignContactList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<CampaignContactList>> {
    let request = v1::ListCampaignContactsRequest {
        id,
        page: Some(page(params.page_size, params.page_token)?),
    };
    let page = state
        .campaigns
        .clone()
        .list_campaign_contacts(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(CampaignContactList {
        data: page
            .contacts
            .into_iter()
            .map(|c| CampaignContact {
                contact_id: c.contact_id,
                name: c.name,
                phone: c.phone,
                priority: c.priority,
                attempts: c.attempts,
                last_outcome: non_empty(c.last_outcome),
                status: c.status,
                reason: non_empty(c.reason),
                retry_at: time(c.retry_at),
            })
            .collect(),
        next_page_token: super::next_page_token(page.page),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// The call the contact gets if the agent accepts.
    pub call_id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub agent_id: String,
    pub contact: super::contacts::Contact,
    pub offered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewShown {
    /// The contact shown to the agent, or `null` when there is none now.
    pub preview: Option<Preview>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    /// The agent whose preview to show (supervisors); the caller's own when absent.
    #[param(value_type = Option<uuid::Uuid>)]
    pub agent_id: Option<String>,
}

/// Preview dialing: the contact a preview campaign shows the agent, before any call is placed.
#[utoipa::path(get, path = "/api/communications/previews", tag = "campaigns", params(PreviewParams),
    security(("bearer" = ["campaigns:preview"])),
    responses(
        (status = 200, body = PreviewShown),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PreviewParams>,
) -> Result<axum::Json<PreviewShown>> {
    let request = v1::GetPreviewRequest {
        agent_id: params.agent_id.unwrap_or_default(),
    };
    let shown = state
        .campaigns
        .clone()
        .get_preview(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(PreviewShown {
        preview: shown.preview.map(|p| Preview {
            call_id: p.call_id,
            campaign_id: p.campaign_id,
            campaign_name: p.campaign_name,
            agent_id: p.agent_id,
            contact: p.contact.unwrap_or_default().into(),
            offered_at: time(p.offered_at),
        }),
    }))
}

macro_rules! preview_answer {
    ($name:ident, $rpc:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "campaigns", params(("call_id" = uuid::Uuid, Path)),
            security(("bearer" = ["campaigns:preview"])),
            responses(
                (status = 200, body = PreviewShown),
                (status = 400, body = Problem, content_type = "application/problem+json"),
                (status = 401, body = Problem, content_type = "application/problem+json"),
                (status = 403, body = Problem, content_type = "application/problem+json"),
                (status = 404, body = Problem, content_type = "application/problem+json"),
                (status = 409, body = Problem, content_type = "application/problem+json"),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            Path(call_id): Path<String>,
        ) -> Result<axum::Json<PreviewShown>> {
            state
                .campaigns
                .clone()
                .$rpc(caller.grpc(v1::PreviewRequest { call_id })?)
                .await?;
            Ok(axum::Json(PreviewShown { preview: None }))
        }
    };
}

preview_answer!(
    accept_preview,
    accept_preview,
    "/api/communications/previews/{call_id}/accept",
    "Accept the contact shown: the call is placed now, with the agent on it."
);
preview_answer!(
    skip_preview,
    skip_preview,
    "/api/communications/previews/{call_id}/skip",
    "Pass on the contact shown: the agent is free again; the contact is offered later."
);
