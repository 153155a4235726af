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
use comms_events::campaign as event;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use comms_events::campaign::{
    CampaignEvent, MAX_ABANDON_CAP, Member, Settings, Trigger, TriggerAction,
};

use super::dialing::{Final, Outcome};
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

/// What an answering machine hears after its beep: short enough to be heard out.
const MAX_VOICEMAIL_MESSAGE: usize = 500;

/// Whether the settings may be a campaign's: named, a valid window and retry policy, an abandon
/// cap within the legal one, list names that are list names, a trigger we can follow, a
/// voicemail message that can be spoken.
pub fn validate(settings: &Settings) -> Result<(), DomainError> {
    let name = settings.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "a campaign needs a name of 1 to 200 characters, no control characters",
        ));
    }
    if let Some(message) = &settings.voicemail_message
        && (message.trim().is_empty()
            || message.chars().count() > MAX_VOICEMAIL_MESSAGE
            || message.chars().any(char::is_control))
    {
        return Err(invalid(
            "voicemail_message",
            format!("a message of 1 to {MAX_VOICEMAIL_MESSAGE} characters, no control characters"),
        ));
    }
    super::window::validate(&settings.window)?;
    super::dialing::validate_retry(&settings.retry)?;
    if !(settings.abandon_cap > 0.0 && settings.abandon_cap <= MAX_ABANDON_CAP) {
        return Err(invalid(
            "abandon_cap",
            format!(
                "{} is not a rate above 0 and at most 0.03 (3%, the legal cap)",
                settings.abandon_cap
            ),
        ));
    }
    for list in &settings.do_not_call_lists {
        super::do_not_call::check_list_name(list)?;
    }
    if let Some(trigger) = &settings.trigger
        && !Trigger::EVENTS.contains(&trigger.event.as_str())
    {
        return Err(invalid(
            "trigger.event",
            format!(
                "{:?} cannot trigger a campaign; use {}",
                trigger.event,
                Trigger::EVENTS.join(" or ")
            ),
        ));
    }
    Ok(())
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
        /// The dialer's calls in flight per agent working the campaign (none for a preview's
        /// call).
        lines_per_agent: Option<f64>,
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
pub fn handle(
    campaign: Option<&Campaign>,
    command: Command,
) -> Result<Vec<CampaignEvent>, DomainError> {
    let Some(campaign) = campaign else {
        return match command {
            Command::Create {
                campaign_id,
                settings,
                at,
            } => {
                validate(&settings)?;
                Ok(vec![CampaignEvent::Created(event::Created {
                    campaign_id,
                    settings,
                    at,
                })])
            }
            _ => Err(DomainError::NotFound),
        };
    };
    let (status, campaign_id) = (campaign.status, campaign.id);
    let already_triggered = |task_id: &Option<String>| {
        task_id
            .as_ref()
            .is_some_and(|t| campaign.triggered_by.contains(t))
    };
    let moment = |at| event::StatusChanged { campaign_id, at };
    let event: CampaignEvent = match command {
        Command::Create { .. } => return Err(DomainError::AlreadyExists),
        Command::Update { settings, at } => {
            if !matches!(status, Status::Draft | Status::Paused) {
                return Err(refuse("change the settings of", status));
            }
            validate(&settings)?;
            event::Updated {
                campaign_id,
                settings,
                at,
            }
            .into()
        }
        Command::Start { at, task_id } => {
            if already_triggered(&task_id) {
                return Ok(Vec::new());
            }
            match status {
                Status::Draft => {}
                Status::Paused if task_id.is_some() => {}
                // A trigger on a running campaign has nothing to do.
                Status::Running if task_id.is_some() => return Ok(Vec::new()),
                _ => return Err(refuse("start", status)),
            }
            event::Started {
                campaign_id,
                at,
                task_id,
            }
            .into()
        }
        Command::Pause { at } => match status {
            Status::Running => event::Paused(moment(at)).into(),
            _ => return Err(refuse("pause", status)),
        },
        Command::Resume { at } => match status {
            Status::Paused => event::Resumed(moment(at)).into(),
            _ => return Err(refuse("resume", status)),
        },
        Command::Complete { at } => match status {
            Status::Running => event::Completed(moment(at)).into(),
            _ => return Err(refuse("complete", status)),
        },
        Command::Cancel { at } => match status {
            Status::Draft | Status::Running | Status::Paused => event::Canceled(moment(at)).into(),
            _ => return Err(refuse("cancel", status)),
        },
        Command::AddContacts {
            contacts,
            at,
            task_id,
        } => {
            if already_triggered(&task_id) {
                return Ok(Vec::new());
            }
            if matches!(status, Status::Completed | Status::Canceled) {
                return Err(refuse("add contacts to", status));
            }
            if contacts.is_empty() {
                return Ok(Vec::new());
            }
            event::ContactsAdded {
                campaign_id,
                contacts,
                at,
                task_id,
            }
            .into()
        }
        Command::PlaceCall {
            contact_id,
            call_id,
            attempt,
            lines_per_agent,
            at,
        } => {
            if status != Status::Running {
                return Err(refuse("place a call for", status));
            }
            event::CallPlaced {
                campaign_id,
                contact_id,
                call_id,
                attempt,
                lines_per_agent,
                at,
            }
            .into()
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
        } => event::CallFinished {
            campaign_id,
            contact_id,
            call_id,
            outcome,
            ring_seconds,
            talk_seconds,
            done,
            retry_at,
            at,
        }
        .into(),
        // Like a call's end, its wrap-up counts whatever the campaign's status.
        Command::RecordWrapUp {
            call_id,
            agent_id,
            seconds,
            at,
        } => event::WrapUpRecorded {
            campaign_id,
            call_id,
            agent_id,
            seconds,
            at,
        }
        .into(),
        Command::ExcludeContact {
            contact_id,
            reason,
            at,
        } => event::ContactExcluded {
            campaign_id,
            contact_id,
            reason,
            at,
        }
        .into(),
        Command::OfferPreview {
            contact_id,
            call_id,
            agent_id,
            at,
        } => {
            if status != Status::Running {
                return Err(refuse("offer a contact of", status));
            }
            event::PreviewOffered {
                campaign_id,
                contact_id,
                call_id,
                agent_id,
                at,
            }
            .into()
        }
        // Like a call in progress, a preview in progress may end whatever the status.
        Command::WithdrawPreview {
            contact_id,
            call_id,
            reason,
            retry_at,
            at,
        } => event::PreviewWithdrawn {
            campaign_id,
            contact_id,
            call_id,
            reason,
            retry_at,
            at,
        }
        .into(),
    };
    Ok(vec![event])
}

/// Folds `event` into the campaign.
pub fn apply(campaign: Option<Campaign>, event: &CampaignEvent) -> Campaign {
    if let CampaignEvent::Created(created) = event {
        return Campaign {
            id: created.campaign_id,
            settings: created.settings.clone(),
            status: Status::Draft,
            created_at: created.at,
            updated_at: created.at,
            started_at: None,
            ended_at: None,
            triggered_by: BTreeSet::new(),
        };
    }
    let mut campaign = campaign.expect("a campaign's first event creates it");
    let mut moved = |status: Status, at| {
        campaign.status = status;
        campaign.updated_at = at;
    };
    match event {
        CampaignEvent::Created(_) => unreachable!("handled above"),
        CampaignEvent::Updated(updated) => {
            campaign.settings = updated.settings.clone();
            campaign.updated_at = updated.at;
        }
        CampaignEvent::Started(started) => {
            moved(Status::Running, started.at);
            campaign.started_at.get_or_insert(started.at);
            campaign.triggered_by.extend(started.task_id.clone());
        }
        CampaignEvent::Paused(paused) => moved(Status::Paused, paused.at),
        CampaignEvent::Resumed(resumed) => moved(Status::Running, resumed.at),
        CampaignEvent::Completed(completed) => {
            moved(Status::Completed, completed.at);
            campaign.ended_at = Some(completed.at);
        }
        CampaignEvent::Canceled(canceled) => {
            moved(Status::Canceled, canceled.at);
            campaign.ended_at = Some(canceled.at);
        }
        CampaignEvent::ContactsAdded(added) => {
            campaign.triggered_by.extend(added.task_id.clone());
        }
        CampaignEvent::CallPlaced(_)
        | CampaignEvent::CallFinished(_)
        | CampaignEvent::WrapUpRecorded(_)
        | CampaignEvent::ContactExcluded(_)
        | CampaignEvent::PreviewOffered(_)
        | CampaignEvent::PreviewWithdrawn(_) => {}
    }
    campaign
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pacing::DialingMode;

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
                lines_per_agent: Some(1.0),
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
        let id = Uuid::new_v4();
        let event = CampaignEvent::Started(event::Started {
            campaign_id: id,
            at: at(),
            task_id: Some("task-9".into()),
        });
        assert_eq!(event.event_type(), "comms.campaign.started");
        let data = event.to_data();
        assert_eq!(data["campaign_id"], id.to_string());
        assert_eq!(data["task_id"], "task-9");
        assert_eq!(
            CampaignEvent::decode(event.event_type(), event.version(), &data).unwrap(),
            event
        );
    }
}
