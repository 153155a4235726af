//! Text messages, kept by the calls service (which holds the carriers and the numbers): each
//! message is its own stream (`sms-<uuid>`, published as `comms.sms.*`), and each conversation
//! (the organization and the other party's number) has a stream of its consent
//! (`conversation-<uuid>`, `comms.conversation.*`), which the campaigns service follows to keep
//! a number that replied STOP off every campaign.

use chrono::{DateTime, Utc};
use comms_proto::PhoneNumber;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::call::Carrier;

crate::event_set! {
    /// Every event of a message's stream.
    pub enum MessageEvent bound as "comms.sms.*" {
        Sent(Sent),
        Received(Received),
        Delivered(Delivered),
        Failed(Failed),
    }
}

crate::event_set! {
    /// Every event of a conversation's stream: the other party's consent to be contacted.
    pub enum ConversationEvent bound as "comms.conversation.*" {
        OptedOut(OptedOut),
        OptedIn(OptedIn),
    }
}

/// How a text is encoded on the network, which decides how many characters a segment holds:
/// GSM-7 (160 alone, 153 in a longer text) or UCS-2 (70, 67).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gsm7 => "gsm7",
            Self::Ucs2 => "ucs2",
        }
    }
}

/// A text handed to a carrier for the other party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sent {
    pub message_id: Uuid,
    /// The conversation it belongs to: the organization and `to`.
    pub conversation_id: Uuid,
    pub to: PhoneNumber,
    /// The organization's number it is sent from.
    pub from: PhoneNumber,
    #[schemars(length(min = 1, max = 1600))]
    pub text: String,
    pub encoding: Encoding,
    /// How many segments the carrier bills it as.
    #[schemars(range(min = 1))]
    pub segments: u32,
    pub carrier: Carrier,
    /// The carrier's id for it.
    #[schemars(length(min = 1, max = 128))]
    pub carrier_message_id: String,
    /// The carrier that could not take it (a 5xx, no answer) before `carrier` took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_over_from: Option<Carrier>,
    /// Who sent it: a user, or the service that sent it for them.
    #[schemars(length(min = 1, max = 128))]
    pub sent_by: String,
    pub sent_at: DateTime<Utc>,
}

/// A text from the other party reached one of the organization's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Received {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The other party.
    pub from: PhoneNumber,
    /// The organization's number.
    pub to: PhoneNumber,
    #[schemars(length(max = 1600))]
    pub text: String,
    pub encoding: Encoding,
    #[schemars(range(min = 1))]
    pub segments: u32,
    pub carrier: Carrier,
    #[schemars(length(min = 1, max = 128))]
    pub carrier_message_id: String,
    /// The opt-out or opt-in keyword the text is, if it is one (`stop`, `start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<Keyword>,
    pub received_at: DateTime<Utc>,
}

/// What a text that is only a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    /// No more messages or calls (STOP, BAJA, ARRÊT, STOPP, 退订, 配信停止, …).
    Stop,
    /// Messages and calls again (START, ALTA, …).
    Start,
}

/// The carrier reports the text reached the handset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Delivered {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub delivered_at: DateTime<Utc>,
}

/// The text did not reach the handset: the carrier refused it, or reported it undelivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Failed {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The carrier's words, with its error code where it gave one.
    #[schemars(length(min = 1, max = 500))]
    pub reason: String,
    pub failed_at: DateTime<Utc>,
}

/// What a change of consent records: the number, and the message that asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConsentChanged {
    pub conversation_id: Uuid,
    /// The other party's number.
    pub number: PhoneNumber,
    /// The text that asked for it.
    pub message_id: Uuid,
    /// The keyword as they wrote it.
    #[schemars(length(min = 1, max = 40))]
    pub keyword: String,
    pub at: DateTime<Utc>,
}

crate::same_fields! { ConsentChanged =>
    /// The number replied STOP (or its equivalent): it gets no more texts, and no campaign
    /// calls it.
    OptedOut;
    /// The number replied START (or its equivalent): texts and campaigns may reach it again.
    OptedIn;
}

crate::events! {
    Sent => "comms.sms.sent", version 1, "a carrier took a text for the other party";
    Received => "comms.sms.received", version 1, "a text reached one of the organization's numbers";
    Delivered => "comms.sms.delivered", version 1, "the carrier reports a text reached the handset";
    Failed => "comms.sms.failed", version 1, "a text could not be sent or delivered";
    OptedOut => "comms.conversation.opted_out", version 1, "a number replied STOP: no more texts or campaign calls";
    OptedIn => "comms.conversation.opted_in", version 1, "a number replied START: texts and campaign calls may reach it again";
}
