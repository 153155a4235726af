//! Carriers' callbacks: the only routes without a caller's credentials. Each request is
//! verified with the carrier's signature scheme before anything in it is read, against the URL
//! the fleet gave the carrier (`PUBLIC_BASE_URL` and the raw path and query, never the request's
//! Host header). See docs/telephony.md.

pub mod health;
pub mod ivr;
pub mod messages;
pub mod twilio;
pub mod vonage;

use axum::http::StatusCode;
use comms_proto::v1::{self, CallStatus};
use comms_proto::{Language, Violations};
use comms_runtime::carriers::Accounts;
pub use comms_runtime::carriers::{Dialect, locale, twiml};

use crate::auth::Caller;
use crate::problem::ProblemResponse;
use crate::state::AppState;
use comms_runtime::{ConfigError, Env};

/// The carriers' accounts whose callbacks the edge takes and whose health it reports; the
/// Vonage key is checked at start-up, as the health probe signs with it.
pub fn accounts_from_env(env: &Env) -> Result<Accounts, ConfigError> {
    let accounts = Accounts::from_env(env)?;
    if let Some(vonage) = &accounts.vonage {
        comms_auth::carriers::vonage_signing_key(vonage)?;
    }
    Ok(accounts)
}

/// A verified callback's parameter, when it has a value (carriers send empty ones).
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// 400 naming each of `required` that `value_of` does not find in a `what`.
fn require<'a>(
    required: &[&str],
    value_of: impl Fn(&str) -> Option<&'a str>,
    what: &str,
) -> Result<(), ProblemResponse> {
    let mut violations = Violations::default();
    for name in required {
        if value_of(name).is_none() {
            violations.add(name, format!("required in {what}"));
        }
    }
    Ok(violations.finish()?)
}

/// Whose leg of a call a carrier's callback is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leg {
    /// The call's own line.
    Caller,
    /// The leg bridging its agent (their softphone, in the call's conference or conversation).
    Agent,
    /// A supervisor's leg on it.
    Supervisor,
}

/// Hands a verified callback to the calls service: 204 whether or not it changed anything, so
/// the carrier does not retry.
async fn report(
    state: &AppState,
    caller: &Caller,
    request: v1::ReportCarrierCallbackRequest,
) -> Result<StatusCode, ProblemResponse> {
    let carrier = request.carrier.clone();
    let reported = state
        .calls
        .clone()
        .report_carrier_callback(caller.grpc(request)?)
        .await?
        .into_inner();
    tracing::debug!(%carrier, applied = reported.applied, "a carrier's callback");
    Ok(StatusCode::NO_CONTENT)
}

/// Hands a verified recording callback to the calls service: 204, so the carrier does not
/// retry.
async fn report_recording(
    state: &AppState,
    caller: &Caller,
    request: v1::ReportRecordingRequest,
) -> Result<StatusCode, ProblemResponse> {
    state
        .calls
        .clone()
        .report_recording(caller.grpc(request)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The call a carrier asks instructions for, the language to speak to it in, and whether it
/// is already over.
async fn call_to_answer(
    state: &AppState,
    caller: &Caller,
    call_id: &str,
) -> Result<(v1::Call, Language, bool), ProblemResponse> {
    let request = v1::GetCallRequest { id: call_id.into() };
    let call = state
        .calls
        .clone()
        .get_call(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(answering(call))
}

/// The call, the language to speak to it in, and whether it is already over.
fn answering(call: v1::Call) -> (v1::Call, Language, bool) {
    let over = !matches!(
        call.status(),
        CallStatus::Initiated | CallStatus::Ringing | CallStatus::Answered
    );
    let language = Language::parse(&call.language).unwrap_or(Language::En);
    (call, language, over)
}

/// Hands a call to one of the organization's numbers to the calls service: the inbound call
/// (the same one when the carrier asks again), its language, and whether it is already over.
async fn receive(
    state: &AppState,
    caller: &Caller,
    request: v1::ReceiveCallRequest,
) -> Result<(v1::Call, Language, bool), ProblemResponse> {
    let call = state
        .calls
        .clone()
        .receive_call(caller.grpc(request)?)
        .await?
        .into_inner();
    Ok(answering(call))
}

/// The fleet's Twilio configuration on the organization's own account, if it stored one
/// (`PUT /credentials/twilio`): its calls are carried, signed and recorded on it. `None` for an
/// organization without one, or a malformed organization id (which no row names).
pub async fn own_twilio_account(
    state: &AppState,
    org: &str,
) -> Result<Option<comms_runtime::carriers::TwilioConfig>, ProblemResponse> {
    let Some(fleet) = &state.carriers.twilio else {
        return Ok(None);
    };
    if !comms_auth::identity::valid_id(org) {
        return Ok(None);
    }
    let own = state.auth.credentials.twilio_account(org).await?;
    Ok(own.map(|own| own.config(fleet)))
}

/// The fleet's Vonage configuration on the organization's own account and Voice application,
/// if it stored one (`PUT /credentials/vonage` with `application`): its calls are carried,
/// signed and recorded on it. `None` as for [`own_twilio_account`].
pub async fn own_vonage_application(
    state: &AppState,
    org: &str,
) -> Result<Option<comms_runtime::carriers::VonageConfig>, ProblemResponse> {
    let Some(fleet) = &state.carriers.vonage else {
        return Ok(None);
    };
    if !comms_auth::identity::valid_id(org) {
        return Ok(None);
    }
    let own = state.auth.credentials.vonage_application(org).await?;
    Ok(own.map(|own| own.config(fleet)))
}

/// What a caller waiting for an agent hears, in the call's language.
pub fn hold_message(language: Language) -> &'static str {
    match language {
        Language::En => "Please hold while we connect you.",
        Language::Es => "Por favor, espere mientras le conectamos.",
        Language::Fr => "Veuillez patienter, nous vous mettons en relation.",
        Language::De => "Bitte bleiben Sie dran, wir verbinden Sie.",
        Language::It => "Resti in linea, la stiamo mettendo in contatto.",
        Language::Pt => "Por favor, aguarde enquanto transferimos a sua chamada.",
        Language::Zh => "请稍候，我们正在为您接通。",
        Language::Ja => "おつなぎしますので、少々お待ちください。",
    }
}
