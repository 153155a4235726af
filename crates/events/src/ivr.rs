//! The organization's IVR flows (stream `ivr_flow-<uuid>`, published as `comms.ivr_flow.*`),
//! kept by the calls service: what a caller to a number hears and presses before an agent
//! takes the call. A flow is data, a graph of named nodes, versioned: each change is a new
//! version, and calls are answered by the published one (the version a call started with
//! stays its version to the end). See docs/ivr.md.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use comms_proto::{Language, PhoneNumber};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::event_set! {
    /// Every event of a flow's stream.
    pub enum IvrFlowEvent bound as "comms.ivr_flow.*" {
        Created(IvrFlowCreated),
        Revised(IvrFlowRevised),
        Published(IvrFlowPublished),
        Deleted(IvrFlowDeleted),
    }
}

/// A text in each of the flow's languages.
pub type Texts = BTreeMap<Language, String>;

/// A flow: the languages it speaks (the first is the one a call starts in unless its number
/// says another of them), the node a call enters first, and the nodes by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    #[schemars(length(min = 1, max = 8), extend("uniqueItems" = true))]
    pub languages: Vec<Language>,
    pub start: String,
    #[schemars(length(min = 1, max = 200))]
    pub nodes: BTreeMap<String, Node>,
}

/// One step of a flow, its `type` beside its fields. `next`, `otherwise`, `if_open` and
/// `if_closed` name other nodes; `queue`, `voicemail`, `transfer` and `hang_up` end the flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    Say(Say),
    Play(Play),
    Menu(Menu),
    BusinessHours(BusinessHours),
    SetLanguage(SetLanguage),
    Queue(Queue),
    Voicemail(Voicemail),
    Transfer(Transfer),
    HangUp(HangUp),
}

impl Node {
    /// The node's type, as the definition names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Say(_) => "say",
            Self::Play(_) => "play",
            Self::Menu(_) => "menu",
            Self::BusinessHours(_) => "business_hours",
            Self::SetLanguage(_) => "set_language",
            Self::Queue(_) => "queue",
            Self::Voicemail(_) => "voicemail",
            Self::Transfer(_) => "transfer",
            Self::HangUp(_) => "hang_up",
        }
    }

    /// Why `node` (JSON) is no node, naming the field: serde reads a tagged enum's fields
    /// without their names, so each type's fields are read again on their own.
    pub fn explain(node: &serde_json::Value) -> Option<(String, String)> {
        fn read<T: serde::de::DeserializeOwned>(
            fields: serde_json::Value,
        ) -> Option<(String, String)> {
            serde_path_to_error::deserialize::<_, T>(fields)
                .err()
                .map(|e| (e.path().to_string(), e.into_inner().to_string()))
        }
        let mut fields = node.clone();
        let kind = fields.as_object_mut()?.remove("type")?;
        match kind.as_str()? {
            "say" => read::<Say>(fields),
            "play" => read::<Play>(fields),
            "menu" => read::<Menu>(fields),
            "business_hours" => read::<BusinessHours>(fields),
            "set_language" => read::<SetLanguage>(fields),
            "queue" => read::<Queue>(fields),
            "voicemail" => read::<Voicemail>(fields),
            "transfer" => read::<Transfer>(fields),
            "hang_up" => read::<HangUp>(fields),
            _ => None,
        }
    }
}

/// Speaks `text` in the call's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Say {
    pub text: Texts,
    pub next: String,
}

/// Plays the audio at `url` (https).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Play {
    pub url: String,
    pub next: String,
}

/// The call speaks `language` from here on (one of the flow's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLanguage {
    pub language: Language,
    pub next: String,
}

/// Asks for an agent with every one of `skills` who speaks the call's language (or
/// `language`); higher `priority` (0 to 100) is answered first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

/// Speaks `text`, then records the caller's message for up to `max_seconds`. With
/// `callback_campaign_id`, the caller's number then joins that campaign as a contact: its
/// agents call back (a preview campaign shows each one the message first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    pub text: Texts,
    pub max_seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_campaign_id: Option<Uuid>,
}

/// Connects the caller to another number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub to: PhoneNumber,
}

/// Says `text` if given, then hangs up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HangUp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Texts>,
}

/// How a menu hears its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Dtmf,
    Speech,
}

/// A question: `text` is spoken, then the caller presses (or says) a choice. No answer, or one
/// that is no choice, asks again up to `retries` times, then goes to `otherwise`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    pub text: Texts,
    #[schemars(length(min = 1, max = 12))]
    pub choices: Vec<Choice>,
    #[serde(default = "dtmf_only")]
    pub input: Vec<InputKind>,
    #[serde(default = "five")]
    #[schemars(range(min = 1, max = 30))]
    pub timeout_seconds: u32,
    #[serde(default = "two")]
    #[schemars(range(max = 5))]
    pub retries: u32,
    pub otherwise: String,
}

fn dtmf_only() -> Vec<InputKind> {
    vec![InputKind::Dtmf]
}

fn five() -> u32 {
    5
}

fn two() -> u32 {
    2
}

/// One answer to a menu: the keys pressed, and/or words said (per language; a spoken answer
/// containing one of them chooses it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9*#]{1,5}$"))]
    pub digits: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub words: BTreeMap<Language, Vec<String>>,
    pub next: String,
}

/// Open or closed now, in `zone` (IANA): open on `hours` except on `holidays` (dates there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    pub zone: String,
    pub hours: Vec<OpeningHours>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    pub if_open: String,
    pub if_closed: String,
}

/// Open on `days` from `from` until `to` (`HH:MM`, local time; `to` after `from`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    pub days: Vec<Day>,
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub from: String,
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-4]):[0-5][0-9]$"))]
    pub to: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub fn of(weekday: chrono::Weekday) -> Self {
        use chrono::Weekday as W;
        match weekday {
            W::Mon => Self::Mon,
            W::Tue => Self::Tue,
            W::Wed => Self::Wed,
            W::Thu => Self::Thu,
            W::Fri => Self::Fri,
            W::Sat => Self::Sat,
            W::Sun => Self::Sun,
        }
    }
}

/// A version of a flow: what creating and revising it record. Versions count from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IvrFlowVersion {
    pub flow_id: Uuid,
    pub version: u32,
    pub name: String,
    pub definition: FlowDefinition,
    pub at: DateTime<Utc>,
}

crate::same_fields! { IvrFlowVersion =>
    /// A flow was created: its version 1, not yet answering calls.
    IvrFlowCreated;
    /// A flow was changed: a new version, not yet answering calls.
    IvrFlowRevised;
}

/// Calls to the flow's numbers are answered by `version` from now on (an older one: a roll
/// back). Calls already in the flow keep theirs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IvrFlowPublished {
    pub flow_id: Uuid,
    pub version: u32,
    pub at: DateTime<Utc>,
}

/// A flow was deleted (no number answered with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IvrFlowDeleted {
    pub flow_id: Uuid,
    pub at: DateTime<Utc>,
}

crate::events! {
    IvrFlowCreated => "comms.ivr_flow.created", version 1, "an IVR flow was created (its version 1)";
    IvrFlowRevised => "comms.ivr_flow.revised", version 1, "an IVR flow was changed: a new version";
    IvrFlowPublished => "comms.ivr_flow.published", version 1, "an IVR flow's version now answers calls";
    IvrFlowDeleted => "comms.ivr_flow.deleted", version 1, "an IVR flow was deleted";
}
