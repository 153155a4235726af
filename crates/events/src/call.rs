//! What happens to a call (stream `call-<uuid>`), published as `comms.call.*` by the calls
//! service and read by the agents, campaigns and analytics services.

use chrono::{DateTime, Utc};
use comms_proto::{Language, PhoneNumber};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of a call's stream.
    pub enum CallEvent bound as "comms.call.*" {
        Started(Started),
        Ringing(Ringing),
        Answered(Answered),
        Ended(Ended),
        Failed(Failed),
        Canceled(Canceled),
        Updated(Updated),
        AgentAssigned(AgentAssigned),
        Placed(Placed),
        MachineDetected(MachineDetected),
        RecordingAvailable(RecordingAvailable),
        RecordingChanged(RecordingChanged),
        RecordingDeleted(RecordingDeleted),
        IvrStep(IvrStep),
        Queued(Queued),
        Rerouted(Rerouted),
        Utterance(Utterance),
        Transcribed(Transcribed),
        Sentiment(Sentiment),
        SentimentAlert(SentimentAlert),
        Summarized(Summarized),
        TranscriptDeleted(TranscriptDeleted),
        CallbackRequested(CallbackRequested),
        MonitoringChanged(MonitoringChanged),
        AgentLegAnswered(AgentLegAnswered),
    }
}

/// Whether a call is recorded: `never`; `on_demand`, when someone on the call starts it; or
/// `always`, from the answer. Set per campaign and per number, `ENABLE_RECORDING` otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicy {
    #[default]
    Never,
    OnDemand,
    Always,
}

impl RecordingPolicy {
    pub const ALL: [Self; 3] = [Self::Never, Self::OnDemand, Self::Always];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::OnDemand => "on_demand",
            Self::Always => "always",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    pub fn is_never(&self) -> bool {
        *self == Self::Never
    }
}

/// Where a call's recording stands once it began. `stopped` is for good: a call has one
/// recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    Recording,
    Paused,
    Stopped,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        }
    }
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Initiated,
    Ringing,
    Answered,
    Ended,
    Failed,
    NoAnswer,
    Busy,
    Canceled,
}

impl CallStatus {
    pub const ALL: [Self; 8] = [
        Self::Initiated,
        Self::Ringing,
        Self::Answered,
        Self::Ended,
        Self::Failed,
        Self::NoAnswer,
        Self::Busy,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Ended => "ended",
            Self::Failed => "failed",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// No further call-progress event can follow.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Initiated | Self::Ringing | Self::Answered)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub const ALL: [Self; 2] = [Self::Outbound, Self::Inbound];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Inbound => "inbound",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// How a call that never connected ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailedOutcome {
    Failed,
    NoAnswer,
    Busy,
}

impl From<FailedOutcome> for CallStatus {
    fn from(outcome: FailedOutcome) -> Self {
        match outcome {
            FailedOutcome::Failed => Self::Failed,
            FailedOutcome::NoAnswer => Self::NoAnswer,
            FailedOutcome::Busy => Self::Busy,
        }
    }
}

impl TryFrom<CallStatus> for FailedOutcome {
    type Error = CallStatus;

    fn try_from(status: CallStatus) -> Result<Self, CallStatus> {
        match status {
            CallStatus::Failed => Ok(Self::Failed),
            CallStatus::NoAnswer => Ok(Self::NoAnswer),
            CallStatus::Busy => Ok(Self::Busy),
            other => Err(other),
        }
    }
}

/// Who carries a call's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    Simulated,
    Twilio,
    Vonage,
}

impl Carrier {
    pub const ALL: [Self; 3] = [Self::Simulated, Self::Twilio, Self::Vonage];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
            Self::Twilio => "twilio",
            Self::Vonage => "vonage",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Who answered, as the carrier's answering-machine detection heard it (Twilio's `AnsweredBy`).
/// `machine_end_*` come after the greeting, at the beep, silence or otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MachineVerdict {
    Human,
    MachineStart,
    MachineEndBeep,
    MachineEndSilence,
    MachineEndOther,
    Fax,
    Unknown,
}

impl MachineVerdict {
    pub const ALL: [Self; 7] = [
        Self::Human,
        Self::MachineStart,
        Self::MachineEndBeep,
        Self::MachineEndSilence,
        Self::MachineEndOther,
        Self::Fax,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::MachineStart => "machine_start",
            Self::MachineEndBeep => "machine_end_beep",
            Self::MachineEndSilence => "machine_end_silence",
            Self::MachineEndOther => "machine_end_other",
            Self::Fax => "fax",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// Not a person: a machine or a fax. `unknown` is treated as a person, who may be waiting.
    pub fn is_machine(self) -> bool {
        !matches!(self, Self::Human | Self::Unknown)
    }

    /// A machine whose greeting ended (at its beep, or in silence): what is said now is
    /// recorded as a voicemail.
    pub fn is_greeting_over(self) -> bool {
        matches!(
            self,
            Self::MachineEndBeep | Self::MachineEndSilence | Self::MachineEndOther
        )
    }
}

/// How an answered call ended: always `completed` (the reason says who hung up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndedOutcome {
    Completed,
}

/// A call was placed (outbound) or came in (inbound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Started {
    pub call_id: Uuid,
    pub direction: Direction,
    pub to: PhoneNumber,
    pub from: Option<PhoneNumber>,
    pub agent_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub language: Language,
    pub started_at: DateTime<Utc>,
    /// The carrier is asked to tell an answering machine from a person: a
    /// `comms.call.machine_detected` follows the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detect_machines: bool,
    /// Whether the call is recorded (absent: never).
    #[serde(default, skip_serializing_if = "RecordingPolicy::is_never")]
    pub recording: RecordingPolicy,
    /// The IVR flow version an inbound call is answered by (to its end), if its number has
    /// one; without, the call asks for an agent as soon as it is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr_flow: Option<FlowVersion>,
    /// What the callee hears when they answer, in the call's language, before the call ends: a
    /// notification, which no agent takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1000))]
    pub announcement: Option<String>,
}

/// One version of an IVR flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlowVersion {
    pub flow_id: Uuid,
    pub version: u32,
}

/// The far end is ringing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ringing {
    pub call_id: Uuid,
    pub ringing_at: DateTime<Utc>,
}

/// The far end answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Answered {
    pub call_id: Uuid,
    pub answered_at: DateTime<Utc>,
    /// The campaign the call belongs to; absent for calls outside a campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
    /// Who answered is not known yet: a `comms.call.machine_detected` will say (route the call
    /// to an agent only if it says a person).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_machine_detection: bool,
}

/// An answered call hung up. `duration` is talk time in whole seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ended {
    pub call_id: Uuid,
    #[schemars(range(min = 0))]
    pub duration: i64,
    pub outcome: EndedOutcome,
    pub reason: String,
    pub ended_at: DateTime<Utc>,
    /// The campaign the call belongs to; absent for calls outside a campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// The call never connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Failed {
    pub call_id: Uuid,
    pub outcome: FailedOutcome,
    pub reason: String,
    pub failed_at: DateTime<Utc>,
    /// The campaign the call belongs to; absent for calls outside a campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// Hung up by us before it was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Canceled {
    pub call_id: Uuid,
    pub reason: String,
    pub canceled_at: DateTime<Utc>,
    /// The campaign the call belongs to; absent for calls outside a campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// Notes, disposition or tags changed; absent fields are unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Updated {
    pub call_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    pub updated_at: DateTime<Utc>,
}

/// Routing connected an agent to the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentAssigned {
    pub call_id: Uuid,
    pub agent_id: Uuid,
    pub assigned_at: DateTime<Utc>,
}

/// A carrier took the call: from now on its id for the call (Twilio's `CallSid`, Vonage's
/// `uuid`) names the line, and callbacks carrying another id are not this call's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Placed {
    pub call_id: Uuid,
    pub carrier: Carrier,
    #[schemars(length(min = 1, max = 128))]
    pub carrier_call_id: String,
    /// The carrier that could not take the call (a 5xx, no answer) before this one took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_over_from: Option<Carrier>,
    pub placed_at: DateTime<Utc>,
}

/// The carrier's answering-machine detection heard who answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MachineDetected {
    pub call_id: Uuid,
    pub verdict: MachineVerdict,
    pub detected_at: DateTime<Utc>,
    /// The carrier listens on and will say again when the machine's greeting ends (Vonage's
    /// beep detection after `machine_start`): a `machine_end_*` verdict follows this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub greeting_end_expected: bool,
    /// The campaign the call belongs to; absent for calls outside a campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
}

/// The carrier finished a recording of the call. The fleet streams it from the carrier to
/// whoever may hear it (`GET …/calls/{id}/recording`); the carrier's URL is never given out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingAvailable {
    pub call_id: Uuid,
    pub carrier: Carrier,
    /// The carrier's id for the recording (Twilio's `RecordingSid`).
    #[schemars(length(min = 1, max = 128))]
    pub recording_id: String,
    #[schemars(range(min = 0))]
    pub duration_seconds: i64,
    pub available_at: DateTime<Utc>,
}

/// The call's recording began (the carrier says so, or someone on the call started it), was
/// paused (a card number is read aloud), resumed or stopped; each at the carrier first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingChanged {
    pub call_id: Uuid,
    pub state: RecordingState,
    pub changed_at: DateTime<Utc>,
}

/// The call's recording was deleted at the carrier: nobody can hear it any more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingDeleted {
    pub call_id: Uuid,
    pub carrier: Carrier,
    #[schemars(length(min = 1, max = 128))]
    pub recording_id: String,
    pub deleted_at: DateTime<Utc>,
}

/// The caller reached a node of the call's IVR flow: with the answer that led there when a
/// menu was answered (`digits` or `speech`), or the attempt at a menu asked again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IvrStep {
    pub call_id: Uuid,
    pub flow: FlowVersion,
    #[schemars(length(min = 1, max = 64))]
    pub node: String,
    /// The node's type (`say`, `menu`, `queue`, …).
    pub kind: String,
    /// For a menu: 1 when first asked, then each time it is asked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The menu answer that led here, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech: Option<String>,
    /// The language the call speaks from here.
    pub language: Language,
    pub at: DateTime<Utc>,
}

/// The call asks for an agent with every one of `skills` who speaks `language`: an inbound
/// call answered without an IVR flow (with its number's skills), or one whose flow reached a
/// queue. It waits until an agent is assigned (`comms.call.agent_assigned`) or it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Queued {
    pub call_id: Uuid,
    #[schemars(length(max = 20))]
    pub skills: Vec<String>,
    pub language: Language,
    pub priority: i32,
    pub queued_at: DateTime<Utc>,
}

/// A supervisor sent a waiting call to another queue: it now asks for an agent with every one
/// of `skills` who speaks `language`, and keeps its place by age (it waits from when it was
/// first queued).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rerouted {
    pub call_id: Uuid,
    #[schemars(length(max = 20))]
    pub skills: Vec<String>,
    pub language: Language,
    /// Why, as a code (`wrong_language`, `overflow`).
    #[schemars(length(min = 1, max = 50))]
    pub reason: String,
    /// The supervisor's user id.
    pub rerouted_by: String,
    pub rerouted_at: DateTime<Utc>,
}

/// How a supervisor is on a live call: `listen` (hears both parties, heard by neither),
/// `whisper` (heard by the agent only), `barge` (heard by both), or `stopped` (left it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    Listen,
    Whisper,
    Barge,
    Stopped,
}

impl MonitorMode {
    pub const ALL: [(Self, &'static str); 4] = [
        (Self::Listen, "listen"),
        (Self::Whisper, "whisper"),
        (Self::Barge, "barge"),
        (Self::Stopped, "stopped"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(mode, _)| *mode == self)
            .map(|(_, name)| *name)
            .expect("listed")
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == value)
            .map(|(mode, _)| *mode)
    }
}

/// A supervisor began monitoring a call with its agent, changed how, or stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitoringChanged {
    pub call_id: Uuid,
    /// The supervisor's user id.
    pub supervisor_id: String,
    pub mode: MonitorMode,
    /// Whether the carrier bridged the supervisor's audio: false on the simulated provider,
    /// which carries no audio (its events and permissions are a carrier's).
    pub audio: bool,
    /// The supervisor's own leg at the call's carrier (their softphone's call into the call's
    /// room: a Twilio conference participant's `CallSid`, a Vonage conversation leg's `uuid`),
    /// while they are on the call; absent when they left or the provider bridged no audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub carrier_call_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// The agent answered their own leg of the call at its carrier (their softphone's call into the
/// call's Twilio conference or Vonage conversation): a supervisor whispering is heard on it
/// alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentLegAnswered {
    pub call_id: Uuid,
    pub agent_id: Uuid,
    /// The carrier's id for the agent's leg (Twilio's `CallSid`, Vonage's `uuid`).
    #[schemars(length(min = 1, max = 128))]
    pub carrier_call_id: String,
    pub answered_at: DateTime<Utc>,
}

/// Who spoke: the caller (the customer, whoever placed the call) or the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Caller,
    Agent,
}

/// What turned the call's speech into text: Deepgram, or the simulated transcriber of a fleet
/// without a carrier (scripted conversations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transcriber {
    Deepgram,
    Simulated,
}

/// One party's turn in a transcribed call, as heard, with card numbers and the organization's
/// configured patterns redacted. Recorded in the call's transcript stream
/// (`transcript-<call uuid>`), in the order said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Utterance {
    pub call_id: Uuid,
    pub speaker: Speaker,
    #[schemars(length(max = 10000))]
    pub text: String,
    /// Seconds from the call's first audio.
    #[schemars(range(min = 0.0))]
    pub start_seconds: f64,
    #[schemars(range(min = 0.0))]
    pub end_seconds: f64,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence: f64,
    pub language: Language,
    pub transcriber: Transcriber,
    pub at: DateTime<Utc>,
}

/// The call's transcription ended: its transcript (the `comms.call.utterance` events of the
/// stream `transcript`) is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Transcribed {
    pub call_id: Uuid,
    /// The transcript's stream, `transcript-<call uuid>`.
    pub transcript: String,
    pub utterances: u32,
    /// Seconds of the call's audio transcribed.
    #[schemars(range(min = 0.0))]
    pub seconds: f64,
    pub language: Language,
    pub transcriber: Transcriber,
    pub transcribed_at: DateTime<Utc>,
}

/// How the caller sounds: positive, neutral or negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    Positive,
    Neutral,
    Negative,
}

impl SentimentLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Positive => "positive",
            Self::Neutral => "neutral",
            Self::Negative => "negative",
        }
    }
}

/// What a sentiment covers: the caller's latest utterances (a window, recorded when its label
/// changes), or the whole call (recorded once, when its transcript is complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentScope {
    Window,
    Call,
}

/// What judged a sentiment: OpenAI's model, or the built-in lexicon (a fleet without an OpenAI
/// key, or a window OpenAI could not answer for: refused, truncated, rate limited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentimentScorer {
    Openai,
    Lexicon,
}

/// The caller's sentiment in a transcribed call, recorded in its transcript stream: per window of
/// the caller's latest utterances when its label changes (the trend), and for the whole call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sentiment {
    pub call_id: Uuid,
    pub scope: SentimentScope,
    pub label: SentimentLabel,
    /// From -1 (most negative) to 1 (most positive).
    #[schemars(range(min = -1.0, max = 1.0))]
    pub score: f64,
    /// Why, in a sentence (the model's, or the lexicon's words found).
    #[schemars(length(max = 500))]
    pub reason: String,
    pub scorer: SentimentScorer,
    /// The model that judged it (OpenAI's); absent for the lexicon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub model: Option<String>,
    /// It covers the transcript's utterances up to this many (both parties counted).
    pub utterances: u32,
    pub language: Language,
    pub at: DateTime<Utc>,
}

/// The caller's sentiment turned negative: once per turn (not again until it has recovered), for
/// supervisors to step in. Recorded in the call's transcript stream after its `Sentiment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SentimentAlert {
    pub call_id: Uuid,
    #[schemars(range(min = -1.0, max = 1.0))]
    pub score: f64,
    #[schemars(length(max = 500))]
    pub reason: String,
    pub scorer: SentimentScorer,
    /// The transcript's utterances heard when it turned (both parties counted).
    pub utterances: u32,
    pub at: DateTime<Utc>,
}

/// The dispositions a summary may suggest for a call's wrap-up (the console's list).
pub const SUGGESTED_DISPOSITIONS: [&str; 6] = [
    "resolved",
    "callback",
    "escalated",
    "sale",
    "no_sale",
    "wrong_number",
];

/// What wrote a call's summary: Anthropic's model, or the extractive summary (the caller's first
/// words and the agent's last) of a fleet without an Anthropic key, or when Anthropic could not
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Summarizer {
    Anthropic,
    Extractive,
}

/// The call's wrap-up summary, written when its transcript completes, with the disposition it
/// suggests for the agent's wrap-up. Recorded in its transcript stream, before
/// `comms.call.transcribed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summarized {
    pub call_id: Uuid,
    #[schemars(length(min = 1, max = 4000))]
    pub summary: String,
    /// One of `resolved`, `callback`, `escalated`, `sale`, `no_sale`, `wrong_number`; absent
    /// when none was suggested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(resolved|callback|escalated|sale|no_sale|wrong_number)$"))]
    pub suggested_disposition: Option<String>,
    pub summarizer: Summarizer,
    /// The model that wrote it (Anthropic's); absent for the extractive summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub model: Option<String>,
    pub language: Language,
    pub at: DateTime<Utc>,
}

/// Why a transcript was deleted: the organization's retention ran out, or someone asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptDeletion {
    Retention,
    Request,
}

/// The call's transcript was deleted: the words of every earlier event of its stream (the
/// utterances' text, the sentiment's and alerts' reasons, the summary) were erased in the log
/// in the same transaction, replaced by [`ERASED`]; what was counted (utterances, scores)
/// remains. Consumers that keep words forget the call's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TranscriptDeleted {
    pub call_id: Uuid,
    pub reason: TranscriptDeletion,
    /// The user who asked; absent when the retention ran out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub deleted_by: Option<String>,
    /// How many events' words were erased.
    pub erased: u32,
    pub deleted_at: DateTime<Utc>,
}

/// What a deleted transcript's words read as in the log.
pub const ERASED: &str = "[deleted]";

/// A caller left a message in the call's IVR flow whose voicemail names a campaign: the caller
/// is to be called back by that campaign's agents (the campaigns service adds the number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallbackRequested {
    pub call_id: Uuid,
    pub campaign_id: Uuid,
    /// The caller, E.164.
    pub number: PhoneNumber,
    pub language: Language,
    /// The carrier's id for the message left (the call's recording).
    #[schemars(length(min = 1, max = 128))]
    pub recording_id: String,
    pub requested_at: DateTime<Utc>,
}

crate::events! {
    Started => "comms.call.started", version 1, "a call was placed (outbound) or came in (inbound)";
    Ringing => "comms.call.ringing", version 1, "the far end is ringing";
    Answered => "comms.call.answered", version 1, "the far end answered";
    Ended => "comms.call.ended", version 1, "an answered call hung up (`duration` = talk seconds)";
    Failed => "comms.call.failed", version 1, "never connected: `failed`, `no_answer` or `busy`";
    Canceled => "comms.call.canceled", version 1, "we hung up before an answer";
    Updated => "comms.call.updated", version 1, "notes, disposition or tags changed";
    AgentAssigned => "comms.call.agent_assigned", version 1, "routing connected an agent to the call";
    Placed => "comms.call.placed", version 1, "a carrier took the call, under its own id for it";
    MachineDetected => "comms.call.machine_detected", version 1, "who answered: a person, a machine or a fax";
    RecordingAvailable => "comms.call.recording_available", version 1, "the carrier finished recording the call";
    RecordingChanged => "comms.call.recording_changed", version 1, "the call's recording began, was paused, resumed or stopped";
    RecordingDeleted => "comms.call.recording_deleted", version 1, "the call's recording was deleted at the carrier";
    IvrStep => "comms.call.ivr_step", version 1, "the caller reached a node of the call's IVR flow";
    Queued => "comms.call.queued", version 1, "the call waits for an agent (answered without an IVR flow, or its flow reached a queue)";
    Rerouted => "comms.call.rerouted", version 1, "a supervisor sent a waiting call to another queue (skills and language)";
    Utterance => "comms.call.utterance", version 1, "one party's turn in a transcribed call (in the call's transcript stream)";
    Transcribed => "comms.call.transcribed", version 1, "the call's transcript is complete";
    Sentiment => "comms.call.sentiment", version 1, "the caller's sentiment: a window's when its label changes, or the whole call's";
    SentimentAlert => "comms.call.sentiment_alert", version 1, "the caller's sentiment turned negative (once per turn)";
    Summarized => "comms.call.summarized", version 1, "the call's wrap-up summary and suggested disposition, when its transcript completes";
    TranscriptDeleted => "comms.call.transcript_deleted", version 1, "the call's transcript was deleted (retention or request): its words erased from the log";
    CallbackRequested => "comms.call.callback_requested", version 1, "a caller left a voicemail to be called back by a campaign's agents";
    MonitoringChanged => "comms.call.monitoring_changed", version 1, "a supervisor began listening to, whispering to or barging into a call with its agent, changed how, or stopped";
    AgentLegAnswered => "comms.call.agent_leg_answered", version 1, "the agent answered their own leg of the call at its carrier (their softphone's call into the call's conference or conversation)";
}
