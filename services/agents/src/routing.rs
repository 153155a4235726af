//! Routing calls to agents (ACD). A call asks for an agent; the best available match is
//! reserved for it in the same transaction that records the offer, under row locks taken with
//! `SKIP LOCKED`, so two concurrent requests never get the same agent. With nobody free the
//! call waits in `routing_queue`, ordered by priority then age. Whenever an agent may have
//! become free (a status change, a wrap-up's end, a lapsed reservation, or the periodic sweep),
//! waiting calls are offered again in that order.

use chrono::Utc;
use comms_auth::Identity;
use comms_proto::{ApiError, ErrorKind, Language};
use sqlx::PgConnection;
use tracing::Instrument as _;
use uuid::Uuid;

use comms_eventstore::in_transaction;

use crate::app::Agents;
use crate::domain::{Agent, AgentState, Command};
use crate::lock_order;
use crate::queue::{self, Waiting};
use crate::store::{self, Versioned};

/// What a call asks of its agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub call_id: Uuid,
    pub skills: Vec<String>,
    pub language: Option<Language>,
    pub priority: i32,
}

#[derive(Debug, Clone)]
pub enum Reservation {
    /// Boxed: an agent is far larger than a queue position.
    Reserved(Box<Versioned<Agent>>),
    /// Waiting; 1-based position among the organization's waiting calls.
    Queued { position: u32 },
}

/// Who routing's own changes are recorded as (sweeps, dispatches, the call feed): the fleet
/// itself, as `Identity::system(org, "routing")` names it.
pub(crate) const ACTOR: &str = "system:routing";

impl Agents {
    /// Reserves the best available agent for the call, or queues it. Asking again for the same
    /// call answers the same reservation (or queue place). With `connect` (an answered call),
    /// the agent is put on the call at once.
    pub async fn reserve(
        &self,
        identity: &Identity,
        need: Need,
        connect: bool,
    ) -> Result<Reservation, ApiError> {
        let offered = in_transaction!(self.store, |tx| {
            self.reserve_in(tx, &identity.org_id, &need, connect).await
        })?;
        match offered {
            Some(agent) => Ok(Reservation::Reserved(Box::new(agent))),
            None => Ok(Reservation::Queued {
                position: queue::position(self.pool(), need.call_id).await?,
            }),
        }
    }

    /// [`Self::reserve`] inside the caller's transaction. With `connect_on_offer` (the call is
    /// already answered), the agent it is offered to is put on it at once.
    pub(crate) async fn reserve_in(
        &self,
        tx: &mut PgConnection,
        org: &str,
        need: &Need,
        connect_on_offer: bool,
    ) -> Result<Option<Versioned<Agent>>, ApiError> {
        // Under the call's routing row lock, which its end takes too: a call whose end has been
        // followed gets no agent (nobody would release them), and an end that comes after waits
        // for this reservation and releases its agent. The row is created if this is the first
        // the service hears of the call, so an end being recorded at this very moment (its row
        // not yet committed) is waited for, not missed.
        let (owner, ended) = lock_order::call_row(tx, org, need.call_id).await?;
        if owner != org {
            return Err(ApiError::not_found("call", &need.call_id.to_string()));
        }
        if ended.is_some() {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                format!("call {} has already ended", need.call_id),
            ));
        }
        let entry = match lock_order::queue_row(tx, need.call_id).await? {
            Some(entry) if entry.org_id != org => {
                return Err(ApiError::not_found("call", &need.call_id.to_string()));
            }
            Some(entry) => entry,
            None => {
                // Already taken: the call left the queue, its agent still holds it.
                if let Some(agent) = queue::holder(tx, org, need.call_id).await? {
                    return Ok(Some(store::get_agent(&mut *tx, org, agent).await?));
                }
                let entry = Waiting {
                    call_id: need.call_id,
                    org_id: org.to_owned(),
                    priority: need.priority,
                    enqueued_at: Utc::now(),
                    required_skills: need.skills.clone(),
                    language: need.language.map(|l| l.as_str().to_owned()),
                    offered_to: None,
                    connect_on_offer,
                };
                queue::insert(tx, &entry).await?;
                entry
            }
        };
        if let Some(agent) = entry.offered_to {
            return Ok(Some(store::get_agent(&mut *tx, org, agent).await?));
        }
        self.offer(tx, &entry).await
    }

    /// Offers `entry` to the best available agent that has every required skill and the
    /// language: highest total proficiency in those skills, then longest idle.
    async fn offer(
        &self,
        tx: &mut PgConnection,
        entry: &Waiting,
    ) -> Result<Option<Versioned<Agent>>, ApiError> {
        let Some(agent) = queue::best_agent_for(tx, entry).await? else {
            return Ok(None);
        };
        self.offer_to(tx, entry, agent, ACTOR).await.map(Some)
    }

    /// Offers `entry` to `agent`, whose row the caller holds, as `actor`: reserved, and on the
    /// call at once when it is answered (it then leaves the queue).
    async fn offer_to(
        &self,
        tx: &mut PgConnection,
        entry: &Waiting,
        agent: Uuid,
        actor: &str,
    ) -> Result<Versioned<Agent>, ApiError> {
        let now = Utc::now();
        let until = now + self.timeouts.reservation;
        let command = Command::Reserve {
            call_id: entry.call_id,
            until,
            at: now,
        };
        let reserved = store::change_agent(tx, &entry.org_id, actor, agent, command).await?;
        if entry.connect_on_offer {
            let command = Command::Accept {
                call_id: entry.call_id,
                at: now,
            };
            let busy = store::change_agent(tx, &entry.org_id, actor, agent, command).await?;
            queue::remove(tx, entry.call_id, None).await?;
            return Ok(busy);
        }
        queue::offered(tx, entry.call_id, agent).await?;
        Ok(reserved)
    }

    /// A supervisor takes a waiting call out of its place to `agent`, whatever skills and
    /// language it asks for: the agent must be available and the call offered to nobody yet.
    /// The agent's events are recorded as the supervisor's.
    pub async fn pull(
        &self,
        identity: &Identity,
        call: Uuid,
        agent: Uuid,
    ) -> Result<Versioned<Agent>, ApiError> {
        let org = identity.org_id.as_str();
        in_transaction!(self.store, |tx| {
            // No call row (step 1): a call still in the queue has not ended, as its end
            // removes it under that row's lock.
            let entry = match lock_order::queue_row(tx, call).await? {
                Some(entry) if entry.org_id == org => entry,
                _ => {
                    return Err(ApiError::new(
                        ErrorKind::NotFound,
                        format!("call {call} is not waiting for an agent"),
                    ));
                }
            };
            if let Some(offered) = entry.offered_to {
                return Err(ApiError::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "call {call} is being offered to agent {offered}; pull a call nobody has been offered"
                    ),
                ));
            }
            let Some(current) = store::lock_agent(&mut *tx, org, agent).await? else {
                return Err(ApiError::not_found("agent", &agent.to_string()));
            };
            if current.value.state != AgentState::Available {
                return Err(ApiError::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "agent {agent} is {}: a call is pulled to an available agent",
                        current.value.state.as_str()
                    ),
                ));
            }
            self.offer_to(tx, &entry, agent, &identity.user_id).await
        })
    }

    /// A supervisor re-routed a waiting call: it keeps its place by age and now asks for
    /// `need`'s skills and language, and is offered to the best agent for them at once. A call
    /// no longer waiting (taken, offered to an agent, ended) is left as it is.
    pub(crate) async fn reroute_in(
        &self,
        tx: &mut PgConnection,
        org: &str,
        need: &Need,
    ) -> Result<Option<Versioned<Agent>>, ApiError> {
        let Some(mut entry) = lock_order::queue_row(tx, need.call_id).await? else {
            return Ok(None);
        };
        if entry.org_id != org || entry.offered_to.is_some() {
            return Ok(None);
        }
        entry.required_skills = need.skills.clone();
        entry.language = need.language.map(|l| l.as_str().to_owned());
        queue::requeue(tx, &entry).await?;
        self.offer(tx, &entry).await
    }

    /// The reserved agent took the call: busy, and the call leaves the queue.
    pub async fn accept(
        &self,
        identity: &Identity,
        agent: Uuid,
        call: Uuid,
    ) -> Result<Versioned<Agent>, ApiError> {
        in_transaction!(self.store, |tx| {
            lock_order::queue_row(tx, call).await?;
            let command = Command::Accept {
                call_id: call,
                at: Utc::now(),
            };
            let busy = store::change_agent(tx, &identity.org_id, &identity.user_id, agent, command)
                .await?;
            queue::remove(tx, call, None).await?;
            Ok(busy)
        })
    }

    /// The call ended or failed: its agent goes to wrap-up (or straight back to available if
    /// the call never reached them), and a call still waiting is withdrawn. `None` when the call
    /// only waited.
    pub async fn release(
        &self,
        identity: &Identity,
        call: Uuid,
    ) -> Result<Option<Versioned<Agent>>, ApiError> {
        let released = in_transaction!(self.store, |tx| {
            self.release_in(tx, &identity.org_id, &identity.user_id, call)
                .await
        })?;
        if released
            .as_ref()
            .is_some_and(|a| a.value.state == AgentState::Available)
        {
            self.freed.notify_one();
        }
        Ok(released)
    }

    /// [`Self::release`] inside the caller's transaction, acting as `actor`.
    pub(crate) async fn release_in(
        &self,
        tx: &mut PgConnection,
        org: &str,
        actor: &str,
        call: Uuid,
    ) -> Result<Option<Versioned<Agent>>, ApiError> {
        let withdrawn = queue::remove(tx, call, Some(org)).await?;
        let Some(agent) = queue::holder(tx, org, call).await? else {
            return if withdrawn {
                Ok(None)
            } else {
                Err(ApiError::not_found("call", &call.to_string()))
            };
        };
        let now = Utc::now();
        let command = Command::Release {
            call_id: call,
            wrap_up_until: now + self.timeouts.wrap_up,
            at: now,
        };
        Ok(Some(
            store::change_agent(tx, org, actor, agent, command).await?,
        ))
    }

    /// Offers waiting calls of `org`, in priority-then-age order, to whoever is available.
    /// Returns how many were offered.
    pub async fn dispatch(&self, org: &str) -> Result<usize, ApiError> {
        in_transaction!(self.store, |tx| {
            let waiting = queue::next_waiting(tx, org).await?;
            let mut offered = 0;
            for entry in &waiting {
                if self.offer(tx, entry).await?.is_some() {
                    offered += 1;
                }
            }
            Ok(offered)
        })
    }

    /// One pass of the housekeeping every instance runs: lapse reservations and end wrap-ups
    /// past their deadlines, then offer waiting calls of every organization that has some.
    pub async fn sweep(&self) -> Result<(), ApiError> {
        let due = queue::due_agents(self.pool()).await?;
        for (agent, org, state, call) in due {
            in_transaction!(self.store, |tx| {
                let now = Utc::now();
                let command = if state == "reserved" {
                    Command::LapseReservation { at: now }
                } else {
                    Command::EndWrapUp { at: now }
                };
                // The reserved call's queue row before the agent's row (`lock_order`).
                if state == "reserved"
                    && let Some(call) = call
                {
                    lock_order::queue_row(tx, call).await?;
                }
                let before = store::lock_agent(&mut *tx, &org, agent).await?;
                let lapsed_call = before.and_then(|b| {
                    (b.value.state == AgentState::Reserved)
                        .then_some(b.value.call_id)
                        .flatten()
                });
                // Reserved for another call since it was read: its queue row is not locked, so
                // the next sweep lapses it.
                if lapsed_call.is_some() && lapsed_call != call {
                    return Ok(());
                }
                let after = store::change_agent(tx, &org, ACTOR, agent, command).await?;
                // A lapsed offer puts its call back in its place in the queue (whether the agent
                // is available again or went on the break they asked for meanwhile).
                if let Some(call) = lapsed_call
                    && after.value.state != AgentState::Reserved
                {
                    queue::offer_lapsed(tx, call, agent).await?;
                }
                Ok(())
            })?;
        }
        self.release_agents_of_ended_calls().await?;
        for org in queue::organizations_waiting(self.pool()).await? {
            self.dispatch(&org).await?;
        }
        Ok(())
    }

    /// Reconciliation: an agent still reserved for, or busy on, a call whose end was followed
    /// seconds ago is released, whatever let the end's own release miss them, so no agent stays
    /// busy on a call that is over.
    async fn release_agents_of_ended_calls(&self) -> Result<(), ApiError> {
        for (call, org) in queue::ended_calls_holding_agents(self.pool()).await? {
            let released = in_transaction!(self.store, |tx| {
                self.release_in(tx, &org, ACTOR, call).await
            });
            match released {
                Ok(Some(agent)) => {
                    tracing::warn!(%call, agent = %agent.value.id, "released an agent left on a call that had ended");
                    metrics::counter!("comms_agents_reconciled_total").increment(1);
                }
                // Released meanwhile by the call's end.
                Ok(None) => {}
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sweeps every `interval`, and at once whenever an agent is freed, until `shutdown`.
    pub async fn run_sweeper(
        self,
        interval: std::time::Duration,
        shutdown: comms_runtime::Shutdown,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.clone().wait() => break,
                _ = tick.tick() => {}
                () = self.freed.notified() => {}
            }
            let span = tracing::info_span!("routing_sweep");
            if let Err(e) = self.sweep().instrument(span).await {
                tracing::warn!(error = %e.message, "routing sweep failed; retrying on the next tick");
            }
        }
    }
}
