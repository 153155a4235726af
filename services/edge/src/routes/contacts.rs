//! `/api/communications/contacts` and `/api/communications/do-not-call`: contacts (one by one
//! or imported from CSV) and the organization's do-not-call lists, over
//! `comms.v1.CampaignsService`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use comms_proto::{ApiError, ErrorKind, v1};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::campaigns::{PageParams, page};
use super::non_empty;
use comms_auth::Permission;

use crate::auth::Caller;
use crate::contacts_csv;
use crate::json::{Json, Query};
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// The largest CSV file an import takes.
pub const MAX_CSV_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactFields {
    #[schema(
        example = "Ada Lovelace",
        min_length = 1,
        max_length = 200,
        pattern = r"^(?=.*\S)[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// E.164 numbers; the first is the one dialed.
    #[schema(example = json!(["+14155550100"]), min_items = 1, max_items = 5, value_type = Vec<E164>)]
    pub phones: Vec<String>,
    /// en (default), es, fr, de, it, pt, zh or ja.
    #[serde(default)]
    #[schema(pattern = "^(en|es|fr|de|it|pt|zh|ja)?$")]
    pub language: Option<String>,
    /// IANA zone, e.g. America/Chicago; derived from the first number when absent.
    #[serde(default)]
    #[schema(value_type = Option<TimeZone>)]
    pub time_zone: Option<String>,
    /// Up to 50: names of 1–64 characters, values of up to 1000 (tabs and line breaks allowed,
    /// other control characters not).
    #[serde(default)]
    #[schema(value_type = TextFields)]
    pub custom_fields: BTreeMap<String, String>,
    /// Consent to be called: false (withdrawn) is never dialed; absent is unknown.
    #[serde(default)]
    pub consent: Option<bool>,
    #[serde(default)]
    pub do_not_call: bool,
    /// The CRM's id for this contact: a second import or sync with it updates the same contact.
    #[serde(default)]
    /// Empty or absent for none.
    #[schema(max_length = 128, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub external_id: Option<String>,
}

/// A contacts CSV file, as the document describes it: a header naming at least the `name` and
/// `phone` columns (in any order, any case; `phones`, `language`, `time_zone`, `external_id`,
/// `consent`, `do_not_call` and custom fields may follow), then a row per contact. The pattern
/// states the simplest such header; rows that cannot be read are reported in the answer, each
/// with its line, rather than refusing the file.
pub struct ContactsCsv;

impl utoipa::PartialSchema for ContactsCsv {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        serde_json::from_value(serde_json::json!({
            "type": "string",
            "pattern": "^(name,phone|phone,name)(\\r\\n|\\n)",
            "maxLength": MAX_CSV_BYTES,
            "example": "name,phone,time_zone\nGrace,+14155550123,America/Los_Angeles\n",
        }))
        .expect("a valid schema")
    }
}

impl utoipa::ToSchema for ContactsCsv {}

/// An IANA time zone: the names the campaigns service knows, listed so a client can check
/// before it sends.
pub struct TimeZone;

impl utoipa::PartialSchema for TimeZone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|zone| zone.name())
            .collect();
        serde_json::from_value(serde_json::json!({
            "type": "string", "enum": names, "example": "America/Chicago"
        }))
        .expect("a valid schema")
    }
}

impl utoipa::ToSchema for TimeZone {}

/// Text fields by name (a contact's custom fields, a trigger's matching), written by hand: the
/// derive cannot constrain a map's keys.
pub struct TextFields;

impl utoipa::PartialSchema for TextFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        serde_json::from_value(serde_json::json!({
            "type": "object",
            "maxProperties": 50,
            "propertyNames": {
                "type": "string", "minLength": 1, "maxLength": 64,
                "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
            },
            "additionalProperties": {
                "type": "string", "maxLength": 1000,
                "pattern": "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$"
            },
            "example": { "plan": "gold" }
        }))
        .expect("a valid schema")
    }
}

impl utoipa::ToSchema for TextFields {}

/// An E.164 number.
#[derive(ToSchema)]
#[schema(example = "+14155550100", pattern = r"^\+[1-9][0-9]{7,14}$")]
#[allow(dead_code)] // describes numbers in the OpenAPI document only
pub struct E164(String);

/// A contact: its fields as given (listed here rather than composed with `allOf`, which a
/// schema closed to unknown fields cannot satisfy) and what the service derived.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    pub id: String,
    pub name: String,
    /// E.164 numbers; the first is the one dialed.
    pub phones: Vec<String>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    pub custom_fields: BTreeMap<String, String>,
    pub consent: Option<bool>,
    pub do_not_call: bool,
    pub external_id: Option<String>,
    /// The contact's zone, or the zones their number may be in.
    pub effective_time_zones: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<v1::Contact> for Contact {
    fn from(c: v1::Contact) -> Self {
        let f = c.fields.unwrap_or_default();
        Self {
            id: c.id,
            name: f.name,
            phones: f.phones,
            language: Some(f.language),
            time_zone: non_empty(f.time_zone),
            custom_fields: f.custom_fields.into_iter().collect(),
            consent: f.consent,
            do_not_call: f.do_not_call,
            external_id: non_empty(f.external_id),
            effective_time_zones: c.effective_time_zones,
            created_at: super::time(c.created_at),
            updated_at: super::time(c.updated_at),
        }
    }
}

fn to_proto(fields: ContactFields) -> v1::ContactFields {
    v1::ContactFields {
        name: fields.name,
        phones: fields.phones,
        language: fields.language.unwrap_or_default(),
        time_zone: fields.time_zone.unwrap_or_default(),
        custom_fields: fields.custom_fields.into_iter().collect(),
        consent: fields.consent,
        do_not_call: fields.do_not_call,
        external_id: fields.external_id.unwrap_or_default(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactList {
    pub data: Vec<Contact>,
    pub next_page_token: Option<String>,
}

/// Create a contact, or update the one with the same `external_id` (else the same first
/// number).
#[utoipa::path(post, path = "/api/communications/contacts", tag = "contacts", request_body = ContactFields,
    security(("bearer" = ["campaigns:manage"])),
    responses(
        (status = 200, body = Contact),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upsert(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ContactFields>,
) -> Result<axum::Json<Contact>> {
    let request = v1::UpsertContactRequest {
        fields: Some(to_proto(body)),
    };
    let contact = state
        .campaigns
        .clone()
        .upsert_contact(caller.grpc(request)?)
        .await?;
    Ok(axum::Json(contact.into_inner().into()))
}

/// The organization's contacts, newest first.
#[utoipa::path(get, path = "/api/communications/contacts", tag = "contacts", params(PageParams),
    security(("bearer" = ["campaigns:read"])),
    responses(
        (status = 200, body = ContactList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<ContactList>> {
    let request = v1::ListContactsRequest {
        page: Some(page(params.page_size, params.page_token)?),
    };
    let page = state
        .campaigns
        .clone()
        .list_contacts(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(ContactList {
        data: page.contacts.into_iter().map(Contact::from).collect(),
        next_page_token: super::next_page_token(page.page),
    }))
}

#[utoipa::path(get, path = "/api/communications/contacts/{id}", tag = "contacts", params(("id" = uuid::Uuid, Path)),
    security(("bearer" = ["campaigns:read"])),
    responses(
        (status = 200, body = Contact),
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
) -> Result<axum::Json<Contact>> {
    let contact = state
        .campaigns
        .clone()
        .get_contact(caller.grpc(v1::GetContactRequest { id })?)
        .await?;
    Ok(axum::Json(contact.into_inner().into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowProblem {
    pub field: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedRow {
    /// 1-based, counting data rows (the header is not a row).
    pub row: u32,
    /// The line of the file the row starts on (the header is line 1; a quoted cell may span
    /// lines).
    pub line: u32,
    pub errors: Vec<RowProblem>,
}

/// What an import did. Each row is imported whole or rejected with its reasons; importing the
/// same file again creates nothing twice.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub rows: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub added_to_campaign: u32,
    pub rejected: Vec<RejectedRow>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Higher is called first; 0 by default.
    #[param(value_type = Option<i32>)]
    pub priority: Option<String>,
}

fn check_csv(headers: &HeaderMap) -> Result<()> {
    let is_csv = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim() == "text/csv");
    if is_csv {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "send the file as the body with Content-Type: text/csv",
        )
        .into())
    }
}

async fn import(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
    campaign: Option<(String, i32)>,
) -> Result<ImportReport> {
    // Checked here too, so a caller without it hears 403 before anything about the file.
    caller.require(Permission::CampaignsManage)?;
    check_csv(headers)?;
    let parsed = contacts_csv::parse(body)?;
    let total = parsed.rows.len() + parsed.rejected.len();
    let (campaign_id, priority) = campaign.unwrap_or_default();
    let mut places = Vec::with_capacity(parsed.rows.len());
    let mut messages = Vec::with_capacity(parsed.rows.len());
    for (i, (place, contact)) in parsed.rows.into_iter().enumerate() {
        places.push(place);
        messages.push(v1::ImportContactsRequest {
            contact: Some(contact),
            // The first message carries the campaign; the service reads it from there.
            campaign_id: if i == 0 {
                campaign_id.clone()
            } else {
                String::new()
            },
            priority,
        });
    }
    let report = if messages.is_empty() {
        v1::ImportReport::default()
    } else {
        state
            .campaigns
            .clone()
            .import_contacts(caller.grpc(tokio_stream::iter(messages))?)
            .await?
            .into_inner()
    };
    let mut rejected: Vec<RejectedRow> = parsed
        .rejected
        .into_iter()
        .map(|(place, problems)| RejectedRow {
            row: place.row,
            line: place.line,
            errors: problems
                .into_iter()
                .map(|(field, description)| RowProblem { field, description })
                .collect(),
        })
        .collect();
    rejected.extend(report.rejected.into_iter().map(|r| {
        // The service numbers the rows it was sent; the file's place is ours.
        let place = places.get(r.row as usize - 1).copied();
        RejectedRow {
            row: place.map_or(r.row, |p| p.row),
            line: place.map_or(0, |p| p.line),
            errors: r
                .violations
                .into_iter()
                .map(|v| RowProblem {
                    field: v.field,
                    description: v.description,
                })
                .collect(),
        }
    }));
    rejected.sort_by_key(|r| r.row);
    Ok(ImportReport {
        rows: total as u32,
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        added_to_campaign: report.added_to_campaign,
        rejected,
    })
}

/// Import contacts from a CSV file (header row; columns `name`, `phone`, and optionally `phones`
/// separated by `;`, `language`, `time_zone`, `external_id`, `consent`, `do_not_call`; any other
/// column is a custom field). At most 10 MiB.
#[utoipa::path(post, path = "/api/communications/contacts/import", tag = "contacts",
    request_body(content = ContactsCsv, content_type = "text/csv"),
    security(("bearer" = ["campaigns:manage"])),
    responses(
        (status = 200, body = ImportReport),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import_contacts(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<ImportReport>> {
    Ok(axum::Json(
        import(&state, &caller, &headers, &body, None).await?,
    ))
}

/// Import contacts from a CSV file (as `/contacts/import`) and add each to the campaign.
#[utoipa::path(post, path = "/api/communications/campaigns/{id}/contacts/import", tag = "campaigns",
    params(("id" = uuid::Uuid, Path), ImportParams),
    request_body(content = ContactsCsv, content_type = "text/csv"),
    security(("bearer" = ["campaigns:manage"])),
    responses(
        (status = 200, body = ImportReport),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import_into_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<ImportReport>> {
    let priority = match params.priority.as_deref() {
        None | Some("") => 0,
        Some(p) => p
            .parse()
            .map_err(|_| ApiError::invalid("priority", format!("{p:?} is not a whole number")))?,
    };
    super::parse_id(&id)?;
    Ok(axum::Json(
        import(&state, &caller, &headers, &body, Some((id, priority))).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Numbers {
    /// E.164 numbers, 1 to 3000.
    #[schema(example = json!(["+14155550100"]), min_items = 1, max_items = 3000, value_type = Vec<E164>)]
    pub numbers: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NumbersChanged {
    /// Numbers newly added, or removed.
    pub changed: u64,
}

async fn change_do_not_call(
    state: &AppState,
    caller: &Caller,
    list: String,
    numbers: Vec<String>,
    add: bool,
) -> Result<axum::Json<NumbersChanged>> {
    let request = caller.grpc(v1::DoNotCallRequest { list, numbers })?;
    let mut client = state.campaigns.clone();
    let response = if add {
        client.add_do_not_call_numbers(request).await?
    } else {
        client.remove_do_not_call_numbers(request).await?
    };
    Ok(axum::Json(NumbersChanged {
        changed: response.into_inner().changed,
    }))
}

/// Add numbers to one of the organization's do-not-call lists (created on first use).
#[utoipa::path(post, path = "/api/communications/do-not-call/{list}", tag = "contacts",
    params(("list" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "a-z, 0-9, - and _, e.g. us-federal")),
    request_body = Numbers,
    security(("bearer" = ["do_not_call:manage"])),
    responses(
        (status = 200, body = NumbersChanged),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_do_not_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(list): Path<String>,
    Json(body): Json<Numbers>,
) -> Result<(StatusCode, axum::Json<NumbersChanged>)> {
    let changed = change_do_not_call(&state, &caller, list, body.numbers, true).await?;
    Ok((StatusCode::OK, changed))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoNotCallNumber {
    /// E.164.
    pub phone: String,
    pub added_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoNotCallList {
    pub data: Vec<DoNotCallNumber>,
    pub next_page_token: Option<String>,
}

/// A do-not-call list's numbers in ascending order, paged; a list never used is empty.
#[utoipa::path(get, path = "/api/communications/do-not-call/{list}", tag = "contacts",
    params(("list" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "a-z, 0-9, - and _, e.g. us-federal"), PageParams),
    security(("bearer" = ["do_not_call:manage"])),
    responses(
        (status = 200, body = DoNotCallList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_do_not_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(list): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<DoNotCallList>> {
    let request = v1::ListDoNotCallNumbersRequest {
        list,
        page: Some(page(params.page_size, params.page_token)?),
    };
    let page = state
        .campaigns
        .clone()
        .list_do_not_call_numbers(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(axum::Json(DoNotCallList {
        data: page
            .numbers
            .into_iter()
            .map(|n| DoNotCallNumber {
                phone: n.phone,
                added_at: super::time(n.added_at),
            })
            .collect(),
        next_page_token: super::next_page_token(page.page),
    }))
}

/// Remove numbers from a do-not-call list.
#[utoipa::path(post, path = "/api/communications/do-not-call/{list}/remove", tag = "contacts",
    params(("list" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "a-z, 0-9, - and _, e.g. us-federal")),
    request_body = Numbers,
    security(("bearer" = ["do_not_call:manage"])),
    responses(
        (status = 200, body = NumbersChanged),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_do_not_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(list): Path<String>,
    Json(body): Json<Numbers>,
) -> Result<axum::Json<NumbersChanged>> {
    change_do_not_call(&state, &caller, list, body.numbers, false).await
}
