//! A provider without a carrier: each call rings, then is answered, unanswered, busy or failed
//! according to configured weights, and an answered call hangs up after the talk time.
//!
//! The outcome is chosen from the call id, so a given call always has the same fate, and the
//! configured weights hold across many calls.

use std::str::FromStr;
use std::time::Duration;

use comms_runtime::{ConfigError, Env};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::task::AbortHandle;
use uuid::Uuid;

use super::{
    BridgeRequest, Carrier, CarrierLeg, DialRequest, HangUp, MonitorRequest, Monitored, Progress,
    ProgressReport, ProgressSink, RecordingRequest, StreamRequest, Telephony, TelephonyError,
    TextAccepted, TextRequest,
};
use crate::domain::PhoneNumber;

/// The number the simulator's texts come from when they name none (a number reserved for
/// fiction in the North American plan).
const SIMULATED_SENDER: &str = "+15555550100";
use crate::domain::CallStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Answered,
    NoAnswer,
    Busy,
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimulationConfig {
    pub ring_after: Duration,
    pub answer_after: Duration,
    pub talk_for: Duration,
    /// Outcomes with relative weights.
    pub outcomes: Vec<(Outcome, u32)>,
}

impl SimulationConfig {
    /// `SIM_RING_MS`, `SIM_ANSWER_MS`, `SIM_TALK_MS`, and `SIM_OUTCOMES` such as
    /// `answered=80,no_answer=10,busy=5,failed=5`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let millis = |key, default| env.parse(key, default).map(Duration::from_millis);
        Ok(Self {
            ring_after: millis("SIM_RING_MS", 500)?,
            answer_after: millis("SIM_ANSWER_MS", 2_000)?,
            talk_for: millis("SIM_TALK_MS", 15_000)?,
            outcomes: env
                .parse("SIM_OUTCOMES", OutcomeWeights(default_outcomes()))?
                .0,
        })
    }

    fn pick(&self, call_id: uuid::Uuid) -> Outcome {
        let total: u32 = self.outcomes.iter().map(|(_, w)| w).sum();
        let mut roll = (call_id.as_u128() % u128::from(total.max(1))) as u32;
        for (outcome, weight) in &self.outcomes {
            if roll < *weight {
                return *outcome;
            }
            roll -= weight;
        }
        Outcome::Answered
    }
}

fn default_outcomes() -> Vec<(Outcome, u32)> {
    vec![
        (Outcome::Answered, 80),
        (Outcome::NoAnswer, 10),
        (Outcome::Busy, 5),
        (Outcome::Failed, 5),
    ]
}

struct OutcomeWeights(Vec<(Outcome, u32)>);

impl FromStr for OutcomeWeights {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut weights = Vec::new();
        for part in s.split(',') {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected outcome=weight"))?;
            let outcome = match name.trim() {
                "answered" => Outcome::Answered,
                "no_answer" => Outcome::NoAnswer,
                "busy" => Outcome::Busy,
                "failed" => Outcome::Failed,
                other => {
                    return Err(format!(
                        "{other:?}: outcomes are answered, no_answer, busy, failed"
                    ));
                }
            };
            let weight = weight
                .trim()
                .parse()
                .map_err(|_| format!("{weight:?}: weights are whole numbers"))?;
            weights.push((outcome, weight));
        }
        if weights.iter().map(|(_, w)| w).sum::<u32>() == 0 {
            return Err("the weights add up to zero".into());
        }
        Ok(Self(weights))
    }
}

pub struct SimulatedTelephony {
    config: SimulationConfig,
    sink: ProgressSink,
    /// The simulations still running, by call: hanging up a call ends its simulation.
    lines: Arc<Mutex<HashMap<Uuid, AbortHandle>>>,
}

impl SimulatedTelephony {
    pub fn new(config: SimulationConfig, sink: ProgressSink) -> Self {
        Self {
            config,
            sink,
            lines: Arc::default(),
        }
    }
}

impl Telephony for SimulatedTelephony {
    fn carrier(&self) -> Carrier {
        Carrier::Simulated
    }

    fn detects_machines(&self) -> bool {
        false
    }

    fn calls_per_second(&self) -> Option<u32> {
        None
    }

    /// Starts the call's simulation, which reports on the sink; it names no carrier leg.
    fn place(
        &self,
        request: DialRequest,
    ) -> BoxFuture<'_, Result<Option<CarrierLeg>, TelephonyError>> {
        let config = self.config.clone();
        let sink = self.sink.clone();
        let lines = self.lines.clone();
        let call_id = request.call_id;
        let mut running = self
            .lines
            .lock()
            .expect("the lines' lock is never poisoned");
        let task = tokio::spawn(async move {
            let report = |progress| {
                sink.send(ProgressReport {
                    org_id: request.org_id.clone(),
                    call_id: request.call_id,
                    leg: None,
                    failed_over_from: None,
                    progress: Some(progress),
                })
            };
            let _done = Finished(lines, request.call_id);
            tokio::time::sleep(config.ring_after).await;
            if report(Progress::Ringing).is_err() {
                return; // the service is shutting down
            }
            tokio::time::sleep(config.answer_after).await;
            let failed = |outcome, reason: &str| Progress::Failed {
                outcome,
                reason: reason.into(),
            };
            let progress = match config.pick(request.call_id) {
                Outcome::Answered => Progress::Answered,
                Outcome::NoAnswer => failed(CallStatus::NoAnswer, "no answer (simulated)"),
                Outcome::Busy => failed(CallStatus::Busy, "line busy (simulated)"),
                Outcome::Failed => failed(CallStatus::Failed, "carrier error (simulated)"),
            };
            let answered = progress == Progress::Answered;
            if report(progress).is_err() || !answered {
                return;
            }
            tokio::time::sleep(config.talk_for).await;
            let _ = report(Progress::HungUp);
        });
        running.insert(call_id, task.abort_handle());
        Box::pin(async { Ok(None) })
    }

    fn hang_up(&self, line: HangUp) -> BoxFuture<'_, Result<(), TelephonyError>> {
        let running = self
            .lines
            .lock()
            .expect("the lines' lock is never poisoned")
            .remove(&line.call_id);
        if let Some(simulation) = running {
            simulation.abort();
        }
        Box::pin(async { Ok(()) })
    }

    /// The simulator names no carrier leg, so it is never asked: its calls have no
    /// instructions to fetch again.
    fn bridge(&self, _request: BridgeRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async { Ok(()) })
    }

    /// The simulator's calls are heard by nobody: a recording of one changes its state only.
    fn record(&self, _request: RecordingRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async { Ok(()) })
    }

    /// The simulator's calls have no audio to stream.
    fn stream_audio(&self, _request: StreamRequest) -> BoxFuture<'_, Result<(), TelephonyError>> {
        super::refused("simulated", "the simulator's calls have no audio to stream")
    }

    /// The simulator's calls carry no audio: a supervisor is on the call as far as the fleet
    /// knows (the events, the permissions), and hears nothing.
    fn monitor(
        &self,
        _request: MonitorRequest,
    ) -> BoxFuture<'_, Result<Monitored, TelephonyError>> {
        let monitored = Monitored {
            audio: false,
            leg: None,
        };
        Box::pin(async { Ok(monitored) })
    }

    /// The simulator makes no recordings, so it is never asked.
    fn delete_recording(&self, _recording_id: String) -> BoxFuture<'_, Result<(), TelephonyError>> {
        Box::pin(async { Ok(()) })
    }

    /// The simulator's texts reach nobody; it takes each at once, from the number it is given
    /// (or a test number of its own), and reports it delivered.
    fn send_text(&self, text: TextRequest) -> BoxFuture<'_, Result<TextAccepted, TelephonyError>> {
        let from = text.from.unwrap_or_else(|| {
            PhoneNumber::parse(SIMULATED_SENDER).expect("the simulator's sender is E.164")
        });
        Box::pin(async move {
            Ok(TextAccepted {
                carrier: Carrier::Simulated,
                carrier_message_id: format!("sim-{}", text.message_id.simple()),
                from,
                failed_over_from: None,
                delivered: true,
            })
        })
    }

    /// The simulator names no carrier leg, so it is never asked.
    fn fetch(&self, _leg: CarrierLeg) -> BoxFuture<'_, Result<Option<Progress>, TelephonyError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Forgets a simulation when it ends, however it ends.
struct Finished(Arc<Mutex<HashMap<Uuid, AbortHandle>>>, Uuid);

impl Drop for Finished {
    fn drop(&mut self) {
        if let Ok(mut lines) = self.0.lock() {
            lines.remove(&self.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_outcome_weights_and_rejects_bad_ones() {
        let env = Env::from_pairs([("SIM_OUTCOMES", "answered=1,busy=3"), ("SIM_RING_MS", "10")]);
        let config = SimulationConfig::from_env(&env).unwrap();
        assert_eq!(
            config.outcomes,
            vec![(Outcome::Answered, 1), (Outcome::Busy, 3)]
        );
        assert_eq!(config.ring_after, Duration::from_millis(10));
        let env = Env::from_pairs([("SIM_OUTCOMES", "answered=1,explode=2")]);
        assert_eq!(
            SimulationConfig::from_env(&env).unwrap_err().variable,
            "SIM_OUTCOMES"
        );
    }

    #[test]
    fn outcomes_follow_the_weights() {
        let env = Env::from_pairs([("SIM_OUTCOMES", "answered=75,busy=25")]);
        let config = SimulationConfig::from_env(&env).unwrap();
        let busy = (0..4000)
            .filter(|_| config.pick(uuid::Uuid::new_v4()) == Outcome::Busy)
            .count();
        assert!(
            (800..1200).contains(&busy),
            "{busy} of 4000 busy, expected about 1000"
        );
    }
}
