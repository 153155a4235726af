//! What happens to an outbound campaign (stream `campaign-<uuid>`), published as
//! `comms.campaign.*` by the campaigns service and read by analytics. Each attempt on a contact
//! is an event of the campaign too (`call_placed`, `call_finished`), so the stream is the record
//! of every dialing decision that placed a call.
//!
//! The settings' values are defined here with their defaults; what makes them valid (and what
//! the dialer does with them) is the campaigns service's domain.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use comms_proto::{Language, PhoneNumber};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of a campaign's stream.
    pub enum CampaignEvent bound as "comms.campaign.*" {
        Created(Created),
        Updated(Updated),
        Started(Started),
        Paused(Paused),
        Resumed(Resumed),
        Completed(Completed),
        Canceled(Canceled),
        ContactsAdded(ContactsAdded),
        CallPlaced(CallPlaced),
        CallFinished(CallFinished),
        WrapUpRecorded(WrapUpRecorded),
        ContactExcluded(ContactExcluded),
        PreviewOffered(PreviewOffered),
        PreviewWithdrawn(PreviewWithdrawn),
    }
}

impl CampaignEvent {
    /// The campaign the event belongs to.
    pub fn campaign_id(&self) -> Uuid {
        match self {
            Self::Created(e) => e.campaign_id,
            Self::Updated(e) => e.campaign_id,
            Self::Started(e) => e.campaign_id,
            Self::Paused(e) => e.campaign_id,
            Self::Resumed(e) => e.campaign_id,
            Self::Completed(e) => e.campaign_id,
            Self::Canceled(e) => e.campaign_id,
            Self::ContactsAdded(e) => e.campaign_id,
            Self::CallPlaced(e) => e.campaign_id,
            Self::CallFinished(e) => e.campaign_id,
            Self::WrapUpRecorded(e) => e.campaign_id,
            Self::ContactExcluded(e) => e.campaign_id,
            Self::PreviewOffered(e) => e.campaign_id,
            Self::PreviewWithdrawn(e) => e.campaign_id,
        }
    }
}

/// How a campaign paces its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DialingMode {
    /// An agent sees each contact and accepts before the call is placed.
    Preview,
    /// One call per free agent.
    Progressive,
    /// Calls ahead of free agents, from measured answer rate and handle time.
    Predictive,
}

impl DialingMode {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "preview" => Ok(Self::Preview),
            "progressive" => Ok(Self::Progressive),
            "predictive" => Ok(Self::Predictive),
            _ => Err(format!(
                "{value:?} is not a dialing mode; use preview, progressive or predictive"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Progressive => "progressive",
            Self::Predictive => "predictive",
        }
    }
}

/// The hours and weekdays a contact may be called, in the contact's own local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallingWindow {
    /// Local time the window opens (inclusive).
    pub start: NaiveTime,
    /// Local time the window closes (exclusive); after `start`, the same day.
    pub end: NaiveTime,
    /// The local weekdays calls may be placed on.
    #[schemars(length(min = 1))]
    pub days: Vec<Weekday>,
}

impl Default for CallingWindow {
    /// 09:00–20:00, Monday to Friday: inside every US state's telemarketing hours.
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("valid"),
            end: NaiveTime::from_hms_opt(20, 0, 0).expect("valid"),
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
        }
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered and talked to an agent.
    Connected,
    NoAnswer,
    Busy,
    Failed,
    Voicemail,
    /// Answered with no agent free: counts against the abandon cap, retried like no answer.
    Abandoned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::Voicemail => "voicemail",
            Self::Abandoned => "abandoned",
        }
    }

    /// Someone picked up: connected to an agent, or abandoned for want of one.
    pub fn was_answered(self) -> bool {
        matches!(self, Self::Connected | Self::Abandoned)
    }
}

/// How many attempts an outcome allows in all, and how long to wait before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetryRule {
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: u32,
    /// At most a week.
    #[schemars(range(min = 1, max = 604_800))]
    pub delay_seconds: u32,
}

/// Retry rules per outcome; an abandoned call follows the no-answer rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetryPolicy {
    pub no_answer: RetryRule,
    pub busy: RetryRule,
    pub failed: RetryRule,
    pub voicemail: RetryRule,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let rule = |max_attempts, minutes: u32| RetryRule {
            max_attempts,
            delay_seconds: minutes * 60,
        };
        Self {
            no_answer: rule(3, 60),
            busy: rule(3, 10),
            failed: rule(2, 30),
            voicemail: rule(2, 240),
        }
    }
}

impl RetryPolicy {
    /// The rule an outcome follows; none for a connected call, which is final.
    pub fn rule(&self, outcome: Outcome) -> Option<RetryRule> {
        match outcome {
            Outcome::Connected => None,
            Outcome::NoAnswer | Outcome::Abandoned => Some(self.no_answer),
            Outcome::Busy => Some(self.busy),
            Outcome::Failed => Some(self.failed),
            Outcome::Voicemail => Some(self.voicemail),
        }
    }
}

/// How a contact's part in a campaign ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Final {
    /// Connected to an agent.
    Reached,
    /// No attempts left; the last outcome says why.
    Exhausted { last: Outcome },
    /// On a do-not-call list or marked do-not-call when the campaign came to them.
    DoNotCall,
}

impl Final {
    /// The contact's disposition: `reached`, `do_not_call`, or the last outcome of one whose
    /// attempts ran out.
    pub fn disposition(self) -> &'static str {
        match self {
            Self::Reached => "reached",
            Self::Exhausted { last } => last.as_str(),
            Self::DoNotCall => "do_not_call",
        }
    }
}

/// What starts a campaign, or adds a contact to it, from another module's event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Trigger {
    /// The event type: `planning.task.completed`.
    pub event: String,
    /// The event's `data` must hold each of these fields with this (string) value, e.g.
    /// `{"project_id": "p-42"}`; empty matches every such event.
    #[serde(default)]
    pub matching: BTreeMap<String, String>,
    pub action: TriggerAction,
}

impl Trigger {
    /// The events that may trigger a campaign.
    pub const EVENTS: [&'static str; 1] = [<crate::platform::TaskCompleted as crate::Event>::TYPE];

    pub fn matches(&self, event_type: &str, data: &serde_json::Value) -> bool {
        self.event == event_type
            && self.matching.iter().all(|(field, value)| {
                data.get(field).and_then(serde_json::Value::as_str) == Some(value.as_str())
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerAction {
    /// Start the campaign (a draft or paused one; running is left alone).
    Start,
    /// Add the task's contact (`data.contact_id`, the CRM's id) to the campaign.
    AddContact,
}

/// Abandoned over answered calls a campaign may reach: 3%, the legal cap.
pub const MAX_ABANDON_CAP: f64 = 0.03;

/// How the campaign dials. Every field has a default but the name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    pub dialing_mode: DialingMode,
    /// The number shown to contacts; the telephony provider's default when absent.
    pub caller_id: Option<PhoneNumber>,
    pub language: Language,
    pub window: CallingWindow,
    pub retry: RetryPolicy,
    /// Abandoned over answered calls the campaign must stay under, above 0 and at most 0.03.
    #[schemars(range(max = 0.03), extend("exclusiveMinimum" = 0))]
    pub abandon_cap: f64,
    /// Names of the organization's do-not-call lists the campaign honours (besides each
    /// contact's own flag, always honoured).
    #[schemars(inner(regex(pattern = r"^[a-z0-9_-]{1,64}$")))]
    pub do_not_call_lists: Vec<String>,
    pub trigger: Option<Trigger>,
    /// Whether its calls are recorded; absent: as `ENABLE_RECORDING` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<crate::call::RecordingPolicy>,
    /// Spoken to an answering machine after its beep, in the contact's language, before the
    /// call is hung up; absent: machines are hung up on without a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 500))]
    pub voicemail_message: Option<String>,
}

impl Settings {
    /// A campaign called `name` dialing in `dialing_mode`, with every other setting's default.
    pub fn new(name: &str, dialing_mode: DialingMode) -> Self {
        Self {
            name: name.to_owned(),
            dialing_mode,
            caller_id: None,
            language: Language::En,
            window: CallingWindow::default(),
            retry: RetryPolicy::default(),
            abandon_cap: MAX_ABANDON_CAP,
            do_not_call_lists: Vec::new(),
            trigger: None,
            recording: None,
            voicemail_message: None,
        }
    }
}

/// A contact added to the campaign, and how soon to call them (higher first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Member {
    pub contact_id: Uuid,
    pub priority: i32,
}

/// A draft campaign was created with these settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Created {
    pub campaign_id: Uuid,
    pub settings: Settings,
    pub at: DateTime<Utc>,
}

/// A draft or paused campaign's settings changed; these are the settings now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Updated {
    pub campaign_id: Uuid,
    pub settings: Settings,
    pub at: DateTime<Utc>,
}

/// The campaign started dialing (`task_id`: the completed task that triggered it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Started {
    pub campaign_id: Uuid,
    pub at: DateTime<Utc>,
    /// The other module's task whose completion started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub task_id: Option<String>,
}

/// A change of a campaign's status that carries nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusChanged {
    pub campaign_id: Uuid,
    pub at: DateTime<Utc>,
}

crate::same_fields! { StatusChanged =>
    /// New calls stopped; calls in progress finish.
    Paused;
    /// A paused campaign dials again.
    Resumed;
    /// Every contact is final.
    Completed;
    /// The campaign was canceled.
    Canceled;
}

/// Contacts joined the campaign's list (only ones not on it already).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContactsAdded {
    pub campaign_id: Uuid,
    pub contacts: Vec<Member>,
    pub at: DateTime<Utc>,
    /// The completed task whose trigger added them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub task_id: Option<String>,
}

/// The dialer placed a call for a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallPlaced {
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub call_id: Uuid,
    /// 1 for the first attempt on this contact.
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// The dialer's pacing when it placed the call: the calls it had in flight, this one
    /// included, per agent working the campaign (free, or on its calls). Progressive dialing
    /// keeps it at most 1; predictive dialing goes above when it bets on unanswered calls.
    /// Absent for preview calls, which an agent asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub lines_per_agent: Option<f64>,
    pub at: DateTime<Utc>,
}

/// An attempt ended: its outcome, and the contact's next retry or final state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallFinished {
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub call_id: Uuid,
    pub outcome: Outcome,
    /// From placing the call until it was answered or given up.
    #[schemars(range(min = 0.0))]
    pub ring_seconds: f64,
    /// Talk time of a connected call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub talk_seconds: Option<f64>,
    /// Set when the contact is done with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<Final>,
    /// When the contact is due again, if not done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

/// The agent on a connected call left its wrap-up: the rest of the call's handle time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WrapUpRecorded {
    pub campaign_id: Uuid,
    pub call_id: Uuid,
    pub agent_id: Uuid,
    /// From the call's end until the agent left wrap-up.
    #[schemars(range(min = 0.0))]
    pub seconds: f64,
    pub at: DateTime<Utc>,
}

/// A contact on a do-not-call list (or who asked not to be called, or withdrew consent) is final
/// for the campaign, uncalled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContactExcluded {
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Preview dialing: the contact is shown to a reserved agent, who accepts (the call is then
/// placed, as `call_id`) or skips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreviewOffered {
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub call_id: Uuid,
    pub agent_id: Uuid,
    pub at: DateTime<Utc>,
}

/// A preview ended without a call: skipped by the agent, or not accepted in time; the contact
/// may be offered again from `retry_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreviewWithdrawn {
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    pub call_id: Uuid,
    pub reason: String,
    pub retry_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

crate::events! {
    Created => "comms.campaign.created", version 1, "a draft campaign was created";
    Updated => "comms.campaign.updated", version 1, "a draft or paused campaign's settings changed";
    Started => "comms.campaign.started", version 1, "a campaign started dialing (by hand or by a planning task)";
    Paused => "comms.campaign.paused", version 1, "new calls stopped; calls in progress finish";
    Resumed => "comms.campaign.resumed", version 1, "a paused campaign dials again";
    Completed => "comms.campaign.completed", version 1, "every contact is final";
    Canceled => "comms.campaign.canceled", version 1, "a campaign was canceled";
    ContactsAdded => "comms.campaign.contacts_added", version 1, "contacts joined a campaign's list";
    CallPlaced => "comms.campaign.call_placed", version 1, "the dialer placed a call for a contact";
    CallFinished => "comms.campaign.call_finished", version 1, "an attempt ended: outcome, then retry or final";
    WrapUpRecorded => "comms.campaign.wrap_up_recorded", version 1, "the agent on a connected call left its wrap-up: the rest of its handle time";
    ContactExcluded => "comms.campaign.contact_excluded", version 1, "a contact on a do-not-call list is final, uncalled";
    PreviewOffered => "comms.campaign.preview_offered", version 1, "preview dialing: a reserved agent is shown a contact";
    PreviewWithdrawn => "comms.campaign.preview_withdrawn", version 1, "the agent skipped, or did not accept in time";
}
