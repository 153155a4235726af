//! The agents service's use cases: agents and teams changed through their aggregates, and
//! routing (in `routing.rs`). Each runs in one transaction; a transaction that loses a race
//! (a serialization failure or a concurrent append) is retried from the start.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use comms_auth::Identity;
use comms_eventstore::EventStore;
use comms_eventstore::unit_of_work::api_error;
use comms_proto::ApiError;
use sqlx::PgConnection;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::domain::{Agent, AgentState, Command, Profile, ProfileChange, Team, TeamCommand};
use crate::store::{self, Versioned};

use comms_eventstore::in_transaction;

/// How long routing holds things.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A reserved agent has this long to accept before the call is offered again.
    pub reservation: Duration,
    /// Wrap-up ends by itself after this long.
    pub wrap_up: Duration,
}

#[derive(Clone)]
pub struct Agents {
    pub(crate) store: EventStore,
    pub(crate) timeouts: Timeouts,
    /// Rung when an agent may have become available, so waiting calls are offered at once.
    pub(crate) freed: Arc<Notify>,
}

impl Agents {
    pub fn new(store: EventStore, timeouts: Timeouts) -> Self {
        Self {
            store,
            timeouts,
            freed: Arc::new(Notify::new()),
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    pub async fn create_agent(
        &self,
        identity: &Identity,
        id: Uuid,
        profile: Profile,
        team_id: Option<Uuid>,
    ) -> Result<Versioned<Agent>, ApiError> {
        in_transaction!(self.store, |tx| {
            if let Some(team) = team_id {
                self.team_in(tx, &identity.org_id, team).await?;
            }
            let command = Command::Create {
                agent_id: id,
                profile: profile.clone(),
                team_id,
                at: Utc::now(),
            };
            Ok(store::change_agent(tx, &identity.org_id, &identity.user_id, id, command).await?)
        })
    }

    pub async fn get_agent(
        &self,
        identity: &Identity,
        id: Uuid,
    ) -> Result<Versioned<Agent>, ApiError> {
        let mut conn = self.pool().acquire().await.map_err(api_error)?;
        Ok(store::get_agent(&mut conn, &identity.org_id, id).await?)
    }

    pub async fn update_agent(
        &self,
        identity: &Identity,
        id: Uuid,
        change: ProfileChange,
    ) -> Result<Versioned<Agent>, ApiError> {
        self.agent_command(identity, id, || Command::UpdateProfile {
            change: change.clone(),
            at: Utc::now(),
        })
        .await
    }

    /// Available, break, away or offline; becoming available offers waiting calls at once.
    pub async fn set_status(
        &self,
        identity: &Identity,
        id: Uuid,
        status: AgentState,
        reason: Option<String>,
    ) -> Result<Versioned<Agent>, ApiError> {
        let agent = self
            .agent_command(identity, id, || Command::SetStatus {
                status,
                reason: reason.clone(),
                at: Utc::now(),
            })
            .await?;
        if agent.value.state == AgentState::Available {
            self.freed.notify_one();
        }
        Ok(agent)
    }

    /// A supervisor's or administrator's `status` for the agent, with their `reason`: at once,
    /// ending a wrap-up; on a call, when its wrap-up ends.
    pub async fn force_status(
        &self,
        identity: &Identity,
        id: Uuid,
        status: AgentState,
        reason: String,
    ) -> Result<Versioned<Agent>, ApiError> {
        let agent = self
            .agent_command(identity, id, || Command::Force {
                status,
                reason: reason.clone(),
                by: identity.user_id.clone(),
                at: Utc::now(),
            })
            .await?;
        if agent.value.state == AgentState::Available {
            self.freed.notify_one();
        }
        Ok(agent)
    }

    pub async fn set_team(
        &self,
        identity: &Identity,
        agent: Uuid,
        team: Option<Uuid>,
    ) -> Result<Versioned<Agent>, ApiError> {
        in_transaction!(self.store, |tx| {
            if let Some(team) = team {
                self.team_in(tx, &identity.org_id, team).await?;
            }
            let command = Command::SetTeam {
                team_id: team,
                at: Utc::now(),
            };
            Ok(
                store::change_agent(tx, &identity.org_id, &identity.user_id, agent, command)
                    .await?,
            )
        })
    }

    async fn agent_command(
        &self,
        identity: &Identity,
        id: Uuid,
        command: impl Fn() -> Command,
    ) -> Result<Versioned<Agent>, ApiError> {
        in_transaction!(self.store, |tx| {
            Ok(store::change_agent(tx, &identity.org_id, &identity.user_id, id, command()).await?)
        })
    }

    async fn team_in(
        &self,
        tx: &mut PgConnection,
        org: &str,
        id: Uuid,
    ) -> Result<Versioned<Team>, ApiError> {
        store::find_team(&mut *tx, org, id, false)
            .await?
            .ok_or_else(|| {
                ApiError::unknown_reference("team_id", format!("no team {id} in this organization"))
            })
    }

    pub async fn team_command(
        &self,
        identity: &Identity,
        id: Uuid,
        command: impl Fn() -> TeamCommand,
    ) -> Result<Versioned<Team>, ApiError> {
        in_transaction!(self.store, |tx| {
            Ok(store::change_team(tx, &identity.org_id, &identity.user_id, id, command()).await?)
        })
    }

    pub async fn get_team(
        &self,
        identity: &Identity,
        id: Uuid,
    ) -> Result<Versioned<Team>, ApiError> {
        let mut conn = self.pool().acquire().await.map_err(api_error)?;
        store::find_team(&mut conn, &identity.org_id, id, false)
            .await?
            .ok_or_else(|| ApiError::not_found("team", &id.to_string()))
    }
}
