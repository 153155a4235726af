//! Vonage's callbacks about a call, at the URLs the calls service gave when it dialed:
//! `…/webhooks/vonage/{org}/calls/{call_id}/event` (progress) and `…/answer` (the NCCO), and
//! when it bridged the call to its agent in the call's conversation: `…/agent/event` (the
//! agent's leg) and `…/audio/event` (the legs streaming each party's audio); and
//! about calls to the organization's numbers, at the application's URLs:
//! `…/webhooks/vonage/{org}/inbound/answer` and `…/inbound/event`.
//!
//! Vonage signs each with a JWT in `Authorization: Bearer`, HS256 under the account's signature
//! secret (not the application's private key), whose `payload_hash` is the SHA-256 of the raw
//! body (<https://developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks>).

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comms_proto::v1;
use comms_proto::{ApiError, ErrorKind, Violations};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::Leg;
use crate::auth::Caller;
use crate::problem::{Problem, ProblemResponse};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ProblemResponse>;

/// A Vonage call event (Vonage sends more fields; the signature covers the whole body).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the body in the OpenAPI document only
pub struct VonageEvent {
    /// Vonage's id for the call.
    uuid: String,
    /// started, ringing, answered, completed, busy, unanswered, timeout, rejected, failed or
    /// cancelled; human or machine from machine detection; absent on events that are not a
    /// call's progress.
    status: Option<String>,
    /// With a `machine` status: `beep_start` when the greeting ended with a beep,
    /// `beep_timeout` when none came.
    sub_state: Option<String>,
    /// Seconds of talk, with `completed`.
    #[schema(pattern = "^[0-9]+$")]
    duration: Option<String>,
}

/// How far a callback's `iat` may be from now: a replay after that is refused.
const FRESH_SECONDS: i64 = 300;

/// A verified callback: the call it is about, on behalf of the fleet in its organization, and
/// its JSON body.
struct Callback {
    caller: Caller,
    call_id: String,
    body: Value,
}

async fn verify(
    state: &AppState,
    org: &str,
    call_id: String,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Callback> {
    let Some(vonage) = &state.carriers.vonage else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "this fleet takes no Vonage callbacks: VONAGE_API_KEY is not set",
        )
        .into());
    };
    let forbidden =
        |why: String| -> ProblemResponse { ApiError::new(ErrorKind::PermissionDenied, why).into() };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| forbidden("missing Authorization: Bearer <Vonage's signed JWT>".into()))?;
    let mut validation = Validation::new(Algorithm::HS256);
    // Vonage's tokens carry iat, not exp: freshness is checked below.
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    let decode = |secret: &str| {
        let key = DecodingKey::from_secret(secret.as_bytes());
        jsonwebtoken::decode::<Value>(token, &key, &validation).map(|t| t.claims)
    };
    // Vonage signs with the secret of the account that carries the call: the fleet's, or the
    // organization's own, read only when the fleet's does not verify.
    let (claims, account) = match decode(&vonage.signature_secret) {
        Ok(claims) => (claims, vonage.clone()),
        Err(fleets) => {
            let own = super::own_vonage_application(state, org).await?;
            match own.map(|own| (decode(&own.signature_secret), own)) {
                Some((Ok(claims), own)) => (claims, own),
                _ => {
                    return Err(forbidden(format!(
                        "the signature does not verify with the signature secret ({fleets})"
                    )));
                }
            }
        }
    };
    let iat = claims["iat"].as_i64().unwrap_or(0);
    if (chrono::Utc::now().timestamp() - iat).abs() > FRESH_SECONDS {
        return Err(forbidden(format!(
            "the signature was made at {iat}, more than {FRESH_SECONDS} s from now (a replay?)"
        )));
    }
    if claims["api_key"]
        .as_str()
        .is_some_and(|k| k != account.api_key)
    {
        return Err(forbidden("signed for another account (api_key)".into()));
    }
    let hash = comms_auth::webhook::hex(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
    let claimed = claims["payload_hash"].as_str().unwrap_or_default();
    if !claimed.eq_ignore_ascii_case(&hash) {
        return Err(forbidden(
            "payload_hash does not match the body (altered after signing)".into(),
        ));
    }
    if !comms_auth::identity::valid_id(org) {
        return Err(ApiError::new(ErrorKind::NotFound, format!("no organization {org:?}")).into());
    }
    let body = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not JSON: {e}")))?;
    Ok(Callback {
        caller: Caller::system(state.auth.clone(), org, "vonage"),
        call_id,
        body,
    })
}

/// Event callbacks with a call `status` become the call's events (a repeat, or progress the call
/// has passed, changes nothing); events without one (`record`, `input`, `transfer`) are not a
/// call's progress. 204 either way, so Vonage does not retry.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/calls/{call_id}/event", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = VonageEvent, content_type = "application/json"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn event(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &headers, &body).await?;
    report_event(&state, &callback, Leg::Caller).await
}

/// Events of the leg that bridges the call's agent, joined to the call's conversation: its
/// answer is recorded (a supervisor's whisper reaches that leg); its failure (no answer, busy,
/// rejected, failed) hangs the call up, as a Twilio call ends when its dial to the agent fails;
/// the rest changes nothing. 204 either way.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/calls/{call_id}/agent/event", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = VonageEvent, content_type = "application/json"),
    security(()),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn agent_event(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &headers, &body).await?;
    report_event(&state, &callback, Leg::Agent).await
}

/// Events of a supervisor's leg, joined to the call's conversation to listen, whisper or
/// barge: once it is over (they hung up their softphone, or it never answered), they are off
/// the call; the rest changes nothing. 204 either way.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/calls/{call_id}/supervisor/event", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = VonageEvent, content_type = "application/json"),
    security(()),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn supervisor_event(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &headers, &body).await?;
    report_event(&state, &callback, Leg::Supervisor).await
}

/// Events of the legs that stream a party's audio to the transcription service: taken, and
/// changing nothing of the call; a leg that failed leaves its party untranscribed, which is
/// logged with the call.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/calls/{call_id}/audio/event", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = VonageEvent, content_type = "application/json"),
    security(()),
    responses(
        (status = 204, description = "Taken"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn audio_event(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &headers, &body).await?;
    // Another organization's call, or none, is unknown here.
    super::call_to_answer(&state, &callback.caller, &callback.call_id).await?;
    let status = callback.body["status"].as_str().unwrap_or_default();
    if matches!(
        status,
        "busy" | "unanswered" | "timeout" | "rejected" | "failed" | "cancelled"
    ) {
        tracing::warn!(
            call_id = %callback.call_id,
            status,
            "a Vonage leg streaming a party's audio failed: that party is not transcribed"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An event's progress, for the call the event names (an inbound call: by its uuid), or for
/// another leg of it.
async fn report_event(state: &AppState, callback: &Callback, leg: Leg) -> Result<StatusCode> {
    let Some(status) = callback.body["status"].as_str() else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let mut violations = Violations::default();
    let uuid = callback.body["uuid"].as_str().unwrap_or_default();
    if uuid.is_empty() {
        violations.add("uuid", "required in a Vonage call event");
    }
    // `duration` is a string of seconds in Vonage's events.
    let duration = &callback.body["duration"];
    let duration_seconds = match duration {
        Value::Null => 0,
        Value::String(s) => s.parse().unwrap_or(-1),
        other => other.as_i64().unwrap_or(-1),
    };
    if duration_seconds < 0 {
        violations.add("duration", "a whole number of seconds");
    }
    violations.finish()?;
    // Advanced machine detection's verdict: `human` or `machine`, then the beep's `sub_state`.
    let answered_by = match (status, callback.body["sub_state"].as_str()) {
        ("human" | "machine", Some(sub_state)) => sub_state,
        ("human" | "machine", None) => status,
        _ => "",
    };
    let request = v1::ReportCarrierCallbackRequest {
        call_id: callback.call_id.clone(),
        carrier: "vonage".into(),
        carrier_call_id: uuid.into(),
        status: status.into(),
        answered_by: answered_by.into(),
        duration_seconds,
        agent_leg: leg == Leg::Agent,
        supervisor_leg: leg == Leg::Supervisor,
    };
    super::report(state, &callback.caller, request).await
}

/// The NCCO of an answered call: in its conversation (which its agent's leg joins) when it has
/// an agent, else a hold message in its language; nothing (the call ends) for a call already
/// over.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/calls/{call_id}/answer", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = Object, content_type = "application/json"),
    security(()),
    responses(
        (status = 200, description = "The NCCO", body = Vec<Object>),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn answer(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let callback = verify(&state, &org, call_id, &headers, &body).await?;
    let (call, language, over) =
        super::call_to_answer(&state, &callback.caller, &callback.call_id).await?;
    Ok(ncco(
        &call,
        language,
        over,
        &calls_url(&state, &org, &call.id),
    ))
}

/// What a call hears: its conversation, which its agent's leg joins, when it has an agent; else
/// the hold message in its language, repeated until a transfer brings new instructions; nothing
/// (the call ends) when it is over. `calls` is the call's callback URL.
fn ncco(call: &v1::Call, language: comms_proto::Language, over: bool, calls: &str) -> Response {
    let ncco = if over {
        json!([])
    } else if !call.announcement.is_empty() {
        // A notification: said once; the call ends with the NCCO.
        json!([{
            "action": "talk",
            "text": call.announcement,
            "language": super::locale(language, super::Dialect::Vonage),
        }])
    } else if !call.agent_id.is_empty() {
        // The caller waits in the call's conversation, which the calls service then asks the
        // agent's leg (and the media sockets') to join; it ends, taking every leg with it,
        // when the caller or the agent leaves.
        let conversation = json!({
            "action": "conversation",
            "name": comms_runtime::carriers::bridge_name(&call.id),
            "endOnExit": true,
        });
        if call.recording_policy == "always" && !call.has_recording {
            // Vonage records only as an NCCO says: from the bridge to the agent (the NCCO
            // before it, the hold, is replaced by the transfer that brings this one), the
            // conversation's parties in their own channels, until the call ends.
            json!([{
                "action": "record",
                "split": "conversation",
                "channels": 2,
                "format": "mp3",
                "eventUrl": [format!("{calls}/recording")],
                "eventMethod": "POST",
            }, conversation])
        } else {
            json!([conversation])
        }
    } else {
        json!([{
            "action": "talk",
            "text": super::hold_message(language),
            "language": super::locale(language, super::Dialect::Vonage),
            "loop": 0,
        }])
    };
    axum::Json(ncco).into_response()
}

/// Vonage writes numbers in E.164 without the `+`.
pub(super) fn e164(number: &str) -> String {
    if number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() {
        format!("+{number}")
    } else {
        number.to_owned()
    }
}

/// A call to one of the organization's numbers (the Vonage application's answer URL, method
/// POST): the inbound call starts, is queued to an agent with the number's language and skills,
/// and hears the hold message in the number's language until routing transfers it to the
/// agent's app user.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/inbound/answer", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the number belongs to"),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "`to` (the number called), `from` (the caller), `uuid`, `conversation_uuid`"),
    security(()),
    responses(
        (status = 200, description = "The NCCO", body = Vec<Object>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The organization has no such number, or there is no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn inbound_answer(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let callback = verify(&state, &org, String::new(), &headers, &body).await?;
    let field = |name: &str| callback.body[name].as_str().unwrap_or_default();
    let mut violations = Violations::default();
    for name in ["uuid", "to"] {
        if field(name).is_empty() {
            violations.add(name, "required in a Vonage answer webhook");
        }
    }
    violations.finish()?;
    let request = v1::ReceiveCallRequest {
        carrier: "vonage".into(),
        carrier_call_id: field("uuid").into(),
        to: e164(field("to")),
        from: e164(field("from")),
    };
    let (call, language, over) = super::receive(&state, &callback.caller, request).await?;
    if !call.ivr_flow_id.is_empty() && !over {
        // Where the call is in its flow (its start the first time; a repeat of this webhook
        // hears the same again).
        let request = v1::WalkIvrRequest {
            call_id: call.id.clone(),
            ..Default::default()
        };
        let turn = super::ivr::walk(&state, &callback.caller, request).await?;
        let calls = calls_url(&state, &org, &call.id);
        return Ok(axum::Json(super::ivr::ncco(&turn, &calls)).into_response());
    }
    Ok(ncco(
        &call,
        language,
        over,
        &calls_url(&state, &org, &call.id),
    ))
}

/// The call's callback URL, as the fleet gives it to Vonage.
fn calls_url(state: &AppState, org: &str, call_id: &str) -> String {
    let base = state
        .carriers
        .vonage
        .as_ref()
        .map_or("", |v| v.public_base_url.as_str());
    format!("{base}/webhooks/vonage/{org}/calls/{call_id}")
}

/// Where a menu's answer comes back: the menu and the attempt it was asked, as the turn that
/// asked wrote them.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IvrParams {
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    node: Option<String>,
    #[param(minimum = 1)]
    attempt: Option<u32>,
}

/// A menu of the call's IVR flow answered: Vonage's input event (`dtmf.digits` pressed, or
/// `speech.results[0].text` said; neither when nothing was heard). The call's next turn, as an
/// NCCO. A repeat, or an answer to a menu the call has left, hears where the call is now and
/// changes nothing. (Vonage's signature covers the body, not the URL: a request naming another
/// menu than the call is at changes nothing either.)
#[utoipa::path(post, path = "/webhooks/vonage/{org}/calls/{call_id}/ivr", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
        IvrParams,
    ),
    request_body(content = Object, content_type = "application/json",
        description = "`uuid`, `dtmf: {digits, timed_out}`, `speech: {results: [{text, confidence}]}`"),
    security(()),
    responses(
        (status = 200, description = "The NCCO", body = Vec<Object>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The call has no IVR flow", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ivr(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let callback = verify(&state, &org, call_id, &headers, &body).await?;
    let params: IvrParams = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|e| ApiError::invalid("query", e.to_string()))?;
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let request = v1::WalkIvrRequest {
        call_id: callback.call_id.clone(),
        node: params.node.unwrap_or_default(),
        attempt: params.attempt.unwrap_or(1),
        digits: text(&callback.body["dtmf"]["digits"]),
        speech: text(&callback.body["speech"]["results"][0]["text"]),
    };
    let turn = super::ivr::walk(&state, &callback.caller, request).await?;
    let calls = calls_url(&state, &org, &callback.call_id);
    Ok(axum::Json(super::ivr::ncco(&turn, &calls)).into_response())
}

/// The record action's event (an IVR flow's voicemail): the recording, kept as the call's.
/// Vonage names the conversation, not the call's leg, so the leg is the call's own (the URL
/// is the call's).
#[utoipa::path(post, path = "/webhooks/vonage/{org}/calls/{call_id}/recording", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the call belongs to"),
        ("call_id" = uuid::Uuid, Path),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "`recording_uuid`, `recording_url`, `start_time`, `end_time`, `conversation_uuid`"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recording(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, call_id, &headers, &body).await?;
    let field = |name: &str| callback.body[name].as_str().unwrap_or_default();
    let time = |name: &str| chrono::DateTime::parse_from_rfc3339(field(name)).ok();
    let mut violations = Violations::default();
    let recording_id = field("recording_uuid");
    if uuid::Uuid::parse_str(recording_id).is_err() {
        violations.add(
            "recording_uuid",
            "required in a Vonage record event: a UUID",
        );
    }
    let (start, end) = (time("start_time"), time("end_time"));
    if start.is_none() {
        violations.add(
            "start_time",
            "required in a Vonage record event: an RFC 3339 time",
        );
    }
    if end.is_none() {
        violations.add(
            "end_time",
            "required in a Vonage record event: an RFC 3339 time",
        );
    }
    violations.finish()?;
    let duration_seconds = match (start, end) {
        (Some(start), Some(end)) => (end - start).num_seconds().max(0),
        _ => 0,
    };
    let (call, _, _) = super::call_to_answer(&state, &callback.caller, &callback.call_id).await?;
    let request = v1::ReportRecordingRequest {
        call_id: callback.call_id.clone(),
        carrier: "vonage".into(),
        carrier_call_id: call.carrier_call_id,
        recording_id: recording_id.into(),
        status: "completed".into(),
        duration_seconds,
    };
    super::report_recording(&state, &callback.caller, request).await
}

/// Events of inbound calls (the Vonage application's event URL), named by their uuid; as
/// `…/calls/{call_id}/event` otherwise.
#[utoipa::path(post, path = "/webhooks/vonage/{org}/inbound/event", tag = "carrier callbacks",
    params(
        ("org" = String, Path, description = "The organization the number belongs to"),
        ("Authorization" = String, Header, description = "Bearer: Vonage's signed JWT"),
    ),
    request_body(content = VonageEvent, content_type = "application/json"),
    security(()),
    responses(
        (status = 204, description = "Recorded, or already known"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature is missing, does not match, or is stale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call in the organization, or no Vonage application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn inbound_event(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let callback = verify(&state, &org, String::new(), &headers, &body).await?;
    report_event(&state, &callback, Leg::Caller).await
}
