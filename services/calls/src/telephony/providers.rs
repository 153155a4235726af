//! The providers the fleet's calls are carried by: the primary, and optionally a secondary
//! carrier a dial fails over to when the primary cannot take it (a 5xx, a 429, no answer).
//! Each carrier account's dials are paced to its calls per second (an organization's own
//! account to its own rate, apart from the fleet's); every later request about a line goes to
//! the carrier that carries it. An organization that stored its own Twilio account
//! (`PUT /credentials/twilio`) has its calls carried on it wherever the fleet's Twilio would
//! carry them: its credentials take precedence over the environment's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use comms_auth::secrets::Sealer;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::warn;

use super::{
    Carrier, CarrierLeg, DialRequest, OwnAccount, Progress, ProgressReport, ProgressSink,
    Telephony, TelephonyError,
};
use crate::domain::CallStatus;

#[derive(Clone)]
pub struct Providers {
    primary: Paced,
    secondary: Option<Paced>,
    sink: ProgressSink,
    accounts: Option<OrgAccounts>,
}

/// Where organizations' own accounts are read: their sealed credentials, opened with
/// `COMMS_ENCRYPTION_KEY`. Read at each request, so a rotated token takes effect at once.
#[derive(Clone)]
pub struct OrgAccounts {
    pub pool: sqlx::PgPool,
    pub sealer: Arc<Sealer>,
}

/// A carrier's provider and, for each of its accounts (the fleet's: `None`), the next moment it
/// may be asked to dial.
#[derive(Clone)]
struct Paced {
    provider: Arc<dyn Telephony>,
    next_dial: Arc<Mutex<HashMap<Option<String>, Instant>>>,
}

impl Paced {
    fn new(provider: Arc<dyn Telephony>) -> Self {
        Self {
            provider,
            next_dial: Arc::default(),
        }
    }

    /// Places the call with `provider` (this carrier, maybe on an organization's account) in
    /// the account's next free slot: its dials leave at most one per `1 / calls per second`.
    async fn place(
        &self,
        provider: &Arc<dyn Telephony>,
        request: DialRequest,
    ) -> Result<Option<CarrierLeg>, TelephonyError> {
        let interval = provider
            .calls_per_second()
            .map_or(Duration::ZERO, |cps| Duration::from_secs(1) / cps.max(1));
        let slot = {
            let mut accounts = self.next_dial.lock().await;
            let now = Instant::now();
            let next = accounts
                .entry(provider.account().map(str::to_owned))
                .or_insert(now);
            let slot = (*next).max(now);
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        provider.place(request).await
    }
}

impl Providers {
    pub fn new(
        primary: Arc<dyn Telephony>,
        secondary: Option<Arc<dyn Telephony>>,
        sink: ProgressSink,
    ) -> Self {
        Self {
            primary: Paced::new(primary),
            secondary: secondary.map(Paced::new),
            sink,
            accounts: None,
        }
    }

    /// Carries organizations' calls on the accounts they stored, read from `accounts`.
    pub fn with_org_accounts(mut self, accounts: OrgAccounts) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// `provider`, on `org`'s own account when it stored one for the carrier.
    async fn own(
        &self,
        org: &str,
        provider: &Arc<dyn Telephony>,
    ) -> Result<Arc<dyn Telephony>, TelephonyError> {
        use comms_auth::credentials::{twilio_account, vonage_application};
        let Some(OrgAccounts { pool, sealer }) = &self.accounts else {
            return Ok(provider.clone());
        };
        let account = match provider.carrier() {
            Carrier::Twilio => twilio_account(pool, sealer, org)
                .await
                .map(|a| a.map(OwnAccount::Twilio)),
            Carrier::Vonage => vonage_application(pool, sealer, org)
                .await
                .map(|a| a.map(OwnAccount::Vonage)),
            Carrier::Simulated => return Ok(provider.clone()),
        }
        .map_err(|error| TelephonyError::Unavailable {
            carrier: provider.carrier().as_str(),
            detail: format!("the organization's own account: {error}"),
        })?;
        Ok(account
            .and_then(|account| provider.on_account(&account))
            .unwrap_or_else(|| provider.clone()))
    }

    /// The provider that carries `org`'s line `leg` ([`Self::for_line`]), on the organization's
    /// own account where it stored one.
    pub async fn line(
        &self,
        org: &str,
        leg: Option<&CarrierLeg>,
    ) -> Result<Arc<dyn Telephony>, TelephonyError> {
        self.own(org, self.for_line(leg)).await
    }

    /// The provider of `carrier` for `org` ([`Self::for_carrier`]), on its own account where it
    /// stored one.
    pub async fn carrier(
        &self,
        org: &str,
        carrier: Carrier,
    ) -> Result<Arc<dyn Telephony>, TelephonyError> {
        self.own(org, self.for_carrier(carrier)).await
    }

    /// The provider that carries calls unless it fails.
    pub fn primary(&self) -> &Arc<dyn Telephony> {
        &self.primary.provider
    }

    /// The provider that carries a line: the carrier its leg names, the primary for a line not
    /// named yet.
    pub fn for_line(&self, leg: Option<&CarrierLeg>) -> &Arc<dyn Telephony> {
        match leg {
            Some(leg) => self.for_carrier(leg.carrier),
            None => &self.primary.provider,
        }
    }

    /// The provider of `carrier` (the primary when neither is: a carrier since removed from
    /// the configuration, whose requests the primary refuses).
    pub fn for_carrier(&self, carrier: Carrier) -> &Arc<dyn Telephony> {
        match &self.secondary {
            Some(secondary) if secondary.provider.carrier() == carrier => &secondary.provider,
            _ => &self.primary.provider,
        }
    }

    /// Sends a text with the primary carrier, or the secondary when the primary cannot take it
    /// (as a dial fails over), each on `org`'s own account where it stored one.
    pub async fn send_text(
        &self,
        text: super::TextRequest,
    ) -> Result<super::TextAccepted, TelephonyError> {
        let org = text.org_id.clone();
        let sent = match self.own(&org, &self.primary.provider).await {
            Ok(provider) => provider.send_text(text.clone()).await,
            Err(error) => Err(error),
        };
        let (Err(error), Some(secondary)) = (&sent, &self.secondary) else {
            return sent;
        };
        if !error.is_retryable() {
            return sent;
        }
        let (from, to) = (
            self.primary.provider.carrier(),
            secondary.provider.carrier(),
        );
        warn!(message_id = %text.message_id, %error, to = to.as_str(), "the primary carrier could not take the text: failing over");
        metrics::counter!("comms_telephony_failovers_total", "from" => from.as_str(), "to" => to.as_str())
            .increment(1);
        let provider = self.own(&org, &secondary.provider).await?;
        let mut accepted = provider.send_text(text).await?;
        accepted.failed_over_from = Some(from);
        Ok(accepted)
    }

    /// Dials in the background and reports how it went on the sink: the carrier's leg (and the
    /// carrier it failed over from), or the call failed with the carrier's reason.
    pub fn dial(&self, request: DialRequest) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut failed_over_from = None;
            let org = request.org_id.clone();
            let mut placed = match this.own(&org, &this.primary.provider).await {
                Ok(provider) => this.primary.place(&provider, request.clone()).await,
                Err(error) => Err(error),
            };
            if let (Err(error), Some(secondary)) = (&placed, &this.secondary)
                && error.is_retryable()
            {
                let (from, to) = (
                    this.primary.provider.carrier(),
                    secondary.provider.carrier(),
                );
                warn!(call_id = %request.call_id, %error, to = to.as_str(), "the primary carrier could not take the call: failing over");
                metrics::counter!("comms_telephony_failovers_total", "from" => from.as_str(), "to" => to.as_str())
                    .increment(1);
                failed_over_from = Some(from);
                placed = match this.own(&org, &secondary.provider).await {
                    Ok(provider) => secondary.place(&provider, request.clone()).await,
                    Err(error) => Err(error),
                };
            }
            let (leg, progress) = match placed {
                // The simulator reports its own progress.
                Ok(None) => return,
                Ok(Some(leg)) => (Some(leg), None),
                Err(error) => {
                    warn!(call_id = %request.call_id, %error, "the carrier did not place the call");
                    let failed = Progress::Failed {
                        outcome: CallStatus::Failed,
                        reason: error.to_string(),
                    };
                    (None, Some(failed))
                }
            };
            let _ = this.sink.send(ProgressReport {
                org_id: request.org_id,
                call_id: request.call_id,
                leg,
                failed_over_from,
                progress,
            });
        });
    }
}
