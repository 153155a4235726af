//! The dialer: for each running campaign, every tick, it routes answered calls to agents
//! (abandoning those no agent takes within the hold), asks the pacer how many calls to place,
//! and places them for the best dialable contacts. One dialer is active across the fleet
//! (a PostgreSQL advisory lock, as the relay's); the others stand by.
//!
//! A call is placed under the campaign row's lock: the check that the campaign runs, the call
//! recorded in the campaign (its id derived from the idempotency key, as the calls service
//! documents) and the request to the calls service commit together. A pause waits for that
//! lock, so once it returns no further call is placed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use comms_auth::{Identity, Tokens};
use comms_eventstore::unit_of_work::api_error;
use comms_eventstore::{LeaderLock, in_transaction};
use comms_proto::ApiError;
use comms_proto::v1::agents_service_client::AgentsServiceClient;
use comms_proto::v1::calls_service_client::CallsServiceClient;
use comms_proto::v1::{self};
use comms_runtime::Shutdown;
use comms_runtime::client::Channel;
use sqlx::PgConnection;
use tokio::sync::Notify;
use tonic::Request;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::app::{Campaigns, do_not_call_reason};
use crate::domain::campaign::{Campaign, Command, Status, TriggerAction};
use crate::domain::contact::Contact;
use crate::domain::dialing::{self, Callee, DialState, Skip};
use crate::domain::pacing::{DialingMode, Floor, Pacer};
use crate::domain::window;
use crate::lock_order;
use crate::store::campaigns::{self, CampaignCall, CampaignView};
use crate::store::{Versioned, contacts, do_not_call};

/// Campaigns that share agents: the same organization and language.
fn pool_of(org: &str, campaign: &Campaign) -> (String, &'static str) {
    (org.to_owned(), campaign.settings.language.as_str())
}

/// Calls placed and not yet answered or given up.
fn ringing_in(calls: &[CampaignCall]) -> u32 {
    calls.iter().filter(|c| c.answered_at.is_none()).count() as u32
}

/// Candidates read per query, and at most this many per campaign per tick.
const SCAN_PAGE: i64 = 200;
const SCAN_BUDGET: usize = 2_000;

/// Who the dialer's changes are recorded as.
pub const ACTOR: &str = "system:dialer";
/// How long an answered call waits for answering-machine detection's verdict: Twilio gives up
/// listening after 30 s (`MachineDetectionTimeout`), and its callback takes a moment more.
const VERDICT_PATIENCE: chrono::Duration = chrono::Duration::seconds(45);
/// How long, from the answer, a machine's beep is waited for before the message is given up:
/// Vonage listens for it 45 s (`beep_timeout`) after its verdict, itself seconds after the answer.
const BEEP_PATIENCE: chrono::Duration = chrono::Duration::seconds(60);

/// How the dialer paces itself.
#[derive(Debug, Clone, Copy)]
pub struct DialerConfig {
    /// Between ticks, unless woken sooner (an answered call, a started campaign).
    pub tick: Duration,
    /// How long an answered call waits for an agent before it is abandoned (the FCC's 2 s).
    pub hold: Duration,
    /// How long an agent may look at a preview before it is withdrawn and offered again.
    pub preview_timeout: Duration,
}

impl Default for DialerConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(500),
            hold: Duration::from_secs(2),
            preview_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
pub struct Dialer {
    pub(crate) campaigns: Campaigns,
    calls: CallsServiceClient<Channel>,
    pub(crate) agents: AgentsServiceClient<Channel>,
    tokens: Tokens,
    pub(crate) config: DialerConfig,
    /// Rung when there is something to do at once.
    pub(crate) wake: Arc<Notify>,
}

/// The call-placing key of an attempt: the same attempt asked twice is one call.
pub(crate) fn idempotency_key(campaign: Uuid, contact: Uuid, attempt: u32) -> String {
    format!("campaign:{campaign}:contact:{contact}:attempt:{attempt}")
}

/// The id the calls service gives a call placed with `key` in `org` (documented in calls.proto).
pub fn call_id_for(org: &str, key: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("comms:call:{org}:{key}").as_bytes(),
    )
}

impl Dialer {
    pub fn new(
        campaigns: Campaigns,
        calls: CallsServiceClient<Channel>,
        agents: AgentsServiceClient<Channel>,
        tokens: Tokens,
        config: DialerConfig,
    ) -> Self {
        Self {
            campaigns,
            calls,
            agents,
            tokens,
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn request<T>(&self, org: &str, message: T) -> Result<Request<T>, ApiError> {
        let token = self
            .tokens
            .internal_token(&Identity::system(org, "campaigns"))?;
        let mut request = Request::new(message);
        comms_auth::service::attach(request.metadata_mut(), &token);
        Ok(request)
    }

    /// Dials until `shutdown`, while holding the dialer lock. A dialer that can no longer vouch
    /// for its lock stops at once, mid-tick if need be, before a standby can take over.
    pub async fn run(self, shutdown: Shutdown) {
        let mut stopped = std::pin::pin!(shutdown.clone().wait());
        loop {
            let lock = tokio::select! {
                () = &mut stopped => return,
                lock = self.leadership() => lock,
            };
            let mut lock = match lock {
                Ok(lock) => lock,
                Err(error) => {
                    tracing::warn!(%error, "the dialer cannot reach the database");
                    tokio::time::sleep(self.config.tick).await;
                    continue;
                }
            };
            tracing::info!("dialer is active");
            let outcome = tokio::select! {
                lost = lock.lost() => Some(lost),
                () = self.dial(stopped.as_mut()) => None,
            };
            lock.release().await;
            match outcome {
                Some(lost) => {
                    tracing::warn!(error = %lost, "the dialer lost its lock; standing by")
                }
                None => return,
            }
        }
    }

    /// Ticks, and again whenever something wakes the dialer, until `stopped` resolves (a tick
    /// under way is finished first).
    async fn dial(&self, mut stopped: std::pin::Pin<&mut impl Future<Output = ()>>) {
        loop {
            if let Err(error) = self.tick().await {
                tracing::warn!(error = %error.message, "dialer tick failed");
            }
            tokio::select! {
                () = &mut stopped => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.tick) => {}
            }
        }
    }

    /// Waits until this instance holds the dialer lock.
    async fn leadership(&self) -> Result<LeaderLock, sqlx::Error> {
        loop {
            if let Some(lock) =
                LeaderLock::try_acquire(self.campaigns.pool(), "comms-dialer").await?
            {
                return Ok(lock);
            }
            tokio::time::sleep(self.config.tick * 2).await;
        }
    }

    /// Attends to every campaign that is running or still has calls in progress.
    ///
    /// Running campaigns of one organization and language draw on the same agents, so each
    /// counts the others' ringing calls (those placed earlier in this tick too) as agents
    /// already spoken for: two progressive campaigns together place one call per free agent.
    pub async fn tick(&self) -> Result<(), ApiError> {
        let mut active = Vec::new();
        {
            let mut conn = self.campaigns.pool().acquire().await.map_err(api_error)?;
            for (org, id) in campaigns::active(&mut conn).await? {
                let view = campaigns::get(&mut conn, &org, id).await?.value;
                let calls = campaigns::calls(&mut conn, id).await?;
                active.push((org, view, calls));
            }
        }
        let mut ringing: HashMap<(String, &'static str), u32> = HashMap::new();
        for (org, view, calls) in &active {
            *ringing.entry(pool_of(org, &view.campaign)).or_default() += ringing_in(calls);
        }
        for (org, view, calls) in active {
            let pool = ringing.entry(pool_of(&org, &view.campaign)).or_default();
            let others = *pool - ringing_in(&calls);
            // Each campaign's turn is its own trace, carried by the events it records.
            let span = tracing::info_span!("dialer_attend", campaign = %view.campaign.id);
            match self
                .attend(&org, &view, &calls, others)
                .instrument(span)
                .await
            {
                Ok(placed) => *pool += placed,
                Err(error) => {
                    tracing::warn!(campaign = %view.campaign.id, error = %error.message, "attending a campaign failed");
                }
            }
        }
        Ok(())
    }

    /// Routes the campaign's answered calls, then places the calls the pacer asks for, with
    /// `others_ringing` calls of other campaigns waiting for the same agents; returns how many
    /// it placed.
    async fn attend(
        &self,
        org: &str,
        view: &CampaignView,
        calls: &[CampaignCall],
        others_ringing: u32,
    ) -> Result<u32, ApiError> {
        let id = view.campaign.id;
        self.route_answered(org, &view.campaign, calls).await?;
        if view.campaign.settings.dialing_mode == DialingMode::Preview {
            self.lapse_previews(org, &view.campaign).await?;
        }
        if view.campaign.status != Status::Running {
            return Ok(0);
        }
        let on_calls = calls.iter().filter(|c| c.agent_id.is_some()).count() as u32;
        let available = self.available_agents(org, &view.campaign).await?;
        let floor = Floor {
            available: available.saturating_sub(others_ringing),
            busy: on_calls,
            ringing: ringing_in(calls),
        };
        let pacer = Pacer {
            mode: view.campaign.settings.dialing_mode,
            abandon_cap: view.campaign.settings.abandon_cap,
        };
        let wanted = pacer.calls_to_place(floor, &view.measured);
        // What the placed calls record of the pacing: the calls in flight per agent working the
        // campaign (free, or on its calls). Nobody working it, nothing is placed.
        let staff = floor.available + floor.busy;
        let lines_per_agent =
            (staff > 0).then(|| f64::from(floor.ringing + wanted) / f64::from(staff));
        let placed = self.place_calls(org, view, wanted, lines_per_agent).await?;
        if placed == 0 && calls.is_empty() {
            self.complete_if_done(org, id).await?;
        }
        Ok(placed)
    }

    /// Answered calls no agent is on yet: within the hold, reserve one (connected at once); past
    /// it, the call is abandoned (ended, and counted against the cap). The hold runs from the
    /// answer, not from when the dialer first sees the call: a call the dialer reaches late (a
    /// lagging consumer) is abandoned even if an agent is free by then, as the rule counts it.
    async fn route_answered(
        &self,
        org: &str,
        campaign: &Campaign,
        calls: &[CampaignCall],
    ) -> Result<(), ApiError> {
        let hold = chrono::Duration::from_std(self.config.hold).expect("a hold of minutes at most");
        for call in calls {
            let (Some(answered_at), None, false) =
                (call.answered_at, call.agent_id, call.abandoned)
            else {
                continue;
            };
            // Under the call's lock until the agent is recorded: the feed records the call's end
            // under the same lock, so its outcome sees the agent (or the end comes first, and
            // nobody is connected to a finished call). Not a retried unit of work: it appends
            // nothing, and a retry would ask the agents service again; the next tick does.
            let mut tx = self.campaigns.pool().begin().await.map_err(api_error)?;
            let current = match lock_order::call(&mut tx, call.call_id).await? {
                Some(current)
                    if current.finished_at.is_none()
                        && current.agent_id.is_none()
                        && !current.abandoned =>
                {
                    current
                }
                _ => continue,
            };
            if current.machine {
                tx.commit().await.map_err(api_error)?;
                // A message is left after the beep: wait for it where the carrier listens on.
                let message = campaign.settings.voicemail_message.is_some();
                if message && current.awaiting_beep && Utc::now() - answered_at < BEEP_PATIENCE {
                    continue;
                }
                self.hang_up_machine(org, campaign, call.call_id).await?;
                continue;
            }
            if current.awaiting_verdict {
                // A verdict that never comes (a lost callback) leaves a person waiting: after
                // the detector's own limit, route the call as if it said unknown.
                if Utc::now() - answered_at < VERDICT_PATIENCE {
                    continue;
                }
                campaigns::heard(&mut tx, call.call_id, false, false, Utc::now()).await?;
                tx.commit().await.map_err(api_error)?;
                continue;
            }
            if Utc::now() - current.answered_at.unwrap_or(answered_at) >= hold {
                self.abandon(org, campaign.id, call.call_id, tx).await?;
                continue;
            }
            let reservation = self
                .agents
                .clone()
                .reserve_agent(self.request(
                    org,
                    v1::ReserveAgentRequest {
                        call_id: call.call_id.to_string(),
                        required_skills: Vec::new(),
                        language: campaign.settings.language.as_str().to_owned(),
                        priority: 0,
                        connect: true,
                    },
                )?)
                .await;
            let reservation = match reservation {
                Ok(reservation) => reservation.into_inner(),
                // The callee hung up meanwhile: its end, on its way, finishes the call.
                Err(status) if status.code() == tonic::Code::FailedPrecondition => continue,
                Err(status) => return Err(ApiError::from_status(&status)),
            };
            if let Some(agent) = reservation.agent {
                let agent = Uuid::parse_str(&agent.id).ok();
                campaigns::mark_call(&mut tx, call.call_id, None, agent, false).await?;
                tx.commit().await.map_err(api_error)?;
            }
        }
        Ok(())
    }

    /// Ends a call with `reason`; a call that ended meanwhile (the callee hung up first) is
    /// ended already.
    async fn end_call(
        &self,
        org: &str,
        call_id: Uuid,
        reason: &str,
        voicemail: Option<&str>,
    ) -> Result<(), ApiError> {
        let request = v1::EndCallRequest {
            id: call_id.to_string(),
            reason: reason.into(),
            message: voicemail.unwrap_or_default().into(),
        };
        match self
            .calls
            .clone()
            .end_call(self.request(org, request)?)
            .await
        {
            Err(status) if status.code() != tonic::Code::FailedPrecondition => {
                Err(ApiError::from_status(&status))
            }
            _ => Ok(()),
        }
    }

    /// Ends a call an answering machine took, leaving the campaign's voicemail message after
    /// the beep if it has one; its end counts as voicemail, not abandoned.
    async fn hang_up_machine(
        &self,
        org: &str,
        campaign: &Campaign,
        call_id: Uuid,
    ) -> Result<(), ApiError> {
        let voicemail = campaign.settings.voicemail_message.as_deref();
        self.end_call(org, call_id, "an answering machine answered", voicemail)
            .await
    }

    /// Records the call (locked in `tx`) as abandoned, then ends it.
    async fn abandon(
        &self,
        org: &str,
        campaign_id: Uuid,
        call_id: Uuid,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    ) -> Result<(), ApiError> {
        campaigns::mark_call(&mut tx, call_id, None, None, true).await?;
        tx.commit().await.map_err(api_error)?;
        if let Err(error) = self
            .end_call(org, call_id, "abandoned: no agent was free", None)
            .await
        {
            tracing::warn!(call = %call_id, error = %error.message, "ending an abandoned call failed");
        }
        tracing::info!(campaign = %campaign_id, call = %call_id, "abandoned: no agent was free");
        Ok(())
    }

    /// Agents available now who speak the campaign's language.
    async fn available_agents(&self, org: &str, campaign: &Campaign) -> Result<u32, ApiError> {
        let agents = self
            .agents
            .clone()
            .list_agents(self.request(
                org,
                v1::ListAgentsRequest {
                    states: vec![v1::AgentState::Available as i32],
                    team_id: String::new(),
                    skill: String::new(),
                    language: campaign.settings.language.as_str().to_owned(),
                    page: Some(v1::PageRequest {
                        page_size: 200,
                        page_token: String::new(),
                    }),
                },
            )?)
            .await
            .map_err(|s| ApiError::from_status(&s))?
            .into_inner();
        Ok(agents.agents.len() as u32)
    }

    /// Places up to `wanted` calls for the best dialable contacts; returns how many it placed.
    /// Contacts are read best first, page by page, leaving out in the query those outside their
    /// window or waiting for a retry, so they never hide dialable ones behind them; one on a
    /// do-not-call list is excluded from the campaign for good.
    async fn place_calls(
        &self,
        org: &str,
        view: &CampaignView,
        wanted: u32,
        lines_per_agent: Option<f64>,
    ) -> Result<u32, ApiError> {
        let campaign = &view.campaign;
        let now = Utc::now();
        let mut conn = self.campaigns.pool().acquire().await.map_err(api_error)?;
        let (mut after, mut scanned, mut placed) = (None, 0, 0);
        // With nobody to call for, one page is still read, so contacts who must never be called
        // are excluded (and a campaign of only those completes).
        let budget = if wanted == 0 {
            SCAN_PAGE as usize
        } else {
            SCAN_BUDGET
        };
        let open_zones = window::open_zones(&campaign.settings.window, now);
        while (placed < wanted || scanned == 0) && scanned < budget {
            let page =
                campaigns::candidates(&mut conn, campaign.id, now, &open_zones, after, SCAN_PAGE)
                    .await?;
            let Some((last, _, _)) = page.last() else {
                break;
            };
            after = Some(*last);
            scanned += page.len();
            let ids: Vec<Uuid> = page.iter().map(|(_, id, _)| *id).collect();
            let known = contacts::get_many(&mut conn, org, &ids).await?;
            let phones: Vec<&str> = known
                .values()
                .map(|c| c.fields.phones[0].as_str())
                .collect();
            let listed = do_not_call::lists_holding_any(
                &mut conn,
                org,
                &phones,
                &campaign.settings.do_not_call_lists,
            )
            .await?;
            for (_, contact_id, state) in page {
                let Some(contact) = known.get(&contact_id) else {
                    continue;
                };
                let do_not_call = crate::app::do_not_call_given(contact, &listed);
                match verdict(campaign, contact, do_not_call, &state, now) {
                    Ok(()) if placed == wanted => {}
                    Ok(()) => {
                        let done = if campaign.settings.dialing_mode == DialingMode::Preview {
                            self.offer(org, campaign.id, contact_id, &state).await?
                        } else {
                            self.place_call(org, campaign.id, contact_id, &state, lines_per_agent)
                                .await?
                        };
                        if done {
                            placed += 1;
                        }
                    }
                    Err(Skip::DoNotCall(reason)) => {
                        self.exclude(org, campaign.id, contact_id, &state, reason)
                            .await?;
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(placed)
    }

    /// Makes a contact on a do-not-call list final for the campaign, if nothing changed since.
    async fn exclude(
        &self,
        org: &str,
        campaign_id: Uuid,
        contact_id: Uuid,
        state: &DialState,
        reason: String,
    ) -> Result<(), ApiError> {
        in_transaction!(self.campaigns.store, |tx| {
            if lock_order::campaign(&mut *tx, org, campaign_id)
                .await?
                .is_none()
                || campaigns::progress(&mut *tx, campaign_id, contact_id).await? != *state
            {
                return Ok(());
            }
            let command = Command::ExcludeContact {
                contact_id,
                reason: reason.clone(),
                at: Utc::now(),
            };
            campaigns::change(tx, org, ACTOR, campaign_id, command).await?;
            Ok(())
        })
    }

    /// Places one call if the contact is dialable now and the campaign still runs, recording
    /// the pacing it was placed at.
    async fn place_call(
        &self,
        org: &str,
        campaign_id: Uuid,
        contact_id: Uuid,
        state: &DialState,
        lines_per_agent: Option<f64>,
    ) -> Result<bool, ApiError> {
        in_transaction!(self.campaigns.store, |tx| {
            let Some(current) = lock_order::campaign(&mut *tx, org, campaign_id).await? else {
                return Ok(false);
            };
            let campaign = &current.value.campaign;
            if campaign.status != Status::Running {
                return Ok(false);
            }
            let progress = campaigns::progress(&mut *tx, campaign_id, contact_id).await?;
            if progress != *state {
                return Ok(false); // changed since it was listed; the next tick sees it afresh
            }
            let contact = contacts::get(&mut *tx, org, contact_id).await?.value;
            let do_not_call = do_not_call_reason(
                &mut *tx,
                org,
                &contact,
                &campaign.settings.do_not_call_lists,
            )
            .await?;
            if verdict(campaign, &contact, do_not_call, &progress, Utc::now()).is_err() {
                return Ok(false);
            }
            let attempt = progress.attempts + 1;
            let key = idempotency_key(campaign_id, contact_id, attempt);
            // Placed first, recorded after: the transaction writes (and so gets an id readers
            // of the log would wait behind) only once the calls service has answered. Should
            // the record fail, the next tick places the same call again (same key, same call).
            let call_id = self.initiate(org, campaign, &contact, None, key).await?;
            record_placed(
                tx,
                org,
                campaign_id,
                contact_id,
                call_id,
                attempt,
                lines_per_agent,
            )
            .await?;
            Ok(true)
        })
    }

    /// Asks the calls service to place the campaign's call to `contact` (with `agent` on it, for
    /// an accepted preview); returns the call's id.
    pub(crate) async fn initiate(
        &self,
        org: &str,
        campaign: &Campaign,
        contact: &Contact,
        agent: Option<Uuid>,
        key: String,
    ) -> Result<Uuid, ApiError> {
        let request = v1::InitiateCallRequest {
            to: contact.fields.phones[0].to_string(),
            from: campaign
                .settings
                .caller_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            agent_id: agent.map(|a| a.to_string()).unwrap_or_default(),
            campaign_id: campaign.id.to_string(),
            language: contact.fields.language.as_str().to_owned(),
            idempotency_key: key,
            recording: campaign
                .settings
                .recording
                .map(|policy| policy.as_str().to_owned())
                .unwrap_or_default(),
        };
        let call = self
            .calls
            .clone()
            .initiate_call(self.request(org, request)?)
            .await
            .map_err(|s| ApiError::from_status(&s))?
            .into_inner();
        Uuid::parse_str(&call.id).map_err(|_| ApiError::internal())
    }

    async fn complete_if_done(&self, org: &str, id: Uuid) -> Result<(), ApiError> {
        in_transaction!(self.campaigns.store, |tx| {
            let Some(current) = lock_order::campaign(&mut *tx, org, id).await? else {
                return Ok(());
            };
            let campaign = &current.value.campaign;
            // One that takes contacts from planning tasks runs until it is paused or canceled.
            let takes_contacts = campaign
                .settings
                .trigger
                .as_ref()
                .is_some_and(|t| t.action == TriggerAction::AddContact);
            if campaign.status != Status::Running || takes_contacts {
                return Ok(());
            }
            let (open, calls) = campaigns::open_work(&mut *tx, id).await?;
            let has_contacts: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM campaign_contacts WHERE campaign_id = $1)",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(api_error)?;
            if has_contacts && open == 0 && calls == 0 {
                campaigns::change(tx, org, ACTOR, id, Command::Complete { at: Utc::now() }).await?;
                tracing::info!(campaign = %id, "campaign completed: every contact is final");
            }
            Ok(())
        })
    }
}

/// Whether `contact` may be dialed at `now` in `campaign`, and if not, why; `do_not_call` says
/// why they must never be called, if so.
fn verdict(
    campaign: &Campaign,
    contact: &Contact,
    do_not_call: Option<String>,
    state: &DialState,
    now: chrono::DateTime<Utc>,
) -> Result<(), Skip> {
    let zones = contact.zones();
    let callee = Callee {
        do_not_call,
        zones: &zones,
    };
    dialing::check(now, &callee, state, &campaign.settings.window)
}

async fn record_placed(
    tx: &mut PgConnection,
    org: &str,
    campaign_id: Uuid,
    contact_id: Uuid,
    call_id: Uuid,
    attempt: u32,
    lines_per_agent: Option<f64>,
) -> Result<Versioned<CampaignView>, ApiError> {
    let command = Command::PlaceCall {
        contact_id,
        call_id,
        attempt,
        lines_per_agent,
        at: Utc::now(),
    };
    Ok(campaigns::change(tx, org, ACTOR, campaign_id, command).await?)
}
