//! The agent's state machine.
//!
//! ```text
//! offline ─► available ⇄ reserved ─► busy ─► wrap_up ─► available (or the requested next state)
//!               ⇅   └── reservation lapses ◄─┘
//!          break / away (with a reason code)
//! ```
//!
//! Asking for break, away or offline while reserved, busy or in wrap-up is kept as the next
//! state and applied when wrap-up ends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::events::{
    self, AgentEvent, Available, Away, Break, Created, NextStateRequested, Offline, OnCall,
    ProfileUpdated, TeamChanged, Transition,
};
use super::{DomainError, Profile, ProfileChange, invalid};

use comms_events::agent::{MAX_REASON, is_reason_code};

pub use comms_events::agent::AgentState;

/// One agent, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: Uuid,
    pub profile: Profile,
    pub team_id: Option<Uuid>,
    pub state: AgentState,
    /// The reason code of break or away.
    pub reason: Option<String>,
    pub next_state: Option<(AgentState, Option<String>)>,
    /// Since when the agent is in `state`; for an available agent, how long they have idled.
    pub state_since: DateTime<Utc>,
    pub call_id: Option<Uuid>,
    /// A reservation's or a wrap-up's deadline.
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Create {
        agent_id: Uuid,
        profile: Profile,
        team_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
    UpdateProfile {
        change: ProfileChange,
        at: DateTime<Utc>,
    },
    SetTeam {
        team_id: Option<Uuid>,
        at: DateTime<Utc>,
    },
    /// What an agent or supervisor asks for: available, break, away or offline.
    SetStatus {
        status: AgentState,
        reason: Option<String>,
        at: DateTime<Utc>,
    },
    Reserve {
        call_id: Uuid,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    Accept {
        call_id: Uuid,
        at: DateTime<Utc>,
    },
    /// The agent placed an outbound call: on it from the first ring.
    Dial {
        call_id: Uuid,
        at: DateTime<Utc>,
    },
    /// A supervisor or administrator (`by`, their user id) puts the agent in `status`, saying
    /// why: at once, or ending their wrap-up; on a call, when its wrap-up ends.
    Force {
        status: AgentState,
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    /// The reservation's deadline passed without an accept.
    LapseReservation {
        at: DateTime<Utc>,
    },
    /// The call ended or failed.
    Release {
        call_id: Uuid,
        wrap_up_until: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Wrap-up is over: the agent said so, or its deadline passed.
    EndWrapUp {
        at: DateTime<Utc>,
    },
}

fn illegal(action: &'static str, state: AgentState) -> DomainError {
    DomainError::IllegalTransition {
        action,
        state: state.as_str(),
    }
}

fn transition(agent: &Agent, reason: Option<String>, at: DateTime<Utc>) -> Transition {
    Transition {
        agent_id: agent.id,
        reason,
        call_id: None,
        forced_by: None,
        at,
    }
}

fn check_reason(status: AgentState, reason: &Option<String>) -> Result<(), DomainError> {
    let needs_reason = matches!(status, AgentState::Break | AgentState::Away);
    match reason {
        None if needs_reason => Err(invalid(
            "reason",
            format!(
                "required for {}: a code like lunch or training",
                status.as_str()
            ),
        )),
        Some(_) if !needs_reason => Err(invalid(
            "reason",
            format!("only break and away take a reason, not {}", status.as_str()),
        )),
        Some(r) if !is_reason_code(r) => Err(invalid(
            "reason",
            format!("1-{MAX_REASON} of a-z, 0-9 and _"),
        )),
        _ => Ok(()),
    }
}

/// The event of entering `status` (available, break, away or offline).
fn enter(
    agent: &Agent,
    status: AgentState,
    reason: Option<String>,
    at: DateTime<Utc>,
) -> AgentEvent {
    entering(status, transition(agent, reason, at))
}

/// Leaving wrap-up: the event names the call wrapped up, so whoever placed it can reckon its
/// whole handle time (the campaigns' pacer does).
fn leave_wrap_up(
    agent: &Agent,
    status: AgentState,
    reason: Option<String>,
    at: DateTime<Utc>,
) -> AgentEvent {
    let event = Transition {
        call_id: agent.call_id,
        ..transition(agent, reason, at)
    };
    entering(status, event)
}

/// Leaving a reservation without taking its call (it lapsed, or the call ended first): to the
/// break, away or log-off the agent asked for meanwhile, else available, saying `why`. The event
/// names the call left behind.
fn leave_reservation(agent: &Agent, why: &str, at: DateTime<Utc>) -> AgentEvent {
    let (next, reason) = match agent.next_state.clone() {
        Some((next, reason)) if next != AgentState::Available => (next, reason),
        _ => (AgentState::Available, Some(why.to_owned())),
    };
    let event = Transition {
        call_id: agent.call_id,
        ..transition(agent, reason, at)
    };
    entering(next, event)
}

/// A supervisor's `status` for the agent, with their `reason` (a code, always required).
fn force(
    agent: &Agent,
    status: AgentState,
    reason: String,
    by: String,
    at: DateTime<Utc>,
) -> Result<Vec<AgentEvent>, DomainError> {
    use AgentState::*;
    if !matches!(status, Available | Break | Away | Offline) {
        return Err(invalid(
            "status",
            format!(
                "{} is set by routing; force available, break, away or offline",
                status.as_str()
            ),
        ));
    }
    if !is_reason_code(&reason) {
        return Err(invalid(
            "reason",
            format!("required: 1-{MAX_REASON} of a-z, 0-9 and _, e.g. left_for_the_day"),
        ));
    }
    let (reason, forced_by) = (Some(reason), Some(by));
    Ok(match agent.state {
        state if state == status => vec![],
        // On a call: when its wrap-up ends, as if the agent had asked.
        Reserved | Busy => vec![AgentEvent::NextStateRequested(NextStateRequested {
            agent_id: agent.id,
            state: status,
            reason,
            forced_by,
            at,
        })],
        // Only the agent logs themselves in.
        Offline => return Err(illegal("force a state on", Offline)),
        // Wrap-up ends now; otherwise straight there.
        _ => {
            let call_id = (agent.state == WrapUp).then_some(agent.call_id).flatten();
            vec![entering(
                status,
                Transition {
                    call_id,
                    forced_by,
                    ..transition(agent, reason, at)
                },
            )]
        }
    })
}

fn entering(status: AgentState, event: Transition) -> AgentEvent {
    match status {
        AgentState::Available => AgentEvent::Available(Available(event)),
        AgentState::Break => AgentEvent::Break(Break(event)),
        AgentState::Away => AgentEvent::Away(Away(event)),
        _ => AgentEvent::Offline(Offline(event)),
    }
}

/// Decides what happens when `command` meets the agent's current state.
pub fn handle(state: Option<&Agent>, command: Command) -> Result<Vec<AgentEvent>, DomainError> {
    use AgentState::*;
    let Some(agent) = state else {
        return match command {
            Command::Create {
                agent_id,
                profile,
                team_id,
                at,
            } => {
                super::profile::check(&profile)?;
                Ok(vec![AgentEvent::Created(Created {
                    agent_id,
                    profile,
                    team_id,
                    created_at: at,
                })])
            }
            _ => Err(DomainError::NotFound { what: "agent" }),
        };
    };
    match command {
        Command::Create { .. } => Err(DomainError::AlreadyExists { what: "agent" }),
        Command::UpdateProfile { change, at } => {
            let mut profile = agent.profile.clone();
            profile.apply(&change);
            super::profile::check(&profile)?;
            Ok(vec![AgentEvent::ProfileUpdated(ProfileUpdated {
                agent_id: agent.id,
                change,
                updated_at: at,
            })])
        }
        Command::SetTeam { team_id, at } => {
            if agent.team_id == team_id {
                return Ok(vec![]);
            }
            Ok(vec![AgentEvent::TeamChanged(TeamChanged {
                agent_id: agent.id,
                team_id,
                changed_at: at,
            })])
        }
        Command::SetStatus { status, reason, at } => {
            if !matches!(status, Available | Break | Away | Offline) {
                return Err(invalid(
                    "status",
                    format!(
                        "{} is set by routing; ask for available, break, away or offline",
                        status.as_str()
                    ),
                ));
            }
            check_reason(status, &reason)?;
            match agent.state {
                _ if agent.state == status && agent.reason == reason => Ok(vec![]),
                // With a call: remembered for when its wrap-up ends. Asking for available
                // withdraws an earlier request.
                Reserved | Busy | WrapUp if status == Available && agent.state != WrapUp => {
                    Ok(if agent.next_state.is_some() {
                        vec![AgentEvent::NextStateRequested(NextStateRequested {
                            agent_id: agent.id,
                            state: Available,
                            reason: None,
                            forced_by: None,
                            at,
                        })]
                    } else {
                        vec![]
                    })
                }
                // Available from wrap-up: the agent ends wrap-up early.
                WrapUp if status == Available => Ok(vec![leave_wrap_up(
                    agent,
                    Available,
                    Some("wrap_up_ended".into()),
                    at,
                )]),
                Reserved | Busy | WrapUp => {
                    Ok(vec![AgentEvent::NextStateRequested(NextStateRequested {
                        agent_id: agent.id,
                        state: status,
                        reason,
                        forced_by: None,
                        at,
                    })])
                }
                Offline if status != Available => Err(illegal(
                    match status {
                        Break => "take a break for",
                        Away => "set away",
                        _ => "log off",
                    },
                    Offline,
                )),
                _ => Ok(vec![enter(agent, status, reason, at)]),
            }
        }
        Command::Force {
            status,
            reason,
            by,
            at,
        } => force(agent, status, reason, by, at),
        Command::Reserve { call_id, until, at } => match agent.state {
            Available => Ok(vec![AgentEvent::Reserved(events::Reserved {
                agent_id: agent.id,
                call_id,
                until,
                at,
            })]),
            other => Err(illegal("reserve", other)),
        },
        Command::Accept { call_id, at } => match agent.state {
            Reserved if agent.call_id == Some(call_id) => Ok(vec![AgentEvent::Busy(OnCall {
                agent_id: agent.id,
                call_id,
                at,
            })]),
            Reserved => Err(invalid("call_id", "the agent is reserved for another call")),
            other => Err(illegal("accept a call for", other)),
        },
        Command::Dial { call_id, at } => match agent.state {
            Available => Ok(vec![AgentEvent::Busy(OnCall {
                agent_id: agent.id,
                call_id,
                at,
            })]),
            Busy if agent.call_id == Some(call_id) => Ok(vec![]),
            other => Err(illegal("dial out for", other)),
        },
        Command::LapseReservation { at } => match agent.state {
            Reserved if agent.deadline.is_some_and(|d| d <= at) => {
                Ok(vec![leave_reservation(agent, "reservation_expired", at)])
            }
            _ => Ok(vec![]),
        },
        Command::Release {
            call_id,
            wrap_up_until,
            at,
        } => {
            if agent.call_id != Some(call_id) || !agent.state.is_on_call() {
                return Err(invalid("call_id", "the agent is not on this call"));
            }
            match agent.state {
                Reserved => Ok(vec![leave_reservation(
                    agent,
                    "call_ended_before_answer",
                    at,
                )]),
                Busy => Ok(vec![AgentEvent::WrapUp(events::WrapUp {
                    agent_id: agent.id,
                    call_id,
                    until: wrap_up_until,
                    at,
                })]),
                _ => Ok(vec![]), // already wrapping up: a repeated release
            }
        }
        Command::EndWrapUp { at } => match agent.state {
            WrapUp => {
                let (next, reason) = agent.next_state.clone().unwrap_or((Available, None));
                let reason = if next == Available {
                    Some("wrap_up_ended".into())
                } else {
                    reason
                };
                Ok(vec![leave_wrap_up(agent, next, reason, at)])
            }
            _ => Ok(vec![]),
        },
    }
}

/// Folds one event into the agent.
pub fn apply(state: Option<Agent>, event: &AgentEvent) -> Agent {
    let enter_state = |agent: Agent, state: AgentState, reason: Option<String>, at| Agent {
        state,
        reason,
        next_state: None,
        state_since: at,
        call_id: None,
        deadline: None,
        updated_at: at,
        ..agent
    };
    match (state, event) {
        (_, AgentEvent::Created(e)) => Agent {
            id: e.agent_id,
            profile: e.profile.clone(),
            team_id: e.team_id,
            state: AgentState::Offline,
            reason: None,
            next_state: None,
            state_since: e.created_at,
            call_id: None,
            deadline: None,
            created_at: e.created_at,
            updated_at: e.created_at,
        },
        (Some(mut agent), AgentEvent::ProfileUpdated(e)) => {
            agent.profile.apply(&e.change);
            agent.updated_at = e.updated_at;
            agent
        }
        (Some(agent), AgentEvent::TeamChanged(e)) => Agent {
            team_id: e.team_id,
            updated_at: e.changed_at,
            ..agent
        },
        (Some(agent), AgentEvent::Available(e)) => {
            enter_state(agent, AgentState::Available, None, e.at)
        }
        (Some(agent), AgentEvent::Break(e)) => {
            enter_state(agent, AgentState::Break, e.reason.clone(), e.at)
        }
        (Some(agent), AgentEvent::Away(e)) => {
            enter_state(agent, AgentState::Away, e.reason.clone(), e.at)
        }
        (Some(agent), AgentEvent::Offline(e)) => {
            enter_state(agent, AgentState::Offline, None, e.at)
        }
        (Some(agent), AgentEvent::Reserved(e)) => Agent {
            call_id: Some(e.call_id),
            deadline: Some(e.until),
            ..enter_state(agent, AgentState::Reserved, None, e.at)
        },
        (Some(agent), AgentEvent::Busy(e)) => {
            let next_state = agent.next_state.clone();
            Agent {
                call_id: Some(e.call_id),
                next_state,
                ..enter_state(agent, AgentState::Busy, None, e.at)
            }
        }
        (Some(agent), AgentEvent::WrapUp(e)) => {
            let next_state = agent.next_state.clone();
            Agent {
                call_id: Some(e.call_id),
                deadline: Some(e.until),
                next_state,
                ..enter_state(agent, AgentState::WrapUp, None, e.at)
            }
        }
        (Some(agent), AgentEvent::NextStateRequested(e)) => Agent {
            next_state: (e.state != AgentState::Available).then(|| (e.state, e.reason.clone())),
            updated_at: e.at,
            ..agent
        },
        (None, other) => panic!("{} before the agent exists", other.event_type()),
    }
}

pub fn fold<'a>(events: impl IntoIterator<Item = &'a AgentEvent>) -> Option<Agent> {
    events
        .into_iter()
        .fold(None, |state, event| Some(apply(state, event)))
}
