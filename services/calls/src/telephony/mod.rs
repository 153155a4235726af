//! Telephony providers place calls, hang them up and report their progress. The simulated
//! provider drives calls without a carrier; Twilio and Vonage are carriers behind the same trait.
//!
//! A provider reports what it learns on the sink it was built with (the carrier's id for a call,
//! ringing, answer, hang-up); a carrier's status callbacks arrive through the edge as the same
//! reports. Each becomes a command, so each becomes an event.

mod config;
mod simulated;
pub mod twilio;
pub mod vonage;

pub use config::TelephonyConfig;
pub use simulated::{Outcome, SimulatedTelephony, SimulationConfig};
pub use twilio::{TwilioConfig, TwilioTelephony};
pub use vonage::{VonageConfig, VonageTelephony};

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::PhoneNumber;
pub use crate::domain::{Carrier, CarrierLeg, Progress};

/// What the provider is asked to dial.
#[derive(Debug, Clone)]
pub struct DialRequest {
    pub org_id: String,
    pub call_id: Uuid,
    pub to: PhoneNumber,
    pub from: Option<PhoneNumber>,
    /// Ask the carrier to tell an answering machine from a person, without delaying the call.
    pub detect_machines: bool,
}

/// A line to hang up: the call, the carrier's leg when the carrier has named it, and whether it
/// was answered as far as we know.
#[derive(Debug, Clone)]
pub struct HangUp {
    pub call_id: Uuid,
    pub leg: Option<CarrierLeg>,
    pub answered: bool,
}

/// What a provider learned about a call: its line, its progress, or both.
#[derive(Debug, Clone)]
pub struct ProgressReport {
    pub org_id: String,
    pub call_id: Uuid,
    pub leg: Option<CarrierLeg>,
    pub progress: Option<Progress>,
}

/// Where providers send progress; the calls service turns each report into a command.
pub type ProgressSink = mpsc::UnboundedSender<ProgressReport>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TelephonyError {
    /// The carrier said no (a 4xx): asking again would get the same answer.
    #[error("{carrier} refused: {detail}")]
    Refused {
        carrier: &'static str,
        detail: String,
    },
    /// The carrier could not be reached or failed (a 5xx, a 429, a timeout): worth retrying.
    #[error("{carrier} unavailable: {detail}")]
    Unavailable {
        carrier: &'static str,
        detail: String,
    },
}

impl TelephonyError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Sends `request` to a carrier's API (JSON in answer): the answer, or what its failure means.
/// `describe` words the carrier's own error body; a 5xx, a 429 or no answer is worth retrying,
/// any other refusal is not.
async fn call_api(
    carrier: &'static str,
    request: reqwest::RequestBuilder,
    describe: fn(&serde_json::Value, http::StatusCode) -> String,
) -> Result<serde_json::Value, TelephonyError> {
    let response = request
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        // reqwest's errors name the URL, which holds account ids; the logs need not.
        .map_err(|e| TelephonyError::Unavailable {
            carrier,
            detail: e.without_url().to_string(),
        })?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let detail = describe(&body, status);
    if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
        Err(TelephonyError::Unavailable { carrier, detail })
    } else {
        Err(TelephonyError::Refused { carrier, detail })
    }
}

/// Runs a carrier's dial in the background and reports how it went: the carrier's leg, or the
/// call failed with the carrier's reason. Never retried: a request that timed out may have
/// placed the call, and a second would ring the contact twice.
fn report_dial<F>(sink: ProgressSink, request: DialRequest, place: F)
where
    F: std::future::Future<Output = Result<CarrierLeg, TelephonyError>> + Send + 'static,
{
    tokio::spawn(async move {
        let (leg, progress) = match place.await {
            Ok(leg) => (Some(leg), None),
            Err(error) => {
                tracing::warn!(call_id = %request.call_id, %error, "the carrier did not place the call");
                let progress = Progress::Failed {
                    outcome: crate::domain::CallStatus::Failed,
                    reason: error.to_string(),
                };
                (None, Some(progress))
            }
        };
        let _ = sink.send(ProgressReport {
            org_id: request.org_id,
            call_id: request.call_id,
            leg,
            progress,
        });
    });
}

pub trait Telephony: Send + Sync + 'static {
    fn carrier(&self) -> Carrier;

    /// Whether the carrier can tell an answering machine from a person.
    fn detects_machines(&self) -> bool;

    /// Starts dialing. Returns at once; the carrier's id for the call and its progress arrive
    /// on the sink given at construction (a refusal as a failed call).
    fn dial(&self, request: DialRequest);

    /// Hangs the line up at the carrier. Done once the carrier took the request.
    fn hang_up(&self, line: HangUp) -> BoxFuture<'_, Result<(), TelephonyError>>;

    /// Asks the carrier to fetch the call's instructions again (its answer URL), as after an
    /// agent was assigned to an answered call.
    fn redirect(
        &self,
        org_id: &str,
        call_id: Uuid,
        leg: CarrierLeg,
    ) -> BoxFuture<'_, Result<(), TelephonyError>>;

    /// Where the carrier says the call stands now, for a call whose reports stopped; `None`
    /// when the call has not moved on (queued, or a provider that keeps no record).
    fn fetch(&self, leg: CarrierLeg) -> BoxFuture<'_, Result<Option<Progress>, TelephonyError>>;
}
