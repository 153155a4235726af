//! How many calls to place now. Progressive dialing places one call per free agent and never
//! abandons; predictive dialing places more, betting that most will not be answered, sized so the
//! expected share of answered calls that find no agent stays under a target — and the target
//! shrinks as the campaign's measured abandon rate nears its cap, down to progressive dialing.

use serde::{Deserialize, Serialize};

use super::dialing::Outcome;

pub use comms_events::campaign::DialingMode;

/// The campaign's agents and calls at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Floor {
    /// Agents free to take a call now.
    pub available: u32,
    /// Agents on a call or wrapping up.
    pub busy: u32,
    /// Calls placed and not yet answered or given up.
    pub ringing: u32,
}

/// What the campaign has measured so far, the pacer's only memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Calls that stopped ringing: answered, or not (no answer, busy, failed, voicemail).
    pub resolved: u64,
    /// Calls a person answered: connected to an agent, or abandoned.
    pub answered: u64,
    /// Answered calls no agent was free for.
    pub abandoned: u64,
    /// Seconds from placing a call until it stopped ringing, summed over `resolved`.
    pub ring_seconds: f64,
    /// Connected calls that ended, and their handle time summed: talk, and wrap-up once the
    /// agent has finished it (until then a call counts with its talk time only).
    pub handled: u64,
    pub handle_seconds: f64,
}

/// Until a campaign has measured enough, the pacer assumes these, each worth this many
/// observations. They err towards fewer calls: answers likelier, agents busier, rings shorter.
const PRIOR_ANSWER_RATE: (f64, f64) = (0.5, 20.0);
const PRIOR_HANDLE_SECONDS: (f64, f64) = (300.0, 5.0);
const PRIOR_RING_SECONDS: (f64, f64) = (10.0, 5.0);

fn blend(sum: f64, count: u64, (prior, weight): (f64, f64)) -> f64 {
    (sum + prior * weight) / (count as f64 + weight)
}

impl Measured {
    /// Counts a finished call: its ring time, whether a person answered, and a connected
    /// call's handle time.
    pub fn record(&mut self, outcome: Outcome, ring_seconds: f64, talk_seconds: Option<f64>) {
        self.resolved += 1;
        self.ring_seconds += ring_seconds;
        match outcome {
            Outcome::Connected => {
                self.answered += 1;
                self.handled += 1;
                self.handle_seconds += talk_seconds.unwrap_or_default();
            }
            Outcome::Abandoned => {
                self.answered += 1;
                self.abandoned += 1;
            }
            Outcome::NoAnswer | Outcome::Busy | Outcome::Failed | Outcome::Voicemail => {}
        }
    }

    /// Adds a connected call's wrap-up to the handle time.
    pub fn record_wrap_up(&mut self, seconds: f64) {
        self.handle_seconds += seconds.max(0.0);
    }

    pub fn answer_rate(&self) -> f64 {
        blend(self.answered as f64, self.resolved, PRIOR_ANSWER_RATE)
    }

    pub fn average_handle_seconds(&self) -> f64 {
        blend(self.handle_seconds, self.handled, PRIOR_HANDLE_SECONDS)
    }

    pub fn average_ring_seconds(&self) -> f64 {
        blend(self.ring_seconds, self.resolved, PRIOR_RING_SECONDS)
    }

    /// Abandoned over answered calls, the measure regulators cap (FCC: 3% of answered calls
    /// per campaign); 0 before any answer.
    pub fn abandon_rate(&self) -> f64 {
        ratio(self.abandoned as f64, self.answered)
    }

    /// What an operator sees, without the pacer's priors: answered over calls that stopped
    /// ringing, and the average handle time of connected calls; each 0 before any call.
    pub fn observed_answer_rate(&self) -> f64 {
        ratio(self.answered as f64, self.resolved)
    }

    pub fn observed_handle_seconds(&self) -> f64 {
        ratio(self.handle_seconds, self.handled)
    }
}

fn ratio(sum: f64, count: u64) -> f64 {
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Never more calls in flight than this many per agent, whatever the estimates say.
const MAX_LINES_PER_AGENT: u32 = 5;

/// The share of the cap predictive dialing aims at while the measured rate is low.
const AIM: f64 = 0.5;
/// At this share of the cap, predictive dialing stops betting and dials progressively.
const BACK_OFF_AT: f64 = 0.8;
/// Abandons the pacer imagines before the first answer (see `target_abandon_share`).
const PESSIMISM: f64 = 3.0;

#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    pub mode: DialingMode,
    /// The abandon rate the campaign must stay under (0.03 is 3%).
    pub abandon_cap: f64,
}

impl Pacer {
    /// How many more calls to place now.
    pub fn calls_to_place(&self, floor: Floor, measured: &Measured) -> u32 {
        let progressive = floor.available.saturating_sub(floor.ringing);
        match self.mode {
            // The dialer places a preview call only once an agent accepts the contact.
            DialingMode::Preview | DialingMode::Progressive => progressive,
            DialingMode::Predictive => {
                let target = self.target_abandon_share(measured);
                if target <= 0.0 {
                    return progressive;
                }
                let lines = self.predictive_lines(floor, measured, target);
                lines.saturating_sub(floor.ringing).max(progressive)
            }
        }
    }

    /// The expected share of answered calls the next calls may abandon: [`AIM`] of the cap,
    /// shrinking to nothing as the campaign's rate climbs to [`BACK_OFF_AT`] of the cap.
    fn target_abandon_share(&self, measured: &Measured) -> f64 {
        // Pessimistic early on: as if the campaign had already abandoned three calls, so the
        // first few hundred answers, where one unlucky burst moves the rate most, are dialed
        // carefully and leave room under the cap for later.
        let abandoned = measured.abandoned as f64 + PESSIMISM;
        let rate = abandoned / (measured.answered as f64 + PESSIMISM);
        let used = rate / (self.abandon_cap * BACK_OFF_AT);
        (self.abandon_cap * AIM * (1.0 - used)).max(0.0)
    }

    /// The most calls in flight whose expected abandons stay under `target` of their expected
    /// answers: answers are Binomial(lines, answer rate), against the agents free now plus those
    /// likely to finish while the calls ring.
    fn predictive_lines(&self, floor: Floor, measured: &Measured, target: f64) -> u32 {
        let p = measured.answer_rate().clamp(0.01, 1.0);
        // A busy agent frees up within the ring time with about this chance, once calls have
        // mixed: at the start every agent began together, and nobody frees up for a while.
        let staff = floor.available + floor.busy;
        let mixed = (measured.handled as f64 / (2.0 * f64::from(staff.max(1)))).min(1.0);
        let freeing =
            mixed * (measured.average_ring_seconds() / measured.average_handle_seconds()).min(1.0);
        let agents = f64::from(floor.available) + f64::from(floor.busy) * freeing;
        let ceiling = staff * MAX_LINES_PER_AGENT;
        let mut best = 0;
        for lines in 1..=ceiling {
            let (answers, abandons) = expected_overflow(lines, p, agents);
            if abandons > target * answers {
                break;
            }
            best = lines;
        }
        best
    }
}

/// For X ~ Binomial(n, p): E[X] and E[max(0, X − agents)].
fn expected_overflow(n: u32, p: f64, agents: f64) -> (f64, f64) {
    let q = 1.0 - p;
    // pmf(k) built up from pmf(0) = q^n, in logs to keep large n stable.
    let mut log_pmf = f64::from(n) * q.max(f64::MIN_POSITIVE).ln();
    let mut overflow = 0.0;
    for k in 0..=n {
        if k > 0 {
            log_pmf +=
                (f64::from(n - k + 1) / f64::from(k)).ln() + (p / q.max(f64::MIN_POSITIVE)).ln();
        }
        let excess = f64::from(k) - agents;
        if excess > 0.0 {
            overflow += excess * log_pmf.exp();
        }
    }
    (f64::from(n) * p, overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(mode: DialingMode) -> Pacer {
        Pacer {
            mode,
            abandon_cap: 0.03,
        }
    }

    fn settled(answer_rate: f64, abandon_rate: f64) -> Measured {
        let resolved = 10_000;
        let answered = (resolved as f64 * answer_rate) as u64;
        Measured {
            resolved,
            answered,
            abandoned: (answered as f64 * abandon_rate) as u64,
            ring_seconds: resolved as f64 * 15.0,
            handled: answered,
            handle_seconds: answered as f64 * 180.0,
        }
    }

    #[test]
    fn progressive_places_one_call_per_free_agent() {
        let floor = Floor {
            available: 5,
            busy: 10,
            ringing: 2,
        };
        assert_eq!(
            pacer(DialingMode::Progressive).calls_to_place(floor, &settled(0.3, 0.0)),
            3
        );
    }

    #[test]
    fn predictive_calls_ahead_when_answers_are_rare_and_backs_off_near_the_cap() {
        let floor = Floor {
            available: 5,
            busy: 15,
            ringing: 0,
        };
        let eager = pacer(DialingMode::Predictive).calls_to_place(floor, &settled(0.3, 0.0));
        assert!(
            eager > 10,
            "with 30% answering, more than two calls per free agent: {eager}"
        );
        let careful = pacer(DialingMode::Predictive).calls_to_place(floor, &settled(0.3, 0.02));
        assert!(careful < eager, "{careful} vs {eager}");
        let at_cap = pacer(DialingMode::Predictive).calls_to_place(floor, &settled(0.3, 0.025));
        assert_eq!(at_cap, 5, "at 80% of the cap it dials progressively");
    }

    #[test]
    fn predictive_is_cautious_before_it_has_measured_anything() {
        let floor = Floor {
            available: 10,
            busy: 0,
            ringing: 0,
        };
        let first = pacer(DialingMode::Predictive).calls_to_place(floor, &Measured::default());
        assert!((10..=16).contains(&first), "{first}");
    }

    #[test]
    fn the_binomial_overflow_is_right_on_a_small_case() {
        // n = 2, p = 0.5, one agent: X = 2 with probability 1/4, one call over.
        let (answers, overflow) = expected_overflow(2, 0.5, 1.0);
        assert!((answers - 1.0).abs() < 1e-12);
        assert!((overflow - 0.25).abs() < 1e-12);
    }

    #[test]
    fn handle_time_is_talk_plus_the_wrap_up_that_follows() {
        let mut measured = Measured::default();
        for _ in 0..1000 {
            measured.record(Outcome::Connected, 10.0, Some(120.0));
            measured.record_wrap_up(60.0);
        }
        // The prior (300 s, worth 5 calls) has all but faded: close to 180 s, not 120 s.
        assert!((measured.average_handle_seconds() - 180.6).abs() < 0.1);
        measured.record_wrap_up(-5.0);
        assert!(
            (measured.handle_seconds - 180_000.0).abs() < 1e-9,
            "a negative one is nothing"
        );
    }
}
