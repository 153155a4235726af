//! Text messages: sent through the carrier that carries calls, received at the organization's
//! numbers, threaded into conversations (the organization and the other party's number), with
//! the other party's consent: STOP opts a number out of texts and campaigns, START back in.
//! Each message's events and its read model row are written in one transaction, with its
//! conversation's row (and consent events) when it changes.

pub mod domain;
pub mod keywords;
pub mod segments;
mod view;

use chrono::Utc;
use comms_auth::Identity;
use comms_events::sms::{
    ConsentChanged, ConversationEvent, Keyword, MessageEvent, OptedIn, OptedOut, Received, Sent,
};
use comms_eventstore::{EventStore, ExpectedVersion, StreamName, in_transaction};
use comms_proto::{ApiError, ErrorKind, PhoneNumber};
use sqlx::PgConnection;
use uuid::Uuid;

pub use domain::{Direction, Message, Status};
pub use view::{Conversation, Cursor};

use crate::domain::Carrier;
use crate::numbers::Numbers;
use crate::telephony::{Providers, TelephonyError, TextReport, TextRequest};

const MESSAGES: &str = "sms";
const CONVERSATIONS: &str = "conversation";
/// The longest text sent or kept: Twilio's limit (ten segments of GSM-7 and more).
pub const MAX_TEXT: usize = 1600;
/// Namespaces of the ids derived from what names a thing: a conversation from its organization
/// and number, a received message from its carrier's id (so a carrier's repeat is the same
/// message).
const CONVERSATION_IDS: Uuid = Uuid::from_u128(0x5d0c_27a1_9b3e_4f68_8e21_c4a7_0f93_b6d2);
const RECEIVED_IDS: Uuid = Uuid::from_u128(0x7a41_e0c3_26bd_4c95_b1f8_3e69_d2a0_5c17);
/// How long a delivery report waits for the message it is about: a carrier can report before
/// the send that it answered has been recorded.
const REPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Clone)]
pub struct Messages {
    store: EventStore,
    numbers: Numbers,
    telephony: Providers,
}

/// The conversation of `org` with `number`.
pub fn conversation_id(org: &str, number: &PhoneNumber) -> Uuid {
    Uuid::new_v5(&CONVERSATION_IDS, format!("{org}\n{number}").as_bytes())
}

fn store_error(error: impl Into<comms_eventstore::Error>) -> ApiError {
    comms_eventstore::unit_of_work::api_error(error)
}

impl Messages {
    pub fn new(store: EventStore, numbers: Numbers, telephony: Providers) -> Self {
        Self {
            store,
            numbers,
            telephony,
        }
    }

    /// Sends `text` to `to` from `from` (one of the organization's numbers) or the carrier's
    /// own number; recorded once the carrier took it. A carrier's refusal is the answer, and
    /// nothing is kept.
    pub async fn send(
        &self,
        identity: &Identity,
        to: PhoneNumber,
        from: Option<PhoneNumber>,
        text: String,
    ) -> Result<Message, ApiError> {
        let org = identity.org_id.as_str();
        if let Some(from) = &from
            && self.numbers.find(org, from).await?.is_none()
        {
            return Err(ApiError::unknown_reference(
                "from",
                format!("{from} is not one of the organization's numbers"),
            ));
        }
        let conversation_id = conversation_id(org, &to);
        if let Some(since) = view::opted_out_since(self.store.pool(), conversation_id).await? {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "{to} replied STOP ({}): it gets no texts until it replies START",
                    since.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
        let (encoding, segments) = segments::segments(&text);
        let message_id = Uuid::now_v7();
        let accepted = self
            .telephony
            .send_text(TextRequest {
                org_id: org.to_owned(),
                message_id,
                to: to.clone(),
                from,
                text: text.clone(),
                encoding,
            })
            .await
            .map_err(refused)?;
        let now = Utc::now();
        let mut events = vec![MessageEvent::Sent(Sent {
            message_id,
            conversation_id,
            to,
            from: accepted.from,
            text,
            encoding,
            segments,
            carrier: accepted.carrier,
            carrier_message_id: accepted.carrier_message_id,
            failed_over_from: accepted.failed_over_from,
            sent_by: identity.user_id.clone(),
            sent_at: now,
        })];
        if accepted.delivered {
            let sent = domain::apply(None, &events[0]);
            events.extend(domain::report(&sent, TextReport::Delivered, now));
        }
        in_transaction!(self.store, |tx| {
            self.record(&mut *tx, identity, None, ExpectedVersion::NoStream, &events)
                .await
        })
    }

    /// A text to the organization's number `to`, once per carrier message: a repeat answers the
    /// message recorded the first time. A text that is only a keyword changes the number's
    /// consent when it is not already so.
    pub async fn receive(
        &self,
        identity: &Identity,
        carrier: Carrier,
        carrier_message_id: &str,
        to: PhoneNumber,
        from: PhoneNumber,
        text: String,
    ) -> Result<Message, ApiError> {
        let org = identity.org_id.as_str();
        if self.numbers.find(org, &to).await?.is_none() {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!("the organization has no number {to}"),
            ));
        }
        let message_id = Uuid::new_v5(
            &RECEIVED_IDS,
            format!("{}\n{carrier_message_id}", carrier.as_str()).as_bytes(),
        );
        let (encoding, segments) = segments::segments(&text);
        let event = MessageEvent::Received(Received {
            message_id,
            conversation_id: conversation_id(org, &from),
            keyword: keywords::keyword(&text),
            from,
            to,
            text,
            encoding,
            segments,
            carrier,
            carrier_message_id: carrier_message_id.to_owned(),
            received_at: Utc::now(),
        });
        let stream = StreamName::new(MESSAGES, message_id);
        in_transaction!(self.store, |tx| {
            let (state, expected) =
                crate::stream::load(&mut *tx, org, &stream, "message", domain::apply).await?;
            if let Some(known) = state {
                return Ok(known);
            }
            let message = self
                .record(
                    &mut *tx,
                    identity,
                    None,
                    expected,
                    std::slice::from_ref(&event),
                )
                .await?;
            if let Some(keyword) = message.keyword {
                self.change_consent(&mut *tx, identity, &message, keyword)
                    .await?;
            }
            Ok(message)
        })
    }

    /// A carrier's delivery report on message `id`: its status, unless final already.
    pub async fn report(
        &self,
        identity: &Identity,
        id: Uuid,
        carrier: Carrier,
        carrier_message_id: &str,
        report: Option<TextReport>,
    ) -> Result<Message, ApiError> {
        let org = identity.org_id.as_str();
        let stream = StreamName::new(MESSAGES, id);
        let waited = tokio::time::Instant::now();
        loop {
            let decided = in_transaction!(self.store, |tx| {
                let (state, expected) =
                    crate::stream::load(&mut *tx, org, &stream, "message", domain::apply).await?;
                let Some(message) = state else {
                    return Ok(None);
                };
                if message.carrier != carrier {
                    return Err(ApiError::invalid(
                        "carrier",
                        format!("the message was sent by {}", message.carrier.as_str()),
                    ));
                }
                // Vonage reports each part of a long text under the part's own id.
                if carrier == Carrier::Twilio && message.carrier_message_id != carrier_message_id {
                    return Err(ApiError::invalid(
                        "carrier_message_id",
                        format!("{carrier_message_id:?} is not the carrier's id for this message"),
                    ));
                }
                let Some(event) = report
                    .clone()
                    .and_then(|report| domain::report(&message, report, Utc::now()))
                else {
                    return Ok(Some(message));
                };
                self.record(&mut *tx, identity, Some(message), expected, &[event])
                    .await
                    .map(Some)
            })?;
            match decided {
                Some(message) => return Ok(message),
                None if waited.elapsed() < REPORT_WAIT => {
                    tokio::time::sleep(REPORT_WAIT / 20).await;
                }
                None => return Err(ApiError::not_found("message", &id.to_string())),
            }
        }
    }

    pub async fn get(&self, org: &str, id: Uuid) -> Result<Message, ApiError> {
        view::message(self.store.pool(), org, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found("message", &id.to_string()))
    }

    pub async fn conversation(&self, org: &str, id: Uuid) -> Result<Conversation, ApiError> {
        view::conversation(self.store.pool(), org, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found("conversation", &id.to_string()))
    }

    /// A page of the organization's conversations, the latest first.
    pub async fn conversations(
        &self,
        org: &str,
        after: Option<Cursor>,
        size: usize,
    ) -> Result<Vec<Conversation>, ApiError> {
        view::conversations(self.store.pool(), org, after, size)
            .await
            .map_err(store_error)
    }

    /// A page of conversation `id`'s messages, the latest first.
    pub async fn messages(
        &self,
        org: &str,
        id: Uuid,
        after: Option<Cursor>,
        size: usize,
    ) -> Result<Vec<Message>, ApiError> {
        self.conversation(org, id).await?;
        view::messages(self.store.pool(), org, id, after, size)
            .await
            .map_err(store_error)
    }

    /// Appends `events` to the message's stream after `expected`, and writes the message's row
    /// and its conversation's.
    async fn record(
        &self,
        tx: &mut PgConnection,
        identity: &Identity,
        state: Option<Message>,
        expected: ExpectedVersion,
        events: &[MessageEvent],
    ) -> Result<Message, ApiError> {
        let org = identity.org_id.as_str();
        let new = state.is_none();
        let message = events
            .iter()
            .fold(state, |state, event| Some(domain::apply(state, event)))
            .expect("a message's events leave a message");
        let stream = StreamName::new(MESSAGES, message.id);
        let appended = comms_eventstore::append_in(
            &mut *tx,
            org,
            &stream,
            expected,
            events
                .iter()
                .map(|e| comms_bus::new_event(e, &identity.user_id, None))
                .collect(),
        )
        .await
        .map_err(store_error)?;
        view::upsert_message(&mut *tx, org, &message, appended.next_expected_version)
            .await
            .map_err(store_error)?;
        if new {
            view::add_to_conversation(&mut *tx, org, &message)
                .await
                .map_err(store_error)?;
        }
        Ok(message)
    }

    /// Opts the message's sender out (STOP) or in (START), when that changes their consent.
    async fn change_consent(
        &self,
        tx: &mut PgConnection,
        identity: &Identity,
        message: &Message,
        keyword: Keyword,
    ) -> Result<(), ApiError> {
        let org = identity.org_id.as_str();
        let opted_out = view::lock_consent(&mut *tx, message.conversation_id)
            .await
            .map_err(store_error)?;
        let change = ConsentChanged {
            conversation_id: message.conversation_id,
            number: message.from.clone(),
            message_id: message.id,
            keyword: message.text.trim().chars().take(40).collect(),
            at: message.created_at,
        };
        let event = match (keyword, opted_out) {
            (Keyword::Stop, false) => ConversationEvent::OptedOut(OptedOut(change)),
            (Keyword::Start, true) => ConversationEvent::OptedIn(OptedIn(change)),
            _ => return Ok(()),
        };
        let stream = StreamName::new(CONVERSATIONS, message.conversation_id);
        comms_eventstore::append_in(
            &mut *tx,
            org,
            &stream,
            ExpectedVersion::Any,
            vec![comms_bus::new_event(&event, &identity.user_id, None)],
        )
        .await
        .map_err(store_error)?;
        view::set_consent(&mut *tx, message.conversation_id, keyword == Keyword::Stop)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// A carrier's refusal in the API's terms: its words, as a precondition the request did not
/// meet (a number it cannot reach, a sender it does not know), or unavailable when worth
/// retrying.
fn refused(error: TelephonyError) -> ApiError {
    let kind = if error.is_retryable() {
        ErrorKind::Unavailable
    } else {
        ErrorKind::FailedPrecondition
    };
    ApiError::new(kind, format!("the text was not sent: {error}"))
}
