//! The call's state machine.
//!
//! ```text
//! initiated ─► ringing ─► answered ─► ended
//!     │           │
//!     └───────────┴─► failed | no_answer | busy   (the provider could not connect)
//!     └───────────┴─► canceled                    (we hung up before an answer)
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use comms_proto::Language;

use super::events::{
    AgentAssigned, Answered, Canceled, Ended, EndedOutcome, Failed, FailedOutcome, MachineDetected,
    Placed, RecordingAvailable, RecordingChanged, RecordingDeleted, Rerouted, Ringing, Started,
    Updated,
};
use super::{CallEvent, PhoneNumber};

pub use comms_events::call::{
    AgentLegAnswered, CallStatus, CallbackRequested, Carrier, Direction, FlowVersion, IvrStep,
    MachineVerdict, MonitorMode, MonitoringChanged, Queued, RecordingPolicy, RecordingState,
};

/// A carrier's line for a call: the carrier and its own id for the call (Twilio's `CallSid`,
/// Vonage's `uuid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierLeg {
    pub carrier: Carrier,
    pub id: String,
}

/// What a carrier (or the simulator) says happened to a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Ringing,
    Answered,
    /// Never connected: `outcome` is failed, no_answer or busy.
    Failed {
        outcome: CallStatus,
        reason: String,
    },
    /// The far end hung up an answered call.
    HungUp,
    /// The line is over, answered or not (Vonage's `completed` without a duration).
    LineEnded,
    /// Answering-machine detection heard who answered; a carrier that listens on for the end
    /// of a machine's greeting says so (`greeting_end_expected`), and says it again then.
    MachineDetected {
        verdict: MachineVerdict,
        greeting_end_expected: bool,
    },
}

/// The state of one call, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: Uuid,
    pub status: CallStatus,
    pub direction: Direction,
    pub to: PhoneNumber,
    pub from: Option<PhoneNumber>,
    pub agent_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub language: Language,
    pub notes: String,
    pub disposition: String,
    pub tags: Vec<String>,
    pub end_reason: String,
    pub duration_seconds: i64,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The carrier's line, once a carrier took the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<CarrierLeg>,
    /// The carrier was asked to tell a machine from a person.
    #[serde(default)]
    pub detect_machines: bool,
    /// Who answered, once answering-machine detection said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<MachineVerdict>,
    /// Whether the call is recorded: never, on demand or always.
    #[serde(default)]
    pub recording_policy: RecordingPolicy,
    /// Where its recording stands, once one began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_state: Option<RecordingState>,
    /// The carrier's recording of the call, once it finished one (and until it is deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<Recording>,
    /// The id of the recording that was deleted: a carrier's late repeat of its callback does
    /// not bring it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_recording: Option<String>,
    /// Where an inbound call stands in its IVR flow, if its number has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr: Option<IvrPosition>,
    /// What the callee hears on the answer before the call ends (a notification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    /// The agent it asks for, once queued (re-routing changes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<Queue>,
    /// The supervisors on the call with its agent now, by user id, and how.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub monitors: BTreeMap<String, MonitorMode>,
    /// The agent's own leg at the carrier (its id), once they answered it (their softphone's
    /// call into the call's conference or conversation): a supervisor's whisper reaches it
    /// alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_leg: Option<String>,
    /// The supervisors' own legs at the carrier (their ids) while they are on the call, by user
    /// id: the leg a change of mode moves and leaving hangs up.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub monitor_legs: BTreeMap<String, String>,
}

/// What a queued call asks of its agent: every one of the skills, and the language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub skills: Vec<String>,
    pub language: Language,
}

/// A call's place in its IVR flow: the version it walks, the node it stopped at last (none
/// before its first step) and, at a menu, how many times it was asked; the nodes it went
/// through (for the flow's report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrPosition {
    pub flow: FlowVersion,
    pub node: Option<String>,
    pub attempt: Option<u32>,
    /// The flow asked for an agent.
    pub queued: bool,
    #[serde(default)]
    pub visited: std::collections::BTreeSet<String>,
}

impl IvrPosition {
    /// Where it stands: the node and attempt, as the carrier's next request names them.
    pub fn at(&self) -> Option<(&str, Option<u32>)> {
        self.node.as_deref().map(|node| (node, self.attempt))
    }
}

/// What someone on a call asks of its recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingAction {
    Start,
    Pause,
    Resume,
    Stop,
}

impl RecordingAction {
    pub const ALL: [Self; 4] = [Self::Start, Self::Pause, Self::Resume, Self::Stop];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Stop => "stop",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Where the recording stands once the action is done.
    pub fn leads_to(self) -> RecordingState {
        match self {
            Self::Start | Self::Resume => RecordingState::Recording,
            Self::Pause => RecordingState::Paused,
            Self::Stop => RecordingState::Stopped,
        }
    }
}

/// A carrier's recording of a call: where to fetch it is derived from its id, never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub carrier: Carrier,
    pub id: String,
    pub duration_seconds: i64,
}

pub enum Command {
    Initiate {
        call_id: Uuid,
        to: PhoneNumber,
        from: Option<PhoneNumber>,
        agent_id: Option<Uuid>,
        campaign_id: Option<Uuid>,
        language: Language,
        /// Ask the carrier to tell a machine from a person.
        detect_machines: bool,
        recording: RecordingPolicy,
        /// Spoken on the answer, then the call ends (a notification).
        announcement: Option<String>,
        at: DateTime<Utc>,
    },
    /// A caller rang one of the organization's numbers and the carrier asks what to do: the call
    /// starts, inbound, on the carrier's line, and is answered (the caller hears us); without an
    /// IVR flow it is queued at once for an agent with `skills` who speaks `language`.
    Receive {
        call_id: Uuid,
        /// The organization's number that was called.
        to: PhoneNumber,
        /// The caller, when the carrier says (a withheld number says nothing).
        from: Option<PhoneNumber>,
        language: Language,
        /// The skills its agent must have (the number's).
        skills: Vec<String>,
        leg: CarrierLeg,
        recording: RecordingPolicy,
        /// The IVR flow version its number answers with, if any.
        ivr_flow: Option<FlowVersion>,
        at: DateTime<Utc>,
    },
    /// The caller walked the call's IVR flow from where it stood at `from` (the node and
    /// attempt) through `steps`, and the flow asks for an agent if `queue` says. Walked from
    /// anywhere else (another request walked it first), nothing changes.
    WalkIvr {
        from: Option<(String, Option<u32>)>,
        steps: Vec<IvrStep>,
        queue: Option<Queued>,
    },
    /// A carrier's report: its line for the call, what happened, or both. Carriers repeat and
    /// reorder their reports, so progress the call has already passed changes nothing (where
    /// the `Mark…` commands refuse it).
    Report {
        leg: Option<CarrierLeg>,
        /// The carrier that could not take the call before `leg`'s took it.
        failed_over_from: Option<Carrier>,
        progress: Option<Progress>,
        at: DateTime<Utc>,
    },
    /// Progress, strictly: each refuses a call past it.
    MarkRinging {
        at: DateTime<Utc>,
    },
    MarkAnswered {
        at: DateTime<Utc>,
    },
    MarkFailed {
        outcome: CallStatus,
        reason: String,
        at: DateTime<Utc>,
    },
    /// Hang up: by us (the API) or by the far end (the provider).
    End {
        reason: String,
        at: DateTime<Utc>,
    },
    Update {
        notes: Option<String>,
        disposition: Option<String>,
        tags: Option<Vec<String>>,
        at: DateTime<Utc>,
    },
    /// Routing connected an agent to the call.
    AssignAgent {
        agent_id: Uuid,
        at: DateTime<Utc>,
    },
    /// The carrier finished a recording of the call's line `leg` (a repeat of the same one
    /// changes nothing; a recording of another line is refused).
    RecordingReady {
        leg: CarrierLeg,
        recording_id: String,
        duration_seconds: i64,
        /// The campaign to call the caller back, when the recording is a message left in the
        /// call's IVR flow whose voicemail names one.
        callback: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// The carrier says the call's recording began (repeats, and reports that come after a
    /// pause, change nothing).
    RecordingBegan {
        leg: CarrierLeg,
        at: DateTime<Utc>,
    },
    /// Someone on the call starts, pauses, resumes or stops its recording (the carrier did it
    /// already). Asking for the state it is in changes nothing.
    ControlRecording {
        action: RecordingAction,
        at: DateTime<Utc>,
    },
    /// The recording was deleted at the carrier.
    DeleteRecording {
        at: DateTime<Utc>,
    },
    /// A supervisor begins listening to, whispering to or barging into the call with its
    /// agent, changes how, or stops (see [`monitoring`]); `audio`: the carrier bridged their
    /// audio, on their own `leg` where it made one (every carrier but the simulator).
    Monitor {
        supervisor: String,
        mode: MonitorMode,
        audio: bool,
        leg: Option<String>,
        at: DateTime<Utc>,
    },
    /// The carrier says the agent answered their own leg of the call: a repeat, or a call no
    /// longer answered, changes nothing.
    AgentLegAnswered {
        leg: String,
        at: DateTime<Utc>,
    },
    /// The carrier says a leg of the call other than its line ended: when it is a supervisor's,
    /// they are off the call; any other changes nothing.
    LegEnded {
        leg: String,
        at: DateTime<Utc>,
    },
    /// A supervisor sends the waiting call to another queue: an agent with every one of
    /// `skills` who speaks `language`. Asking for the queue it is in changes nothing.
    Reroute {
        skills: Vec<String>,
        language: Language,
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("call already exists")]
    AlreadyExists,
    #[error("call not found")]
    NotFound,
    #[error("cannot {action} a call that is {status}")]
    IllegalTransition {
        action: &'static str,
        status: &'static str,
    },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("cannot {action} the recording: {reason}")]
    IllegalRecording {
        action: &'static str,
        reason: String,
    },
    #[error("the call is not waiting for an agent: {0}")]
    NotWaiting(String),
    #[error("the call is not connected to an agent: {0}")]
    NotConnected(String),
}

const MAX_NOTES: usize = 10_000;
const MAX_DISPOSITION: usize = 100;
const MAX_TAGS: usize = 20;
const MAX_TAG: usize = 50;

/// Decides what happens when `command` meets the call's current state.
pub fn handle(state: Option<&Call>, command: Command) -> Result<Vec<CallEvent>, DomainError> {
    let Some(call) = state else {
        return match command {
            Command::Initiate {
                call_id,
                to,
                from,
                agent_id,
                campaign_id,
                language,
                detect_machines,
                recording,
                announcement,
                at,
            } => Ok(vec![CallEvent::Started(Started {
                call_id,
                direction: Direction::Outbound,
                to,
                from,
                agent_id,
                campaign_id,
                language,
                started_at: at,
                detect_machines,
                recording,
                ivr_flow: None,
                announcement,
            })]),
            Command::Receive {
                call_id,
                to,
                from,
                language,
                skills,
                leg,
                recording,
                ivr_flow,
                at,
            } => Ok([
                CallEvent::Started(Started {
                    call_id,
                    direction: Direction::Inbound,
                    to,
                    from,
                    agent_id: None,
                    campaign_id: None,
                    language,
                    started_at: at,
                    detect_machines: false,
                    recording,
                    ivr_flow,
                    announcement: None,
                }),
                CallEvent::Placed(Placed {
                    call_id,
                    carrier: leg.carrier,
                    carrier_call_id: leg.id,
                    failed_over_from: None,
                    placed_at: at,
                }),
                CallEvent::Answered(Answered {
                    call_id,
                    answered_at: at,
                    campaign_id: None,
                    awaiting_machine_detection: false,
                }),
            ]
            .into_iter()
            // With a flow, the flow queues it (`WalkIvr`).
            .chain(ivr_flow.is_none().then_some(CallEvent::Queued(Queued {
                call_id,
                skills,
                language,
                priority: 0,
                queued_at: at,
            })))
            .collect()),
            _ => Err(DomainError::NotFound),
        };
    };
    let illegal = |action| DomainError::IllegalTransition {
        action,
        status: call.status.as_str(),
    };
    let call_id = call.id;
    let event = match command {
        Command::Initiate { .. } | Command::Receive { .. } => {
            return Err(DomainError::AlreadyExists);
        }
        Command::Report {
            leg,
            failed_over_from,
            progress,
            at,
        } => return report(call, leg, failed_over_from, progress, at),
        Command::MarkRinging { at } => match call.status {
            CallStatus::Initiated => CallEvent::Ringing(Ringing {
                call_id,
                ringing_at: at,
            }),
            _ => return Err(illegal("ring")),
        },
        Command::MarkAnswered { at } => match call.status {
            CallStatus::Initiated | CallStatus::Ringing => CallEvent::Answered(Answered {
                call_id,
                answered_at: at,
                campaign_id: call.campaign_id,
                awaiting_machine_detection: call.detect_machines && call.answered_by.is_none(),
            }),
            _ => return Err(illegal("answer")),
        },
        Command::MarkFailed {
            outcome,
            reason,
            at,
        } => {
            let Ok(outcome) = FailedOutcome::try_from(outcome) else {
                return Err(DomainError::Invalid {
                    field: "outcome",
                    reason: "must be failed, no_answer or busy".into(),
                });
            };
            match call.status {
                CallStatus::Initiated | CallStatus::Ringing => CallEvent::Failed(Failed {
                    call_id,
                    outcome,
                    reason,
                    failed_at: at,
                    campaign_id: call.campaign_id,
                }),
                _ => return Err(illegal("fail")),
            }
        }
        Command::End { reason, at } => match call.status {
            CallStatus::Answered => {
                let answered_at = call.answered_at.unwrap_or(call.created_at);
                CallEvent::Ended(Ended {
                    call_id,
                    duration: (at - answered_at).num_seconds().max(0),
                    outcome: EndedOutcome::Completed,
                    reason,
                    ended_at: at,
                    campaign_id: call.campaign_id,
                })
            }
            CallStatus::Initiated | CallStatus::Ringing => CallEvent::Canceled(Canceled {
                call_id,
                reason,
                canceled_at: at,
                campaign_id: call.campaign_id,
            }),
            _ => return Err(illegal("end")),
        },
        Command::RecordingReady {
            leg,
            recording_id,
            duration_seconds,
            callback,
            at,
        } => {
            check_line(call, &leg)?;
            if call
                .recording
                .as_ref()
                .is_some_and(|r| r.id == recording_id)
                || call.deleted_recording.as_ref() == Some(&recording_id)
            {
                return Ok(vec![]);
            }
            if recording_id.is_empty() || recording_id.len() > 128 || duration_seconds < 0 {
                return Err(DomainError::Invalid {
                    field: "recording_id",
                    reason: "the carrier's id for the recording, with its duration".into(),
                });
            }
            let available = CallEvent::RecordingAvailable(RecordingAvailable {
                call_id,
                carrier: leg.carrier,
                recording_id: recording_id.clone(),
                duration_seconds,
                available_at: at,
            });
            // A withheld caller cannot be called back.
            let callback = callback
                .zip(call.from.clone())
                .map(|(campaign_id, number)| {
                    CallEvent::CallbackRequested(CallbackRequested {
                        call_id,
                        campaign_id,
                        number,
                        language: call.language,
                        recording_id,
                        requested_at: at,
                    })
                });
            return Ok([available].into_iter().chain(callback).collect());
        }
        Command::WalkIvr { from, steps, queue } => {
            let Some(position) = &call.ivr else {
                return Err(DomainError::Invalid {
                    field: "call_id",
                    reason: "the call has no IVR flow".into(),
                });
            };
            let walked_from = from
                .as_ref()
                .map(|(node, attempt)| (node.as_str(), *attempt));
            if call.status != CallStatus::Answered || position.at() != walked_from {
                return Ok(vec![]);
            }
            return Ok(steps
                .into_iter()
                .map(CallEvent::IvrStep)
                .chain(queue.filter(|_| !position.queued).map(CallEvent::Queued))
                .collect());
        }
        Command::RecordingBegan { leg, at } => {
            check_line(call, &leg)?;
            if call.recording_state.is_some() || call.status.is_final() {
                return Ok(vec![]);
            }
            CallEvent::RecordingChanged(RecordingChanged {
                call_id,
                state: RecordingState::Recording,
                changed_at: at,
            })
        }
        Command::Monitor {
            supervisor,
            mode,
            audio,
            leg,
            at,
        } => {
            if !monitoring(call, &supervisor, mode)? {
                return Ok(vec![]);
            }
            CallEvent::MonitoringChanged(MonitoringChanged {
                call_id,
                supervisor_id: supervisor,
                mode,
                audio,
                carrier_call_id: leg.filter(|_| mode != MonitorMode::Stopped),
                at,
            })
        }
        Command::AgentLegAnswered { leg, at } => {
            let Some(agent_id) = call.agent_id else {
                return Ok(vec![]);
            };
            if call.status != CallStatus::Answered || call.agent_leg.as_ref() == Some(&leg) {
                return Ok(vec![]);
            }
            CallEvent::AgentLegAnswered(AgentLegAnswered {
                call_id,
                agent_id,
                carrier_call_id: leg,
                answered_at: at,
            })
        }
        Command::LegEnded { leg, at } => {
            let Some(supervisor) = call
                .monitor_legs
                .iter()
                .find_map(|(supervisor, on)| (*on == leg).then(|| supervisor.clone()))
            else {
                return Ok(vec![]);
            };
            CallEvent::MonitoringChanged(MonitoringChanged {
                call_id,
                supervisor_id: supervisor,
                mode: MonitorMode::Stopped,
                audio: true,
                carrier_call_id: None,
                at,
            })
        }
        Command::ControlRecording { action, at } => {
            let Some(state) = control_recording(call, action)? else {
                return Ok(vec![]);
            };
            CallEvent::RecordingChanged(RecordingChanged {
                call_id,
                state,
                changed_at: at,
            })
        }
        Command::DeleteRecording { at } => {
            let Some(recording) = &call.recording else {
                return Err(DomainError::Invalid {
                    field: "recording",
                    reason: "the call has no recording (yet, or any more)".into(),
                });
            };
            CallEvent::RecordingDeleted(RecordingDeleted {
                call_id,
                carrier: recording.carrier,
                recording_id: recording.id.clone(),
                deleted_at: at,
            })
        }
        Command::Reroute {
            skills,
            language,
            reason,
            by,
            at,
        } => {
            let skills = check_queue_skills(skills)?;
            if !comms_events::agent::is_reason_code(&reason) {
                return Err(DomainError::Invalid {
                    field: "reason",
                    reason: "a code: 1-50 of a-z, 0-9 and _, e.g. wrong_language".into(),
                });
            }
            let waiting = match (&call.queue, call.agent_id, call.status) {
                (_, _, status) if status != CallStatus::Answered => {
                    return Err(DomainError::NotWaiting(format!(
                        "it is {}",
                        status.as_str()
                    )));
                }
                (_, Some(agent), _) => {
                    return Err(DomainError::NotWaiting(format!("agent {agent} is on it")));
                }
                (None, None, _) => {
                    return Err(DomainError::NotWaiting("it was never queued".into()));
                }
                (Some(queue), None, _) => queue,
            };
            let mut now = waiting.skills.clone();
            now.sort();
            if now == skills && waiting.language == language {
                return Ok(vec![]);
            }
            CallEvent::Rerouted(Rerouted {
                call_id,
                skills,
                language,
                reason,
                rerouted_by: by,
                rerouted_at: at,
            })
        }
        Command::AssignAgent { agent_id, at } => match call.agent_id {
            Some(current) if current == agent_id => return Ok(vec![]),
            Some(_) => {
                return Err(DomainError::Invalid {
                    field: "agent_id",
                    reason: "the call already has another agent".into(),
                });
            }
            None => CallEvent::AgentAssigned(AgentAssigned {
                call_id,
                agent_id,
                assigned_at: at,
            }),
        },
        Command::Update {
            notes,
            disposition,
            tags,
            at,
        } => {
            validate_update(notes.as_deref(), disposition.as_deref(), tags.as_deref())?;
            if notes.is_none() && disposition.is_none() && tags.is_none() {
                return Err(DomainError::Invalid {
                    field: "notes",
                    reason: "set at least one of notes, disposition or tags".into(),
                });
            }
            let tags = tags.map(|tags| tags.into_iter().map(|t| t.trim().to_owned()).collect());
            CallEvent::Updated(Updated {
                call_id,
                notes,
                disposition,
                tags,
                updated_at: at,
            })
        }
    };
    Ok(vec![event])
}

/// A queue's skills, sorted and without repeats: at most 20 skill names.
fn check_queue_skills(mut skills: Vec<String>) -> Result<Vec<String>, DomainError> {
    let invalid = |reason: String| {
        Err(DomainError::Invalid {
            field: "skills",
            reason,
        })
    };
    if let Some(bad) = skills
        .iter()
        .find(|s| !comms_events::agent::is_skill_name(s))
    {
        return invalid(format!(
            "{bad:?} is not a skill name (1-50 of a-z, 0-9, _ and -)"
        ));
    }
    skills.sort();
    skills.dedup();
    if skills.len() > 20 {
        return invalid("at most 20 skills".into());
    }
    Ok(skills)
}

/// A recording the carrier reports is of the call's own line.
fn check_line(call: &Call, leg: &CarrierLeg) -> Result<(), DomainError> {
    if call.carrier.as_ref().is_some_and(|line| line != leg) {
        return Err(DomainError::Invalid {
            field: "carrier_call_id",
            reason: format!("the recording is of {:?}, not of this call's line", leg.id),
        });
    }
    Ok(())
}

/// Whether `supervisor` taking `mode` on the call changes anything: a supervisor joins only a
/// call answered and connected to its agent; asking for the mode they are in, or stopping when
/// not on the call, changes nothing.
pub fn monitoring(call: &Call, supervisor: &str, mode: MonitorMode) -> Result<bool, DomainError> {
    let now = call.monitors.get(supervisor).copied();
    if mode == MonitorMode::Stopped {
        return Ok(now.is_some());
    }
    if call.status != CallStatus::Answered {
        return Err(DomainError::IllegalTransition {
            action: "monitor",
            status: call.status.as_str(),
        });
    }
    if call.agent_id.is_none() {
        return Err(DomainError::NotConnected(
            "it waits for one; pull it to an agent first".into(),
        ));
    }
    Ok(now != Some(mode))
}

/// Where `action` takes the call's recording: `None` when it is there already, an error when
/// it cannot go there (the policy, the call's state, a stopped recording).
pub fn control_recording(
    call: &Call,
    action: RecordingAction,
) -> Result<Option<RecordingState>, DomainError> {
    let refuse = |reason: String| {
        Err(DomainError::IllegalRecording {
            action: action.as_str(),
            reason,
        })
    };
    if call.status != CallStatus::Answered {
        return refuse(format!(
            "the call is {}, not answered",
            call.status.as_str()
        ));
    }
    if call.carrier.is_none() {
        return refuse("no carrier has the call's line yet".into());
    }
    let target = action.leads_to();
    match (call.recording_state, action) {
        (Some(state), _) if state == target => Ok(None),
        (None, RecordingAction::Start) if call.recording_policy == RecordingPolicy::Never => {
            refuse("the call's recording policy is never".into())
        }
        // The carrier records it from the answer; a second recording would double it.
        (None, RecordingAction::Start) if call.recording_policy == RecordingPolicy::Always => {
            refuse("the call is recorded from its answer (policy always)".into())
        }
        (None, RecordingAction::Start)
        | (Some(RecordingState::Recording), RecordingAction::Pause | RecordingAction::Stop)
        | (Some(RecordingState::Paused), RecordingAction::Resume | RecordingAction::Stop) => {
            Ok(Some(target))
        }
        (Some(RecordingState::Stopped), _) => {
            refuse("the recording was stopped; a call has one recording".into())
        }
        (None, _) => refuse("the call is not being recorded".into()),
        (Some(RecordingState::Recording | RecordingState::Paused), _) => {
            refuse("the recording has begun already".into())
        }
    }
}

/// A carrier's report: the line, recorded once, then the progress it brings, if the call has
/// not passed it.
fn report(
    call: &Call,
    leg: Option<CarrierLeg>,
    failed_over_from: Option<Carrier>,
    progress: Option<Progress>,
    at: DateTime<Utc>,
) -> Result<Vec<CallEvent>, DomainError> {
    let mut events = match (leg, &call.carrier) {
        (None, _) => vec![],
        (Some(leg), Some(current)) if leg == *current => vec![],
        (Some(leg), Some(current)) => {
            return Err(DomainError::Invalid {
                field: "carrier_call_id",
                reason: format!(
                    "the call is {} call {:?}, not {:?}",
                    current.carrier.as_str(),
                    current.id,
                    leg.id
                ),
            });
        }
        (Some(leg), None) => vec![CallEvent::Placed(Placed {
            call_id: call.id,
            carrier: leg.carrier,
            carrier_call_id: leg.id,
            failed_over_from,
            placed_at: at,
        })],
    };
    let commands = match progress {
        None => vec![],
        Some(Progress::Ringing) => vec![Command::MarkRinging { at }],
        Some(Progress::Answered) => vec![Command::MarkAnswered { at }],
        Some(Progress::Failed { outcome, reason }) => vec![Command::MarkFailed {
            outcome,
            reason,
            at,
        }],
        // A hang-up whose answer was never heard (the carrier's callbacks crossed) was answered.
        Some(Progress::HungUp) => {
            let end = Command::End {
                reason: "remote hang-up".into(),
                at,
            };
            match call.status {
                CallStatus::Initiated | CallStatus::Ringing => {
                    vec![Command::MarkAnswered { at }, end]
                }
                _ => vec![end],
            }
        }
        Some(Progress::LineEnded) => match call.status {
            CallStatus::Answered => vec![Command::End {
                reason: "remote hang-up".into(),
                at,
            }],
            _ => vec![Command::MarkFailed {
                outcome: CallStatus::Failed,
                reason: "the line ended before an answer".into(),
                at,
            }],
        },
        // A verdict implies an answer, whose callback may come second. One verdict a call, and
        // then the end of a machine's greeting (its beep), which the carrier hears later.
        Some(Progress::MachineDetected {
            verdict,
            greeting_end_expected,
        }) => {
            let greeting_ended = call.answered_by == Some(MachineVerdict::MachineStart)
                && verdict.is_greeting_over();
            if (call.answered_by.is_some() && !greeting_ended) || call.status.is_final() {
                return Ok(events);
            }
            let mut state = call.clone();
            if state.status != CallStatus::Answered {
                for event in handle(Some(&state), Command::MarkAnswered { at })? {
                    state = apply(Some(state), &event);
                    events.push(event);
                }
            }
            events.push(CallEvent::MachineDetected(MachineDetected {
                call_id: call.id,
                verdict,
                detected_at: at,
                greeting_end_expected: greeting_end_expected
                    && verdict == MachineVerdict::MachineStart,
                campaign_id: call.campaign_id,
            }));
            return Ok(events);
        }
    };
    let mut state = call.clone();
    for command in commands {
        match handle(Some(&state), command) {
            Ok(more) => {
                for event in more {
                    state = apply(Some(state), &event);
                    events.push(event);
                }
            }
            Err(DomainError::IllegalTransition { .. }) => break,
            Err(other) => return Err(other),
        }
    }
    Ok(events)
}

/// Free text people type: any characters but NUL and other control characters (tab and line
/// breaks are fine). PostgreSQL cannot store NUL in text or jsonb at all.
pub fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), DomainError> {
    let invalid = |reason: String| Err(DomainError::Invalid { field, reason });
    if value.chars().count() > max_chars {
        return invalid(format!("at most {max_chars} characters"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return invalid(format!(
            "control character U+{:04X} is not allowed",
            u32::from(c)
        ));
    }
    Ok(())
}

fn validate_update(
    notes: Option<&str>,
    disposition: Option<&str>,
    tags: Option<&[String]>,
) -> Result<(), DomainError> {
    if let Some(notes) = notes {
        check_text("notes", notes, MAX_NOTES)?;
    }
    if let Some(disposition) = disposition {
        check_text("disposition", disposition, MAX_DISPOSITION)?;
    }
    let tags = tags.unwrap_or_default();
    if tags.len() > MAX_TAGS {
        return Err(DomainError::Invalid {
            field: "tags",
            reason: format!("at most {MAX_TAGS} tags"),
        });
    }
    for tag in tags {
        if tag.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "tags",
                reason: format!("{tag:?}: a tag needs a visible character"),
            });
        }
        check_text("tags", tag, MAX_TAG)?;
    }
    Ok(())
}

/// Folds one event into the state. Events come from the log, so they are trusted.
pub fn apply(state: Option<Call>, event: &CallEvent) -> Call {
    match (state, event) {
        (_, CallEvent::Started(e)) => Call {
            id: e.call_id,
            status: CallStatus::Initiated,
            direction: e.direction,
            to: e.to.clone(),
            from: e.from.clone(),
            agent_id: e.agent_id,
            campaign_id: e.campaign_id,
            language: e.language,
            notes: String::new(),
            disposition: String::new(),
            tags: Vec::new(),
            end_reason: String::new(),
            duration_seconds: 0,
            created_at: e.started_at,
            answered_at: None,
            ended_at: None,
            updated_at: e.started_at,
            carrier: None,
            detect_machines: e.detect_machines,
            answered_by: None,
            recording_policy: e.recording,
            recording_state: None,
            recording: None,
            deleted_recording: None,
            ivr: e.ivr_flow.map(|flow| IvrPosition {
                flow,
                node: None,
                attempt: None,
                queued: false,
                visited: Default::default(),
            }),
            announcement: e.announcement.clone(),
            queue: None,
            monitors: BTreeMap::new(),
            agent_leg: None,
            monitor_legs: BTreeMap::new(),
        },
        (Some(mut call), event) => {
            match event {
                CallEvent::Started(_) => unreachable!("handled above"),
                CallEvent::Ringing(e) => {
                    call.status = CallStatus::Ringing;
                    call.updated_at = e.ringing_at;
                }
                CallEvent::Answered(e) => {
                    call.status = CallStatus::Answered;
                    call.answered_at = Some(e.answered_at);
                    call.updated_at = e.answered_at;
                }
                // The supervisors leave with the call.
                CallEvent::Ended(e) => {
                    call.monitors.clear();
                    call.monitor_legs.clear();
                    call.status = CallStatus::Ended;
                    call.duration_seconds = e.duration;
                    call.end_reason = e.reason.clone();
                    call.ended_at = Some(e.ended_at);
                    call.updated_at = e.ended_at;
                }
                CallEvent::Failed(e) => {
                    call.status = e.outcome.into();
                    call.end_reason = e.reason.clone();
                    call.ended_at = Some(e.failed_at);
                    call.updated_at = e.failed_at;
                }
                CallEvent::Canceled(e) => {
                    call.status = CallStatus::Canceled;
                    call.end_reason = e.reason.clone();
                    call.ended_at = Some(e.canceled_at);
                    call.updated_at = e.canceled_at;
                }
                CallEvent::AgentAssigned(e) => {
                    call.agent_id = Some(e.agent_id);
                    call.agent_leg = None;
                    call.updated_at = e.assigned_at;
                }
                CallEvent::MachineDetected(e) => {
                    call.answered_by = Some(e.verdict);
                    call.updated_at = e.detected_at;
                }
                // A finished recording is over, whatever stopped it (the call's end, mostly).
                CallEvent::RecordingAvailable(e) => {
                    call.recording = Some(Recording {
                        carrier: e.carrier,
                        id: e.recording_id.clone(),
                        duration_seconds: e.duration_seconds,
                    });
                    call.recording_state = Some(RecordingState::Stopped);
                }
                CallEvent::RecordingChanged(e) => {
                    call.recording_state = Some(e.state);
                }
                CallEvent::IvrStep(e) => {
                    if let Some(ivr) = &mut call.ivr {
                        ivr.node = Some(e.node.clone());
                        ivr.attempt = e.attempt;
                        ivr.visited.insert(e.node.clone());
                    }
                    call.language = e.language;
                    call.updated_at = e.at;
                }
                CallEvent::CallbackRequested(e) => call.updated_at = e.requested_at,
                CallEvent::MonitoringChanged(e) => {
                    if e.mode == MonitorMode::Stopped {
                        call.monitors.remove(&e.supervisor_id);
                    } else {
                        call.monitors.insert(e.supervisor_id.clone(), e.mode);
                    }
                    match &e.carrier_call_id {
                        Some(leg) => call
                            .monitor_legs
                            .insert(e.supervisor_id.clone(), leg.clone()),
                        None => call.monitor_legs.remove(&e.supervisor_id),
                    };
                    call.updated_at = e.at;
                }
                CallEvent::AgentLegAnswered(e) => call.agent_leg = Some(e.carrier_call_id.clone()),
                // In the call's transcript stream, never its own.
                CallEvent::Utterance(_)
                | CallEvent::Transcribed(_)
                | CallEvent::Sentiment(_)
                | CallEvent::SentimentAlert(_)
                | CallEvent::Summarized(_)
                | CallEvent::TranscriptDeleted(_) => {}
                CallEvent::Queued(e) => {
                    if let Some(ivr) = &mut call.ivr {
                        ivr.queued = true;
                    }
                    call.queue = Some(Queue {
                        skills: e.skills.clone(),
                        language: e.language,
                    });
                    call.updated_at = e.queued_at;
                }
                // The caller speaks the queue's language: the call's is it from now.
                CallEvent::Rerouted(e) => {
                    call.queue = Some(Queue {
                        skills: e.skills.clone(),
                        language: e.language,
                    });
                    call.language = e.language;
                    call.updated_at = e.rerouted_at;
                }
                CallEvent::RecordingDeleted(e) => {
                    call.recording = None;
                    call.deleted_recording = Some(e.recording_id.clone());
                }
                CallEvent::Placed(e) => {
                    call.carrier = Some(CarrierLeg {
                        carrier: e.carrier,
                        id: e.carrier_call_id.clone(),
                    });
                }
                CallEvent::Updated(e) => {
                    if let Some(notes) = &e.notes {
                        call.notes.clone_from(notes);
                    }
                    if let Some(disposition) = &e.disposition {
                        call.disposition.clone_from(disposition);
                    }
                    if let Some(tags) = &e.tags {
                        call.tags.clone_from(tags);
                    }
                    call.updated_at = e.updated_at;
                }
            }
            call
        }
        (None, other) => panic!("{} before the call started", other.event_type()),
    }
}

/// The state after `events`, or `None` for an empty stream.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a CallEvent>) -> Option<Call> {
    events
        .into_iter()
        .fold(None, |state, event| Some(apply(state, event)))
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
