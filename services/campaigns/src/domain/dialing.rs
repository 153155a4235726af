//! Whether a contact may be dialed now, and if not, why: an operator can read every reason. And
//! what an attempt's outcome does to the contact's progress in the campaign (retry or final).

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use comms_events::campaign::{Final, Outcome, RetryPolicy, RetryRule};

use super::window::{CallingWindow, OutsideWindow};
use super::{DomainError, invalid};

/// Each outcome's rule allows 1 to 20 attempts, a second to a week apart.
pub fn validate_retry(policy: &RetryPolicy) -> Result<(), DomainError> {
    for (field, rule) in [
        ("retry.no_answer", policy.no_answer),
        ("retry.busy", policy.busy),
        ("retry.failed", policy.failed),
        ("retry.voicemail", policy.voicemail),
    ] {
        if !(1..=20).contains(&rule.max_attempts) {
            return Err(invalid(field, "max_attempts must be from 1 to 20"));
        }
        if rule.delay_seconds == 0 || rule.delay_seconds > 7 * 24 * 3600 {
            return Err(invalid(
                field,
                "delay_seconds must be from 1 to 604800 (a week)",
            ));
        }
    }
    Ok(())
}

/// A contact's progress in one campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialState {
    pub attempts: u32,
    pub last_outcome: Option<Outcome>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When a retry is due after a failed attempt.
    pub retry_at: Option<DateTime<Utc>>,
    /// The call being placed now.
    pub calling: Option<Uuid>,
    pub done: Option<Final>,
}

impl DialState {
    pub fn dialed(&mut self, call: Uuid, at: DateTime<Utc>) {
        self.calling = Some(call);
        self.attempts += 1;
        self.last_attempt_at = Some(at);
        self.retry_at = None;
    }

    /// Records the outcome of the call in progress: final when connected or out of attempts,
    /// else a retry after the outcome's delay.
    pub fn finished(&mut self, outcome: Outcome, at: DateTime<Utc>, policy: &RetryPolicy) {
        self.calling = None;
        self.last_outcome = Some(outcome);
        match policy.rule(outcome) {
            None => self.done = Some(Final::Reached),
            Some(rule) if self.attempts >= rule.max_attempts => {
                self.done = Some(Final::Exhausted { last: outcome })
            }
            Some(rule) => {
                self.retry_at = Some(at + chrono::Duration::seconds(rule.delay_seconds.into()))
            }
        }
    }
}

/// What the campaign knows of a contact when deciding.
pub struct Callee<'a> {
    /// Why they must never be called, if so (a DNC list, their own flag, withdrawn consent).
    pub do_not_call: Option<String>,
    /// Their zone, or every zone their number may be in.
    pub zones: &'a [Tz],
}

/// Why a contact is not dialed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    DoNotCall(String),
    Done(Final),
    Calling(Uuid),
    RetryLater {
        at: DateTime<Utc>,
        after: Outcome,
        attempts: u32,
    },
    OutsideWindow(OutsideWindow),
    UnknownZone,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DoNotCall(why) => write!(f, "do not call: {why}"),
            Self::Done(Final::Reached) => f.write_str("final: reached"),
            Self::Done(Final::Exhausted { last }) => {
                write!(f, "final: no attempts left (last: {})", last.as_str())
            }
            Self::Done(Final::DoNotCall) => f.write_str("final: do not call"),
            Self::Calling(call) => write!(f, "being called now (call {call})"),
            Self::RetryLater {
                at,
                after,
                attempts,
            } => write!(
                f,
                "retry after {} UTC ({} on attempt {attempts})",
                at.format("%Y-%m-%d %H:%M"),
                after.as_str()
            ),
            Self::OutsideWindow(outside) => outside.fmt(f),
            Self::UnknownZone => f.write_str(
                "time zone unknown: the number's prefix maps to no zone; set the contact's time_zone",
            ),
        }
    }
}

/// Whether the contact may be dialed at `now`: never on a do-not-call list, not when done or
/// being called, not before a retry is due, only inside the window in their local time.
pub fn check(
    now: DateTime<Utc>,
    callee: &Callee<'_>,
    state: &DialState,
    window: &CallingWindow,
) -> Result<(), Skip> {
    if let Some(why) = &callee.do_not_call {
        return Err(Skip::DoNotCall(why.clone()));
    }
    if let Some(done) = state.done {
        return Err(Skip::Done(done));
    }
    if let Some(call) = state.calling {
        return Err(Skip::Calling(call));
    }
    if let (Some(at), Some(after)) = (state.retry_at, state.last_outcome)
        && at > now
    {
        return Err(Skip::RetryLater {
            at,
            after,
            attempts: state.attempts,
        });
    }
    if callee.zones.is_empty() {
        return Err(Skip::UnknownZone);
    }
    super::window::check(window, now, callee.zones).map_err(Skip::OutsideWindow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const NOON_IN_CHICAGO: &str = "2026-07-15T17:00:00Z";

    fn chicago() -> [Tz; 1] {
        ["America/Chicago".parse().unwrap()]
    }

    #[test]
    fn a_contact_on_a_do_not_call_list_is_never_dialed_whatever_else_holds() {
        let zones = chicago();
        let callee = Callee {
            do_not_call: Some("on the list \"state-dnc\"".into()),
            zones: &zones,
        };
        let skip = check(
            utc(NOON_IN_CHICAGO),
            &callee,
            &DialState::default(),
            &CallingWindow::default(),
        )
        .unwrap_err();
        assert_eq!(skip.to_string(), "do not call: on the list \"state-dnc\"");
    }

    #[test]
    fn no_answer_is_retried_after_the_delay_up_to_the_maximum_then_final() {
        let policy = RetryPolicy::default(); // no answer: 3 attempts, an hour apart
        let zones = chicago();
        let callee = Callee {
            do_not_call: None,
            zones: &zones,
        };
        let window = CallingWindow::default();
        let mut state = DialState::default();
        let mut now = utc(NOON_IN_CHICAGO);
        for attempt in 1..=3 {
            assert_eq!(
                check(now, &callee, &state, &window),
                Ok(()),
                "attempt {attempt}"
            );
            state.dialed(Uuid::new_v4(), now);
            assert!(matches!(
                check(now, &callee, &state, &window),
                Err(Skip::Calling(_))
            ));
            now += chrono::Duration::seconds(30);
            state.finished(Outcome::NoAnswer, now, &policy);
            if attempt < 3 {
                let skip = check(
                    now + chrono::Duration::minutes(59),
                    &callee,
                    &state,
                    &window,
                )
                .unwrap_err();
                assert!(skip.to_string().starts_with("retry after"), "{skip}");
                now += chrono::Duration::minutes(60);
            }
        }
        assert_eq!(
            state.done,
            Some(Final::Exhausted {
                last: Outcome::NoAnswer
            })
        );
        let skip = check(now + chrono::Duration::days(1), &callee, &state, &window).unwrap_err();
        assert_eq!(
            skip.to_string(),
            "final: no attempts left (last: no_answer)"
        );
    }

    #[test]
    fn a_connected_call_is_final_and_a_busy_line_follows_its_own_rule() {
        let policy = RetryPolicy::default();
        let at = utc(NOON_IN_CHICAGO);
        let mut state = DialState::default();
        state.dialed(Uuid::new_v4(), at);
        state.finished(Outcome::Busy, at, &policy);
        assert_eq!(state.retry_at, Some(at + chrono::Duration::minutes(10)));
        state.dialed(Uuid::new_v4(), at);
        state.finished(Outcome::Connected, at, &policy);
        assert_eq!(state.done, Some(Final::Reached));
    }

    #[test]
    fn a_contact_outside_their_window_says_where_and_when() {
        let zones = chicago();
        let callee = Callee {
            do_not_call: None,
            zones: &zones,
        };
        // 02:14 UTC on a Thursday is 21:14 on Wednesday in Chicago.
        let skip = check(
            utc("2026-07-16T02:14:00Z"),
            &callee,
            &DialState::default(),
            &CallingWindow::default(),
        )
        .unwrap_err();
        assert_eq!(
            skip.to_string(),
            "outside window: Wed 21:14 local in America/Chicago"
        );
    }

    #[test]
    fn retry_rules_are_checked() {
        let mut policy = RetryPolicy::default();
        policy.busy.max_attempts = 0;
        assert!(
            validate_retry(&policy)
                .unwrap_err()
                .to_string()
                .starts_with("retry.busy:")
        );
        let mut policy = RetryPolicy::default();
        policy.voicemail.delay_seconds = 0;
        assert!(
            validate_retry(&policy)
                .unwrap_err()
                .to_string()
                .starts_with("retry.voicemail:")
        );
    }
}
