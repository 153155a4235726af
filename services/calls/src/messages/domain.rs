//! A text message (stream `sms-<uuid>`): sent by us or received, then, for what we sent, the
//! carrier's delivery report. A message's final status never changes: a carrier's repeat or a
//! late report changes nothing.

use chrono::{DateTime, Utc};
use comms_events::sms::{Delivered, Encoding, Failed, Keyword, MessageEvent};
use comms_proto::PhoneNumber;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Carrier;
use crate::telephony::TextReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The carrier took it; no delivery report yet.
    Sent,
    Delivered,
    Failed,
    Received,
}

/// A message as its stream leaves it (and as `messages_view` keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: Direction,
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    pub text: String,
    pub encoding: Encoding,
    pub segments: u32,
    pub carrier: Carrier,
    pub carrier_message_id: String,
    pub status: Status,
    pub failure_reason: Option<String>,
    pub keyword: Option<Keyword>,
    pub sent_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Message {
    /// The other party's number: whom the conversation is with.
    pub fn counterpart(&self) -> &PhoneNumber {
        match self.direction {
            Direction::Outbound => &self.to,
            Direction::Inbound => &self.from,
        }
    }
}

/// The event a delivery report adds to `message`: none for a message whose status is final
/// already (a repeat, a late report), or one we received.
pub fn report(message: &Message, report: TextReport, at: DateTime<Utc>) -> Option<MessageEvent> {
    if message.status != Status::Sent {
        return None;
    }
    let (message_id, conversation_id) = (message.id, message.conversation_id);
    Some(match report {
        TextReport::Delivered => MessageEvent::Delivered(Delivered {
            message_id,
            conversation_id,
            delivered_at: at,
        }),
        TextReport::Failed(reason) => MessageEvent::Failed(Failed {
            message_id,
            conversation_id,
            reason: reason.chars().take(500).collect(),
            failed_at: at,
        }),
    })
}

pub fn apply(state: Option<Message>, event: &MessageEvent) -> Message {
    match (state, event) {
        (_, MessageEvent::Sent(e)) => Message {
            id: e.message_id,
            conversation_id: e.conversation_id,
            direction: Direction::Outbound,
            from: e.from.clone(),
            to: e.to.clone(),
            text: e.text.clone(),
            encoding: e.encoding,
            segments: e.segments,
            carrier: e.carrier,
            carrier_message_id: e.carrier_message_id.clone(),
            status: Status::Sent,
            failure_reason: None,
            keyword: None,
            sent_by: Some(e.sent_by.clone()),
            created_at: e.sent_at,
            updated_at: e.sent_at,
        },
        (_, MessageEvent::Received(e)) => Message {
            id: e.message_id,
            conversation_id: e.conversation_id,
            direction: Direction::Inbound,
            from: e.from.clone(),
            to: e.to.clone(),
            text: e.text.clone(),
            encoding: e.encoding,
            segments: e.segments,
            carrier: e.carrier,
            carrier_message_id: e.carrier_message_id.clone(),
            status: Status::Received,
            failure_reason: None,
            keyword: e.keyword,
            sent_by: None,
            created_at: e.received_at,
            updated_at: e.received_at,
        },
        (Some(message), MessageEvent::Delivered(e)) => Message {
            status: Status::Delivered,
            updated_at: e.delivered_at,
            ..message
        },
        (Some(message), MessageEvent::Failed(e)) => Message {
            status: Status::Failed,
            failure_reason: Some(e.reason.clone()),
            updated_at: e.failed_at,
            ..message
        },
        (None, other) => panic!("{} before the message was sent", other.event_type()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use comms_events::sms::Sent;

    fn sent() -> Message {
        let number = |n: &str| PhoneNumber::parse(n).unwrap();
        apply(
            None,
            &MessageEvent::Sent(Sent {
                message_id: Uuid::nil(),
                conversation_id: Uuid::nil(),
                to: number("+34600000001"),
                from: number("+14155550100"),
                text: "Hola".into(),
                encoding: Encoding::Gsm7,
                segments: 1,
                carrier: Carrier::Twilio,
                carrier_message_id: "SM0123456789abcdef0123456789abcdef".into(),
                failed_over_from: None,
                sent_by: "user_1".into(),
                sent_at: Utc::now(),
            }),
        )
    }

    #[test]
    fn a_final_status_never_changes() {
        let message = sent();
        let delivered = report(&message, TextReport::Delivered, Utc::now()).unwrap();
        let message = apply(Some(message), &delivered);
        assert_eq!(message.status, Status::Delivered);
        assert_eq!(report(&message, TextReport::Delivered, Utc::now()), None);
        let late = TextReport::Failed("undelivered".into());
        assert_eq!(report(&message, late, Utc::now()), None);
    }

    #[test]
    fn a_failure_keeps_the_carriers_reason() {
        let failed = TextReport::Failed("the carrier could not deliver it (error 30003)".into());
        let event = report(&sent(), failed, Utc::now()).unwrap();
        let message = apply(Some(sent()), &event);
        assert_eq!(message.status, Status::Failed);
        assert!(message.failure_reason.unwrap().contains("30003"));
    }
}
