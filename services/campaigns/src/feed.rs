//! What the campaigns service follows on the bus, each message applied in the consumer's
//! transaction (so a redelivered one changes nothing twice):
//!
//! - `comms.call.answered|ended|failed|canceled` of its own calls: the attempt's outcome, the
//!   contact's retry or final state, and the pacer's measurements;
//! - `crm.contact.created|updated`: the CRM's contacts, kept in sync (a malformed one is
//!   dead-lettered with the reason; an older one arriving late changes nothing);
//! - `planning.task.completed`: campaigns with a matching trigger start, or take the task's
//!   contact (once per task, however often the event is delivered);
//! - `comms.agent.available|break|away|offline` naming a call: an agent left the wrap-up of one
//!   of its connected calls, whose handle time the pacer then counts whole;
//! - `comms.call.callback_requested`: a caller left a voicemail in an IVR flow naming one of the
//!   organization's campaigns; the caller's number joins it (as the contact it already is, or
//!   a new one), for its agents to call back;
//! - `comms.conversation.opted_out|opted_in`: a number texted STOP or START; it joins or leaves
//!   the organization's `opted-out` do-not-call list, which every campaign honours. Only a change
//!   later in the conversation than the last one applied counts, so a redelivered or overtaken
//!   one cannot undo a newer one.

use chrono::{DateTime, Utc};
use comms_bus::{Envelope, HandleError, Handler};
use comms_events::Event;
use comms_events::agent::{self, AgentEvent, Transition};
use comms_events::call::{self, CallEvent, FailedOutcome};
use comms_events::platform::{self, CrmContact, CrmContactEvent, PlanningEvent, TaskCompleted};
use comms_events::sms::{self, ConsentChanged, ConversationEvent};
use comms_eventstore::unit_of_work::Failure;
use comms_proto::{Language, PhoneNumber};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::dialer::{ACTOR, Dialer};
use crate::domain::DomainError;
use crate::domain::campaign::{Command, Member, TriggerAction};
use crate::domain::contact::ContactFields;
use crate::domain::dialing::Outcome;
use crate::lock_order;
use crate::store::campaigns::CampaignCall;
use crate::store::{campaigns, contacts, do_not_call};

/// How long an agent's end of wrap-up that arrives before the call's end is retried (a
/// redelivered message can be overtaken).
const NOT_YET_RECORDED: chrono::Duration = chrono::Duration::seconds(60);

pub const BINDINGS: [&str; 15] = [
    <call::Answered as Event>::TYPE,
    <call::CallbackRequested as Event>::TYPE,
    <call::MachineDetected as Event>::TYPE,
    <call::Ended as Event>::TYPE,
    <call::Failed as Event>::TYPE,
    <call::Canceled as Event>::TYPE,
    <agent::Available as Event>::TYPE,
    <agent::Break as Event>::TYPE,
    <agent::Away as Event>::TYPE,
    <agent::Offline as Event>::TYPE,
    <platform::CrmContactCreated as Event>::TYPE,
    <platform::CrmContactUpdated as Event>::TYPE,
    <platform::TaskCompleted as Event>::TYPE,
    <sms::OptedOut as Event>::TYPE,
    <sms::OptedIn as Event>::TYPE,
];

pub struct Feed(pub Dialer);

fn reject(envelope: &Envelope, error: impl std::fmt::Display) -> HandleError {
    HandleError::Reject(format!("{}: {error}", envelope.event_type))
}

fn retry(error: impl Into<comms_proto::ApiError>) -> HandleError {
    HandleError::from_api("applying the event", error.into())
}

impl Handler for Feed {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandleError> {
        if comms_events::topic_matches(CallEvent::BINDING, &envelope.event_type) {
            let event = envelope.decode::<CallEvent>()?;
            return self.call_event(conn, envelope, event).await;
        }
        if comms_events::topic_matches(AgentEvent::BINDING, &envelope.event_type) {
            // Entering available, break, away or offline; `call_id` names the call left behind.
            return match envelope.decode::<AgentEvent>()? {
                AgentEvent::Available(e) => wrap_up_ended(conn, envelope, &e).await,
                AgentEvent::Break(e) => wrap_up_ended(conn, envelope, &e).await,
                AgentEvent::Away(e) => wrap_up_ended(conn, envelope, &e).await,
                AgentEvent::Offline(e) => wrap_up_ended(conn, envelope, &e).await,
                _ => Ok(()), // not bound
            };
        }
        if comms_events::topic_matches(CrmContactEvent::BINDING, &envelope.event_type) {
            let contact = match envelope.decode::<CrmContactEvent>()? {
                CrmContactEvent::Created(created) => created.0,
                CrmContactEvent::Updated(updated) => updated.0,
            };
            return sync_contact(conn, envelope, contact).await;
        }
        if ConversationEvent::contains(&envelope.event_type) {
            return match envelope.decode::<ConversationEvent>()? {
                ConversationEvent::OptedOut(change) => consent(conn, envelope, &change, true).await,
                ConversationEvent::OptedIn(change) => consent(conn, envelope, &change, false).await,
            };
        }
        if PlanningEvent::contains(&envelope.event_type) {
            let PlanningEvent::TaskCompleted(task) = envelope.decode::<PlanningEvent>()?;
            return self.task_completed(conn, envelope, task).await;
        }
        Ok(())
    }
}

impl Feed {
    async fn call_event(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
        event: CallEvent,
    ) -> Result<(), HandleError> {
        if let CallEvent::CallbackRequested(callback) = event {
            return self.call_back(conn, envelope, callback).await;
        }
        let (call_id, campaign_id) = match &event {
            CallEvent::Answered(e) => (e.call_id, e.campaign_id),
            CallEvent::Ended(e) => (e.call_id, e.campaign_id),
            CallEvent::Failed(e) => (e.call_id, e.campaign_id),
            CallEvent::Canceled(e) => (e.call_id, e.campaign_id),
            CallEvent::MachineDetected(e) => (e.call_id, e.campaign_id),
            // Not bound: nothing a campaign counts.
            CallEvent::Started(_)
            | CallEvent::Ringing(_)
            | CallEvent::Updated(_)
            | CallEvent::AgentAssigned(_)
            | CallEvent::Placed(_)
            | CallEvent::RecordingAvailable(_)
            | CallEvent::RecordingChanged(_)
            | CallEvent::RecordingDeleted(_)
            | CallEvent::IvrStep(_)
            | CallEvent::Queued(_)
            | CallEvent::Rerouted(_)
            | CallEvent::Utterance(_)
            | CallEvent::Transcribed(_)
            | CallEvent::Sentiment(_)
            | CallEvent::SentimentAlert(_)
            | CallEvent::Summarized(_)
            | CallEvent::TranscriptDeleted(_)
            | CallEvent::CallbackRequested(_)
            | CallEvent::MonitoringChanged(_)
            | CallEvent::AgentLegAnswered(_) => return Ok(()),
        };
        let org = envelope.organization_id.as_str();
        let recorded = lock_order::call(conn, call_id).await.map_err(retry)?;
        let call = match recorded {
            Some(call) => call,
            None => match placed_meanwhile(conn, org, call_id, campaign_id).await? {
                Some(call) => call,
                None => return Ok(()),
            },
        };
        if call.org_id != org || call.finished_at.is_some() {
            return Ok(());
        }
        let at = envelope.timestamp;
        if let CallEvent::Answered(answered) = &event {
            campaigns::mark_call(conn, call.call_id, Some(at), None, false)
                .await
                .map_err(retry)?;
            if answered.awaiting_machine_detection {
                campaigns::await_verdict(conn, call.call_id)
                    .await
                    .map_err(retry)?;
            }
            self.0.wake.notify_one(); // route it to an agent now, not at the next tick
            return Ok(());
        }
        if let CallEvent::MachineDetected(detected) = &event {
            // Said once per call (a verdict after the dialer stopped waiting changes nothing),
            // and again at a machine's beep when the carrier said it would listen for it.
            if call.awaiting_verdict {
                let machine = detected.verdict.is_machine();
                let awaiting_beep = detected.greeting_end_expected;
                campaigns::heard(conn, call.call_id, machine, awaiting_beep, at)
                    .await
                    .map_err(retry)?;
                self.0.wake.notify_one(); // route it, or hang it up, now
            } else if call.awaiting_beep && detected.verdict.is_greeting_over() {
                campaigns::greeting_ended(conn, call.call_id)
                    .await
                    .map_err(retry)?;
                self.0.wake.notify_one(); // leave the message now
            }
            return Ok(());
        }
        let outcome = match &event {
            // A machine answered: voicemail, whoever hung up.
            CallEvent::Ended(_) if call.machine => Outcome::Voicemail,
            CallEvent::Ended(_) if call.agent_id.is_some() && !call.abandoned => Outcome::Connected,
            // Answered, and nobody took it: abandoned, by the dialer or by the callee first.
            CallEvent::Ended(_) => Outcome::Abandoned,
            CallEvent::Failed(e) => match e.outcome {
                FailedOutcome::NoAnswer => Outcome::NoAnswer,
                FailedOutcome::Busy => Outcome::Busy,
                FailedOutcome::Failed => Outcome::Failed,
            },
            _ => Outcome::Failed,
        };
        let rang_until = call.answered_at.unwrap_or(at);
        let ring_seconds = (rang_until - call.placed_at).num_milliseconds().max(0) as f64 / 1000.0;
        let talk_seconds = match &event {
            CallEvent::Ended(e) if outcome == Outcome::Connected => Some(e.duration as f64),
            _ => None,
        };
        let Some(view) = lock_order::campaign(conn, org, call.campaign_id)
            .await
            .map_err(retry)?
        else {
            return Ok(());
        };
        let mut state = campaigns::progress(conn, call.campaign_id, call.contact_id)
            .await
            .map_err(retry)?;
        state.finished(outcome, at, &view.value.campaign.settings.retry);
        let command = Command::FinishCall {
            contact_id: call.contact_id,
            call_id: call.call_id,
            outcome,
            ring_seconds,
            talk_seconds,
            done: state.done,
            retry_at: state.retry_at,
            at,
        };
        campaigns::change(conn, org, ACTOR, call.campaign_id, command)
            .await
            .map_err(retry)?;
        self.0.wake.notify_one();
        Ok(())
    }

    /// The caller of a voicemail joins the campaign that calls back: as the organization's
    /// contact with that number, or a new contact named by it. A campaign that is gone, or over,
    /// has no one to call back (logged); a redelivered request adds nobody twice.
    async fn call_back(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
        callback: call::CallbackRequested,
    ) -> Result<(), HandleError> {
        let org = envelope.organization_id.as_str();
        let contact = match contacts::find_by_phone(conn, org, &callback.number)
            .await
            .map_err(retry)?
        {
            Some(contact) => contact.id,
            None => {
                let fields = ContactFields {
                    name: format!("Voicemail from {}", callback.number),
                    phones: vec![callback.number.clone()],
                    language: callback.language,
                    time_zone: None,
                    custom_fields: Default::default(),
                    consent: None,
                    do_not_call: false,
                    external_id: None,
                };
                let (contact, _) = contacts::upsert(conn, org, ACTOR, fields, envelope.timestamp)
                    .await
                    .map_err(|e| match e {
                        Failure::Refused(refusal) => reject(envelope, refusal.to_string()),
                        other => retry(other),
                    })?;
                contact.value.id
            }
        };
        let new = campaigns::not_yet_members(conn, callback.campaign_id, &[contact])
            .await
            .map_err(retry)?;
        if new.is_empty() {
            return Ok(());
        }
        let command = Command::AddContacts {
            contacts: vec![Member {
                contact_id: contact,
                priority: 0,
            }],
            at: envelope.timestamp,
            task_id: None,
        };
        match campaigns::change(conn, org, ACTOR, callback.campaign_id, command).await {
            Ok(_) => {
                tracing::info!(campaign = %callback.campaign_id, call = %callback.call_id, "a voicemail to call back")
            }
            Err(
                Failure::NotFound { .. } | Failure::Refused(DomainError::IllegalTransition { .. }),
            ) => {
                tracing::warn!(campaign = %callback.campaign_id, call = %callback.call_id, "a voicemail's callback campaign is gone or over: nobody calls back")
            }
            Err(e) => return Err(retry(e)),
        }
        self.0.wake.notify_one();
        Ok(())
    }

    async fn task_completed(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
        task: TaskCompleted,
    ) -> Result<(), HandleError> {
        let org = envelope.organization_id.as_str();
        if task.task_id.is_empty() {
            return Err(reject(
                envelope,
                "data.task_id: a non-empty string is required",
            ));
        }
        let task_id = task.task_id;
        let candidates = campaigns::triggered_by(conn, org, &envelope.event_type)
            .await
            .map_err(retry)?;
        for campaign in candidates {
            let Some(trigger) = &campaign.settings.trigger else {
                continue;
            };
            if !trigger.matches(&envelope.event_type, &envelope.data) {
                continue;
            }
            let command = match trigger.action {
                TriggerAction::Start => Command::Start {
                    at: envelope.timestamp,
                    task_id: Some(task_id.clone()),
                },
                TriggerAction::AddContact => {
                    let Some(external_id) = task.contact_id.as_deref() else {
                        return Err(reject(
                            envelope,
                            "data.contact_id: the CRM's contact id is required to add the task's contact",
                        ));
                    };
                    let Some(contact) = contacts::find_by_external_id(conn, org, external_id)
                        .await
                        .map_err(retry)?
                    else {
                        return Err(reject(
                            envelope,
                            format!("data.contact_id: no contact has the CRM id {external_id:?}"),
                        ));
                    };
                    let new = campaigns::not_yet_members(conn, campaign.id, &[contact.id])
                        .await
                        .map_err(retry)?;
                    Command::AddContacts {
                        contacts: new
                            .into_iter()
                            .map(|contact_id| Member {
                                contact_id,
                                priority: 0,
                            })
                            .collect(),
                        at: envelope.timestamp,
                        task_id: Some(task_id.clone()),
                    }
                }
            };
            match campaigns::change(conn, org, ACTOR, campaign.id, command).await {
                Ok(_) => {
                    tracing::info!(campaign = %campaign.id, task = %task_id, "triggered by {}", envelope.event_type)
                }
                // Completed or canceled since: a trigger has nothing to do there.
                Err(Failure::Refused(refusal @ DomainError::IllegalTransition { .. })) => {
                    tracing::info!(campaign = %campaign.id, error = %refusal, "trigger ignored")
                }
                Err(e) => return Err(retry(e)),
            }
        }
        self.0.wake.notify_one();
        Ok(())
    }
}

/// A call with no campaign record: someone else's (placed over REST, naming a campaign), or one
/// the dialer is placing right now, which it records once the calls service has answered, under
/// the campaign's lock. Waiting for that lock settles which: the record is there after it, or
/// the call is not the campaign's.
async fn placed_meanwhile(
    conn: &mut PgConnection,
    org: &str,
    call_id: Uuid,
    campaign_id: Option<Uuid>,
) -> Result<Option<CampaignCall>, HandleError> {
    let Some(campaign_id) = campaign_id else {
        return Ok(None);
    };
    if lock_order::campaign(conn, org, campaign_id)
        .await
        .map_err(retry)?
        .is_none()
    {
        return Ok(None);
    }
    lock_order::call(conn, call_id).await.map_err(retry)
}

/// The agent on one of our connected calls left its wrap-up: the time since the call ended is
/// the rest of its handle time, recorded once per call. Leaving a reservation also names a call,
/// but never one the agent was connected to and that has ended, so it records nothing.
async fn wrap_up_ended(
    conn: &mut PgConnection,
    envelope: &Envelope,
    event: &Transition,
) -> Result<(), HandleError> {
    let org = envelope.organization_id.as_str();
    let Some(call_id) = event.call_id else {
        return Ok(());
    };
    let Some(call) = lock_order::call(conn, call_id).await.map_err(retry)? else {
        return Ok(());
    };
    if call.org_id != org || call.agent_id != Some(event.agent_id) || call.abandoned {
        return Ok(());
    }
    let finished_at = match (call.finished_at, call.wrapped_up_at) {
        (Some(finished_at), None) => finished_at,
        // The call's end is still on its way: a redelivered message can overtake it.
        (None, _) if Utc::now() - envelope.timestamp < NOT_YET_RECORDED => {
            return Err(HandleError::Retry(anyhow::anyhow!(
                "the end of call {call_id} is not recorded yet"
            )));
        }
        _ => return Ok(()),
    };
    let seconds = (event.at - finished_at).num_milliseconds().max(0) as f64 / 1000.0;
    let command = Command::RecordWrapUp {
        call_id,
        agent_id: event.agent_id,
        seconds,
        at: event.at,
    };
    campaigns::change(conn, org, ACTOR, call.campaign_id, command)
        .await
        .map_err(retry)?;
    Ok(())
}

fn crm_fields(contact: CrmContact) -> Result<(ContactFields, Option<DateTime<Utc>>), String> {
    let numbers: Vec<String> = contact.phone.into_iter().chain(contact.phones).collect();
    let mut phones = Vec::new();
    for number in numbers {
        let phone = PhoneNumber::parse(&number).map_err(|e| format!("data.phones: {e}"))?;
        if !phones.contains(&phone) {
            phones.push(phone);
        }
    }
    let language = match contact.language.as_deref() {
        None | Some("") => Language::En,
        Some(code) => Language::parse(code).map_err(|e| format!("data.language: {e}"))?,
    };
    let fields = ContactFields {
        name: contact.name,
        phones,
        language,
        time_zone: contact.time_zone.filter(|z| !z.is_empty()),
        custom_fields: contact.custom_fields,
        consent: contact.consent,
        do_not_call: contact.do_not_call,
        external_id: Some(contact.id),
    };
    crate::domain::contact::validate(&fields).map_err(|e| {
        let (field, reason) = crate::domain::field_problem(&e);
        format!("data.{field}: {reason}")
    })?;
    Ok((fields, contact.updated_at))
}

async fn sync_contact(
    conn: &mut PgConnection,
    envelope: &Envelope,
    contact: CrmContact,
) -> Result<(), HandleError> {
    let (fields, updated_at) = crm_fields(contact).map_err(|e| reject(envelope, e))?;
    let crm_at = updated_at.unwrap_or(envelope.timestamp);
    contacts::sync_from_crm(conn, &envelope.organization_id, fields, crm_at)
        .await
        .map_err(|e| match e {
            Failure::Refused(refusal @ DomainError::Invalid { .. }) => {
                reject(envelope, refusal.to_string())
            }
            other => retry(other),
        })?;
    Ok(())
}

/// A number's consent changed (`opted_out`: it texted STOP): the `opted-out` list follows, when
/// the change is the conversation's latest applied yet.
async fn consent(
    conn: &mut PgConnection,
    envelope: &Envelope,
    change: &ConsentChanged,
    opted_out: bool,
) -> Result<(), HandleError> {
    let org = envelope.organization_id.as_str();
    let Some(position) = envelope.metadata.stream_position else {
        return Err(reject(
            envelope,
            "metadata.streamPosition: required to order consent changes",
        ));
    };
    let latest: Option<bool> = sqlx::query_scalar(
        "INSERT INTO consent_positions (org_id, phone, stream_position) VALUES ($1, $2, $3)
         ON CONFLICT (org_id, phone) DO UPDATE SET stream_position = EXCLUDED.stream_position
         WHERE consent_positions.stream_position < EXCLUDED.stream_position
         RETURNING true",
    )
    .bind(org)
    .bind(change.number.as_str())
    .bind(position)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| retry(Failure::<DomainError>::from(e)))?;
    if latest.is_none() {
        return Ok(());
    }
    let numbers = std::slice::from_ref(&change.number);
    let changed = if opted_out {
        do_not_call::add(conn, org, ACTOR, do_not_call::OPTED_OUT, numbers, change.at).await
    } else {
        do_not_call::remove(conn, org, ACTOR, do_not_call::OPTED_OUT, numbers, change.at).await
    };
    changed.map(|_| ()).map_err(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crm(json: serde_json::Value) -> Result<(ContactFields, Option<DateTime<Utc>>), String> {
        crm_fields(serde_json::from_value(json).map_err(|e| e.to_string())?)
    }

    #[test]
    fn a_crm_contact_becomes_fields_or_a_reason() {
        let (fields, _) = crm(serde_json::json!({
            "id": "crm-1", "name": "Ada", "phone": "+14155550100", "language": "es"
        }))
        .unwrap();
        assert_eq!(fields.external_id.as_deref(), Some("crm-1"));
        assert_eq!(fields.language, Language::Es);
        let err = crm(serde_json::json!({ "id": "crm-2", "name": "Bob", "phone": "555-0100" }))
            .unwrap_err();
        assert!(
            err.starts_with("data.phones: \"555-0100\" is not an E.164 number"),
            "{err}"
        );
        let err = crm(
            serde_json::json!({ "id": "crm-3", "name": "Cy", "phones": ["+14155550101"],
            "time_zone": "Atlantis/Capital" }),
        )
        .unwrap_err();
        assert!(err.starts_with("data.time_zone:"), "{err}");
        let err = crm(serde_json::json!({ "id": "crm-4", "name": "Di" })).unwrap_err();
        assert!(err.starts_with("data.phones:"), "{err}");
    }
}
