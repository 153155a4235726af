//! Carriers' webhooks about texts: a text to one of the organization's numbers, and the
//! delivery reports of the texts we sent, at the URLs the number is configured with and the
//! calls service gave when it sent:
//!
//! - Twilio (form, `X-Twilio-Signature`): `…/webhooks/twilio/{org}/inbound/sms` (the number's
//!   "A message comes in") and `…/webhooks/twilio/{org}/messages/{id}/status`;
//! - Vonage's SMS API (GET query, form or JSON, signed with `sig` under the signature secret,
//!   `VONAGE_SIGNATURE_METHOD`): `…/webhooks/vonage/{org}/inbound/sms` (the number's inbound
//!   webhook) and `…/webhooks/vonage/{org}/messages/{id}/status` (delivery receipts).
//!
//! Each is verified before anything in it is read; a forged one is 403 and nothing is kept.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use comms_proto::v1;
use comms_proto::{ApiError, ErrorKind};

use super::{twilio, vonage};
use crate::auth::Caller;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// Twilio's inbound message form (Twilio sends more, and adds parameters without notice; the
/// signature covers them all).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // describes the form in the OpenAPI document only
pub struct TwilioMessageForm {
    #[schema(pattern = "^(SM|MM)[0-9a-fA-F]{32}$")]
    MessageSid: String,
    /// The sender, E.164.
    From: String,
    /// The organization's number, E.164.
    To: String,
    Body: Option<String>,
    NumSegments: Option<String>,
    AccountSid: Option<String>,
}

/// Twilio's message status callback form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // describes the form in the OpenAPI document only
pub struct TwilioMessageStatusForm {
    MessageSid: String,
    /// queued, sending, sent, delivered, read, undelivered, failed or canceled.
    MessageStatus: String,
    /// Twilio's error code, with undelivered and failed.
    ErrorCode: Option<String>,
    AccountSid: Option<String>,
}

/// Vonage's inbound SMS parameters (more come; the signature covers them all).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the parameters in the OpenAPI document only
pub struct VonageInboundSms {
    /// The sender, E.164 without `+`.
    msisdn: String,
    /// The organization's number, without `+`.
    to: String,
    #[schema(rename = "messageId")]
    message_id: String,
    text: Option<String>,
    /// text, unicode or binary.
    r#type: Option<String>,
    /// Unix seconds of signing.
    timestamp: String,
    sig: String,
}

/// Vonage's delivery receipt parameters.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the parameters in the OpenAPI document only
pub struct VonageDeliveryReceipt {
    #[schema(rename = "messageId")]
    message_id: String,
    /// accepted, buffered, delivered, expired, failed, rejected or unknown.
    status: String,
    #[schema(rename = "err-code")]
    err_code: Option<String>,
    timestamp: String,
    sig: String,
}

/// A text to one of the organization's numbers: kept in the sender's conversation (a STOP or
/// START changes their consent). Answered with empty TwiML: no reply is sent.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/inbound/sms", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the number belongs to"),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioMessageForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "Empty TwiML", content_type = "text/xml", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The organization has no such number, or there is no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn twilio_inbound(
    State(state): State<AppState>,
    Path(org): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let callback = twilio::verify(&state, &org, String::new(), &uri, &headers, &body).await?;
    let value_of = |name: &str| callback.param(name);
    super::require(
        &["MessageSid", "From", "To"],
        value_of,
        "a Twilio message webhook",
    )?;
    let request = v1::ReceiveMessageRequest {
        carrier: "twilio".into(),
        carrier_message_id: value_of("MessageSid").unwrap_or_default().into(),
        to: value_of("To").unwrap_or_default().into(),
        from: value_of("From").unwrap_or_default().into(),
        text: value_of("Body").unwrap_or_default().into(),
    };
    receive(&state, &callback.caller, request).await?;
    Ok(twilio::xml(super::twiml::response(&[])))
}

/// A text's delivery report (its `StatusCallback`): `delivered`, or `undelivered`/`failed` with
/// Twilio's error code. 204 whether or not it changed anything, so Twilio does not retry.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/messages/{id}/status", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the message belongs to"),
        ("id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioMessageStatusForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn twilio_status(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = twilio::verify(&state, &org, String::new(), &uri, &headers, &body).await?;
    let value_of = |name: &str| callback.param(name);
    super::require(
        &["MessageSid", "MessageStatus"],
        value_of,
        "a Twilio message status callback",
    )?;
    let request = v1::ReportMessageStatusRequest {
        id,
        carrier: "twilio".into(),
        carrier_message_id: value_of("MessageSid").unwrap_or_default().into(),
        status: value_of("MessageStatus").unwrap_or_default().into(),
        error_code: value_of("ErrorCode").unwrap_or_default().into(),
    };
    report(&state, &callback.caller, request).await
}

/// A text to one of the organization's numbers, from Vonage's SMS API (GET, or POST as a form
/// or JSON, as the account is set). 204, so Vonage does not retry for a day; a repeat is the
/// same message.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/inbound/sms", tag = "carrier callbacks",
    params(("org" = String, Path, description = "The organization the number belongs to")),
    request_body(content = VonageInboundSms, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Kept, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The organization has no such number, or there is no Vonage account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn vonage_inbound(
    State(state): State<AppState>,
    Path(org): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let signed = verify_vonage(&state, &org, &method, query.as_deref(), &headers, &body).await?;
    let value_of = |name: &str| signed.param(name);
    super::require(
        &["msisdn", "to", "messageId"],
        value_of,
        "a Vonage inbound SMS",
    )?;
    if value_of("type") == Some("binary") {
        tracing::info!(%org, "a binary SMS (not a text) was not kept");
        return Ok(StatusCode::NO_CONTENT);
    }
    let request = v1::ReceiveMessageRequest {
        carrier: "vonage".into(),
        carrier_message_id: value_of("messageId").unwrap_or_default().into(),
        to: vonage::e164(value_of("to").unwrap_or_default()),
        from: vonage::e164(value_of("msisdn").unwrap_or_default()),
        text: value_of("text").unwrap_or_default().into(),
    };
    receive(&state, &signed.caller, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A delivery receipt for a text we sent (its `callback`). 204 whether or not it changed
/// anything, so Vonage does not retry.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/messages/{id}/status", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the message belongs to"),
        ("id" = uuid::Uuid, Path),
    ),
    request_body(content = VonageDeliveryReceipt, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message in the organization, or no Vonage account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn vonage_status(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let signed = verify_vonage(&state, &org, &method, query.as_deref(), &headers, &body).await?;
    let value_of = |name: &str| signed.param(name);
    super::require(
        &["messageId", "status"],
        value_of,
        "a Vonage delivery receipt",
    )?;
    let request = v1::ReportMessageStatusRequest {
        id,
        carrier: "vonage".into(),
        carrier_message_id: value_of("messageId").unwrap_or_default().into(),
        status: value_of("status").unwrap_or_default().into(),
        error_code: value_of("err-code").unwrap_or_default().into(),
    };
    report(&state, &signed.caller, request).await
}

/// A verified Vonage SMS webhook: on behalf of the fleet in its organization, its parameters.
struct Signed {
    caller: Caller,
    params: Vec<(String, String)>,
}

impl Signed {
    fn param(&self, name: &str) -> Option<&str> {
        super::param(&self.params, name)
    }
}

/// Reads the webhook's parameters (the query of a GET; a POST's form or JSON object) and checks
/// their `sig` before anything else is read.
async fn verify_vonage(
    state: &AppState,
    org: &str,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Signed> {
    let Some(vonage) = &state.carriers.vonage else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "this fleet takes no Vonage callbacks: VONAGE_API_KEY is not set",
        )
        .into());
    };
    let forbidden =
        |why: String| -> ProblemResponse { ApiError::new(ErrorKind::PermissionDenied, why).into() };
    let unreadable = |why: String| forbidden(format!("cannot be read, so not verified: {why}"));
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let params: Vec<(String, String)> = if method == Method::GET {
        serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|e| unreadable(e.to_string()))?
    } else if is_json {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|e| unreadable(e.to_string()))?;
        object
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect()
    } else {
        serde_urlencoded::from_bytes(body).map_err(|e| unreadable(e.to_string()))?
    };
    let now = chrono::Utc::now().timestamp();
    let signed_with = |secret: &str| {
        comms_auth::webhook::verify_vonage_sms(vonage.signature_method, secret, &params, now)
    };
    // Signed by the account that carries the text: the fleet's, or the organization's own, read
    // only when the fleet's does not verify.
    if let Err(why) = signed_with(&vonage.signature_secret) {
        let own = super::own_vonage_application(state, org).await?;
        if own.is_none_or(|own| signed_with(&own.signature_secret).is_err()) {
            return Err(forbidden(why.to_owned()));
        }
    }
    if !comms_auth::identity::valid_id(org) {
        return Err(ApiError::new(ErrorKind::NotFound, format!("no organization {org:?}")).into());
    }
    Ok(Signed {
        caller: Caller::system(state.auth.clone(), org, "vonage"),
        params,
    })
}

async fn receive(
    state: &AppState,
    caller: &Caller,
    request: v1::ReceiveMessageRequest,
) -> Result<()> {
    let message = state
        .messages
        .clone()
        .receive_message(caller.grpc(request)?)
        .await?
        .into_inner();
    tracing::debug!(message_id = %message.id, keyword = %message.keyword, "a text came in");
    Ok(())
}

async fn report(
    state: &AppState,
    caller: &Caller,
    request: v1::ReportMessageStatusRequest,
) -> Result<StatusCode> {
    state
        .messages
        .clone()
        .report_message_status(caller.grpc(request)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// [`vonage_inbound`] as Vonage sends it when the account's webhooks are set to GET: the
/// parameters in the query.
#[utoipa::path(get, path = "/webhooks/vonage/{org}/inbound/sms", tag = "carrier callbacks",
    params(("org" = String, Path, description = "The organization the number belongs to")),
    security(()),
    responses(
        (status = 204, description = "Kept, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The organization has no such number, or there is no Vonage account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn vonage_inbound_get(
    state: State<AppState>,
    org: Path<String>,
    method: Method,
    query: RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode> {
    vonage_inbound(state, org, method, query, headers, Bytes::new()).await
}

/// [`vonage_status`] as Vonage sends it when the account's webhooks are set to GET.
#[utoipa::path(get, path = "/webhooks/vonage/{org}/messages/{id}/status", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the message belongs to"),
        ("id" = uuid::Uuid, Path),
    ),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message in the organization, or no Vonage account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn vonage_status_get(
    state: State<AppState>,
    path: Path<(String, String)>,
    method: Method,
    query: RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode> {
    vonage_status(state, path, method, query, headers, Bytes::new()).await
}
