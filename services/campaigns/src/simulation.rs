//! A simulated shift on a virtual clock, driven by the real [`Pacer`]: N agents, a contact list
//! that does not run out, an answer probability, ring times and a handle-time distribution. What
//! `comms simulate-dialer` runs to compare dialing modes, and what the tests hold predictive
//! dialing to: under the abandon cap, and busier agents than progressive dialing.
//!
//! The model, second by second: a call rings for 6–20 s before a person answers, or for 5–35 s
//! before it ends unanswered (no answer, busy, voicemail). An answered call waits up to two seconds
//! for a free agent (the FCC's limit before a recorded message) or is abandoned. Handle time
//! (talk and wrap-up) is Gamma-distributed with shape 4 around the mean.

use serde::Serialize;

use crate::domain::pacing::{DialingMode, Floor, Measured, Pacer};

#[derive(Debug, Clone, Copy)]
pub struct Shift {
    pub agents: u32,
    pub answer_rate: f64,
    pub mean_handle_seconds: f64,
    pub hours: f64,
    pub abandon_cap: f64,
    pub seed: u64,
}

impl Default for Shift {
    /// The yardstick: 20 agents, 30% answered, 3-minute handle time, a 3% cap.
    fn default() -> Self {
        Self {
            agents: 20,
            answer_rate: 0.3,
            mean_handle_seconds: 180.0,
            hours: 4.0,
            abandon_cap: 0.03,
            seed: 7,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub dials: u64,
    pub answered: u64,
    pub connected: u64,
    pub abandoned: u64,
    /// Abandoned over answered calls, over the whole shift.
    pub abandon_rate: f64,
    /// The highest abandon rate measured at any minute after the first hundred answers.
    pub peak_abandon_rate: f64,
    /// Agents' time on calls (talk and wrap-up) over their time logged in.
    pub occupancy: f64,
    pub connected_per_agent_hour: f64,
}

/// Answered calls wait this long for an agent before they count as abandoned.
const HOLD_SECONDS: u64 = 2;

struct Call {
    resolves_at: u64,
    placed_at: u64,
    answered: bool,
}

/// SplitMix64: small, fast, and the same sequence for the same seed everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + (self.next() * (high - low + 1) as f64) as u64
    }

    fn handle_seconds(&mut self, mean: f64) -> u64 {
        let shape = 4;
        let sum: f64 = (0..shape).map(|_| -(1.0 - self.next()).ln()).sum();
        (sum * mean / f64::from(shape)).round().max(1.0) as u64
    }
}

/// Runs one shift in `mode` and reports what the agents and contacts saw.
pub fn run(shift: &Shift, mode: DialingMode) -> Report {
    let pacer = Pacer {
        mode,
        abandon_cap: shift.abandon_cap,
    };
    let mut random = Random(shift.seed);
    let end = (shift.hours * 3600.0) as u64;
    // When each agent is free again (0: free now).
    let mut agents = vec![0u64; shift.agents as usize];
    let mut ringing: Vec<Call> = Vec::new();
    // Answered calls waiting for an agent, by when they give up.
    let mut holding: Vec<(u64, u64)> = Vec::new();
    // Connected calls by when they end, and their handle time: measured only once they end.
    let mut talking: Vec<(u64, u64)> = Vec::new();
    let mut measured = Measured::default();
    let (mut dials, mut connected, mut busy_seconds) = (0u64, 0u64, 0u64);
    let mut peak_abandon_rate: f64 = 0.0;

    for now in 0..end {
        // Calls that stop ringing: answered ones join the hold queue.
        ringing.retain(|call| {
            if call.resolves_at > now {
                return true;
            }
            measured.resolved += 1;
            measured.ring_seconds += (call.resolves_at - call.placed_at) as f64;
            if call.answered {
                measured.answered += 1;
                holding.push((now + HOLD_SECONDS, call.placed_at));
            }
            false
        });
        // Free agents take held calls, oldest first; the rest wait or give up.
        holding.sort_unstable();
        holding.retain(|&(gives_up_at, _)| {
            if let Some(agent) = agents.iter_mut().find(|free_at| **free_at <= now) {
                let handle = random.handle_seconds(shift.mean_handle_seconds);
                *agent = now + handle;
                talking.push((now + handle, handle));
                connected += 1;
                busy_seconds += handle.min(end - now);
                false
            } else if gives_up_at <= now {
                measured.abandoned += 1;
                false
            } else {
                true
            }
        });
        talking.retain(|&(ends_at, handle)| {
            if ends_at > now {
                return true;
            }
            measured.handled += 1;
            measured.handle_seconds += handle as f64;
            false
        });

        let free = agents.iter().filter(|free_at| **free_at <= now).count() as u32;
        let floor = Floor {
            available: free.saturating_sub(holding.len() as u32),
            busy: shift.agents - free,
            ringing: ringing.len() as u32,
        };
        for _ in 0..pacer.calls_to_place(floor, &measured) {
            let answered = random.next() < shift.answer_rate;
            let rings = if answered {
                random.between(6, 20)
            } else {
                random.between(5, 35)
            };
            ringing.push(Call {
                resolves_at: now + rings,
                placed_at: now,
                answered,
            });
            dials += 1;
        }
        if now % 60 == 0 && measured.answered >= 100 {
            peak_abandon_rate = peak_abandon_rate.max(measured.abandon_rate());
        }
    }
    let agent_seconds = f64::from(shift.agents) * end as f64;
    Report {
        mode: mode.as_str(),
        dials,
        answered: measured.answered,
        connected,
        abandoned: measured.abandoned,
        abandon_rate: measured.abandon_rate(),
        peak_abandon_rate,
        occupancy: busy_seconds as f64 / agent_seconds,
        connected_per_agent_hour: connected as f64 / (agent_seconds / 3600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictive_keeps_under_the_cap_and_beats_progressive_occupancy() {
        // The shift, then fewer and more agents and a rarer and a likelier answer.
        let shifts = [
            (20, 0.3),
            (20, 0.3),
            (20, 0.3),
            (5, 0.3),
            (100, 0.2),
            (20, 0.15),
            (20, 0.6),
        ];
        for (seed, (agents, answer_rate)) in shifts.into_iter().enumerate() {
            let shift = Shift {
                seed: seed as u64,
                agents,
                answer_rate,
                ..Shift::default()
            };
            let progressive = run(&shift, DialingMode::Progressive);
            let predictive = run(&shift, DialingMode::Predictive);
            assert_eq!(progressive.abandoned, 0, "{progressive:?}");
            assert!(predictive.abandon_rate <= 0.03, "{predictive:?}");
            assert!(predictive.peak_abandon_rate <= 0.03, "{predictive:?}");
            assert!(
                predictive.occupancy > progressive.occupancy,
                "{predictive:?} vs {progressive:?}"
            );
            if (agents, answer_rate) == (20, 0.3) {
                assert!(predictive.occupancy > progressive.occupancy + 0.05);
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_shift() {
        let shift = Shift {
            hours: 0.5,
            ..Shift::default()
        };
        let (a, b) = (
            run(&shift, DialingMode::Predictive),
            run(&shift, DialingMode::Predictive),
        );
        assert_eq!(
            (a.dials, a.connected, a.abandoned),
            (b.dials, b.connected, b.abandoned)
        );
    }
}
