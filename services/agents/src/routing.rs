//! Routing calls to agents (ACD). A call asks for an agent; the best available match is
//! reserved for it in the same transaction that records the offer, under row locks taken with
//! `SKIP LOCKED`, so two concurrent requests never get the same agent. With nobody free the
//! call waits in `routing_queue`, ordered by priority then age. Whenever an agent may have
//! become free (a status change, a wrap-up's end, a lapsed reservation, or the periodic sweep),
//! waiting calls are offered again in that order.

use chrono::{DateTime, Utc};
use comms_auth::Identity;
use comms_proto::{ApiError, ErrorKind, Language};
use sqlx::PgConnection;
use uuid::Uuid;

use comms_eventstore::in_transaction;
use comms_eventstore::unit_of_work::api_error;

use crate::app::Agents;
use crate::domain::{Agent, AgentState, Command};
use crate::lock_order;
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

/// One waiting call, as the queue holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Waiting {
    call_id: Uuid,
    org_id: String,
    priority: i32,
    enqueued_at: DateTime<Utc>,
    required_skills: Vec<String>,
    language: Option<String>,
    offered_to: Option<Uuid>,
    connect_on_offer: bool,
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
                position: self.position(need.call_id).await?,
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
                if let Some(agent) = self.holder(tx, org, need.call_id).await? {
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
                sqlx::query(
                    "INSERT INTO routing_queue (call_id, org_id, priority, enqueued_at, required_skills, language, connect_on_offer)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(entry.call_id)
                .bind(&entry.org_id)
                .bind(entry.priority)
                .bind(entry.enqueued_at)
                .bind(&entry.required_skills)
                .bind(&entry.language)
                .bind(entry.connect_on_offer)
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    // Another request for this call inserted it first; the retry reads it.
                    sqlx::Error::Database(d) if d.is_unique_violation() => ApiError::new(ErrorKind::Aborted, "concurrent request"),
                    other => api_error(other),
                })?;
                entry
            }
        };
        if let Some(agent) = entry.offered_to {
            return Ok(Some(store::get_agent(&mut *tx, org, agent).await?));
        }
        self.offer(tx, &entry).await
    }

    /// The agent holding `call` (reserved, busy or wrapping up), if any.
    async fn holder(
        &self,
        tx: &mut PgConnection,
        org: &str,
        call: Uuid,
    ) -> Result<Option<Uuid>, ApiError> {
        sqlx::query_scalar("SELECT agent_id FROM agents_view WHERE call_id = $1 AND org_id = $2")
            .bind(call)
            .bind(org)
            .fetch_optional(&mut *tx)
            .await
            .map_err(api_error)
    }

    /// Offers `entry` to the best available agent that has every required skill and the
    /// language: highest total proficiency in those skills, then longest idle.
    async fn offer(
        &self,
        tx: &mut PgConnection,
        entry: &Waiting,
    ) -> Result<Option<Versioned<Agent>>, ApiError> {
        let agent: Option<Uuid> = sqlx::query_scalar(
            "SELECT agent_id FROM agents_view
             WHERE org_id = $1 AND state = 'available' AND skills ?& $2
               AND ($3::text IS NULL OR $3 = ANY(languages))
             ORDER BY (SELECT COALESCE(sum((skills ->> s)::int), 0) FROM unnest($2::text[]) s) DESC,
                      state_since, agent_id
             LIMIT 1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(&entry.org_id)
        .bind(&entry.required_skills)
        .bind(&entry.language)
        .fetch_optional(&mut *tx)
        .await
        .map_err(api_error)?;
        let Some(agent) = agent else {
            return Ok(None);
        };
        let now = Utc::now();
        let until = now + self.timeouts.reservation;
        let command = Command::Reserve {
            call_id: entry.call_id,
            until,
            at: now,
        };
        let reserved = store::change_agent(tx, &entry.org_id, ACTOR, agent, command).await?;
        if entry.connect_on_offer {
            let command = Command::Accept {
                call_id: entry.call_id,
                at: now,
            };
            let busy = store::change_agent(tx, &entry.org_id, ACTOR, agent, command).await?;
            sqlx::query("DELETE FROM routing_queue WHERE call_id = $1")
                .bind(entry.call_id)
                .execute(&mut *tx)
                .await
                .map_err(api_error)?;
            return Ok(Some(busy));
        }
        sqlx::query("UPDATE routing_queue SET offered_to = $2 WHERE call_id = $1")
            .bind(entry.call_id)
            .bind(agent)
            .execute(&mut *tx)
            .await
            .map_err(api_error)?;
        Ok(Some(reserved))
    }

    /// 1-based place of a waiting call among its organization's waiting calls.
    async fn position(&self, call_id: Uuid) -> Result<u32, ApiError> {
        let position: Option<i64> = sqlx::query_scalar(
            "SELECT count(*) FROM routing_queue w JOIN routing_queue me ON me.call_id = $1
             WHERE w.org_id = me.org_id AND w.offered_to IS NULL
               AND (w.priority > me.priority
                    OR (w.priority = me.priority AND (w.enqueued_at, w.call_id) <= (me.enqueued_at, me.call_id)))",
        )
        .bind(call_id)
        .fetch_optional(self.pool())
        .await
        .map_err(api_error)?;
        Ok(position.unwrap_or(0) as u32)
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
            sqlx::query("DELETE FROM routing_queue WHERE call_id = $1")
                .bind(call)
                .execute(&mut *tx)
                .await
                .map_err(api_error)?;
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
        let withdrawn = sqlx::query("DELETE FROM routing_queue WHERE call_id = $1 AND org_id = $2")
            .bind(call)
            .bind(org)
            .execute(&mut *tx)
            .await
            .map_err(api_error)?
            .rows_affected();
        let Some(agent) = self.holder(tx, org, call).await? else {
            return if withdrawn > 0 {
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
            let waiting: Vec<Waiting> = sqlx::query_as(
                "SELECT * FROM routing_queue WHERE org_id = $1 AND offered_to IS NULL
                 ORDER BY priority DESC, enqueued_at, call_id
                 LIMIT 100
                 FOR UPDATE SKIP LOCKED",
            )
            .bind(org)
            .fetch_all(&mut *tx)
            .await
            .map_err(api_error)?;
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
        let due: Vec<(Uuid, String, String, Option<Uuid>)> = sqlx::query_as(
            "SELECT agent_id, org_id, state, call_id FROM agents_view
             WHERE deadline <= now() AND state IN ('reserved', 'wrap_up')
             LIMIT 500",
        )
        .fetch_all(self.pool())
        .await
        .map_err(api_error)?;
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
                    sqlx::query("UPDATE routing_queue SET offered_to = NULL WHERE call_id = $1 AND offered_to = $2")
                        .bind(call)
                        .bind(agent)
                        .execute(&mut *tx)
                        .await
                        .map_err(api_error)?;
                }
                Ok(())
            })?;
        }
        self.release_agents_of_ended_calls().await?;
        let orgs: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT org_id FROM routing_queue WHERE offered_to IS NULL",
        )
        .fetch_all(self.pool())
        .await
        .map_err(api_error)?;
        for org in orgs {
            self.dispatch(&org).await?;
        }
        Ok(())
    }

    /// Reconciliation: an agent still reserved for, or busy on, a call whose end was followed
    /// seconds ago is released, whatever let the end's own release miss them, so no agent stays
    /// busy on a call that is over.
    async fn release_agents_of_ended_calls(&self) -> Result<(), ApiError> {
        let stuck: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT r.call_id, r.org_id FROM routing_calls r
               JOIN agents_view a ON a.call_id = r.call_id AND a.org_id = r.org_id
             WHERE r.ended_at < now() - interval '5 seconds' AND a.state IN ('reserved', 'busy')
             LIMIT 500",
        )
        .fetch_all(self.pool())
        .await
        .map_err(api_error)?;
        for (call, org) in stuck {
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
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %e.message, "routing sweep failed; retrying on the next tick");
            }
        }
    }
}
