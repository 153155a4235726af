//! The call's two parties as one two-channel stream (the caller on channel 0, the agent on 1),
//! as Deepgram transcribes them over one socket (`multichannel=true&channels=2`): samples
//! interleaved, 16-bit little-endian.
//!
//! The parties' audio arrives separately (Twilio's tracks, Vonage's sockets), and one may run
//! ahead of the other for a while as the network and the scheduler have it. Samples leave in
//! pairs; a party is taken to be silent, and filled with silence up to the other, only when
//! nothing of theirs has arrived for `silence` while the other's keeps coming (a socket not open
//! yet, a track that stopped), or when the other is `max_lag` samples ahead.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Speaker;

pub struct Stereo {
    queues: [VecDeque<i16>; 2],
    last_heard: [Option<Instant>; 2],
    /// When the first audio of either party arrived.
    first_heard: Option<Instant>,
    silence: Duration,
    max_lag: usize,
}

impl Stereo {
    pub fn new(silence: Duration, max_lag: usize) -> Self {
        Self {
            queues: [VecDeque::new(), VecDeque::new()],
            last_heard: [None, None],
            first_heard: None,
            silence,
            max_lag,
        }
    }

    pub fn push(&mut self, speaker: Speaker, samples: &[i16], now: Instant) {
        let channel = crate::channel(speaker);
        self.queues[channel].extend(samples);
        self.last_heard[channel] = Some(now);
        self.first_heard.get_or_insert(now);
    }

    /// The interleaved audio both parties have given, as little-endian bytes (empty when there
    /// is none yet).
    pub fn take(&mut self, now: Instant) -> Vec<u8> {
        let [caller, agent] = &self.queues;
        let (long, short) = if caller.len() >= agent.len() {
            (0, 1)
        } else {
            (1, 0)
        };
        let lag = self.queues[long].len() - self.queues[short].len();
        // A party never heard is measured from the call's first audio.
        let silent = self.last_heard[short]
            .or(self.first_heard)
            .is_some_and(|heard| now.saturating_duration_since(heard) >= self.silence);
        if lag > 0 && (silent || lag > self.max_lag) {
            let fill = if silent { lag } else { lag - self.max_lag };
            self.queues[short].extend(std::iter::repeat_n(0, fill));
        }
        let pairs = self.queues[0].len().min(self.queues[1].len());
        self.drain(pairs)
    }

    /// Everything left, the shorter party filled with silence.
    pub fn finish(&mut self) -> Vec<u8> {
        let pairs = self.queues[0].len().max(self.queues[1].len());
        for queue in &mut self.queues {
            queue.resize(pairs, 0);
        }
        self.drain(pairs)
    }

    fn drain(&mut self, pairs: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(pairs * 4);
        let [caller, agent] = &mut self.queues;
        for (c, a) in caller.drain(..pairs).zip(agent.drain(..pairs)) {
            bytes.extend(c.to_le_bytes());
            bytes.extend(a.to_le_bytes());
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(bytes: &[u8]) -> Vec<i16> {
        bytes
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect()
    }

    #[test]
    fn the_parties_leave_in_pairs_caller_first() {
        let now = Instant::now();
        let mut stereo = Stereo::new(Duration::from_secs(2), 100);
        stereo.push(Speaker::Caller, &[1, 2, 3], now);
        assert!(
            stereo.take(now).is_empty(),
            "the agent has given nothing yet"
        );
        stereo.push(Speaker::Agent, &[-1, -2], now);
        assert_eq!(samples(&stereo.take(now)), [1, -1, 2, -2]);
        assert_eq!(samples(&stereo.finish()), [3, 0]);
    }

    #[test]
    fn a_party_is_filled_with_silence_once_silent_for_a_while_or_too_far_behind() {
        let start = Instant::now();
        let mut stereo = Stereo::new(Duration::from_secs(2), 4);
        stereo.push(Speaker::Agent, &[5, 6, 7], start);
        // Ahead, but the caller may just be late: nothing leaves yet.
        assert!(stereo.take(start + Duration::from_secs(1)).is_empty());
        // Two seconds with nothing from the caller: they are silent.
        assert_eq!(
            samples(&stereo.take(start + Duration::from_secs(2))),
            [0, 5, 0, 6, 0, 7]
        );
        // The caller speaks, the agent runs six ahead of a lag of four: two are filled.
        let now = start + Duration::from_secs(3);
        stereo.push(Speaker::Caller, &[1], now);
        stereo.push(Speaker::Agent, &[8, 9, 10, 11, 12, 13, 14], now);
        assert_eq!(samples(&stereo.take(now)), [1, 8, 0, 9, 0, 10]);
    }
}
