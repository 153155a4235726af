//! Telephony providers place calls, hang them up and report their progress. The simulated
//! provider drives calls without a carrier; Twilio and Vonage are carriers behind the same trait.
//!
//! A provider reports what it learns on the sink it was built with (the carrier's id for a call,
//! ringing, answer, hang-up); a carrier's status callbacks arrive through the edge as the same
//! reports. Each becomes a command, so each becomes an event.

mod config;
mod media;
mod providers;
mod simulated;
pub mod twilio;
pub mod vonage;

pub use config::TelephonyConfig;
pub use media::{MediaStreaming, Party};
pub use providers::{OrgAccounts, Providers};
pub use simulated::{Outcome, SimulatedTelephony, SimulationConfig};
pub use twilio::{TwilioConfig, TwilioTelephony};
pub use vonage::{VonageConfig, VonageTelephony};

use comms_auth::credentials::{TwilioAccount, VonageApplication};
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::PhoneNumber;
pub use crate::domain::{Carrier, CarrierLeg, MonitorMode, Progress, RecordingAction};

/// An organization's own account with a carrier (`PUT /credentials/{carrier}`), which carries
/// its calls in place of the fleet's.
#[derive(Debug, Clone)]
pub enum OwnAccount {
    Twilio(TwilioAccount),
    Vonage(VonageApplication),
}

/// What the provider is asked to dial.
#[derive(Debug, Clone)]
pub struct DialRequest {
    pub org_id: String,
    pub call_id: Uuid,
    pub to: PhoneNumber,
    pub from: Option<PhoneNumber>,
    /// Ask the carrier to tell an answering machine from a person, without delaying the call.
    pub detect_machines: bool,
    /// Ask the carrier to record the call (both parties, from the answer).
    pub record: bool,
}

/// A line to hang up: the call, the carrier's leg when the carrier has named it, whether it
/// was answered as far as we know, and what the far end hears first, if anything.
#[derive(Debug, Clone)]
pub struct HangUp {
    pub call_id: Uuid,
    pub leg: Option<CarrierLeg>,
    pub answered: bool,
    /// Spoken on an answered line before it is hung up (a voicemail after the beep).
    pub message: Option<Spoken>,
}

/// Text the carrier speaks, in a language.
#[derive(Debug, Clone)]
pub struct Spoken {
    pub text: String,
    pub language: comms_proto::Language,
}

/// A change to the recording of a call's line.
#[derive(Debug, Clone)]
pub struct RecordingRequest {
    pub org_id: String,
    pub call_id: Uuid,
    pub leg: CarrierLeg,
    pub action: RecordingAction,
}

/// An answered call's audio to stream to the transcription service.
#[derive(Debug, Clone)]
pub struct StreamRequest {
    /// The caller's line.
    pub leg: CarrierLeg,
    /// The call's media socket.
    pub url: String,
    pub language: comms_proto::Language,
}

/// An answered call to bridge to the agent it was assigned.
#[derive(Debug, Clone)]
pub struct BridgeRequest {
    pub org_id: String,
    pub call_id: Uuid,
    /// The caller's line.
    pub leg: CarrierLeg,
    /// The call's instructions predate its agent (an answered call assigned one): the
    /// carrier must fetch them again. Otherwise it was answered with its agent already.
    pub redirect: bool,
    pub agent_id: Uuid,
    /// The customer's number, which the agent's softphone shows; `None` when the call has none.
    pub customer: Option<PhoneNumber>,
    /// The organization's number on the call (the one called, or calling), which a carrier
    /// that calls softphones only from its own numbers calls from (Twilio); `None` for the
    /// carrier's default.
    pub line: Option<PhoneNumber>,
    /// Where each party's audio is streamed for transcription, when the call's is (carriers
    /// that fork audio per party from the bridge: Vonage).
    pub audio: Option<PartiesAudio>,
    pub language: comms_proto::Language,
}

/// The media sockets of a call's two parties.
#[derive(Debug, Clone)]
pub struct PartiesAudio {
    pub caller: String,
    pub agent: String,
}

/// A supervisor joining an answered call with its agent, changing how they are on it, or
/// leaving it.
#[derive(Debug, Clone)]
pub struct MonitorRequest {
    pub org_id: String,
    pub call_id: Uuid,
    /// The caller's line, when a carrier named it.
    pub leg: Option<CarrierLeg>,
    pub agent_id: Uuid,
    /// The supervisor's user id (their softphone's identity).
    pub supervisor_id: String,
    /// The organization's number on the call, as [`BridgeRequest::line`].
    pub line: Option<PhoneNumber>,
    pub mode: MonitorMode,
    /// The agent's own leg, once they answered it: a whisper reaches it alone.
    pub agent_leg: Option<CarrierLeg>,
    /// The supervisor's own leg while they are on the call: changed to the new mode, or hung
    /// up when they leave.
    pub supervisor_leg: Option<CarrierLeg>,
}

/// How a supervisor is on a call at the carrier, once it did as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitored {
    /// Whether their audio is bridged: false from a provider that carries none (the simulator).
    pub audio: bool,
    /// Their own leg, where the carrier made one, while they are on the call.
    pub leg: Option<CarrierLeg>,
}

/// A text to send.
#[derive(Debug, Clone)]
pub struct TextRequest {
    pub org_id: String,
    /// Our id for it: the carrier's delivery reports come back to its URL.
    pub message_id: Uuid,
    pub to: PhoneNumber,
    /// The organization's number; `None` for the carrier's own.
    pub from: Option<PhoneNumber>,
    pub text: String,
    pub encoding: comms_events::sms::Encoding,
}

/// A text the carrier took.
#[derive(Debug, Clone)]
pub struct TextAccepted {
    pub carrier: Carrier,
    /// The carrier's id for it (for a text sent in several parts, the first part's).
    pub carrier_message_id: String,
    /// The number it is sent from.
    pub from: PhoneNumber,
    /// The carrier that could not take it before `carrier` did.
    pub failed_over_from: Option<Carrier>,
    /// Already on the handset: the simulator, which has no network to wait for.
    pub delivered: bool,
}

/// Where a carrier reports on a text's delivery (Twilio's `StatusCallback`, Vonage's
/// `callback`).
pub fn text_callback_url(
    public_base_url: &str,
    org_id: &str,
    message_id: uuid::Uuid,
    carrier: &str,
) -> String {
    format!("{public_base_url}/webhooks/{carrier}/{org_id}/messages/{message_id}/status")
}

/// What a carrier's delivery report says of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextReport {
    Delivered,
    /// Why, in the carrier's words and code.
    Failed(String),
}

/// What a provider learned about a call: its line, its progress, or both.
#[derive(Debug, Clone)]
pub struct ProgressReport {
    pub org_id: String,
    pub call_id: Uuid,
    pub leg: Option<CarrierLeg>,
    /// The carrier that could not take the call before `leg`'s carrier took it.
    pub failed_over_from: Option<Carrier>,
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
    /// The carrier has no such thing (a 404): gone already, or never there.
    #[error("{carrier} has no such resource: {detail}")]
    NotFound {
        carrier: &'static str,
        detail: String,
    },
}

impl TelephonyError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A whisper to an agent whose own leg has not answered yet (still ringing their softphone).
fn nobody_to_whisper_to(carrier: &'static str) -> TelephonyError {
    TelephonyError::Refused {
        carrier,
        detail: "the agent has not answered their leg of the call yet: there is nobody to \
                 whisper to"
            .into(),
    }
}

/// A request the carrier cannot carry out: refused at once, saying why.
fn refused<T: Send + 'static>(
    carrier: &'static str,
    detail: &str,
) -> BoxFuture<'static, Result<T, TelephonyError>> {
    let error = TelephonyError::Refused {
        carrier,
        detail: detail.to_owned(),
    };
    Box::pin(std::future::ready(Err(error)))
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
    } else if status == http::StatusCode::NOT_FOUND {
        Err(TelephonyError::NotFound { carrier, detail })
    } else {
        Err(TelephonyError::Refused { carrier, detail })
    }
}

/// The provider a configuration describes, reporting on `sink`.
pub fn provider(
    config: TelephonyConfig,
    sink: ProgressSink,
) -> Result<std::sync::Arc<dyn Telephony>, comms_runtime::ConfigError> {
    Ok(match config {
        TelephonyConfig::Simulated(simulation) => {
            std::sync::Arc::new(SimulatedTelephony::new(simulation, sink))
        }
        TelephonyConfig::Twilio(twilio) => std::sync::Arc::new(TwilioTelephony::new(twilio)),
        TelephonyConfig::Vonage(vonage) => {
            let key = comms_auth::carriers::vonage_signing_key(&vonage)?;
            std::sync::Arc::new(VonageTelephony::new(vonage, key))
        }
    })
}

pub trait Telephony: Send + Sync + 'static {
    fn carrier(&self) -> Carrier;

    /// Whether the carrier can tell an answering machine from a person.
    fn detects_machines(&self) -> bool;

    /// How many calls a second the carrier's account may place (Twilio's default is one);
    /// `None` for no limit.
    fn calls_per_second(&self) -> Option<u32>;

    /// The carrier account this provider places calls on, where an organization may bring its
    /// own (a Twilio account SID): each account's dials are paced to its own rate. `None` for
    /// the fleet's one account with the carrier.
    fn account(&self) -> Option<&str> {
        None
    }

    /// Asks the carrier to call: its leg for the call once it took the request (its progress
    /// then arrives as callbacks), or `None` from a provider that names no leg (the simulator,
    /// which reports on the sink it was built with). Never retried by anyone: a request that
    /// timed out may have placed the call, and a second would ring the contact twice.
    fn place(
        &self,
        request: DialRequest,
    ) -> BoxFuture<'_, Result<Option<CarrierLeg>, TelephonyError>>;

    /// Hangs the line up at the carrier. Done once the carrier took the request.
    fn hang_up(&self, line: HangUp) -> BoxFuture<'_, Result<(), TelephonyError>>;

    /// Bridges the answered call to its agent: as it is answered with an agent already, or
    /// when an answered call is assigned one (`redirect`: the carrier fetches the call's
    /// instructions again, which now bridge). The instructions put the caller in the call's
    /// room (a Twilio conference, a Vonage named conversation), which the agent's leg to their
    /// softphone (and with Vonage, when the call's audio is streamed, a socket for each party)
    /// is then asked to join.
    fn bridge(&self, request: BridgeRequest) -> BoxFuture<'_, Result<(), TelephonyError>>;

    /// Starts, pauses, resumes or stops the recording of a line. Done once the carrier did it:
    /// the caller records that it happened.
    fn record(&self, request: RecordingRequest) -> BoxFuture<'_, Result<(), TelephonyError>>;

    /// Asks the carrier to stream both parties' audio of the answered line `leg` to `url` (the
    /// transcription service's media socket for the call), telling it the call's `language`.
    /// Done once the carrier took the request; carriers that cannot refuse and say why, and
    /// those that fork audio only from the bridge to the agent (Vonage) do it then.
    fn stream_audio(&self, request: StreamRequest) -> BoxFuture<'_, Result<(), TelephonyError>>;

    /// Joins a supervisor to the call with its agent (`listen`: hearing both, heard by neither;
    /// `whisper`: heard by the agent only; `barge`: heard by both), changes how, or takes them
    /// off it (`stopped`). Done once the carrier did it; carriers that cannot refuse and say
    /// why.
    fn monitor(&self, request: MonitorRequest) -> BoxFuture<'_, Result<Monitored, TelephonyError>>;

    /// Deletes a recording the carrier made; one it no longer has is deleted already.
    fn delete_recording(&self, recording_id: String) -> BoxFuture<'_, Result<(), TelephonyError>>;

    /// Sends a text. Never retried by anyone, as a dial: a request that timed out may have
    /// sent it.
    fn send_text(&self, text: TextRequest) -> BoxFuture<'_, Result<TextAccepted, TelephonyError>>;

    /// This carrier on an organization's own account, when the account is this carrier's;
    /// `None` otherwise (and from the simulator, which has no accounts).
    fn on_account(&self, _account: &OwnAccount) -> Option<std::sync::Arc<dyn Telephony>> {
        None
    }

    /// Where the carrier says the call stands now, for a call whose reports stopped; `None`
    /// when the call has not moved on (queued, or a provider that keeps no record).
    fn fetch(&self, leg: CarrierLeg) -> BoxFuture<'_, Result<Option<Progress>, TelephonyError>>;
}
