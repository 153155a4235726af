//! The watchdog: a call the provider stopped reporting on is brought to an end, so nothing waits
//! on it forever (a campaign's contact, an agent's seat, the active-calls gauge). Reports go
//! missing when a process dies between accepting a call and handing it to the provider, when the
//! simulated provider's process is replaced, or when a carrier's status callback is lost.
//!
//! A call still initiated or ringing after `unanswered` has failed; an answered call longer than
//! `longest` is ended. Every replica sweeps; a call another replica or the provider finished first
//! is left as it is.

use std::time::Duration;
use tracing::Instrument as _;

use chrono::{DateTime, Utc};
use comms_auth::Identity;
use comms_proto::{ApiError, ErrorKind};
use comms_runtime::{ConfigError, Env, Shutdown};
use tracing::{info, warn};

use crate::Calls;
use crate::domain::{CallStatus, Command};
use crate::view;

/// Calls looked at per sweep; the rest wait for the next one.
const SWEEP_LIMIT: i64 = 500;

#[derive(Debug, Clone, Copy)]
pub struct WatchdogConfig {
    /// How long a call may go without an answer or an outcome (`UNANSWERED_TIMEOUT_SECONDS`,
    /// 120; carriers give up ringing after about 60).
    pub unanswered: Duration,
    /// The longest an answered call may last (`MAX_CALL_SECONDS`, 4 hours).
    pub longest: Duration,
}

impl WatchdogConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let seconds = |key: &str, default: u64| -> Result<Duration, ConfigError> {
            match env.parse(key, default)? {
                0 => Err(ConfigError {
                    variable: key.to_owned(),
                    value: "0".into(),
                    reason: "must be at least 1 second".into(),
                }),
                n => Ok(Duration::from_secs(n)),
            }
        };
        Ok(Self {
            unanswered: seconds("UNANSWERED_TIMEOUT_SECONDS", 120)?,
            longest: seconds("MAX_CALL_SECONDS", 4 * 3600)?,
        })
    }

    /// Often enough that a call is settled within half a limit (at most 10 s) of its deadline.
    fn every(&self) -> Duration {
        (self.unanswered.min(self.longest) / 2).min(Duration::from_secs(10))
    }
}

/// Sweeps until `shutdown`.
pub async fn run(calls: Calls, config: WatchdogConfig, shutdown: Shutdown) {
    let mut stopped = std::pin::pin!(shutdown.wait());
    loop {
        tokio::select! {
            () = &mut stopped => return,
            () = tokio::time::sleep(config.every()) => {}
        }
        let span = tracing::info_span!("calls_watchdog");
        if let Err(error) = sweep(&calls, config, Utc::now()).instrument(span).await {
            warn!(error = %error.message, "the calls watchdog could not sweep");
        }
    }
}

/// Settles the calls past their deadline at `now`; returns how many it settled.
pub async fn sweep(
    calls: &Calls,
    config: WatchdogConfig,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let before = |limit: Duration| now - chrono::Duration::from_std(limit).expect("a sane limit");
    let stale = view::stale(
        calls.pool(),
        before(config.unanswered),
        before(config.longest),
        SWEEP_LIMIT,
    )
    .await
    .map_err(|e| ApiError::new(ErrorKind::Unavailable, e.to_string()))?;
    let mut settled = 0;
    for (org, call_id, status) in stale {
        let identity = Identity::system(&org, "watchdog");
        let command = || {
            let at = Utc::now();
            if status == CallStatus::Answered.as_str() {
                Command::End {
                    reason: format!(
                        "longer than the longest call allowed ({} s)",
                        config.longest.as_secs()
                    ),
                    at,
                }
            } else {
                Command::MarkFailed {
                    outcome: CallStatus::Failed,
                    reason: format!(
                        "no answer or outcome reported by the provider within {} s",
                        config.unanswered.as_secs()
                    ),
                    at,
                }
            }
        };
        // A carrier's call whose callbacks stopped: ask the carrier first.
        if let Ok(view) = calls.get(&identity, call_id).await
            && let Some(now) = calls.reconcile(&identity, &view.call).await
            && now.call.status.as_str() != status
        {
            info!(call = %call_id, status = now.call.status.as_str(), "the carrier said where a silent call stands");
            settled += 1;
            continue;
        }
        match calls.finish(&identity, call_id, command).await {
            Ok(view) => {
                info!(call = %call_id, status = view.call.status.as_str(), "the watchdog settled a call");
                settled += 1;
            }
            // Moved on meanwhile: the provider reported, or another replica settled it.
            Err(e) if e.kind == ErrorKind::FailedPrecondition => {}
            Err(e) => {
                warn!(call = %call_id, error = %e.message, "the watchdog could not settle a call")
            }
        }
    }
    Ok(settled)
}
