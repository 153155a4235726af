//! Preview dialing: the dialer reserves a free agent and shows them the contact first; the agent
//! accepts (the call is placed with them on it) or skips (the contact goes back to the list). A
//! preview not accepted within `PREVIEW_TIMEOUT_SECONDS`, or whose reservation the agents
//! service let lapse, is withdrawn the same way.

use chrono::Utc;
use comms_eventstore::in_transaction;
use comms_eventstore::unit_of_work::api_error;
use comms_proto::v1::{self};
use comms_proto::{ApiError, ErrorKind};
use uuid::Uuid;

use crate::dialer::{ACTOR, Dialer, call_id_for, idempotency_key};
use crate::domain::campaign::{Campaign, Command, Status};
use crate::domain::contact::Contact;
use crate::domain::dialing::DialState;
use crate::lock_order;
use crate::store::campaigns::{self, Preview};
use crate::store::contacts;

/// How long a skipped contact waits before it is offered again (to whoever is free then).
const AFTER_SKIP: chrono::Duration = chrono::Duration::minutes(5);

/// A preview as an agent sees it.
pub struct Shown {
    pub preview: Preview,
    pub contact: Contact,
    pub campaign_name: String,
}

fn not_found(call_id: Uuid) -> ApiError {
    ApiError::not_found("preview", &call_id.to_string())
}

impl Dialer {
    /// Reserves a free agent for the contact and shows it to them; false when nobody was free
    /// (or the campaign or contact changed since they were read).
    pub(crate) async fn offer(
        &self,
        org: &str,
        campaign_id: Uuid,
        contact_id: Uuid,
        state: &DialState,
    ) -> Result<bool, ApiError> {
        in_transaction!(self.campaigns.store, |tx| {
            let Some(current) = lock_order::campaign(&mut *tx, org, campaign_id).await? else {
                return Ok(false);
            };
            let campaign = &current.value.campaign;
            let progress = campaigns::progress(&mut *tx, campaign_id, contact_id).await?;
            if campaign.status != Status::Running || progress != *state {
                return Ok(false);
            }
            let call_id = call_id_for(
                org,
                &idempotency_key(campaign_id, contact_id, progress.attempts + 1),
            );
            let reservation = self
                .agents
                .clone()
                .reserve_agent(self.request(
                    org,
                    v1::ReserveAgentRequest {
                        call_id: call_id.to_string(),
                        required_skills: Vec::new(),
                        language: campaign.settings.language.as_str().to_owned(),
                        priority: 0,
                        connect: false,
                    },
                )?)
                .await
                .map_err(|s| ApiError::from_status(&s))?
                .into_inner();
            let Some(agent) = reservation.agent else {
                // Nobody free after all: take the request out of the agents' queue.
                self.release(org, call_id).await?;
                return Ok(false);
            };
            let agent_id = Uuid::parse_str(&agent.id)
                .map_err(|_| ApiError::new(ErrorKind::Internal, "an agent id that is no UUID"))?;
            let command = Command::OfferPreview {
                contact_id,
                call_id,
                agent_id,
                at: Utc::now(),
            };
            campaigns::change(tx, org, ACTOR, campaign_id, command).await?;
            Ok(true)
        })
    }

    /// Withdraws the campaign's previews not accepted within the preview timeout, or whose agent
    /// is no longer reserved for them.
    pub(crate) async fn lapse_previews(
        &self,
        org: &str,
        campaign: &Campaign,
    ) -> Result<(), ApiError> {
        let previews = {
            let mut conn = self.campaigns.pool().acquire().await.map_err(api_error)?;
            campaigns::previews(&mut conn, campaign.id).await?
        };
        let expired = Utc::now()
            - chrono::Duration::from_std(self.config.preview_timeout).expect("a sane timeout");
        for preview in previews {
            if preview.offered_at < expired {
                self.release(org, preview.call_id).await?;
                self.withdraw(org, &preview, "not accepted in time", Utc::now())
                    .await?;
                continue;
            }
            let agent = self
                .agents
                .clone()
                .get_agent(self.request(
                    org,
                    v1::GetAgentRequest {
                        id: preview.agent_id.to_string(),
                    },
                )?)
                .await
                .map_err(|s| ApiError::from_status(&s))?
                .into_inner();
            if agent.call_id == preview.call_id.to_string() {
                continue;
            }
            self.release(org, preview.call_id).await?;
            self.withdraw(org, &preview, "the agent's reservation lapsed", Utc::now())
                .await?;
        }
        Ok(())
    }

    /// The preview shown to `agent`, with its contact.
    pub async fn shown_to(&self, org: &str, agent: Uuid) -> Result<Option<Shown>, ApiError> {
        let mut conn = self.campaigns.pool().acquire().await.map_err(api_error)?;
        let Some(preview) = campaigns::preview_for(&mut conn, org, agent).await? else {
            return Ok(None);
        };
        let contact = contacts::get(&mut conn, org, preview.contact_id)
            .await?
            .value;
        let campaign = campaigns::get(&mut conn, org, preview.campaign_id)
            .await?
            .value
            .campaign;
        Ok(Some(Shown {
            preview,
            contact,
            campaign_name: campaign.settings.name,
        }))
    }

    /// The agent takes the contact: they are put on the call, which is placed now. `agent` is
    /// the caller's own agent id, or `None` for a supervisor acting for whoever was shown it.
    pub async fn accept(
        &self,
        org: &str,
        call_id: Uuid,
        agent: Option<Uuid>,
    ) -> Result<(), ApiError> {
        in_transaction!(self.campaigns.store, |tx| {
            let preview = campaigns::preview(&mut *tx, org, call_id)
                .await?
                .filter(|p| agent.is_none_or(|a| a == p.agent_id))
                .ok_or_else(|| not_found(call_id))?;
            let current = lock_order::campaign(&mut *tx, org, preview.campaign_id)
                .await?
                .ok_or_else(|| not_found(call_id))?;
            let campaign = &current.value.campaign;
            if campaign.status != Status::Running {
                return Err(ApiError::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "the campaign is {}: skip the preview",
                        campaign.status.as_str()
                    ),
                ));
            }
            let accepted = self
                .agents
                .clone()
                .accept_reservation(self.request(
                    org,
                    v1::AcceptReservationRequest {
                        agent_id: preview.agent_id.to_string(),
                        call_id: call_id.to_string(),
                    },
                )?)
                .await;
            if let Err(status) = accepted {
                return Err(ApiError::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "the reservation is gone ({}); the contact will be offered again",
                        status.message()
                    ),
                ));
            }
            let progress =
                campaigns::progress(&mut *tx, preview.campaign_id, preview.contact_id).await?;
            let attempt = progress.attempts + 1;
            let key = idempotency_key(preview.campaign_id, preview.contact_id, attempt);
            let contact = contacts::get(&mut *tx, org, preview.contact_id)
                .await?
                .value;
            // Placed, then recorded: the transaction writes only after both requests (see
            // `Dialer::place_call`).
            self.initiate(org, campaign, &contact, Some(preview.agent_id), key)
                .await?;
            let command = Command::PlaceCall {
                contact_id: preview.contact_id,
                call_id,
                attempt,
                lines_per_agent: None,
                at: Utc::now(),
            };
            campaigns::change(&mut *tx, org, ACTOR, preview.campaign_id, command).await?;
            campaigns::mark_call(&mut *tx, call_id, None, Some(preview.agent_id), false).await?;
            Ok(())
        })
    }

    /// The agent passes on the contact: they are free again, and the contact is offered again
    /// later.
    pub async fn skip(
        &self,
        org: &str,
        call_id: Uuid,
        agent: Option<Uuid>,
    ) -> Result<(), ApiError> {
        let preview = {
            let mut conn = self.campaigns.pool().acquire().await.map_err(api_error)?;
            campaigns::preview(&mut conn, org, call_id)
                .await?
                .filter(|p| agent.is_none_or(|a| a == p.agent_id))
                .ok_or_else(|| not_found(call_id))?
        };
        self.release(org, call_id).await?;
        self.withdraw(
            org,
            &preview,
            "skipped by the agent",
            Utc::now() + AFTER_SKIP,
        )
        .await
    }

    async fn withdraw(
        &self,
        org: &str,
        preview: &Preview,
        reason: &str,
        retry_at: chrono::DateTime<Utc>,
    ) -> Result<(), ApiError> {
        in_transaction!(self.campaigns.store, |tx| {
            // Still shown (not accepted or withdrawn meanwhile)?
            if campaigns::preview(&mut *tx, org, preview.call_id)
                .await?
                .is_none()
            {
                return Ok(());
            }
            let command = Command::WithdrawPreview {
                contact_id: preview.contact_id,
                call_id: preview.call_id,
                reason: reason.to_owned(),
                retry_at,
                at: Utc::now(),
            };
            campaigns::change(tx, org, ACTOR, preview.campaign_id, command).await?;
            Ok(())
        })
    }

    /// Frees whoever holds `call_id` and takes it out of the agents' queue; nothing held is fine.
    async fn release(&self, org: &str, call_id: Uuid) -> Result<(), ApiError> {
        let released = self
            .agents
            .clone()
            .release_agent(self.request(
                org,
                v1::ReleaseAgentRequest {
                    call_id: call_id.to_string(),
                },
            )?)
            .await;
        match released {
            Err(status) if status.code() != tonic::Code::NotFound => {
                Err(ApiError::from_status(&status))
            }
            _ => Ok(()),
        }
    }
}
