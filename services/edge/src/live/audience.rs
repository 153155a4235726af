//! Who may see an event on the live feed. The permission table decides per stream category (a
//! call needs `calls:read`, an agent `agents:read`, …) and its scope per row: the organization,
//! the teams a supervisor leads, or what is the caller's own. Rows are judged by who they belong
//! to now — a call's agent, an agent's team, a team's supervisor — which the feed learns from the
//! log itself: from the events as they pass, and for a row first met mid-stream by reading its
//! stream once.

use std::collections::{HashMap, HashSet};

use comms_auth::{Identity, Permission, Role, Scope, permissions::grant};
use comms_events::agent::{AgentEvent, TeamEvent};
use comms_events::call::CallEvent;
use comms_eventstore::{EventStore, RecordedEvent, StreamName};
use tokio::sync::Mutex;
use uuid::Uuid;

/// The stream categories on the feed and what reading each takes. Accounts, sessions, API keys,
/// credentials and notification preferences are not on it.
pub fn permission_of(category: &str) -> Option<(&'static str, Permission)> {
    use Permission::*;
    Some(match category {
        "call" => ("call", CallsRead),
        // A call's transcript: its agent, their team's supervisors, administrators.
        "transcript" => ("transcript", TranscriptsRead),
        "agent" => ("agent", AgentsRead),
        "team" => ("team", AgentsRead),
        "campaign" => ("campaign", CampaignsRead),
        "contact" => ("contact", CampaignsRead),
        "donotcall" => ("donotcall", CampaignsRead),
        "number" => ("number", NumbersRead),
        "ivr_flow" => ("ivr_flow", IvrRead),
        "sms" => ("sms", MessagesRead),
        "conversation" => ("conversation", MessagesRead),
        "metrics" => ("metrics", AnalyticsRead),
        _ => return None,
    })
}

/// Whose an event's row is, as far as reach goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// The agent of a call (named when it started, or assigned since), or the agent an agent
    /// event is about.
    pub agent: Option<Uuid>,
    /// The agent's team, or the team a team event is about.
    pub team: Option<Uuid>,
    /// A team event's team's supervisor now (a supervisor's feed follows its teams with it).
    pub supervisor: Option<String>,
}

/// What the feed knows of calls' agents, agents' teams and teams' supervisors. A cache of the
/// log: emptied when it grows past [`Index::MAX_ROWS`], refilled by reading streams.
#[derive(Default)]
pub struct Index {
    rows: Mutex<Rows>,
}

#[derive(Default)]
struct Rows {
    /// How far into each known row's stream the index has read (stream ids are UUIDs, so one
    /// map serves the three kinds). A row is known once it is here.
    through: HashMap<Uuid, i64>,
    call_agent: HashMap<Uuid, Uuid>,
    agent_team: HashMap<Uuid, Option<Uuid>>,
    team_supervisor: HashMap<Uuid, Option<String>>,
}

/// The categories whose rows' owners reach depends on.
const INDEXED: [&str; 3] = ["call", "agent", "team"];

impl Rows {
    fn knows(&self, category: &str, id: Uuid) -> bool {
        !INDEXED.contains(&category) || self.through.contains_key(&id)
    }

    /// Takes in what `event` says about its row, unless the row has been read past it (a
    /// resuming socket's catch-up passes old events: they must not undo newer ones).
    /// Undecodable events say nothing.
    fn learn(&mut self, category: &str, id: Uuid, event: &RecordedEvent) {
        if !INDEXED.contains(&category) {
            return;
        }
        let through = self.through.entry(id).or_insert(-1);
        if event.stream_position <= *through {
            return;
        }
        *through = event.stream_position;
        match category {
            "call" => match comms_bus::decode_recorded(event) {
                Ok(CallEvent::Started(started)) => {
                    if let Some(agent) = started.agent_id {
                        self.call_agent.insert(id, agent);
                    }
                }
                Ok(CallEvent::AgentAssigned(assigned)) => {
                    self.call_agent.insert(id, assigned.agent_id);
                }
                _ => {}
            },
            "agent" => match comms_bus::decode_recorded(event) {
                Ok(AgentEvent::Created(created)) => {
                    self.agent_team.insert(id, created.team_id);
                }
                Ok(AgentEvent::TeamChanged(changed)) => {
                    self.agent_team.insert(id, changed.team_id);
                }
                _ => {}
            },
            "team" => match comms_bus::decode_recorded(event) {
                Ok(TeamEvent::Created(created)) => {
                    self.team_supervisor.insert(id, created.supervisor_id);
                }
                Ok(TeamEvent::SupervisorAssigned(assigned)) => {
                    self.team_supervisor.insert(id, assigned.supervisor_id);
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn audience(&self, category: &str, id: Uuid) -> Audience {
        match category {
            "call" => Audience {
                agent: self.call_agent.get(&id).copied(),
                ..Audience::default()
            },
            "agent" => Audience {
                agent: Some(id),
                team: self.agent_team.get(&id).copied().flatten(),
                supervisor: None,
            },
            "team" => Audience {
                agent: None,
                team: Some(id),
                supervisor: self.team_supervisor.get(&id).cloned().flatten(),
            },
            _ => Audience::default(),
        }
    }

    fn len(&self) -> usize {
        self.through.len()
    }
}

impl Index {
    /// Rows kept before the cache starts over.
    const MAX_ROWS: usize = 200_000;

    /// The audience of `event`, learning from it. A row first met at its stream's start is
    /// learnt from the event; one met later is read from its stream once. A transcript's event
    /// has its call's agent and that agent's team (the call and the agent read from their own
    /// streams if they are not known yet).
    pub async fn audience(
        &self,
        store: &EventStore,
        stream: &StreamName,
        event: &RecordedEvent,
    ) -> Audience {
        if stream.category() == "transcript" {
            let call = StreamName::new("call", stream.id());
            let agent = self.row_audience(store, &call, None).await.agent;
            let team = match agent {
                Some(agent) => {
                    let agent = StreamName::new("agent", agent);
                    self.row_audience(store, &agent, None).await.team
                }
                None => None,
            };
            return Audience {
                agent,
                team,
                supervisor: None,
            };
        }
        self.row_audience(store, stream, Some(event)).await
    }

    /// The audience of `stream`'s row, learning from `event` when given.
    async fn row_audience(
        &self,
        store: &EventStore,
        stream: &StreamName,
        event: Option<&RecordedEvent>,
    ) -> Audience {
        let (category, id) = (stream.category(), stream.id());
        let known = {
            let rows = self.rows.lock().await;
            rows.knows(category, id) || event.is_some_and(|e| e.stream_position == 0)
        };
        let history = if known {
            Vec::new()
        } else {
            match store.read_stream(stream, 0, 10_000).await {
                Ok(history) => history,
                Err(error) => {
                    // Unknown rows reach only the organization-wide: nothing leaks.
                    tracing::warn!(%error, stream = %stream.as_str(), "live feed could not read a stream's history");
                    Vec::new()
                }
            }
        };
        let mut rows = self.rows.lock().await;
        if rows.len() > Self::MAX_ROWS {
            *rows = Rows::default();
        }
        for past in history.iter().chain(event) {
            rows.learn(category, id, past);
        }
        rows.audience(category, id)
    }
}

/// A feed's reader: who they are, and the teams they supervise.
pub struct Viewer {
    pub identity: Identity,
    /// The user's id as an agent's (agents are users with the same id).
    me: Option<Uuid>,
    teams: HashSet<Uuid>,
}

impl Viewer {
    pub fn new(identity: Identity, teams: impl IntoIterator<Item = Uuid>) -> Self {
        Self {
            me: Uuid::parse_str(&identity.user_id).ok(),
            teams: teams.into_iter().collect(),
            identity,
        }
    }

    /// Whether the reader may see an event of `category` in `org` with `audience`. A team event
    /// first updates which teams a supervisor leads.
    pub fn sees(&mut self, org: &str, category: &str, audience: &Audience) -> bool {
        if org != self.identity.org_id {
            return false;
        }
        if category == "team"
            && self.identity.role == Role::Supervisor
            && let Some(team) = audience.team
        {
            if audience.supervisor.as_deref() == Some(self.identity.user_id.as_str()) {
                self.teams.insert(team);
            } else {
                self.teams.remove(&team);
            }
        }
        let Some((_, permission)) = permission_of(category) else {
            return false;
        };
        match grant(self.identity.role, permission) {
            None => false,
            Some(Scope::Organization) => true,
            Some(Scope::Team) => audience.team.is_some_and(|t| self.teams.contains(&t)),
            Some(Scope::Own) => self.me.is_some() && audience.agent == self.me,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role, user: Uuid, teams: &[Uuid]) -> Viewer {
        let identity = Identity::new("org_a", &user.to_string(), role).unwrap();
        Viewer::new(identity, teams.iter().copied())
    }

    fn recorded(call: Uuid, position: i64, event: &CallEvent) -> RecordedEvent {
        let new = comms_bus::new_event(event, "test", None);
        RecordedEvent {
            global_position: position,
            tx_id: position,
            event_id: new.event_id,
            stream_name: format!("call-{call}"),
            stream_position: position,
            event_type: new.event_type,
            tenant_id: "org_a".into(),
            data: new.data,
            metadata: new.metadata,
            recorded_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_old_event_passing_again_does_not_undo_a_newer_one() {
        use comms_events::call::AgentAssigned;
        let (call, first, second) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let assigned = |agent_id, position| {
            let event = CallEvent::AgentAssigned(AgentAssigned {
                call_id: call,
                agent_id,
                assigned_at: chrono::Utc::now(),
            });
            recorded(call, position, &event)
        };
        let mut rows = Rows::default();
        rows.learn("call", call, &assigned(first, 3));
        rows.learn("call", call, &assigned(second, 5));
        // A resuming socket's catch-up reads the first assignment again.
        rows.learn("call", call, &assigned(first, 3));
        assert_eq!(rows.audience("call", call).agent, Some(second));
        assert!(rows.knows("call", call) && !rows.knows("call", Uuid::new_v4()));
        rows.learn("campaign", Uuid::new_v4(), &assigned(first, 6));
        assert_eq!(rows.len(), 1, "only calls, agents and teams are indexed");
    }

    #[test]
    fn reach_follows_the_permission_table() {
        let (me, other, my_team, other_team) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let my_call = Audience {
            agent: Some(me),
            ..Audience::default()
        };
        let their_call = Audience {
            agent: Some(other),
            ..Audience::default()
        };
        let agent_in = |team| Audience {
            agent: Some(other),
            team: Some(team),
            supervisor: None,
        };

        let mut agent = viewer(Role::Agent, me, &[]);
        assert!(agent.sees("org_a", "call", &my_call));
        assert!(!agent.sees("org_a", "call", &their_call));
        assert!(!agent.sees("org_a", "call", &Audience::default()));
        assert!(!agent.sees("org_a", "campaign", &Audience::default()));
        assert!(
            !agent.sees("org_a", "metrics", &Audience::default()),
            "the live figures are analytics"
        );
        assert!(
            !agent.sees("org_b", "call", &my_call),
            "another organization"
        );

        let mut supervisor = viewer(Role::Supervisor, me, &[my_team]);
        assert!(
            supervisor.sees("org_a", "call", &their_call),
            "calls: organization"
        );
        assert!(supervisor.sees("org_a", "metrics", &Audience::default()));
        assert!(supervisor.sees("org_a", "agent", &agent_in(my_team)));
        assert!(!supervisor.sees("org_a", "agent", &agent_in(other_team)));
        // Given the other team, then losing it, as the team's events say.
        let team_event = |supervisor: Option<String>| Audience {
            agent: None,
            team: Some(other_team),
            supervisor,
        };
        assert!(supervisor.sees("org_a", "team", &team_event(Some(me.to_string()))));
        assert!(supervisor.sees("org_a", "agent", &agent_in(other_team)));
        assert!(!supervisor.sees("org_a", "team", &team_event(Some("someone".into()))));
        assert!(!supervisor.sees("org_a", "agent", &agent_in(other_team)));

        let mut admin = viewer(Role::Admin, me, &[]);
        for category in ["call", "agent", "team", "campaign", "number", "sms"] {
            assert!(
                admin.sees("org_a", category, &Audience::default()),
                "{category}"
            );
        }
        for category in ["user", "session", "apikey", "credentials", "unknown"] {
            assert!(
                !admin.sees("org_a", category, &Audience::default()),
                "{category}"
            );
        }
    }
}
