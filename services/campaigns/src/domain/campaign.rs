//! The campaign aggregate (`campaign-<uuid>`): its settings and its life.
//!
//! ```text
//! draft ─► running ⇄ paused ─► completed
//!   └────────┴─────────┴─────► canceled
//! ```
//!
//! Each attempt on a contact is an event of the campaign too (`call_placed`, `call_finished`),
//! so the campaign's stream is the record of every dialing decision that placed a call.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use comms_proto::{Language, PhoneNumber};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::dialing::{Final, Outcome, RetryPolicy};
use super::pacing::DialingMode;
use super::window::CallingWindow;
use super::{DomainError, invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Running,
    Paused,
    Completed,
    Canceled,
}

impl Status {
    pub const ALL: [Self; 5] = [
        Self::Draft,
        Self::Running,
        Self::Paused,
        Self::Completed,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// What starts a campaign, or adds a contact to it, from another module's event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The event type: `planning.task.completed`.
    pub event: String,
    /// The event's `data` must hold each of these fields with this (string) value, e.g.
    /// `{"project_id": "p-42"}`; empty matches every such event.
    #[serde(default)]
    pub matching: std::collections::BTreeMap<String, String>,
    pub action: TriggerAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerAction {
    /// Start the campaign (a draft or paused one; running is left alone).
    Start,
    /// Add the task's contact (`data.contact_id`, the CRM's id) to the campaign.
    AddContact,
}

pub const TRIGGER_EVENTS: [&str; 1] =
    [<comms_events::platform::TaskCompleted as comms_events::Event>::TYPE];

impl Trigger {
    pub fn matches(&self, event_type: &str, data: &serde_json::Value) -> bool {
        self.event == event_type
            && self.matching.iter().all(|(field, value)| {
                data.get(field).and_then(serde_json::Value::as_str) == Some(value.as_str())
            })
    }
}

/// How the campaign dials. Every field has a default but the name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub name: String,
    pub dialing_mode: DialingMode,
    /// The number shown to contacts; the telephony provider's default when absent.
    pub caller_id: Option<PhoneNumber>,
    pub language: Language,
    pub window: CallingWindow,
    pub retry: RetryPolicy,
    /// Abandoned over answered calls the campaign must stay under, 0–0.03.
    pub abandon_cap: f64,
    /// Names of the organization's do-not-call lists the campaign honours (besides each
    /// contact's own flag, always honoured).
    pub do_not_call_lists: Vec<String>,
    pub trigger: Option<Trigger>,
}

pub const MAX_ABANDON_CAP: f64 = 0.03;

impl Settings {
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
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(invalid(
                "name",
                "a campaign needs a name of 1 to 200 characters",
            ));
        }
        self.window.validate()?;
        self.retry.validate()?;
        if !(self.abandon_cap > 0.0 && self.abandon_cap <= MAX_ABANDON_CAP) {
            return Err(invalid(
                "abandon_cap",
                format!(
                    "{} is not a rate above 0 and at most 0.03 (3%, the legal cap)",
                    self.abandon_cap
                ),
            ));
        }
        for list in &self.do_not_call_lists {
            super::do_not_call::check_list_name(list)?;
        }
        if let Some(trigger) = &self.trigger
            && !TRIGGER_EVENTS.contains(&trigger.event.as_str())
        {
            return Err(invalid(
                "trigger.event",
                format!(
                    "{:?} cannot trigger a campaign; use planning.task.completed",
                    trigger.event
                ),
            ));
        }
        Ok(())
    }
}

/// A contact added to the campaign, and how soon to call them (higher first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub contact_id: Uuid,
    pub priority: i32,
}

/// What happens to a campaign. Stored and published as `comms.campaign.<variant>` with the
/// variant's fields and the `campaign_id` as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Created {
        campaign_id: Uuid,
        settings: Settings,
        at: DateTime<Utc>,
    },
    Updated {
        settings: Settings,
        at: DateTime<Utc>,
    },
    Started {
        at: DateTime<Utc>,
        /// The other module's task whose completion started it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
    },
    Paused {
        at: DateTime<Utc>,
    },
    Resumed {
        at: DateTime<Utc>,
    },
    Completed {
        at: DateTime<Utc>,
    },
    Canceled {
        at: DateTime<Utc>,
    },
    ContactsAdded {
        contacts: Vec<Member>,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
    },
    CallPlaced {
        contact_id: Uuid,
        call_id: Uuid,
        attempt: u32,
        at: DateTime<Utc>,
    },
    CallFinished {
        contact_id: Uuid,
        call_id: Uuid,
        outcome: Outcome,
        /// From placing the call until it was answered or given up.
        ring_seconds: f64,
        /// Talk time of a connected call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        talk_seconds: Option<f64>,
        /// Set when the contact is done with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Final>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    /// The agent on a connected call finished its wrap-up: the rest of the call's handle time.
    WrapUpRecorded {
        call_id: Uuid,
        agent_id: Uuid,
        /// From the call's end until the agent left wrap-up.
        seconds: f64,
        at: DateTime<Utc>,
    },
    /// The contact is never to be called (a do-not-call list, their own flag, withdrawn
    /// consent): final for this campaign, without a call.
    ContactExcluded {
        contact_id: Uuid,
        reason: String,
        at: DateTime<Utc>,
    },
    /// Preview dialing: the contact is shown to a reserved agent, who accepts (the call is then
    /// placed, as `call_id`) or skips.
    PreviewOffered {
        contact_id: Uuid,
        call_id: Uuid,
        agent_id: Uuid,
        at: DateTime<Utc>,
    },
    /// The preview ended without a call: skipped by the agent, or not answered in time.
    PreviewWithdrawn {
        contact_id: Uuid,
        call_id: Uuid,
        reason: String,
        /// When the contact may be offered again.
        retry_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

const TYPE_PREFIX: &str = "comms.campaign.";

impl Event {
    /// The event's data as stored and published: its fields and the campaign's id.
    pub fn to_data(&self, campaign_id: Uuid) -> serde_json::Value {
        let tagged = serde_json::to_value(self).expect("events serialize");
        let mut data = tagged
            .as_object()
            .and_then(|o| o.values().next())
            .cloned()
            .expect("an externally tagged variant");
        data["campaign_id"] = serde_json::json!(campaign_id);
        data
    }

    /// The event stored as `event_type` with `data`.
    pub fn from_stored(event_type: &str, data: &serde_json::Value) -> Result<Self, String> {
        let variant = event_type
            .strip_prefix(TYPE_PREFIX)
            .ok_or_else(|| format!("{event_type} is not a campaign event"))?;
        serde_json::from_value(serde_json::json!({ variant: data }))
            .map_err(|e| format!("{event_type}: {e}"))
    }

    /// The event's type on the bus: `comms.campaign.<name>`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => "comms.campaign.created",
            Self::Updated { .. } => "comms.campaign.updated",
            Self::Started { .. } => "comms.campaign.started",
            Self::Paused { .. } => "comms.campaign.paused",
            Self::Resumed { .. } => "comms.campaign.resumed",
            Self::Completed { .. } => "comms.campaign.completed",
            Self::Canceled { .. } => "comms.campaign.canceled",
            Self::ContactsAdded { .. } => "comms.campaign.contacts_added",
            Self::CallPlaced { .. } => "comms.campaign.call_placed",
            Self::CallFinished { .. } => "comms.campaign.call_finished",
            Self::WrapUpRecorded { .. } => "comms.campaign.wrap_up_recorded",
            Self::ContactExcluded { .. } => "comms.campaign.contact_excluded",
            Self::PreviewOffered { .. } => "comms.campaign.preview_offered",
            Self::PreviewWithdrawn { .. } => "comms.campaign.preview_withdrawn",
        }
    }
}

/// The campaign, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: Uuid,
    pub settings: Settings,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Tasks that already triggered it: a replayed or duplicated event triggers nothing twice.
    pub triggered_by: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub enum Command {
    Create {
        campaign_id: Uuid,
        settings: Settings,
        at: DateTime<Utc>,
    },
    Update {
        settings: Settings,
        at: DateTime<Utc>,
    },
    Start {
        at: DateTime<Utc>,
        task_id: Option<String>,
    },
    Pause {
        at: DateTime<Utc>,
    },
    Resume {
        at: DateTime<Utc>,
    },
    Complete {
        at: DateTime<Utc>,
    },
    Cancel {
        at: DateTime<Utc>,
    },
    AddContacts {
        contacts: Vec<Member>,
        at: DateTime<Utc>,
        task_id: Option<String>,
    },
    PlaceCall {
        contact_id: Uuid,
        call_id: Uuid,
        attempt: u32,
        at: DateTime<Utc>,
    },
    FinishCall {
        contact_id: Uuid,
        call_id: Uuid,
        outcome: Outcome,
        ring_seconds: f64,
        talk_seconds: Option<f64>,
        done: Option<Final>,
        retry_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    RecordWrapUp {
        call_id: Uuid,
        agent_id: Uuid,
        seconds: f64,
        at: DateTime<Utc>,
    },
    ExcludeContact {
        contact_id: Uuid,
        reason: String,
        at: DateTime<Utc>,
    },
    OfferPreview {
        contact_id: Uuid,
        call_id: Uuid,
        agent_id: Uuid,
        at: DateTime<Utc>,
    },
    WithdrawPreview {
        contact_id: Uuid,
        call_id: Uuid,
        reason: String,
        retry_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

fn refuse(action: &'static str, status: Status) -> DomainError {
    DomainError::IllegalTransition {
        action,
        status: status.as_str(),
    }
}

/// Decides what `command` does to the campaign (absent before it is created).
pub fn handle(campaign: Option<&Campaign>, command: Command) -> Result<Vec<Event>, DomainError> {
    let Some(campaign) = campaign else {
        return match command {
            Command::Create {
                campaign_id,
                settings,
                at,
            } => {
                settings.validate()?;
                Ok(vec![Event::Created {
                    campaign_id,
                    settings,
                    at,
                }])
            }
            _ => Err(DomainError::NotFound),
        };
    };
    let status = campaign.status;
    let event = match command {
        Command::Create { .. } => return Err(DomainError::AlreadyExists),
        Command::Update { settings, at } => {
            if !matches!(status, Status::Draft | Status::Paused) {
                return Err(refuse("change the settings of", status));
            }
            settings.validate()?;
            Event::Updated { settings, at }
        }
        Command::Start { at, task_id } => {
            if task_id
                .as_ref()
                .is_some_and(|t| campaign.triggered_by.contains(t))
            {
                return Ok(Vec::new());
            }
            match status {
                Status::Draft | Status::Paused if task_id.is_some() => {
                    Event::Started { at, task_id }
                }
                Status::Draft => Event::Started { at, task_id },
                // A trigger on a running campaign has nothing to do.
                Status::Running if task_id.is_some() => return Ok(Vec::new()),
                _ => return Err(refuse("start", status)),
            }
        }
        Command::Pause { at } => match status {
            Status::Running => Event::Paused { at },
            _ => return Err(refuse("pause", status)),
        },
        Command::Resume { at } => match status {
            Status::Paused => Event::Resumed { at },
            _ => return Err(refuse("resume", status)),
        },
        Command::Complete { at } => match status {
            Status::Running => Event::Completed { at },
            _ => return Err(refuse("complete", status)),
        },
        Command::Cancel { at } => match status {
            Status::Draft | Status::Running | Status::Paused => Event::Canceled { at },
            _ => return Err(refuse("cancel", status)),
        },
        Command::AddContacts {
            contacts,
            at,
            task_id,
        } => {
            if task_id
                .as_ref()
                .is_some_and(|t| campaign.triggered_by.contains(t))
            {
                return Ok(Vec::new());
            }
            if matches!(status, Status::Completed | Status::Canceled) {
                return Err(refuse("add contacts to", status));
            }
            if contacts.is_empty() {
                return Ok(Vec::new());
            }
            Event::ContactsAdded {
                contacts,
                at,
                task_id,
            }
        }
        Command::PlaceCall {
            contact_id,
            call_id,
            attempt,
            at,
        } => {
            if status != Status::Running {
                return Err(refuse("place a call for", status));
            }
            Event::CallPlaced {
                contact_id,
                call_id,
                attempt,
                at,
            }
        }
        // Calls in progress finish whatever the campaign's status: pausing lets them end.
        Command::FinishCall {
            contact_id,
            call_id,
            outcome,
            ring_seconds,
            talk_seconds,
            done,
            retry_at,
            at,
        } => Event::CallFinished {
            contact_id,
            call_id,
            outcome,
            ring_seconds,
            talk_seconds,
            done,
            retry_at,
            at,
        },
        // Like a call's end, its wrap-up counts whatever the campaign's status.
        Command::RecordWrapUp {
            call_id,
            agent_id,
            seconds,
            at,
        } => Event::WrapUpRecorded {
            call_id,
            agent_id,
            seconds,
            at,
        },
        Command::ExcludeContact {
            contact_id,
            reason,
            at,
        } => Event::ContactExcluded {
            contact_id,
            reason,
            at,
        },
        Command::OfferPreview {
            contact_id,
            call_id,
            agent_id,
            at,
        } => {
            if status != Status::Running {
                return Err(refuse("offer a contact of", status));
            }
            Event::PreviewOffered {
                contact_id,
                call_id,
                agent_id,
                at,
            }
        }
        // Like a call in progress, a preview in progress may end whatever the status.
        Command::WithdrawPreview {
            contact_id,
            call_id,
            reason,
            retry_at,
            at,
        } => Event::PreviewWithdrawn {
            contact_id,
            call_id,
            reason,
            retry_at,
            at,
        },
    };
    Ok(vec![event])
}

/// Folds `event` into the campaign.
pub fn apply(campaign: Option<Campaign>, event: &Event) -> Campaign {
    if let Event::Created {
        campaign_id,
        settings,
        at,
    } = event
    {
        return Campaign {
            id: *campaign_id,
            settings: settings.clone(),
            status: Status::Draft,
            created_at: *at,
            updated_at: *at,
            started_at: None,
            ended_at: None,
            triggered_by: BTreeSet::new(),
        };
    }
    let mut campaign = campaign.expect("a campaign's first event creates it");
    match event {
        Event::Created { .. } => unreachable!("handled above"),
        Event::Updated { settings, at } => {
            campaign.settings = settings.clone();
            campaign.updated_at = *at;
        }
        Event::Started { at, task_id } => {
            campaign.status = Status::Running;
            campaign.started_at.get_or_insert(*at);
            campaign.updated_at = *at;
            campaign.triggered_by.extend(task_id.clone());
        }
        Event::Paused { at } => {
            campaign.status = Status::Paused;
            campaign.updated_at = *at;
        }
        Event::Resumed { at } => {
            campaign.status = Status::Running;
            campaign.updated_at = *at;
        }
        Event::Completed { at } | Event::Canceled { at } => {
            campaign.status = if matches!(event, Event::Completed { .. }) {
                Status::Completed
            } else {
                Status::Canceled
            };
            campaign.ended_at = Some(*at);
            campaign.updated_at = *at;
        }
        Event::ContactsAdded { task_id, .. } => {
            campaign.triggered_by.extend(task_id.clone());
        }
        Event::CallPlaced { .. }
        | Event::CallFinished { .. }
        | Event::WrapUpRecorded { .. }
        | Event::ContactExcluded { .. }
        | Event::PreviewOffered { .. }
        | Event::PreviewWithdrawn { .. } => {}
    }
    campaign
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-07-15T17:00:00Z".parse().unwrap()
    }

    fn run(campaign: Option<Campaign>, command: Command) -> Result<Campaign, DomainError> {
        let events = handle(campaign.as_ref(), command)?;
        Ok(events
            .iter()
            .fold(campaign, |c, e| Some(apply(c, e)))
            .unwrap())
    }

    fn draft() -> Campaign {
        let settings = Settings::new("Renewals", DialingMode::Progressive);
        run(
            None,
            Command::Create {
                campaign_id: Uuid::new_v4(),
                settings,
                at: at(),
            },
        )
        .unwrap()
    }

    #[test]
    fn a_campaign_runs_pauses_resumes_and_completes() {
        let running = run(
            Some(draft()),
            Command::Start {
                at: at(),
                task_id: None,
            },
        )
        .unwrap();
        assert_eq!(running.status, Status::Running);
        let paused = run(Some(running), Command::Pause { at: at() }).unwrap();
        let resumed = run(Some(paused), Command::Resume { at: at() }).unwrap();
        let done = run(Some(resumed), Command::Complete { at: at() }).unwrap();
        assert_eq!(done.status, Status::Completed);
        let err = run(
            Some(done),
            Command::Start {
                at: at(),
                task_id: None,
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "cannot start a campaign that is completed");
    }

    #[test]
    fn settings_change_only_while_not_dialing_and_are_checked() {
        let running = run(
            Some(draft()),
            Command::Start {
                at: at(),
                task_id: None,
            },
        )
        .unwrap();
        let mut settings = running.settings.clone();
        settings.name = "Renewals, take two".into();
        let err = run(
            Some(running),
            Command::Update {
                settings: settings.clone(),
                at: at(),
            },
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "cannot change the settings of a campaign that is running"
        );
        settings.abandon_cap = 0.05;
        let err = run(Some(draft()), Command::Update { settings, at: at() }).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("abandon_cap: 0.05 is not a rate"),
            "{err}"
        );
    }

    #[test]
    fn a_trigger_starts_once_per_task_and_leaves_a_running_campaign_alone() {
        let start = |task: &str| Command::Start {
            at: at(),
            task_id: Some(task.into()),
        };
        let started = run(Some(draft()), start("task-1")).unwrap();
        assert_eq!(started.status, Status::Running);
        assert!(handle(Some(&started), start("task-1")).unwrap().is_empty());
        assert!(handle(Some(&started), start("task-2")).unwrap().is_empty());
        let paused = run(Some(started), Command::Pause { at: at() }).unwrap();
        assert!(
            handle(Some(&paused), start("task-1")).unwrap().is_empty(),
            "a replay"
        );
        assert_eq!(handle(Some(&paused), start("task-3")).unwrap().len(), 1);
    }

    #[test]
    fn calls_are_placed_only_while_running_but_always_finish() {
        let paused = run(
            Some(
                run(
                    Some(draft()),
                    Command::Start {
                        at: at(),
                        task_id: None,
                    },
                )
                .unwrap(),
            ),
            Command::Pause { at: at() },
        )
        .unwrap();
        let (contact_id, call_id) = (Uuid::new_v4(), Uuid::new_v4());
        let err = handle(
            Some(&paused),
            Command::PlaceCall {
                contact_id,
                call_id,
                attempt: 1,
                at: at(),
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot place a call for a campaign that is paused"
        );
        let finished = handle(
            Some(&paused),
            Command::FinishCall {
                contact_id,
                call_id,
                outcome: Outcome::Connected,
                ring_seconds: 12.0,
                talk_seconds: Some(95.0),
                done: Some(Final::Reached),
                retry_at: None,
                at: at(),
            },
        )
        .unwrap();
        assert_eq!(finished.len(), 1);
    }

    #[test]
    fn events_carry_their_bus_names_and_round_trip() {
        let event = Event::Started {
            at: at(),
            task_id: Some("task-9".into()),
        };
        assert_eq!(event.event_type(), "comms.campaign.started");
        let id = Uuid::new_v4();
        let data = event.to_data(id);
        assert_eq!(data["campaign_id"], id.to_string());
        assert_eq!(data["task_id"], "task-9");
        assert_eq!(
            Event::from_stored(event.event_type(), &data).unwrap(),
            event
        );
    }
}
