//! Twilio's callbacks about a call, at the URLs the calls service gave when it dialed:
//! `…/webhooks/twilio/{org}/calls/{call_id}/status` (progress), `…/machine` (answering-machine
//! detection's verdict) and `…/answer` (instructions); and about calls to the organization's
//! numbers, at the URLs configured on each number: `…/webhooks/twilio/{org}/inbound/voice` and
//! `…/inbound/status`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use comms_auth::webhook::{TwilioBody, verify_twilio_request};
use comms_proto::v1;
use comms_proto::{ApiError, ErrorKind};

use super::Leg;
use super::twiml::{self, Verb};
use crate::auth::Caller;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// A Twilio status callback's form (Twilio sends more parameters, and adds new ones without
/// notice; the signature covers them all).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // describes the form in the OpenAPI document only
pub struct TwilioStatusForm {
    /// Twilio's id for the call.
    #[schema(pattern = "^CA[0-9a-fA-F]{32}$")]
    CallSid: String,
    /// queued, initiated, ringing, in-progress, completed, busy, no-answer, failed or canceled.
    CallStatus: String,
    AccountSid: Option<String>,
}

/// Answering-machine detection's callback form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // describes the form in the OpenAPI document only
pub struct TwilioMachineForm {
    #[schema(pattern = "^CA[0-9a-fA-F]{32}$")]
    CallSid: String,
    /// human, machine_start, machine_end_beep, machine_end_silence, machine_end_other, fax or
    /// unknown.
    AnsweredBy: String,
    AccountSid: Option<String>,
    /// Milliseconds the detector listened.
    MachineDetectionDuration: Option<String>,
}

/// `held=1` after the first hold message: the caller is not greeted again.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the query in the OpenAPI document only
pub struct AnswerParams {
    #[param(pattern = "^1$")]
    held: Option<String>,
}

/// How long a caller waiting for an agent is held before Twilio asks again.
const HOLD_SECONDS: u32 = 5;
const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// A verified callback: the call it is about, on behalf of the fleet in its organization, and
/// its parameters.
pub(super) struct Callback {
    pub(super) caller: Caller,
    call_id: String,
    params: Vec<(String, String)>,
    /// The URL Twilio was given, without its query.
    url: String,
}

impl Callback {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        super::param(&self.params, name)
    }
}

/// Verifies the request's signature before reading anything else in it.
pub(super) async fn verify(
    state: &AppState,
    org: &str,
    call_id: String,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Callback> {
    let Some(twilio) = &state.carriers.twilio else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "this fleet takes no Twilio callbacks: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set",
        )
        .into());
    };
    let base = &twilio.public_base_url;
    let forbidden = |why: &str| -> ProblemResponse {
        ApiError::new(ErrorKind::PermissionDenied, why.to_owned()).into()
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| forbidden("missing X-Twilio-Signature"))?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "Twilio's callbacks are application/x-www-form-urlencoded",
        )
        .into());
    }
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| forbidden(&format!("the form cannot be read, so not verified: {e}")))?;
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{base}{path_and_query}");
    // Twilio signs with the auth token of the account that carries the call: the fleet's, or
    // the organization's own, read only when the fleet's does not sign (most callbacks are the
    // fleet's, and need no database).
    let signed_with =
        |token: &str| verify_twilio_request(token, &url, TwilioBody::Form(&params), signature);
    let signed = signed_with(&twilio.auth_token)
        || super::own_twilio_account(state, org)
            .await?
            .is_some_and(|own| signed_with(&own.auth_token));
    if !signed {
        return Err(forbidden(
            "X-Twilio-Signature does not match this request (signed with another auth token, for another URL, or altered)",
        ));
    }
    if !comms_auth::identity::valid_id(org) {
        return Err(ApiError::new(ErrorKind::NotFound, format!("no organization {org:?}")).into());
    }
    Ok(Callback {
        caller: Caller::system(state.auth.clone(), org, "twilio"),
        call_id,
        params,
        url: format!("{base}{}", uri.path()),
    })
}

/// Status callbacks (`initiated`, `ringing`, `answered`, `completed` and the failures) become
/// the call's events; a repeat, or progress the call has passed, changes nothing. 204 either
/// way, so Twilio does not retry.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/calls/{call_id}/status", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioStatusForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &uri, &headers, &body).await?;
    report_status(&state, &callback, Leg::Caller).await
}

/// Status callbacks of the agent's participant in the call's conference (their softphone):
/// its answer is recorded (a supervisor's whisper coaches that leg); its failure (no answer,
/// busy, failed, canceled) hangs the call up; the rest changes nothing. 204 either way.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/calls/{call_id}/agent/status", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioStatusForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn agent_status(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &uri, &headers, &body).await?;
    report_status(&state, &callback, Leg::Agent).await
}

/// Status callbacks of a supervisor's participant in the call's conference: once its call is
/// over (they hung up their softphone, or it never answered), they are off the call; the rest
/// changes nothing. 204 either way.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/calls/{call_id}/supervisor/status", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioStatusForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn supervisor_status(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &uri, &headers, &body).await?;
    report_status(&state, &callback, Leg::Supervisor).await
}

/// A status callback's progress, for the call the callback names (an inbound call: by its
/// SID), or for another leg of it.
async fn report_status(state: &AppState, callback: &Callback, leg: Leg) -> Result<StatusCode> {
    let value_of = |name: &str| callback.param(name);
    super::require(
        &["CallSid", "CallStatus"],
        value_of,
        "a Twilio status callback",
    )?;
    let request = v1::ReportCarrierCallbackRequest {
        call_id: callback.call_id.clone(),
        carrier: "twilio".into(),
        carrier_call_id: callback.param("CallSid").unwrap_or_default().into(),
        status: callback.param("CallStatus").unwrap_or_default().into(),
        answered_by: String::new(),
        duration_seconds: 0,
        agent_leg: leg == Leg::Agent,
        supervisor_leg: leg == Leg::Supervisor,
    };
    super::report(state, &callback.caller, request).await
}

/// Asynchronous answering-machine detection's verdict (`AnsweredBy`) on a campaign call.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/calls/{call_id}/machine", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioMachineForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn machine(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &uri, &headers, &body).await?;
    let value_of = |name: &str| callback.param(name);
    super::require(
        &["CallSid", "AnsweredBy"],
        value_of,
        "a Twilio AMD callback",
    )?;
    let request = v1::ReportCarrierCallbackRequest {
        call_id: callback.call_id.clone(),
        carrier: "twilio".into(),
        carrier_call_id: callback.param("CallSid").unwrap_or_default().into(),
        status: String::new(),
        answered_by: callback.param("AnsweredBy").unwrap_or_default().into(),
        duration_seconds: 0,
        agent_leg: false,
        supervisor_leg: false,
    };
    super::report(&state, &callback.caller, request).await
}

/// The instructions of an answered call: bridged to its agent's softphone when it has an
/// agent, else held (in its language) until routing gives it one; a call already over hangs up.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/calls/{call_id}/answer", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
        AnswerParams,
    ),
    request_body(content = TwilioStatusForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "TwiML", content_type = "text/xml", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn answer(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let callback = verify(&state, &org, call_id, &uri, &headers, &body).await?;
    let (call, language, over) =
        super::call_to_answer(&state, &callback.caller, &callback.call_id).await?;
    let held_before = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "held=1"));
    let again = format!("{}?held=1", callback.url);
    Ok(instructions(
        &call,
        language,
        over,
        held_before,
        &again,
        None,
    ))
}

/// What a call hears: in its conference with its agent when it has one, else held (the
/// message once, then silence) and asked about again at `again`; hung up when over. With
/// `record_to`, the recording starts first (reported there).
fn instructions(
    call: &v1::Call,
    language: comms_proto::Language,
    over: bool,
    held_before: bool,
    again: &str,
    record_to: Option<&str>,
) -> Response {
    let mut verbs = Vec::new();
    let conference = comms_runtime::carriers::bridge_name(&call.id);
    if let (Some(callback), false) = (record_to, over) {
        verbs.push(Verb::StartRecording { callback });
    }
    if over {
        verbs.push(Verb::Hangup);
    } else if !call.announcement.is_empty() {
        // A notification: said once, then the call ends.
        verbs.extend([
            Verb::Say {
                language,
                text: &call.announcement,
            },
            Verb::Hangup,
        ]);
    } else if !call.agent_id.is_empty() {
        // The caller waits in the call's conference, which the calls service then asks the
        // agent's softphone (and any supervisor's) to join; it ends when the caller or the
        // agent leaves.
        verbs.push(Verb::Conference { name: &conference });
    } else {
        if !held_before {
            verbs.push(Verb::Say {
                language,
                text: super::hold_message(language),
            });
        }
        verbs.extend([
            Verb::Pause {
                seconds: HOLD_SECONDS,
            },
            Verb::Redirect { url: again },
        ]);
    }
    xml(twiml::response(&verbs))
}

pub(super) fn xml(twiml: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], twiml).into_response()
}

/// Where a menu's answer comes back: the menu and the attempt it was asked (as the turn that
/// asked wrote them), or `after=voicemail` once a voicemail is recorded.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IvrParams {
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    node: Option<String>,
    #[param(minimum = 1)]
    attempt: Option<u32>,
    #[param(pattern = "^voicemail$")]
    after: Option<String>,
}

/// A menu of the call's IVR flow answered (`Digits` pressed or `SpeechResult` said; neither
/// when nothing was heard before the timeout): the call's next turn, as TwiML. A repeat, or
/// an answer to a menu the call has left, hears where the call is now and changes nothing.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/calls/{call_id}/ivr", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
        IvrParams,
    ),
    request_body(content = TwilioGatherForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "TwiML", content_type = "text/xml", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The call has no IVR flow", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ivr(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let callback = verify(&state, &org, call_id, &uri, &headers, &body).await?;
    let params: IvrParams = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|e| ApiError::invalid("query", e.to_string()))?;
    if params.after.is_some() {
        // The voicemail is recorded (its recording is reported on its own callback).
        return Ok(xml(twiml::response(&[Verb::Hangup])));
    }
    let request = v1::WalkIvrRequest {
        call_id: callback.call_id.clone(),
        node: params.node.unwrap_or_default(),
        attempt: params.attempt.unwrap_or(1),
        digits: callback.param("Digits").unwrap_or_default().into(),
        speech: callback.param("SpeechResult").unwrap_or_default().into(),
    };
    let turn = super::ivr::walk(&state, &callback.caller, request).await?;
    Ok(xml(super::ivr::twiml(
        &turn,
        callback.url.trim_end_matches("/ivr"),
    )))
}

/// What Twilio posts to a `<Gather>`'s action (with the call's usual parameters).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // describes the form in the OpenAPI document only
pub struct TwilioGatherForm {
    #[schema(pattern = "^CA[0-9a-fA-F]{32}$")]
    CallSid: String,
    /// The keys pressed.
    #[schema(pattern = "^[0-9*#]{1,20}$")]
    Digits: Option<String>,
    /// What was said, as Twilio's recognizer heard it.
    #[schema(max_length = 500)]
    SpeechResult: Option<String>,
    AccountSid: Option<String>,
}

/// A Twilio voice webhook's form: a call to one of the organization's numbers.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // describes the form in the OpenAPI document only
pub struct TwilioVoiceForm {
    #[schema(pattern = "^CA[0-9a-fA-F]{32}$")]
    CallSid: String,
    /// The organization's number that was called, E.164.
    To: String,
    /// The caller, E.164 (absent or not a number when withheld).
    From: Option<String>,
    AccountSid: Option<String>,
}

/// A call to one of the organization's numbers (the number's "A call comes in" webhook): the
/// inbound call starts, is queued to an agent with the number's language and skills, and hears
/// the hold message in the number's language until routing bridges it to the agent's softphone.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/inbound/voice", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the number belongs to"),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioVoiceForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "TwiML", content_type = "text/xml", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The organization has no such number, or there is no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn inbound_voice(
    State(state): State<AppState>,
    Path(org): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let callback = verify(&state, &org, String::new(), &uri, &headers, &body).await?;
    let value_of = |name: &str| callback.param(name);
    super::require(&["CallSid", "To"], value_of, "a Twilio voice webhook")?;
    let request = v1::ReceiveCallRequest {
        carrier: "twilio".into(),
        carrier_call_id: callback.param("CallSid").unwrap_or_default().into(),
        to: callback.param("To").unwrap_or_default().into(),
        from: callback.param("From").unwrap_or_default().into(),
    };
    let (call, language, over) = super::receive(&state, &callback.caller, request).await?;
    let base = state
        .carriers
        .twilio
        .as_ref()
        .map_or("", |t| t.public_base_url.as_str());
    let calls = format!("{base}/webhooks/twilio/{org}/calls/{}", call.id);
    if !call.ivr_flow_id.is_empty() && !over {
        // Where the call is in its flow (its start the first time; a repeat of this webhook
        // hears the same again).
        let request = v1::WalkIvrRequest {
            call_id: call.id.clone(),
            ..Default::default()
        };
        let turn = super::ivr::walk(&state, &callback.caller, request).await?;
        return Ok(xml(super::ivr::twiml(&turn, &calls)));
    }
    let again = format!("{calls}/answer?held=1");
    // A call its number records from the answer: until Twilio says the recording began (a
    // repeated webhook may be one whose instructions never ran).
    let record_to = format!("{calls}/recording");
    let record = call.recording_policy == "always" && call.recording_state.is_empty();
    Ok(instructions(
        &call,
        language,
        over,
        false,
        &again,
        record.then_some(record_to.as_str()),
    ))
}

/// Status callbacks of inbound calls (the number's "Call status changes" webhook), named by
/// their CallSid; as `…/calls/{call_id}/status` otherwise.
#[utoipa::path(post, path = "/webhooks/twilio/{org}/inbound/status", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the number belongs to"),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioStatusForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn inbound_status(
    State(state): State<AppState>,
    Path(org): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, String::new(), &uri, &headers, &body).await?;
    report_status(&state, &callback, Leg::Caller).await
}

/// A recording status callback's form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // describes the form in the OpenAPI document only
pub struct TwilioRecordingForm {
    #[schema(pattern = "^CA[0-9a-fA-F]{32}$")]
    CallSid: String,
    #[schema(pattern = "^RE[0-9a-fA-F]{32}$")]
    RecordingSid: String,
    /// in-progress (it began), completed, absent (too short or silent) or failed.
    RecordingStatus: String,
    /// Seconds.
    #[schema(pattern = "^[0-9]+$")]
    RecordingDuration: Option<String>,
    AccountSid: Option<String>,
}

/// Twilio's word on the call's recording: one that began becomes `comms.call.recording_changed`,
/// a completed one `comms.call.recording_available` (Twilio's media URL is not kept: the edge
/// asks for the recording by its SID when someone may hear it).
#[utoipa::path(post, path = "/webhooks/twilio/{org}/calls/{call_id}/recording", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request"),
    ),
    request_body(content = TwilioRecordingForm, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing or does not match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Twilio account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recording(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &uri, &headers, &body).await?;
    let value_of = |name: &str| callback.param(name);
    super::require(
        &["CallSid", "RecordingSid", "RecordingStatus"],
        value_of,
        "a Twilio recording callback",
    )?;
    let duration = callback.param("RecordingDuration").unwrap_or("0");
    let duration_seconds = duration
        .parse::<i64>()
        .ok()
        .filter(|d| *d >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                "RecordingDuration",
                format!("{duration:?} is not a whole number of seconds"),
            )
        })?;
    let request = v1::ReportRecordingRequest {
        call_id: callback.call_id.clone(),
        carrier: "twilio".into(),
        carrier_call_id: callback.param("CallSid").unwrap_or_default().into(),
        recording_id: callback.param("RecordingSid").unwrap_or_default().into(),
        status: callback.param("RecordingStatus").unwrap_or_default().into(),
        duration_seconds,
    };
    super::report_recording(&state, &callback.caller, request).await
}
